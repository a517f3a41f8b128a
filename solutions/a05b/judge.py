"""Hidden checks of a05b, judged in the grader's process (instructor-only: never released, never
visible to the student's kernel). One function per graded test cell, named by its grade_id; it
returns the calls the kernel makes and how to check what comes back (dlcourse.grader.judge).

What is judged and how
----------------------
Every function is judged on its own, on inputs sent from here, against values computed here:
the lecture's oracle (SYLLABUS L5.2: window 2 over the two sentences gives learning -> study 1,
deep 1, machine 2, methods 1, is 1, group 1, of 1; checked by hand), this module's reference
implementations, gensim's ``KeyedVectors.most_similar`` for analogies, and the Keras model
rebuilt by the grader's model worker (dlcourse.grader.modellab) from the student's JSON
architecture. Each cell also checks the return type its instructions promise.

* ``test_cooccurrence`` (2): the lecture sentences with windows 1, 2 and 3 (the oracle), and
  hidden sentences with repeated words, upper case, extra spaces, a one-word sentence, a window
  longer than the sentence, and a second sentence (windows must not cross sentences).
* ``test_ppmi`` (2): the 3x3 example, rectangular integer and float matrices, a zero row and a
  zero column, a matrix whose PMI is negative somewhere (clipped to 0), and the oracle's counts.
* ``test_skipgram_pairs`` (2): the example, random texts with windows 1-4, a window longer than
  the text, one-word and empty texts; rows, order and integer dtype are checked exactly.
* ``test_noise_distribution`` (1): the example, power 1 and 0.5, random counts, a list input.
* ``test_sgns_loss`` (2): the example, random batches (K = 1, 3, 5), dot products of +-1000.
* ``test_build_sgns_model`` (2): built twice (50 x 8 and 13 x 5); the grader checks the Functional
  API, the parameter count 2 * V * d, two Embedding tables of shape (V, d), and the logits on
  weights and word ids sent from here against the dot products computed here (either table may
  come first in ``get_weights()``).
* ``test_analogy`` (2): the toy example, the same vectors scaled, and random vector sets where the
  answer is compared with gensim's ``most_similar(positive=[b, c], negative=[a], topn)``.
* ``test_fit_translation`` (2): the example, 0 and 1 steps, random problems (R compared with the
  reference after a few steps), and a real-looking task: 300 target words, the map fitted on
  200 pairs, nearest-neighbour precision@1 on 100 held-out pairs computed here from the
  returned R must reach PRECISION_AT_1 (the reference gets the value in the table below).

* ``test_train_word2vec`` (2): the grader builds the model from its own reference architecture
  (``SGNS_CONFIG``: 40 words, 16 dimensions) with fixed starting weights, and sends skip-gram data
  of a made-up corpus (``planted_corpus``: 300 sentences of 8 words, each drawn from one of 5
  topics of 8 words; window 2, 4 negatives per pair from the 3/4-power noise; 39,000 examples).
  Checked: a list of 3 Python floats; the first epoch's loss in FIRST_LOSS_RANGE and the last one
  at most LAST_LOSS_MAX and below the first; the trained centre vectors (the model's first
  weight array after the call) group the words by topic: the share of each word's 3 nearest
  neighbours (cosine) from its own topic is at least PURITY_MIN.

No threshold in this assignment depends on the mode (quick and full grading send the same
inputs); the one measured threshold is P@1 of the translation task:

=========================  =========  =========
quantity                   reference  threshold
=========================  =========  =========
P@1, 100 held-out pairs    0.88       0.80
=========================  =========  =========

Training (``test_train_word2vec``), measured with ``python solutions/a05b/judge.py`` here
(reference solution, seeds 0 and 1; wrong variants with seed 0):

==============================  =================  ==========  ===============
variant                         first epoch loss   last loss   topic purity
==============================  =================  ==========  ===============
reference (Adam 0.01, logits)   0.386 / 0.394      0.254       1.00
loss on probabilities           0.65               0.25        1.00
SGD 0.01 instead of Adam        0.693              0.693       0.18
all labels 1                    0.096              0.0001      0.45
never fitted                    (no losses)        -           0.19 (untrained)
threshold                       0.30 - 0.48        <= 0.30     >= 0.90
==============================  =================  ==========  ===============

The loss range allows for other machines' floating-point order (the two seeds differ by 0.008).

Translation, measured with ``python solutions/a05b/judge.py``: the closed-form least-squares map also gets
0.88 (the noise sets the ceiling); after 1, 3 and 10 steps gradient descent gets 0.82, 0.84 and
0.89. Nearest-neighbour search by cosine ignores the scale of ``x @ R``, so even one step points
the right way: the threshold separates a working fit from a diverging or wrongly signed one, not
an early stop (the exact comparisons of R after 1, 7 and 25 steps catch those).
"""

