"""Data of L6 (probabilistic language models): word frequencies, real misspellings, and a
Russian corpus, plus the one tokenizer every L6 notebook and the assignment share.

The algorithms themselves (edit operations, edit distance, n-gram counts, perplexity) are what
L6 teaches, so they are written in the notebooks, not here.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from . import data, modes

# Sentences end at . ! ? … or a line break; words are runs of letters (an apostrophe may join
# two runs: don't, o'clock). Digits and punctuation are not words for these models.
_SENTENCE_END = re.compile(r"[.!?…]+|\n+")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")


def words(text: str) -> list[str]:
    """Lower-case words of ``text`` (letters only, any alphabet; ё is kept)."""
    return _WORD.findall(text.lower())


def sentences(documents, *, min_words: int = 1) -> list[list[str]]:
    """Each document split into sentences, each sentence into lower-case :func:`words`;
    sentences with fewer than ``min_words`` words are dropped."""
    if isinstance(documents, str):
        raise TypeError("sentences() takes a list of documents; wrap one text in a list")
    out = []
    for document in documents:
        for piece in _SENTENCE_END.split(document):
            tokens = words(piece)
            if len(tokens) >= min_words:
                out.append(tokens)
    return out


# ---------------------------------------------------------------- word frequencies
def word_probabilities(lang: str = "en", n_words: int = 50_000) -> dict[str, float]:
    """P(w) for the ``n_words`` most frequent words of ``lang`` ("en" or "ru"), from wordfreq's
    tables (counts from Wikipedia, subtitles, news, books, web text, ...), renormalized so the
    kept words sum to 1. Only letter words are kept: no digits, no punctuation."""
    from wordfreq import top_n_list, word_frequency

    if lang not in ("en", "ru"):
        raise ValueError(f"lang must be 'en' or 'ru', got {lang!r}")
    if n_words < 1:
        raise ValueError(f"n_words must be positive, got {n_words}")
    kept: dict[str, float] = {}
    for word in top_n_list(lang, int(n_words * 1.3) + 100):  # the surplus replaces the non-words
        if _WORD.fullmatch(word) and "'" not in word and word not in kept:
            kept[word] = word_frequency(word, lang)
            if len(kept) == n_words:
                break
    total = sum(kept.values())
    info = data.WORD_FREQUENCIES
    data._announce(info.name, f"{info.full.description} [{lang}]", f"{len(kept):,} words", modes.mode())
    return {w: f / total for w, f in kept.items()}


# ---------------------------------------------------------------- misspellings
CODESPELL_DICTIONARY = "codespell_lib/data/dictionary.txt"


def _codespell_dictionary() -> Path:
    from importlib import metadata

    try:
        path = Path(metadata.distribution("codespell").locate_file(CODESPELL_DICTIONARY))
    except metadata.PackageNotFoundError as exc:
        raise data.DatasetUnavailable("the misspellings need codespell: pip install codespell") from exc
    if not path.exists():
        raise data.DatasetUnavailable(f"codespell is installed but has no {CODESPELL_DICTIONARY}; reinstall it")
    return path


def parse_codespell(text: str) -> list[tuple[str, str]]:
    """(misspelling, correction) pairs from codespell's ``wrong->right`` lines: only lines with a
    single correction, both words lower-case letters a-z, the two different."""
    pairs = []
    for line in text.splitlines():
        wrong, arrow, right = line.partition("->")
        right = right.strip().rstrip(",")
        if arrow and "," not in right and re.fullmatch(r"[a-z]+", wrong) and re.fullmatch(r"[a-z]+", right) \
                and wrong != right:
            pairs.append((wrong, right))
    return pairs


def load_misspellings(n: int | None = None, *, vocabulary=None, seed: int = 0) -> list[tuple[str, str]]:
    """Real English misspellings with their corrections, from codespell's dictionary (typos
    found in real text and code). With ``vocabulary`` (a set or dict of words), only pairs whose
    correction is in it and whose misspelling is not are kept: a corrector restricted to that
    vocabulary could get them right. ``n`` pairs are drawn at random (``seed``), in a fixed order."""
    pairs = parse_codespell(_codespell_dictionary().read_text(encoding="utf-8"))
    if vocabulary is not None:
        pairs = [(w, r) for w, r in pairs if r in vocabulary and w not in vocabulary]
    if n is not None and n < len(pairs):
        rng = np.random.default_rng(seed)
        pairs = [pairs[i] for i in sorted(rng.choice(len(pairs), n, replace=False))]
    info = data.MISSPELLINGS
    data._announce(info.name, info.full.description, f"{len(pairs):,} pairs", modes.mode())
    return pairs


# ---------------------------------------------------------------- Russian aphorisms
FORTUNES_RU_DIR = "usr/share/games/fortunes/ru"
_ATTRIBUTION = re.compile(r"^\s+--")


def parse_fortunes(text: str) -> list[str]:
    """The entries of a fortune file (separated by lines holding only ``%``), each joined into
    one line, with the attribution (an indented line starting with ``--``) and what follows
    it left out."""
    entries = []
    for block in re.split(r"^%\s*$", text.replace("\r\n", "\n"), flags=re.M):
        kept = []
        for line in block.splitlines():
            if _ATTRIBUTION.match(line):
                break
            kept.append(line.strip())
        entry = " ".join(line for line in kept if line)
        if entry:
            entries.append(entry)
    return entries


def _fortunes_folder(download: bool | None = None) -> Path:
    return data.debian_folder(data.DebianFiles(
        info=data.RUSSIAN_APHORISMS, apt_name="fortunes-ru", member_dir=FORTUNES_RU_DIR, cache_name="fortunes-ru",
        keep=lambda name: not name.endswith((".dat", ".u8"))), download)


def load_russian_aphorisms() -> data.TextCorpus:
    """Russian aphorisms and jokes (Debian's fortunes-ru, one document per entry), the same
    files in both modes."""
    folder = _fortunes_folder()
    documents = []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        documents.extend(parse_fortunes(path.read_text(encoding="utf-8")))
    info = data.RUSSIAN_APHORISMS
    n_words = sum(len(words(d)) for d in documents)
    data._announce(info.name, info.full.description, f"{len(documents):,} entries, {n_words:,} words", modes.mode())
    return data.TextCorpus(info.name, documents, info.full.description, modes.mode())


def prefetch() -> None:
    """Download what L6 needs beyond pip packages: fortunes-ru (``make env``)."""
    print(f"[dlcourse.language] russian_aphorisms ready in {_fortunes_folder(download=True)}")
