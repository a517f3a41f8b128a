"""Unit tests for dlcourse.text (tweet cleaning, stop words, frequencies, features)."""

from __future__ import annotations

import numpy as np
import pytest

from dlcourse import text

RU_TWEET = "Крутяк, я изучаю машинное обучение в #УрФУ #Наука ! https://lo.st/12:)"
RU_EXPECTED = ["крутяк", "изучаю", "машинное", "обучение", "урфу", "наука", ":)"]
EN_TWEET = "@nlp_fan I am sooooo HAPPY because I study #MachineLearning!!! https://t.co/AbC123 :-)"
ORACLE_CORPUS = ["I am happy I study machine learning", "I am happy", "I am sad I hate deep learning", "I hate learning"]
ORACLE_LABELS = [1, 1, 0, 0]


def test_process_tweet_matches_the_syllabus_oracle():
    assert text.process_tweet(RU_TWEET, lang="ru") == RU_EXPECTED


def test_process_tweet_english_and_stemming():
    assert text.process_tweet(EN_TWEET) == ["sooo", "happy", "study", "machinelearning", ":-)"]
    assert text.process_tweet(EN_TWEET, stem=True) == ["sooo", "happi", "studi", "machinelearn", ":-)"]
    assert text.process_tweet(RU_TWEET, lang="ru", stem=True) == ["крутяк", "изуча", "машин", "обучен", "урф", "наук", ":)"]


def test_process_tweet_custom_stop_list_and_bad_language():
    assert text.process_tweet("I am happy", stop=set()) == ["i", "am", "happy"]
    with pytest.raises(ValueError, match="lang"):
        text.process_tweet("hello", lang="de")


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("see https://t.co/x1?a=b&c=d now", "see  now"),
        ("glued https://lo.st/12:)", "glued :)"),
        ("#tag and #Другой", "tag and Другой"),
        ("http://example.com/a-b_c.html", ""),
    ],
)
def test_clean_tweet(raw, cleaned):
    assert text.clean_tweet(raw) == cleaned


@pytest.mark.parametrize(
    ("token", "expected"),
    [(",", True), ("!!!", True), ("...", True), (". . .", True), ("«", True), ("—", True),
     (":)", False), (":-)", False), ("word", False), ("", False), (" ", False), ("a.", False)],
)
def test_is_punctuation(token, expected):
    assert text.is_punctuation(token) is expected


def test_offline_stop_lists():
    en, ru = text.offline_stop_words("en"), text.offline_stop_words("ru")
    assert len(ru) == 151 and {"и", "в", "не", "я", "между"} <= ru
    assert len(en) == 318 and {"i", "am", "the", "not"} <= en
    # Words of the lecture's tweet that must survive.
    assert not set(RU_EXPECTED) & ru
    assert all(w == w.lower() for w in en | ru)


def test_stop_words_prints_its_source(capsys):
    words = text.stop_words("ru")
    out = capsys.readouterr().out
    assert "stop words ru" in out and f"{len(words)} words" in out
    assert {"и", "в", "я"} <= words
    assert text.stop_words("en", prefer_nltk=False, verbose=False) == text.offline_stop_words("en")
    assert capsys.readouterr().out == ""


def test_build_freqs_oracle_counts():
    freqs = text.build_freqs([d.split() for d in ORACLE_CORPUS], np.array(ORACLE_LABELS))
    assert freqs == {
        ("I", 1): 3, ("am", 1): 2, ("happy", 1): 2, ("study", 1): 1, ("machine", 1): 1, ("learning", 1): 1,
        ("I", 0): 3, ("am", 0): 1, ("sad", 0): 1, ("hate", 0): 2, ("deep", 0): 1, ("learning", 0): 2,
    }
    assert all(type(label) is int for _, label in freqs)
    assert sum(c for (_, y), c in freqs.items() if y == 1) == 10
    assert sum(c for (_, y), c in freqs.items() if y == 0) == 10


def test_extract_features_oracle_vectors():
    freqs = text.build_freqs([d.split() for d in ORACLE_CORPUS], ORACLE_LABELS)
    got = np.stack([text.extract_features(d.split(), freqs) for d in ORACLE_CORPUS])
    np.testing.assert_array_equal(got, [[1, 13, 9], [1, 7, 4], [1, 9, 13], [1, 4, 7]])
    np.testing.assert_array_equal(text.extract_features([], freqs), [1, 0, 0])
    assert got.dtype == np.float64


def test_get_stemmer():
    assert text.get_stemmer("en").stem("learning") == "learn"
    assert text.get_stemmer("ru").stem("учить") == "уч"