from __future__ import annotations

import numpy as np

from dlcourse.answers import ModelConfig, decode, encode
from dlcourse.checks import check_at_least, check_close, check_equal, check_shape
from dlcourse.grader.judge import Case, _describe, all_of, call, close, equal, make_model

LECTURE_SENTENCES = ["I like to study machine learning", "Deep learning is group of machine learning methods"]
ORACLE_LEARNING_ROW = {"study": 1, "deep": 1, "machine": 2, "methods": 1, "is": 1, "group": 1, "of": 1}
PRECISION_AT_1 = 0.80  # reference 0.88 (table in the docstring)
TRANSLATION = {"steps": 300, "lr": 0.1}
FIRST_LOSS_RANGE = (0.30, 0.48)  # reference 0.386 / 0.394 (seeds 0 / 1)
LAST_LOSS_MAX = 0.30  # reference 0.254
PURITY_MIN = 0.90  # reference 1.00, untrained 0.19
TRAIN = {"epochs": 3, "seed": 0}
# The reference model of section 5 for 40 words and 16 dimensions, as Keras writes it (to_json)
SGNS_CONFIG = '{"module": "keras.src.models.functional", "class_name": "Functional", "config": {"name": "sgns", "trainable": true, "layers": [{"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 1], "dtype": "int32", "sparse": false, "ragged": false, "name": "centre", "optional": false}, "registered_name": null, "name": "centre", "inbound_nodes": []}, {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 1], "dtype": "int32", "sparse": false, "ragged": false, "name": "context", "optional": false}, "registered_name": null, "name": "context", "inbound_nodes": []}, {"module": "keras.layers", "class_name": "Embedding", "config": {"name": "centre_vectors", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "input_dim": 40, "output_dim": 16, "embeddings_initializer": {"module": "keras.initializers", "class_name": "RandomUniform", "config": {"seed": null, "minval": -0.05, "maxval": 0.05}, "registered_name": null}, "embeddings_regularizer": null, "activity_regularizer": null, "embeddings_constraint": null, "mask_zero": false, "quantization_config": null}, "registered_name": null, "build_config": {"input_shape": [null, 1]}, "name": "centre_vectors", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 1], "dtype": "int32", "keras_history": ["centre", 0, 0]}}], "kwargs": {}}]}, {"module": "keras.layers", "class_name": "Embedding", "config": {"name": "context_vectors", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "input_dim": 40, "output_dim": 16, "embeddings_initializer": {"module": "keras.initializers", "class_name": "RandomUniform", "config": {"seed": null, "minval": -0.05, "maxval": 0.05}, "registered_name": null}, "embeddings_regularizer": null, "activity_regularizer": null, "embeddings_constraint": null, "mask_zero": false, "quantization_config": null}, "registered_name": null, "build_config": {"input_shape": [null, 1]}, "name": "context_vectors", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 1], "dtype": "int32", "keras_history": ["context", 0, 0]}}], "kwargs": {}}]}, {"module": "keras.layers", "class_name": "Dot", "config": {"name": "dot", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "axes": -1, "normalize": false}, "registered_name": null, "build_config": {"input_shape": [[null, 1, 16], [null, 1, 16]]}, "name": "dot", "inbound_nodes": [{"args": [[{"class_name": "__keras_tensor__", "config": {"shape": [null, 1, 16], "dtype": "float32", "keras_history": ["centre_vectors", 0, 0]}}, {"class_name": "__keras_tensor__", "config": {"shape": [null, 1, 16], "dtype": "float32", "keras_history": ["context_vectors", 0, 0]}}]], "kwargs": {}}]}, {"module": "keras.layers", "class_name": "Flatten", "config": {"name": "logit", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "data_format": "channels_last"}, "registered_name": null, "build_config": {"input_shape": [null, 1, 1]}, "name": "logit", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 1, 1], "dtype": "float32", "keras_history": ["dot", 0, 0]}}], "kwargs": {}}]}], "input_layers": [["centre", 0, 0], ["context", 0, 0]], "output_layers": ["logit", 0, 0]}, "registered_name": "Functional", "build_config": {"input_shape": null}, "compile_config": {}}'


