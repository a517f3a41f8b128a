"""L6 data helpers: tokenizer, wordfreq probabilities, codespell misspellings, fortunes-ru."""

import hashlib

import pytest

from debian_package import make_deb
from dlcourse import data, language


def test_words_and_sentences():
    assert language.words("Don't stop: 3 cats, ЁЖ и ёж!") == ["don't", "stop", "cats", "ёж", "и", "ёж"]
    docs = ["I like machine learning. Deep learning is like machine learning!", "Жизнь - это... игра?\nДа"]
    assert language.sentences(docs) == [["i", "like", "machine", "learning"],
                                        ["deep", "learning", "is", "like", "machine", "learning"],
                                        ["жизнь", "это"], ["игра"], ["да"]]
    assert language.sentences(docs, min_words=2) == language.sentences(docs)[:3]
    with pytest.raises(TypeError, match="list of documents"):
        language.sentences("one text")


def test_word_probabilities_are_letter_words_summing_to_one():
    en = language.word_probabilities("en", 2_000)
    assert len(en) == 2_000 and abs(sum(en.values()) - 1) < 1e-9
    assert list(en)[:3] == ["the", "to", "and"]  # most frequent first
    assert all(w.isalpha() for w in en)
    ru = language.word_probabilities("ru", 500)
    assert ru["в"] > ru["не"] > 0 and all(w.isalpha() for w in ru)
    with pytest.raises(ValueError, match="'en' or 'ru'"):
        language.word_probabilities("de")


def test_parse_codespell_keeps_single_lower_case_corrections():
    text = "abotu->about\nteh->the\nwich->which, witch,\nAmercia->America\nadn->and,\nx2->x\nsame->same\n"
    assert language.parse_codespell(text) == [("abotu", "about"), ("teh", "the"), ("adn", "and")]


def test_load_misspellings_filters_by_vocabulary_and_samples_reproducibly():
    vocab = language.word_probabilities("en", 20_000)
    pairs = language.load_misspellings(300, vocabulary=vocab, seed=1)
    assert len(pairs) == 300 and pairs == language.load_misspellings(300, vocabulary=vocab, seed=1)
    assert pairs != language.load_misspellings(300, vocabulary=vocab, seed=2)
    assert all(right in vocab and wrong not in vocab for wrong, right in pairs)
    assert len(language.load_misspellings()) > 50_000  # the whole dictionary


def test_parse_fortunes_drops_attributions():
    text = ("Знание - сила.\n\t\t-- Ф.Бэкон\n%\nНаука - искусство ставить\nвопросы.\n   -- А.Круглов\n  1990\n%\n"
            "Без автора.\r\n%\n%\n")
    assert language.parse_fortunes(text) == ["Знание - сила.", "Наука - искусство ставить вопросы.", "Без автора."]


def test_russian_aphorisms_from_the_debian_package(monkeypatch, tmp_path):
    """The download path: fetch the .deb (checksummed), keep the text files, parse them."""
    monkeypatch.setattr(language, "FORTUNES_RU_DIR", "no/such/dir/in/tests")
    files = {"no/such/dir/in/tests/life": "Жизнь - игра.\n\t-- кто-то\n%\nНе спеши.\n".encode(),
             "no/such/dir/in/tests/life.dat": b"\0\0binary index",
             "no/such/dir/in/tests/love": "Любовь зла.\n".encode()}
    deb = tmp_path / "fr.deb"
    deb.write_bytes(make_deb(files))
    seen = {}
    monkeypatch.setattr(data, "fetch", lambda url, sha256, *a, **k: seen.update(url=url, sha=sha256) or deb)
    monkeypatch.setenv("DLCOURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DLCOURSE_OFFLINE", raising=False)
    corpus = language.load_russian_aphorisms()
    assert corpus.documents == ["Жизнь - игра.", "Не спеши.", "Любовь зла."]
    assert seen == {"url": data.RUSSIAN_APHORISMS.full.url, "sha": data.RUSSIAN_APHORISMS.full.sha256}
    assert not (tmp_path / "cache" / "fortunes-ru" / "life.dat").exists()
    monkeypatch.setenv("DLCOURSE_OFFLINE", "1")  # cached now
    monkeypatch.setattr(data, "fetch", lambda *a, **k: pytest.fail("must not download"))
    assert len(language.load_russian_aphorisms().documents) == 3


def test_an_interrupted_extraction_is_not_taken_for_a_cache(monkeypatch, tmp_path):
    monkeypatch.setattr(language, "FORTUNES_RU_DIR", "no/such/dir/in/tests")
    monkeypatch.setenv("DLCOURSE_CACHE", str(tmp_path))
    (tmp_path / "fortunes-ru").mkdir()
    (tmp_path / "fortunes-ru" / "life").write_text("half a file")  # no .complete marker
    monkeypatch.setenv("DLCOURSE_OFFLINE", "1")
    with pytest.raises(data.DatasetUnavailable, match="apt install fortunes-ru"):
        language.load_russian_aphorisms()


def test_pinned_files_that_do_not_match_fail_the_download(monkeypatch, tmp_path):
    package = data.DebianFiles(data.RUSSIAN_APHORISMS, "x", "no/such/dir", "pinned",
                               checksums={"a": hashlib.sha256(b"right").hexdigest()})
    deb = tmp_path / "p.deb"
    deb.write_bytes(make_deb({"no/such/dir/a": b"wrong"}))
    monkeypatch.setattr(data, "fetch", lambda *a, **k: deb)
    monkeypatch.setenv("DLCOURSE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(data.ChecksumError, match="do not match"):
        data.debian_folder(package, download=True)


def test_the_real_corpus():  # `make env` fetched it
    corpus = language.load_russian_aphorisms()
    assert len(corpus.documents) > 20_000
    assert sum(len(language.words(d)) for d in corpus.documents) > 240_000
