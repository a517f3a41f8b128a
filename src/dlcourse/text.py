"""Text helpers shared by the NLP lectures (L5, L5.2): tweet cleaning, stop words, frequencies.

Everything here works offline. NLTK's ``stopwords`` corpus is a separate download that is often
missing (and cannot be fetched without internet), so this module ships its own lists:

* English: scikit-learn's ``ENGLISH_STOP_WORDS`` (318 words, from the Glasgow Information
  Retrieval Group's stop list);
* Russian: the Snowball project's Russian stop list
  (https://snowballstem.org/algorithms/russian/stop.txt), the same 151 words that NLTK's
  ``stopwords.words("russian")`` returns, written out below.

:func:`stop_words` prefers NLTK's list when its corpus is installed and says which one it used.

Typical use::

    from dlcourse.text import process_tweet, build_freqs, extract_features
    tokens = process_tweet("Крутяк, я изучаю машинное обучение в #УрФУ #Наука ! https://lo.st/12:)", lang="ru")
    # ['крутяк', 'изучаю', 'машинное', 'обучение', 'урфу', 'наука', ':)']
"""

from __future__ import annotations

import functools
import re
import string
from typing import Iterable, Sequence

import numpy as np

LANGS = ("en", "ru")

# A link is "http(s)://" followed by the characters URLs are made of. The colon is left out on
# purpose, so a smiley glued to a link ("https://lo.st/12:)") survives the cleaning.
URL_RE = re.compile(r"https?://[\w.\-/?=&%~+]+")

# Punctuation characters: ASCII plus the typographic marks common in Russian and English text.
PUNCTUATION = frozenset(string.punctuation + "«»—–…“”„‘’")

# Snowball's Russian stop list (the list NLTK ships as stopwords.words("russian")).
STOP_WORDS_RU_OFFLINE = frozenset(
    """
    и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только
    ее мне было вот от меня еще нет о из ему теперь когда даже ну вдруг ли если уже или ни
    быть был него до вас нибудь опять уж вам ведь там потом себя ничего ей может они тут где
    есть надо ней для мы тебя их чем была сам чтоб без будто чего раз тоже себе под будет ж
    тогда кто этот того потому этого какой совсем ним здесь этом один почти мой тем чтобы нее
    сейчас были куда зачем всех никогда можно при наконец два об другой хоть после над больше
    тот через эти нас про всего них какая много разве три эту моя впрочем хорошо свою этой
    перед иногда лучше чуть том нельзя такой им более всегда конечно всю между
    """.split()
)


def _sklearn_english() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def offline_stop_words(lang: str) -> frozenset[str]:
    """The stop list shipped with the course (never NLTK's): the same on every machine."""
    _check_lang(lang)
    return _sklearn_english() if lang == "en" else STOP_WORDS_RU_OFFLINE


def stop_words(lang: str, *, prefer_nltk: bool = True, verbose: bool = True) -> frozenset[str]:
    """Stop words for ``lang`` ('en' or 'ru'): NLTK's list if installed, else the offline one.

    Prints one line saying which list is in use (``verbose=False`` silences it).
    """
    _check_lang(lang)
    words, source = None, ""
    if prefer_nltk:
        try:
            from nltk.corpus import stopwords

            words = frozenset(stopwords.words("english" if lang == "en" else "russian"))
            source = "NLTK stopwords corpus"
        except (ImportError, LookupError, OSError):
            words = None
    if words is None:
        words = offline_stop_words(lang)
        source = (
            "scikit-learn ENGLISH_STOP_WORDS (offline)" if lang == "en" else "Snowball Russian stop list (offline)"
        )
        if prefer_nltk:
            source += "; NLTK stopwords corpus not installed"
    if verbose:
        print(f"[dlcourse.text] stop words {lang}: {len(words)} words from {source}")
    return words


@functools.lru_cache(maxsize=None)
def get_stemmer(lang: str):
    """NLTK's Porter stemmer for English, its Snowball stemmer for Russian (one per language:
    ``process_tweet`` asks for it once per text)."""
    _check_lang(lang)
    from nltk.stem import PorterStemmer, SnowballStemmer

    return PorterStemmer() if lang == "en" else SnowballStemmer("russian")


def clean_tweet(tweet: str) -> str:
    """Remove http(s) links and the '#' sign (the hashtag's word stays)."""
    tweet = URL_RE.sub("", tweet)
    return tweet.replace("#", "")


def is_punctuation(token: str) -> bool:
    """True for ',', '!', '...', '!!!', '. . .' (one punctuation mark, maybe repeated or spaced).

    Emoticons such as ':)' mix different marks and are kept: they carry sentiment.
    """
    marks = set(token) - {" "}
    return len(marks) == 1 and marks <= PUNCTUATION


_TOKENIZER = None


def tokenize(text: str) -> list[str]:
    """NLTK's TweetTokenizer: lower-cases, drops @handles, shortens 'sooooo' to 'sooo'."""
    global _TOKENIZER
    if _TOKENIZER is None:
        from nltk.tokenize import TweetTokenizer

        _TOKENIZER = TweetTokenizer(preserve_case=False, strip_handles=True, reduce_len=True)
    return _TOKENIZER.tokenize(text)


def process_tweet(
    tweet: str,
    lang: str = "en",
    *,
    stop: Iterable[str] | None = None,
    stem: bool = False,
) -> list[str]:
    """Clean, tokenize and filter one tweet; optionally stem the tokens.

    Steps: remove links and '#', tokenize (lower-case, no handles), drop stop words and
    punctuation, then (if ``stem``) stem. ``stop`` defaults to the offline list for ``lang``,
    so results do not depend on which NLTK data a machine has.
    """
    _check_lang(lang)
    stop = offline_stop_words(lang) if stop is None else frozenset(stop)
    tokens = [t for t in tokenize(clean_tweet(tweet)) if t not in stop and not is_punctuation(t)]
    if stem:
        stemmer = get_stemmer(lang)
        tokens = [stemmer.stem(t) for t in tokens]
    return tokens


def build_freqs(token_lists: Iterable[Sequence[str]], labels: Iterable[int]) -> dict[tuple[str, int], int]:
    """Count how often each (word, label) pair occurs: {('happy', 1): 2, ...}."""
    freqs: dict[tuple[str, int], int] = {}
    for tokens, label in zip(token_lists, labels):
        label = int(label)
        for word in tokens:
            freqs[(word, label)] = freqs.get((word, label), 0) + 1
    return freqs


def extract_features(tokens: Sequence[str], freqs: dict[tuple[str, int], int]) -> np.ndarray:
    """[1 (bias), sum of positive counts, sum of negative counts] over the tokens (repeats count)."""
    pos = sum(freqs.get((w, 1), 0) for w in tokens)
    neg = sum(freqs.get((w, 0), 0) for w in tokens)
    return np.array([1.0, pos, neg], dtype=np.float64)


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, got {lang!r}")