# ------------------------------------------------------------------ reference implementations
def ref_cooccurrence(sentences, window):
    tokenized = [s.lower().split() for s in sentences]
    vocab = sorted({w for tokens in tokenized for w in tokens})
    index = {w: i for i, w in enumerate(vocab)}
    counts = np.zeros((len(vocab), len(vocab)), dtype=np.int64)
    for tokens in tokenized:
        for i, word in enumerate(tokens):
            for j in range(max(0, i - window), min(len(tokens), i + window + 1)):
                if j != i:
                    counts[index[word], index[tokens[j]]] += 1
    return vocab, counts


def ref_ppmi(counts):
    counts = np.asarray(counts, dtype=np.float64)
    expected = np.outer(counts.sum(axis=1), counts.sum(axis=0)) / counts.sum()
    out = np.zeros_like(counts)
    nonzero = counts > 0
    out[nonzero] = np.maximum(np.log2(counts[nonzero] / expected[nonzero]), 0.0)
    return out


def ref_skipgram_pairs(ids, window):
    ids = list(ids)
    pairs = [(ids[i], ids[j]) for i in range(len(ids))
             for j in range(max(0, i - window), min(len(ids), i + window + 1)) if j != i]
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def ref_noise(counts, power=0.75):
    weights = np.asarray(counts, dtype=np.float64) ** power
    return weights / weights.sum()


def ref_sgns_loss(v_c, u_o, u_neg):
    positive = np.sum(u_o * v_c, axis=-1)
    negative = np.einsum("bkd,bd->bk", u_neg, v_c)
    return float((np.logaddexp(0, -positive) + np.logaddexp(0, negative).sum(axis=-1)).mean())


def ref_fit_translation(X, Y, steps, lr):
    R = np.zeros((X.shape[1], Y.shape[1]))
    for _ in range(steps):
        R -= lr * 2.0 / X.shape[0] * X.T @ (X @ R - Y)
    return R


def gensim_analogy(vectors, vocab, a, b, c, topn):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vectors.shape[1])
    kv.add_vectors(list(vocab), np.asarray(vectors, dtype=np.float32))
    return [w for w, _ in kv.most_similar(positive=[b, c], negative=[a], topn=topn)]


# ------------------------------------------------------------------ small checks
def _array_of(kind: str, what: str, shape=None):
    def check(out, label):
        value = out.value
        if type(value) is not np.ndarray:
            raise AssertionError(f"{label}: expected a NumPy array of {what}, got {_describe(value)}")
        if value.dtype.kind not in kind:
            raise AssertionError(f"{label}: expected a NumPy array of {what}, got an array of dtype {value.dtype}")
        if shape is not None:
            check_shape(value, shape, label)
    return check


def _float(out, label):
    value = out.value
    ok = type(value) in (float, int) or isinstance(value, (np.floating, np.integer)) or (
        type(value) is np.ndarray and value.ndim == 0 and value.dtype.kind in "fiu")
    if not ok or isinstance(value, bool):
        raise AssertionError(f"{label}: expected a float (a Python or NumPy float), got {_describe(value)}")


def _finite(out, label):
    got = np.asarray(out.value, dtype=np.float64)
    if not np.all(np.isfinite(got)):
        raise AssertionError(f"{label}: expected only finite values, got {int((~np.isfinite(got)).sum())} "
                             f"nan or inf value(s)")


def _list_of_str(n: int | None = None):
    def check(out, label):
        value = out.value
        if type(value) is not list or not all(type(w) is str for w in value):
            raise AssertionError(f"{label}: expected a list of str, got {_describe(value)}")
        if n is not None and len(value) != n:
            raise AssertionError(f"{label}: expected a list of {n} words, got {len(value)}: {value!r:.200}")
    return check


# ------------------------------------------------------------------ 1. co-occurrence
def _cooccurrence_check(sentences, window):
    vocab, counts = ref_cooccurrence(sentences, window)

    def check(out, label):
        value = out.value
        if type(value) not in (tuple, list) or len(value) != 2:
            raise AssertionError(f"{label}: expected a tuple (vocab, counts), got {_describe(value)}")
        got_vocab, got_counts = value
        if type(got_vocab) is not list:
            raise AssertionError(f"{label}: expected vocab as a list of str, got {_describe(got_vocab)}")
        check_equal(got_vocab, vocab, f"{label}: vocab (sorted, lower-cased)")
        if type(got_counts) is not np.ndarray or got_counts.dtype.kind not in "iu":
            raise AssertionError(f"{label}: expected counts as a NumPy integer array, got {_describe(got_counts)}")
        check_shape(got_counts, counts.shape, f"{label}: counts")
        if not np.array_equal(got_counts, counts):
            i, j = np.argwhere(got_counts != counts)[0]
            raise AssertionError(f"{label}: expected counts[{vocab[i]!r}, {vocab[j]!r}] = {counts[i, j]}, "
                                 f"got {got_counts[i, j]} ({int((got_counts != counts).sum())} entries differ)")
    return check


def test_cooccurrence(ctx):
    vocab, counts = ref_cooccurrence(LECTURE_SENTENCES, 2)
    row = {w: int(c) for w, c in zip(vocab, counts[vocab.index("learning")]) if c}
    assert row == ORACLE_LEARNING_ROW, row  # the SYLLABUS oracle, checked by hand
    hidden = [
        (["the cat saw the other cat", "The   cat sat"], 2),
        (["a b a b a", "b"], 1),
        (["one"], 3),
        (["Red green blue", "blue green red green"], 5),
        (["w1 w2 w3 w4 w5 w6 w7 w8", "w8 w1"], 3),
    ]
    cases = [Case(f"cooccurrence(lecture sentences, {w})", call("cooccurrence", LECTURE_SENTENCES, w),
                  _cooccurrence_check(LECTURE_SENTENCES, w)) for w in (1, 2, 3)]
    cases += [Case(f"cooccurrence({s!r}, {w})", call("cooccurrence", s, w), _cooccurrence_check(s, w)) for s, w in hidden]
    return cases


# ------------------------------------------------------------------ 2. PPMI
def test_ppmi(ctx):
    rng = np.random.default_rng(52)
    small = np.array([[0, 2, 1], [2, 0, 1], [1, 1, 0]])
    rect = rng.integers(0, 6, size=(4, 7))
    floats = rng.random((5, 3)) * 4
    zero_row = rng.integers(1, 5, size=(4, 4))
    zero_row[2, :] = 0
    zero_row[:, 1] = 0
    negative = np.array([[10, 1], [1, 10], [5, 5]])  # PMI(0, 1) < 0: clipped
    _, oracle = ref_cooccurrence(LECTURE_SENTENCES, 2)
    matrices = {"the 3x3 example": small, "a random 4x7 int matrix": rect, "a random 5x3 float matrix": floats,
                "a matrix with a zero row and a zero column": zero_row, "a matrix with negative PMI": negative,
                "the lecture's co-occurrence counts": oracle}
    return [Case(f"ppmi({name})", call("ppmi", m),
                 all_of(_array_of("f", "floats", m.shape), _finite, close(ref_ppmi(m), atol=1e-6)))
            for name, m in matrices.items()]


# ------------------------------------------------------------------ 3. skip-gram pairs
def test_skipgram_pairs(ctx):
    rng = np.random.default_rng(53)
    texts = [([7, 8, 9], 1), (rng.integers(0, 50, 12).tolist(), 2), (rng.integers(0, 9, 9).tolist(), 3),
             (rng.integers(0, 30, 6).tolist(), 4), ([4, 4, 2], 10), ([5], 2), ([], 2)]
    cases = []
    for ids, window in texts:
        expected = ref_skipgram_pairs(ids, window)
        cases.append(Case(f"skipgram_pairs({ids}, {window})", call("skipgram_pairs", ids, window),
                          all_of(_array_of("iu", "integers", expected.shape), equal(expected))))
    ids = rng.integers(0, 100, 15)
    cases.append(Case("skipgram_pairs(a NumPy array of 15 ids, 2)", call("skipgram_pairs", ids, 2),
                      all_of(_array_of("iu", "integers"), equal(ref_skipgram_pairs(ids, 2)))))
    return cases


# ------------------------------------------------------------------ 4. noise distribution
def test_noise_distribution(ctx):
    rng = np.random.default_rng(54)
    counts = rng.integers(1, 1000, 20)
    cases = [
        Case("noise_distribution([1, 16, 81])", call("noise_distribution", [1, 16, 81]),
             all_of(_array_of("f", "floats", (3,)), close([1 / 36, 8 / 36, 27 / 36]))),
        Case("noise_distribution(20 random counts)", call("noise_distribution", counts),
             all_of(_array_of("f", "floats", (20,)), close(ref_noise(counts)))),
        Case("noise_distribution(counts, power=1.0)", call("noise_distribution", counts, power=1.0),
             close(ref_noise(counts, 1.0))),
        Case("noise_distribution(counts, power=0.5)", call("noise_distribution", counts, power=0.5),
             close(ref_noise(counts, 0.5))),
        Case("noise_distribution([5, 5, 5, 5]) (a list)", call("noise_distribution", [5, 5, 5, 5]), close([0.25] * 4)),
    ]
    return cases


# ------------------------------------------------------------------ 5. negative-sampling loss
def test_sgns_loss(ctx):
    rng = np.random.default_rng(55)
    v = np.array([[1.0, 0.0]])
    u = np.array([[2.0, 0.0]])
    neg = np.array([[[0.0, 1.0], [-1.0, 0.0]]])
    cases = [Case("sgns_loss(the example)", call("sgns_loss", v, u, neg),
                  all_of(_float, close(ref_sgns_loss(v, u, neg), atol=1e-9)))]
    for b, k, d in [(5, 1, 4), (8, 3, 6), (3, 5, 2)]:
        args = rng.normal(size=(b, d)), rng.normal(size=(b, d)), rng.normal(size=(b, k, d))
        cases.append(Case(f"sgns_loss(random batch B={b}, K={k}, d={d})", call("sgns_loss", *args),
                          all_of(_float, close(ref_sgns_loss(*args), rtol=1e-6, atol=1e-9))))
    big = np.array([[10.0], [-10.0]]), np.array([[-100.0], [-100.0]]), np.array([[[100.0]], [[-100.0]]])
    cases.append(Case("sgns_loss with dot products of +-1000", call("sgns_loss", *big),
                      all_of(_float, _finite, close(ref_sgns_loss(*big), rtol=1e-9))))
    return cases


# ------------------------------------------------------------------ 6. the Keras model
def _sgns_model_check(ctx, vocab_size: int, dim: int, seed: int):
    rng = np.random.default_rng(seed)
    tables = [rng.normal(size=(vocab_size, dim)).astype(np.float32) for _ in range(2)]
    centres = rng.integers(0, vocab_size, size=(7, 1)).astype(np.int32)
    contexts = rng.integers(0, vocab_size, size=(7, 1)).astype(np.int32)
    t = [w.astype(np.float64) for w in tables]
    one_way = np.sum(t[0][centres[:, 0]] * t[1][contexts[:, 0]], axis=1, keepdims=True)
    other_way = np.sum(t[1][centres[:, 0]] * t[0][contexts[:, 0]], axis=1, keepdims=True)

    def check(out, label):
        if not isinstance(out.value, ModelConfig):
            raise AssertionError(f"{label}: expected a keras.Model, got {_describe(out.value)}")
        config = out.value.config
        reply = ctx.ask(label, "inspect", config=config, inputs=encode([centres, contexts]),
                     weights=[encode(w) for w in tables])
        check_equal(reply["class_name"], "Functional", f"{label}: the model's class (the Functional API)")
        check_equal(reply["params"], 2 * vocab_size * dim, f"{label}: count_params() (2 * vocab_size * dim)")
        check_equal(reply["weight_shapes"], [[vocab_size, dim], [vocab_size, dim]],
                    f"{label}: the weight shapes (two embedding tables, nothing else)")
        check_equal(sorted(reply["layers"]).count("Embedding"), 2, f"{label}: number of Embedding layers")
        got = decode(reply["outputs"])
        check_shape(got, (7, 1), f"{label}: logits for a batch of 7 pairs")
        got = np.asarray(got, dtype=np.float64)
        if not (np.allclose(got, one_way, atol=1e-4) or np.allclose(got, other_way, atol=1e-4)):
            raise AssertionError(f"{label}: expected the logits u_o . v_c = {one_way.ravel().round(4).tolist()} for "
                                 f"the grader's weights, got {got.ravel().round(4).tolist()}")
    return check


def test_build_sgns_model(ctx):
    return [Case(f"build_sgns_model({v}, {d})", call("build_sgns_model", v, d), _sgns_model_check(ctx, v, d, seed))
            for v, d, seed in [(50, 8, 56), (13, 5, 156)]]


# ------------------------------------------------------------------ 7. analogies
def _analogy_check(vectors, vocab, a, b, c, topn):
    expected = gensim_analogy(vectors, vocab, a, b, c, topn)

    def check(out, label):
        _list_of_str(topn)(out, label)
        check_equal(out.value, expected, f"{label} (3CosAdd, as gensim's most_similar)")
    return check


def test_analogy(ctx):
    toy_vocab = ["man", "woman", "king", "queen", "apple"]
    toy = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [0.3, 0.3, -1.0]])
    cases = [
        Case("analogy(toy, 'man', 'king', 'woman')", call("analogy", toy, toy_vocab, "man", "king", "woman"),
             all_of(_list_of_str(1), equal(["queen"]))),
        Case("analogy(10 * toy, ..., topn=2)", call("analogy", 10 * toy, toy_vocab, "man", "king", "woman", topn=2),
             all_of(_list_of_str(2), equal(["queen", "apple"]))),
    ]
    rng = np.random.default_rng(57)
    for n, d, topn in [(40, 10, 1), (60, 8, 3), (30, 5, 5)]:
        vocab = [f"w{i}" for i in rng.permutation(1000)[:n]]
        # lengths from 0.1 to 10: an answer that skips normalisation ranks by length too
        vectors = rng.normal(size=(n, d)) * rng.uniform(0.1, 10, size=(n, 1))
        a, b, c = (vocab[i] for i in rng.choice(n, 3, replace=False))
        cases.append(Case(f"analogy({n} random vectors, {a!r}, {b!r}, {c!r}, topn={topn})",
                          call("analogy", vectors, vocab, a, b, c, topn=topn),
                          _analogy_check(vectors, vocab, a, b, c, topn)))
    return cases


# ------------------------------------------------------------------ 8. translation matrix
def translation_task(seed: int = 58):
    """Source and target spaces related by a linear map plus noise: 300 words, 200 pairs to fit on,
    100 held out."""
    rng = np.random.default_rng(seed)
    d1, d2, n = 12, 10, 300
    source = rng.normal(size=(n, d1))
    target = source @ rng.normal(size=(d1, d2)) / np.sqrt(d1) + 0.4 * rng.normal(size=(n, d2))
    order = rng.permutation(n)
    return source, target, order[:200], order[200:]


def precision_at_1(R, source, target, test_idx) -> float:
    mapped = source[test_idx] @ R
    unit = lambda m: m / np.linalg.norm(m, axis=1, keepdims=True)  # noqa: E731
    nearest = np.argmax(unit(mapped) @ unit(target).T, axis=1)
    return float(np.mean(nearest == test_idx))


def _translation_quality(source, target, test_idx):
    def check(out, label):
        _array_of("f", "floats", (source.shape[1], target.shape[1]))(out, label)
        p1 = precision_at_1(np.asarray(out.value, dtype=np.float64), source, target, test_idx)
        check_at_least(p1, PRECISION_AT_1, f"{label}: precision@1 of nearest-neighbour translation on 100 held-out words")
    return check


def test_fit_translation(ctx):
    rng = np.random.default_rng(59)
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    Y = np.array([[0.0, 2.0], [1.0, 0.0], [1.0, 2.0]])
    cases = [
        Case("fit_translation(example, 1 step, lr 0.5)", call("fit_translation", X, Y, 1, 0.5),
             all_of(_array_of("f", "floats", (2, 2)), close(ref_fit_translation(X, Y, 1, 0.5)))),
        Case("fit_translation(example, 0 steps)", call("fit_translation", X, Y, 0, 0.5),
             all_of(_array_of("f", "floats", (2, 2)), close(np.zeros((2, 2))))),
    ]
    for m, d1, d2, steps, lr in [(20, 5, 3, 1, 0.1), (30, 4, 6, 7, 0.05), (15, 3, 3, 25, 0.2)]:
        Xr, Yr = rng.normal(size=(m, d1)), rng.normal(size=(m, d2))
        cases.append(Case(f"fit_translation(random {m}x{d1} -> {m}x{d2}, {steps} steps, lr {lr})",
                          call("fit_translation", Xr, Yr, steps, lr),
                          all_of(_array_of("f", "floats", (d1, d2)), close(ref_fit_translation(Xr, Yr, steps, lr), rtol=1e-6))))
    source, target, train_idx, test_idx = translation_task()
    cases.append(Case(f"fit_translation(200 training pairs, {TRANSLATION['steps']} steps, lr {TRANSLATION['lr']})",
                      call("fit_translation", source[train_idx], target[train_idx], TRANSLATION["steps"], TRANSLATION["lr"]),
                      _translation_quality(source, target, test_idx)))
    return cases


# ------------------------------------------------------------------ 9. training
def planted_corpus(seed: int = 60, vocab: int = 40, topics: int = 5, sentences: int = 300, length: int = 8,
                   window: int = 2, negatives: int = 4):
    """Skip-gram training data of a made-up corpus whose sentences each use the words of one topic:
    (centres (n, 1) int32, contexts (n, 1) int32, labels (n,) float32, topic of each word)."""
    rng = np.random.default_rng(seed)
    topic_of = np.repeat(np.arange(topics), vocab // topics)
    texts = [rng.choice(np.flatnonzero(topic_of == rng.integers(topics)), length) for _ in range(sentences)]
    positives = np.concatenate([ref_skipgram_pairs(t, window) for t in texts])
    noise = ref_noise(np.bincount(np.concatenate(texts), minlength=vocab))
    negative_contexts = rng.choice(vocab, size=(len(positives), negatives), p=noise)
    centres = np.concatenate([positives[:, 0], np.repeat(positives[:, 0], negatives)])
    contexts = np.concatenate([positives[:, 1], negative_contexts.ravel()])
    labels = np.concatenate([np.ones(len(positives)), np.zeros(len(positives) * negatives)]).astype(np.float32)
    order = rng.permutation(len(labels))
    return centres[order, None].astype(np.int32), contexts[order, None].astype(np.int32), labels[order], topic_of


def topic_purity(table, topic_of, k: int = 3) -> float:
    unit = table / np.maximum(np.linalg.norm(table, axis=1, keepdims=True), 1e-12)
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    nearest = np.argsort(-sims, axis=1)[:, :k]
    return float(np.mean(topic_of[nearest] == topic_of[:, None]))


def _starting_weights():
    rng = np.random.default_rng(61)
    return [rng.normal(scale=0.05, size=(40, 16)).astype(np.float32) for _ in range(2)]


def test_train_word2vec(ctx):
    centres, contexts, labels, topic_of = planted_corpus()
    epochs = TRAIN["epochs"]

    def losses(out, label):
        value = out.value
        if type(value) is not list or not all(isinstance(x, (float, np.floating)) for x in value):
            raise AssertionError(f"{label}: expected a list of Python floats (one loss per epoch), got {_describe(value)}")
        check_equal(len(value), epochs, f"{label}: number of losses (one per epoch)")
        low, high = FIRST_LOSS_RANGE
        if not low <= value[0] <= high:
            raise AssertionError(f"{label}: expected the first epoch's loss between {low} and {high} (Adam 0.01, binary "
                                 f"cross-entropy on logits, batch 256; the reference gets 0.39), got {value[0]:.4f}")
        if not (value[-1] <= LAST_LOSS_MAX and value[-1] < value[0]):
            raise AssertionError(f"{label}: expected the last epoch's loss at most {LAST_LOSS_MAX} and below the first "
                                 f"(the reference gets 0.25), got {[round(x, 4) for x in value]}")

    def grouped(out, label):
        after = out.after.get(0)
        if not after or np.shape(after[0]) != (40, 16):
            raise AssertionError(f"{label}: expected the model's weights after training, got none")
        purity = topic_purity(np.asarray(after[0], dtype=np.float64), topic_of)
        check_at_least(purity, PURITY_MIN, f"{label}: share of each word's 3 nearest neighbours from its own topic "
                                           f"after training (untrained: 0.19)")

    args = (make_model(SGNS_CONFIG, _starting_weights()), centres, contexts, labels, epochs, TRAIN["seed"])
    name = f"train_word2vec(model, 39,000 examples, {epochs}, {TRAIN['seed']})"
    return [Case(name, call("train_word2vec", *args), all_of(losses, grouped))]


def _measure_training() -> None:
    import keras

    centres, contexts, labels, topic_of = planted_corpus()
    print("untrained purity", round(topic_purity(_starting_weights()[0], topic_of), 3))
    for seed in (0, 1):
        model = keras.models.model_from_json(SGNS_CONFIG)
        model.set_weights(_starting_weights())
        keras.utils.set_random_seed(seed)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01),
                      loss=keras.losses.BinaryCrossentropy(from_logits=True))
        history = model.fit([centres, contexts], labels, epochs=TRAIN["epochs"], batch_size=256, verbose=0)
        print(f"seed {seed}: losses {[round(x, 4) for x in history.history['loss']]}, "
              f"purity {topic_purity(model.get_weights()[0], topic_of):.3f}")


if __name__ == "__main__":  # measure the reference on the translation task and the training task
    _measure_training()
    source, target, train_idx, test_idx = translation_task()
    R = ref_fit_translation(source[train_idx], target[train_idx], TRANSLATION["steps"], TRANSLATION["lr"])
    print("reference P@1:", precision_at_1(R, source, target, test_idx))
    lstsq = np.linalg.lstsq(source[train_idx], target[train_idx], rcond=None)[0]
    print("least squares P@1:", precision_at_1(lstsq, source, target, test_idx))
    for steps in (1, 3, 10, 30):
        R = ref_fit_translation(source[train_idx], target[train_idx], steps, TRANSLATION["lr"])
        print(f"  after {steps} steps: P@1 {precision_at_1(R, source, target, test_idx):.2f}")
