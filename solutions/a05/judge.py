"""Hidden checks of a05, judged in the grader's process (instructor-only: never released, never
visible to the student's kernel). One function per graded test cell, named by its grade_id; it
returns the calls the kernel makes and how to check what comes back (dlcourse.grader.judge).

What is judged and how
----------------------
Every function is judged on its own, on inputs sent from here, against expected values computed
here: literal lecture oracles (SYLLABUS L5/L5.2), this module's reference formulas, and the
course's reference preprocessing in ``dlcourse.text`` (``process_tweet``, ``build_freqs``,
``extract_features``: the same tokenizer, offline stop lists and stemmers as the notebook's setup
cell). Each cell also checks the return type its instructions promise (a list of str, a plain
dict, a NumPy float array of the stated shape, a float, a tuple), with a message that says what
was expected and what was produced.

* ``test_process_tweet`` (3): the lecture's RU tweet and an EN tweet (visible), their stemmed
  forms, and tweets that exercise each rule of the instructions (links with a colon right after,
  with Cyrillic letters, with ``% ~ + & ? =``, two links, ``#``, handles, stop words, punctuation).
* ``test_build_freqs`` (2), ``test_extract_features`` (2): the lecture corpus, repeats, an empty
  text, NumPy labels, and a real subset of the course's sentiment data. ``build_freqs`` must return
  a plain dict (pairs stored with count 0 are accepted); ``extract_features`` a float NumPy array of
  shape (3,) (a list or an integer array loses this cell, nothing else).
* ``test_sigmoid`` (1), ``test_cost_gradient`` (2), ``test_gradient_descent`` (2): the visible
  examples, theta = 0 (cost log 2), alpha = 0, and random problems; parameters and costs are
  compared with this module's reference gradient descent on the same inputs.
* ``test_logreg_accuracy`` (1): the grader computes the standardised features [1, Σpos, Σneg] of
  the course's sentiment data with ``dlcourse.text`` (quick mode: all 150 training / 50 test
  sentences, seed 0, stem=True, exactly the notebook's data cell), sends them to the student's
  ``gradient_descent`` (alpha 0.5, 1000 steps, as in the notebook), and computes train and test
  accuracy here from the returned theta; the final cost must not exceed the first.
* ``test_idf`` (2), ``test_tf_idf`` (2): the lecture corpus (idf in log10), small corpora and a
  real subset; the vocabulary order is checked exactly.
* ``test_word_probability`` (1), ``test_train_naive_bayes`` (1), ``test_naive_bayes_predict`` (1):
  the lecture oracle (P(I|pos) = 4/19, ...), a corpus where document and word counts differ
  (log prior from documents), unknown words, and a real subset; log prior and log-likelihoods are
  compared with this module's reference on the same inputs.
* ``test_nb_accuracy`` (1): the student's ``train_naive_bayes`` on the real training freqs (computed
  here); the scores and accuracies are computed here from the returned parameters; every score
  must be finite.

Measured numbers (reference solution = this module's reference, quick mode, seed 0)
---------------------------------------------------------------------------------
Run ``DLCOURSE_MODE=quick DLCOURSE_OFFLINE=1 python solutions/a05/judge.py`` to measure again.

====================================  ==============  =============  ===================
model (150 train / 50 test sentences)  train accuracy  test accuracy  threshold train/test
====================================  ==============  =============  ===================
logistic regression, α 0.5, 1000 st.   0.987           0.60           0.90 / 0.54
naive Bayes, Laplace smoothing         0.993           0.64           0.90 / 0.54
====================================  ==============  =============  ===================

Reference theta = [0.608, 6.637, -5.856], cost 0.6931 -> 0.0503 (the notebook's own quick run
prints the same numbers). One test sentence is 0.02 of accuracy: the test thresholds sit 3 (LR)
and 5 (NB) sentences under the reference; the training accuracy separates a broken
implementation (the sign-flipped gradient gets 0.013, the cost goes to NaN) from a working one;
without Laplace smoothing 194 of the 200 naive-Bayes scores are inf or NaN.

Full mode (IMDB): NOT measured. No GPU and no network (so no IMDB download) were available when
this judge was written. In full mode the judge uses a seeded random subset of FULL_N_TRAIN /
FULL_N_TEST IMDB reviews (so grading stays fast) and FULL_THRESHOLDS below, which are guesses:
run this file in full mode once the dataset is downloaded and replace them with the measured
numbers minus a margin (and the notebook's setup cell with them).

Grading time (quick mode, sandbox off, a 2-core machine shared with other jobs; three batches
of 26-28 submissions): 4.6-27.5 s per submission depending on the machine's load, the reference
solution 8.2-21 s (13.7-19.4 s graded alone); this module takes 0.1-0.4 s of each submission,
and the first submission of a batch also pays 2.5-9 s (gensim import, loading and preprocessing
the 200 sentences), cached for the rest of the batch. Budget: 45 s.
"""

from __future__ import annotations

import math
import sys
import types

import numpy as np

from dlcourse import text as T
from dlcourse.checks import check_at_least, check_at_most, check_close, check_equal
from dlcourse.grader.judge import Case, call

# ------------------------------------------------------------------ thresholds and data sizes
QUICK_THRESHOLDS = {"lr_train": 0.90, "lr_test": 0.54, "nb_train": 0.90, "nb_test": 0.54}  # measured (above)
FULL_THRESHOLDS = {"lr_train": 0.60, "lr_test": 0.60, "nb_train": 0.75, "nb_test": 0.65}  # GUESSES: not measured
FULL_N_TRAIN, FULL_N_TEST = 1000, 1000  # full mode: a seeded random subset of IMDB (real reviews)
ALPHA, NUM_ITERS = 0.5, 1000  # as in the notebook's train_logreg cell

# ------------------------------------------------------------------ lecture oracles
ORACLE_DOCS = [d.split() for d in ["I am happy I study machine learning", "I am happy",
                                   "I am sad I hate deep learning", "I hate learning"]]
ORACLE_LABELS = [1, 1, 0, 0]
ORACLE_FREQS = {("I", 1): 3, ("am", 1): 2, ("happy", 1): 2, ("study", 1): 1, ("machine", 1): 1,
                ("learning", 1): 1, ("I", 0): 3, ("am", 0): 1, ("sad", 0): 1, ("hate", 0): 2,
                ("deep", 0): 1, ("learning", 0): 2}
RU_TWEET = "Крутяк, я изучаю машинное обучение в #УрФУ #Наука ! https://lo.st/12:)"
EN_TWEET = "@nlp_fan I am sooooo HAPPY because I study #MachineLearning!!! https://t.co/AbC123 :-)"
F3 = {("good", 1): 3, ("bad", 0): 1, ("ok", 1): 1, ("ok", 0): 1}  # N_pos 4, N_neg 2, V 3; 3 pos / 1 neg docs


# ------------------------------------------------------------------ reference implementations
def ref_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


def ref_cost_gradient(X, y, theta):
    X, y, theta = (np.asarray(a, dtype=np.float64) for a in (X, y, theta))
    h = ref_sigmoid(X @ theta)
    cost = -float(np.mean(y * np.log(h) + (1 - y) * np.log(1 - h)))
    return cost, X.T @ (h - y) / X.shape[0]


def ref_gradient_descent(X, y, theta, alpha, num_iters):
    theta = np.array(theta, dtype=np.float64)
    costs = []
    for _ in range(num_iters):
        cost, grad = ref_cost_gradient(X, y, theta)
        costs.append(cost)
        theta = theta - alpha * grad
    return theta, costs


def ref_idf(docs):
    df: dict[str, int] = {}
    for doc in docs:
        for word in set(doc):
            df[word] = df.get(word, 0) + 1
    return {word: math.log10(len(docs) / count) for word, count in df.items()}


def ref_tf_idf(docs):
    vocab = list(dict.fromkeys(w for doc in docs for w in doc))
    column = {w: j for j, w in enumerate(vocab)}
    tf = np.zeros((len(docs), len(vocab)))
    for i, doc in enumerate(docs):
        for w in doc:
            tf[i, column[w]] += 1.0 / len(doc)
    weights = ref_idf(docs)
    return vocab, tf * np.array([weights[w] for w in vocab])


def _class_totals(freqs):
    vocab = {w for w, _ in freqs}
    n = {c: sum(v for (_, y), v in freqs.items() if y == c) for c in (0, 1)}
    return vocab, n


def ref_word_probability(freqs, word, label):
    vocab, n = _class_totals(freqs)
    return (freqs.get((word, label), 0) + 1) / (n[label] + len(vocab))


def ref_train_naive_bayes(freqs, ys):
    ys = np.asarray(ys)
    logprior = math.log(int(np.sum(ys == 1))) - math.log(int(np.sum(ys == 0)))
    vocab, n = _class_totals(freqs)
    v = len(vocab)
    loglikelihood = {w: math.log((freqs.get((w, 1), 0) + 1) / (n[1] + v)) - math.log((freqs.get((w, 0), 0) + 1) / (n[0] + v))
                     for w in vocab}
    return logprior, loglikelihood


def ref_nb_score(tokens, logprior, loglikelihood):
    return logprior + sum(loglikelihood.get(w, 0.0) for w in tokens)


# ------------------------------------------------------------------ the course's sentiment data
# The grader loads this module afresh for every submission; the prepared data (deterministic,
# read-only) is kept for the whole grading process in a holder module, so only the first
# submission of a batch pays for loading and preprocessing (full mode: reading IMDB's archive).
_CACHE: dict = sys.modules.setdefault("_dlcourse_a05_judge_data", types.ModuleType("_dlcourse_a05_judge_data")).__dict__


def real_data(mode: str, samples_cap: int | None):
    """Tokens, labels, freqs and standardised features of the data the notebook uses.

    Quick mode: the notebook's split (150 / 50, seed 0), capped like its data cell. Full mode: a
    seeded random subset of IMDB (FULL_N_TRAIN / FULL_N_TEST reviews), not the notebook's 20,000.
    """
    key = ("real_data", mode, samples_cap, FULL_N_TRAIN, FULL_N_TEST)
    if key not in _CACHE:
        _CACHE[key] = _prepare(mode, samples_cap)
    return _CACHE[key]


def _prepare(mode: str, samples_cap: int | None) -> dict:
    from dlcourse.data import load_sentiment

    data = load_sentiment(seed=0)
    x_train, y_train, x_test, y_test = data.x_train, data.y_train, data.x_test, data.y_test
    if mode == "quick":
        n_train = len(x_train) if samples_cap is None else min(len(x_train), samples_cap)
        n_test = len(x_test) if samples_cap is None else min(len(x_test), samples_cap)
        train_idx, test_idx = np.arange(n_train), np.arange(n_test)
    else:
        rng = np.random.default_rng(0)
        train_idx = np.sort(rng.permutation(len(x_train))[:FULL_N_TRAIN])
        test_idx = np.sort(rng.permutation(len(x_test))[:FULL_N_TEST])
    train_tokens = [T.process_tweet(str(x_train[i]), stem=True) for i in train_idx]
    test_tokens = [T.process_tweet(str(x_test[i]), stem=True) for i in test_idx]
    ytr = np.asarray(y_train)[train_idx].astype(int)
    yte = np.asarray(y_test)[test_idx].astype(int)
    freqs = T.build_freqs(train_tokens, ytr)
    X_train = np.stack([T.extract_features(t, freqs) for t in train_tokens])
    X_test = np.stack([T.extract_features(t, freqs) for t in test_tokens])
    mean, std = X_train[:, 1:].mean(axis=0), X_train[:, 1:].std(axis=0) + 1e-12
    X_train[:, 1:] = (X_train[:, 1:] - mean) / std
    X_test[:, 1:] = (X_test[:, 1:] - mean) / std
    return {"train_tokens": train_tokens, "test_tokens": test_tokens, "y_train": ytr, "y_test": yte,
            "freqs": freqs, "X_train": X_train, "X_test": X_test}


def _data(ctx):
    return real_data(ctx.mode, ctx.budget.profile.max_samples)


def _thresholds(ctx):
    return QUICK_THRESHOLDS if ctx.mode == "quick" else FULL_THRESHOLDS


# ------------------------------------------------------------------ type checks (clear messages)
def _describe(value) -> str:
    text = repr(value)
    text = text if len(text) <= 80 else text[:77] + "..."
    if isinstance(value, np.ndarray):
        return f"a NumPy array of dtype {value.dtype} and shape {value.shape} ({text})"
    return f"a {type(value).__name__} ({text})"


def _is_real(value) -> bool:
    """A Python or NumPy real number (a 0-d float array counts too); not a bool, not a list."""
    if type(value) in (int, float):
        return True
    if isinstance(value, (np.floating, np.integer)):
        return True
    return type(value) is np.ndarray and value.ndim == 0 and value.dtype.kind in "fiu"


def _need_real(value, label):
    if not _is_real(value):
        raise AssertionError(f"{label}: expected a float (a Python or NumPy float), got {_describe(value)}")


def _need_float_array(value, shape, label):
    if type(value) is not np.ndarray or value.dtype.kind != "f":
        raise AssertionError(f"{label}: expected a NumPy array of floats with shape {shape}, got {_describe(value)}")
    if value.shape != tuple(shape):
        raise AssertionError(f"{label}: expected a NumPy array of shape {tuple(shape)}, got shape {value.shape}")


def _need_pair(value, what, label):
    if type(value) not in (tuple, list) or len(value) != 2:
        raise AssertionError(f"{label}: expected a tuple {what}, got {_describe(value)}")


def _need_plain_dict(value, what, label):
    if type(value) is not dict:
        hint = " (return dict(...) of it)" if getattr(value, "type_name", "") in ("Counter", "defaultdict", "OrderedDict") else ""
        name = getattr(value, "type_name", None)
        got = f"a {name}{hint}" if name else _describe(value)
        raise AssertionError(f"{label}: expected a plain dict {what}, got {got}")


def _dict_close(got: dict, expected: dict, label, *, exact=False):
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s), e.g. {missing[:3]!r}")
        if extra:
            parts.append(f"{len(extra)} unexpected key(s), e.g. {extra[:3]!r}")
        raise AssertionError(f"{label}: expected {len(expected)} keys, got {len(got)}: " + "; ".join(parts))
    for key, want in expected.items():
        value = got[key]
        if exact:
            if not _is_real(value) or value != want:
                raise AssertionError(f"{label}[{key!r}]: expected {want!r}, got {value!r}")
        else:
            _need_real(value, f"{label}[{key!r}]")
            check_close(value, want, f"{label}[{key!r}]")


# ------------------------------------------------------------------ 1. process_tweet
def _tokens(expected):
    def check(out, label):
        if type(out.value) is not list or not all(type(t) is str for t in out.value):
            raise AssertionError(f"{label}: expected a list of str {expected!r}, got {_describe(out.value)}")
        check_equal(out.value, expected, label)
    return check


def test_process_tweet(ctx):
    literal = [
        ((RU_TWEET, "ru", False), ["крутяк", "изучаю", "машинное", "обучение", "урфу", "наука", ":)"]),
        ((EN_TWEET, "en", False), ["sooo", "happy", "study", "machinelearning", ":-)"]),
        ((RU_TWEET, "ru", True), ["крутяк", "изуча", "машин", "обучен", "урф", "наук", ":)"]),
        ((EN_TWEET, "en", True), ["sooo", "happi", "studi", "machinelearn", ":-)"]),
        (("Не люблю понедельники... http://example.com/a?b=1 #утро @boss :(", "ru", False),
         ["люблю", "понедельники", "утро", ":("]),
        (("The movie was NOT good, not good at all!!! #fail http://bit.ly/x", "en", True),
         ["movi", "good", "good", "fail"]),
        (("Это было ОЧЕНЬ круто!!! Смотрели фильмы всю ночь #кино", "ru", True),
         ["эт", "очен", "крут", "смотрел", "фильм", "ноч", "кин"]),
    ]
    # The link rule of step 1: the instructions' table, inside whole tweets (expected: dlcourse.text).
    rules = [
        ("Читаю https://ru.wikipedia.org/wiki/Кино!!! #кино", "ru", False),  # Cyrillic inside a link
        ("https://a.b/c https://d.e/f?g=h fine", "en", False),  # two links, one at the start
        ("50%off: http://x.org/~a+b_c-d.html, ok", "en", False),  # ~ + _ - in a link; the comma ends it
        ("see http://example.com/a?b=1&c=2 now :D", "en", False),  # ? = & in a link; emoticon keeps case
        ("Sooooo GOOD!!! https://t.co/x?y=1 :D #WIN", "en", True),
        ("Фильм (https://kino.ru/film/123) отличный :)", "ru", True),
    ]
    cases = []
    for (tweet, lang, stem), expected in literal:
        cases.append(Case(f"process_tweet({tweet!r}, lang={lang!r}, stem={stem})",
                          call("process_tweet", tweet, lang=lang, stem=stem), _tokens(expected)))
    for tweet, lang, stem in rules:
        expected = T.process_tweet(tweet, lang, stem=stem)
        cases.append(Case(f"process_tweet({tweet!r}, lang={lang!r}, stem={stem})",
                          call("process_tweet", tweet, lang=lang, stem=stem), _tokens(expected)))
    return cases


# ------------------------------------------------------------------ 2. build_freqs
def _freqs(expected):
    def check(out, label):
        got = out.value
        _need_plain_dict(got, "{(word, label): count}", label)
        for key, value in got.items():
            ok = (type(key) is tuple and len(key) == 2 and type(key[0]) is str
                  and isinstance(key[1], (int, np.integer)) and not isinstance(key[1], bool) and key[1] in (0, 1))
            if not ok:
                raise AssertionError(f"{label}: expected keys (word, label) with word a str and label the int 0 or 1, "
                                     f"got the key {key!r}")
            if not _is_real(value):
                raise AssertionError(f"{label}[{key!r}]: expected an int count, got {_describe(value)}")
        nonzero = {(w, int(y)): v for (w, y), v in got.items() if v != 0}  # zero entries are harmless
        _dict_close(nonzero, expected, label, exact=True)
    return check


def test_build_freqs(ctx):
    real = _data(ctx)
    subset = real["train_tokens"][:20]
    labels = real["y_train"][:20]
    return [
        Case("build_freqs(lecture corpus, labels [1, 1, 0, 0])",
             call("build_freqs", ORACLE_DOCS, ORACLE_LABELS), _freqs(ORACLE_FREQS)),
        Case("build_freqs([['a', 'a', 'b'], [], ['b']], np.array([1, 0, 0]))",
             call("build_freqs", [["a", "a", "b"], [], ["b"]], np.array([1, 0, 0])),
             _freqs({("a", 1): 2, ("b", 1): 1, ("b", 0): 1})),
        Case("build_freqs(20 sentences of the sentiment data, NumPy labels)",
             call("build_freqs", subset, labels), _freqs(T.build_freqs(subset, labels))),
    ]


# ------------------------------------------------------------------ 3. extract_features
def _features(expected):
    def check(out, label):
        _need_float_array(out.value, (3,), label)
        check_close(out.value, expected, label)
    return check


def test_extract_features(ctx):
    real = _data(ctx)
    cases = []
    for tokens in [ORACLE_DOCS[0], "I am happy".split(), ORACLE_DOCS[2], ORACLE_DOCS[3], ["unseen", "words"], [],
                   ["happy", "happy", "sad"]]:
        cases.append(Case(f"extract_features({tokens!r}, lecture freqs)", call("extract_features", tokens, ORACLE_FREQS),
                          _features(T.extract_features(tokens, ORACLE_FREQS))))
    for i in (0, 7):
        tokens = real["test_tokens"][i]
        cases.append(Case(f"extract_features(test sentence {i} of the sentiment data, its training freqs)",
                          call("extract_features", tokens, real["freqs"]),
                          _features(T.extract_features(tokens, real["freqs"]))))
    return cases


# ------------------------------------------------------------------ 4. logistic regression
def _scalar_close(expected, **tol):
    def check(out, label):
        _need_real(out.value, label)
        check_close(out.value, expected, label, **tol)
    return check


def _array_close(expected, **tol):
    expected = np.asarray(expected, dtype=np.float64)

    def check(out, label):
        _need_float_array(out.value, expected.shape, label)
        check_close(out.value, expected, label, **tol)
    return check


def test_sigmoid(ctx):
    z = np.linspace(-6, 6, 13)
    return [
        Case("sigmoid(0)", call("sigmoid", 0), _scalar_close(0.5)),
        Case("sigmoid(np.log(3.0))", call("sigmoid", np.log(3.0)), _scalar_close(0.75)),
        Case("sigmoid(-1.5)", call("sigmoid", -1.5), _scalar_close(float(ref_sigmoid(-1.5)))),
        Case("sigmoid(np.array([-2.0, 0.0, 3.0]))", call("sigmoid", np.array([-2.0, 0.0, 3.0])),
             _array_close([0.11920292, 0.5, 0.95257413])),
        Case("sigmoid(np.linspace(-6, 6, 13))", call("sigmoid", z), _array_close(ref_sigmoid(z))),
        Case("sigmoid(np.zeros((2, 3)))", call("sigmoid", np.zeros((2, 3))), _array_close(np.full((2, 3), 0.5))),
    ]


X_SMALL = np.array([[1.0, 2.0, -1.0], [1.0, -1.0, 0.5], [1.0, 0.5, 1.5], [1.0, -2.0, -0.5]])
Y_SMALL = np.array([1.0, 0.0, 1.0, 0.0])


def _random_problem(seed, m, n):
    rng = np.random.default_rng(seed)
    X = np.hstack([np.ones((m, 1)), rng.normal(size=(m, n - 1))])
    y = (rng.random(m) < 0.5).astype(float)
    return X, y, rng.normal(scale=0.5, size=n)


def _cost_gradient(X, y, theta):
    cost, grad = ref_cost_gradient(X, y, theta)

    def check(out, label):
        _need_pair(out.value, "(J, gradient)", label)
        _need_real(out.value[0], f"{label}: J")
        check_close(out.value[0], cost, f"{label}: J")
        _need_float_array(out.value[1], grad.shape, f"{label}: gradient")
        check_close(out.value[1], grad, f"{label}: gradient")
    return check


def test_cost_gradient(ctx):
    X7, y7, t7 = _random_problem(5, 12, 4)
    theta = np.array([0.1, -0.2, 0.3])
    return [
        Case("compute_cost_and_gradient(X_SMALL, Y_SMALL, [0.1, -0.2, 0.3])",
             call("compute_cost_and_gradient", X_SMALL, Y_SMALL, theta), _cost_gradient(X_SMALL, Y_SMALL, theta)),
        Case("compute_cost_and_gradient(X_SMALL, Y_SMALL, zeros) (J must be log 2)",
             call("compute_cost_and_gradient", X_SMALL, Y_SMALL, np.zeros(3)), _cost_gradient(X_SMALL, Y_SMALL, np.zeros(3))),
        Case("compute_cost_and_gradient(random 12x4 problem)",
             call("compute_cost_and_gradient", X7, y7, t7), _cost_gradient(X7, y7, t7)),
    ]


def _costs_list(value, n, label):
    if type(value) not in (list, tuple) and not (type(value) is np.ndarray and value.ndim == 1):
        raise AssertionError(f"{label}: expected a list of {n} floats, got {_describe(value)}")
    if len(value) != n:
        raise AssertionError(f"{label}: expected a list of {n} floats (one per step), got {len(value)} values")
    for i, c in enumerate(value):
        _need_real(c, f"{label}[{i}]")


def _descent(X, y, theta0, alpha, num_iters, **tol):
    theta, costs = ref_gradient_descent(X, y, theta0, alpha, num_iters)

    def check(out, label):
        _need_pair(out.value, "(theta, costs)", label)
        got_theta, got_costs = out.value
        _need_float_array(got_theta, theta.shape, f"{label}: theta")
        _costs_list(got_costs, num_iters, f"{label}: costs")
        check_close(np.asarray(got_costs, dtype=np.float64), costs, f"{label}: costs", **tol)
        check_close(got_theta, theta, f"{label}: theta", **tol)
    return check


def test_gradient_descent(ctx):
    X30, y30, _ = _random_problem(6, 30, 3)
    theta = np.array([0.1, -0.2, 0.3])
    return [
        Case("gradient_descent(X_SMALL, Y_SMALL, zeros, alpha=0.5, num_iters=5)",
             call("gradient_descent", X_SMALL, Y_SMALL, np.zeros(3), 0.5, 5), _descent(X_SMALL, Y_SMALL, np.zeros(3), 0.5, 5)),
        Case("gradient_descent(X_SMALL, Y_SMALL, [0.1, -0.2, 0.3], alpha=0.0, num_iters=2)",
             call("gradient_descent", X_SMALL, Y_SMALL, theta, 0.0, 2), _descent(X_SMALL, Y_SMALL, theta, 0.0, 2)),
        Case("gradient_descent(random 30x3 problem, zeros, alpha=0.1, num_iters=25)",
             call("gradient_descent", X30, y30, np.zeros(3), 0.1, 25), _descent(X30, y30, np.zeros(3), 0.1, 25)),
    ]


def _accuracy_lr(real, limits):
    def check(out, label):
        _need_pair(out.value, "(theta, costs)", label)
        theta, costs = out.value
        _need_float_array(theta, (3,), f"{label}: theta")
        _costs_list(costs, NUM_ITERS, f"{label}: costs")
        costs = np.asarray(costs, dtype=np.float64)
        check_at_most(costs[-1], costs[0], f"{label}: the last cost costs[-1] (training must not raise the cost above costs[0])")
        theta = np.asarray(theta, dtype=np.float64)
        train = float(np.mean((ref_sigmoid(real["X_train"] @ theta) >= 0.5) == real["y_train"]))
        test = float(np.mean((ref_sigmoid(real["X_test"] @ theta) >= 0.5) == real["y_test"]))
        where = f" (your theta = {np.round(theta, 3).tolist()})"
        check_at_least(train, limits["lr_train"], f"{label}: train accuracy{where}",
                       hint="Check sigmoid, the gradient sign and the update.")
        check_at_least(test, limits["lr_test"], f"{label}: test accuracy{where}")
    return check


def test_logreg_accuracy(ctx):
    real = _data(ctx)
    n = len(real["y_train"])
    y = real["y_train"].astype(float)
    return [Case(f"gradient_descent on the sentiment data's features ({n} training texts, alpha={ALPHA}, "
                 f"num_iters={NUM_ITERS})", call("gradient_descent", real["X_train"], y, np.zeros(3), ALPHA, NUM_ITERS),
                 _accuracy_lr(real, _thresholds(ctx)))]


# ------------------------------------------------------------------ 5. IDF and TF-IDF
def _idf(expected):
    def check(out, label):
        _need_plain_dict(out.value, "{word: idf}", label)
        _dict_close(out.value, expected, label)
    return check


FIVE_DOCS = [["a", "b"], ["a"], ["c", "c", "c"], ["a", "c"], ["d"]]


def test_idf(ctx):
    real = [t for t in _data(ctx)["train_tokens"][:30] if t]
    return [
        Case("idf(lecture corpus)", call("idf", ORACLE_DOCS), _idf(ref_idf(ORACLE_DOCS))),
        Case(f"idf({FIVE_DOCS!r})", call("idf", FIVE_DOCS), _idf(ref_idf(FIVE_DOCS))),
        Case("idf(30 sentences of the sentiment data)", call("idf", real), _idf(ref_idf(real))),
    ]


def _tf_idf(docs):
    vocab, matrix = ref_tf_idf(docs)

    def check(out, label):
        _need_pair(out.value, "(vocab, matrix)", label)
        got_vocab, got_matrix = out.value
        if type(got_vocab) is not list or not all(type(w) is str for w in got_vocab):
            raise AssertionError(f"{label}: vocab: expected a list of str, got {_describe(got_vocab)}")
        check_equal(got_vocab, vocab, f"{label}: vocab")
        _need_float_array(got_matrix, matrix.shape, f"{label}: matrix")
        check_close(got_matrix, matrix, f"{label}: matrix")
    return check


def test_tf_idf(ctx):
    real = [t for t in _data(ctx)["train_tokens"][:8] if t]
    two = [["b", "a", "b"], ["a"]]
    return [
        Case("tf_idf(lecture corpus)", call("tf_idf", ORACLE_DOCS), _tf_idf(ORACLE_DOCS)),
        Case(f"tf_idf({two!r})", call("tf_idf", two), _tf_idf(two)),
        Case(f"tf_idf({FIVE_DOCS!r})", call("tf_idf", FIVE_DOCS), _tf_idf(FIVE_DOCS)),
        Case("tf_idf(8 sentences of the sentiment data)", call("tf_idf", real), _tf_idf(real)),
    ]


# ------------------------------------------------------------------ 6. naive Bayes
def _real_nb_subset(ctx, n=40):
    real = _data(ctx)
    tokens, ys = real["train_tokens"][:n], real["y_train"][:n]
    return T.build_freqs(tokens, ys), ys


def test_word_probability(ctx):
    freqs40, _ = _real_nb_subset(ctx)
    words40 = sorted({w for w, _ in freqs40})
    cases = []
    for freqs, name, word, label in [(ORACLE_FREQS, "lecture freqs", "I", 1), (ORACLE_FREQS, "lecture freqs", "am", 1),
                                     (ORACLE_FREQS, "lecture freqs", "am", 0), (ORACLE_FREQS, "lecture freqs", "happy", 0),
                                     (ORACLE_FREQS, "lecture freqs", "unseen", 1), (F3, "F3", "bad", 1),
                                     (F3, "F3", "good", 1), (F3, "F3", "ok", 0),
                                     (freqs40, "freqs of 40 sentences", words40[3], 1),
                                     (freqs40, "freqs of 40 sentences", words40[-5], 0)]:
        cases.append(Case(f"word_probability({name}, {word!r}, {label})", call("word_probability", freqs, word, label),
                          _scalar_close(ref_word_probability(freqs, word, label))))
    return cases


def _trained(freqs, ys):
    logprior, loglikelihood = ref_train_naive_bayes(freqs, ys)

    def check(out, label):
        _need_pair(out.value, "(logprior, loglikelihood)", label)
        got_prior, got_ll = out.value
        _need_real(got_prior, f"{label}: logprior")
        check_close(got_prior, logprior, f"{label}: logprior")
        _need_plain_dict(got_ll, "{word: log-likelihood ratio} over all V words", f"{label}: loglikelihood")
        _dict_close(got_ll, loglikelihood, f"{label}: loglikelihood")
    return check


def test_train_naive_bayes(ctx):
    freqs40, ys40 = _real_nb_subset(ctx)
    return [
        Case("train_naive_bayes(lecture freqs, [1, 1, 0, 0])", call("train_naive_bayes", ORACLE_FREQS, ORACLE_LABELS),
             _trained(ORACLE_FREQS, ORACLE_LABELS)),
        Case("train_naive_bayes(F3, np.array([1, 1, 1, 0])) (3 positive and 1 negative documents, N_pos=4, N_neg=2)",
             call("train_naive_bayes", F3, np.array([1, 1, 1, 0])), _trained(F3, [1, 1, 1, 0])),
        Case("train_naive_bayes(freqs of 40 sentences of the sentiment data, their labels)",
             call("train_naive_bayes", freqs40, ys40), _trained(freqs40, ys40)),
    ]


def test_naive_bayes_predict(ctx):
    real = _data(ctx)
    prior_o, ll_o = ref_train_naive_bayes(ORACLE_FREQS, ORACLE_LABELS)
    prior_r, ll_r = ref_train_naive_bayes(real["freqs"], real["y_train"])
    cases = []
    for tokens, prior, ll, name in [("I am happy".split(), prior_o, ll_o, "lecture model"),
                                    ("I hate learning".split(), 0.3, ll_o, "lecture model, logprior 0.3"),
                                    (["unknown"], 0.25, ll_o, "lecture model, logprior 0.25"),
                                    ([], -0.4, ll_o, "lecture model, logprior -0.4"),
                                    (["happy", "happy", "sad", "unknown"], prior_o, ll_o, "lecture model"),
                                    (real["test_tokens"][0], prior_r, ll_r, "model trained on the sentiment data"),
                                    (real["test_tokens"][3], prior_r, ll_r, "model trained on the sentiment data")]:
        cases.append(Case(f"naive_bayes_predict({tokens!r}, {name})", call("naive_bayes_predict", tokens, prior, ll),
                          _scalar_close(ref_nb_score(tokens, prior, ll))))
    return cases


def _accuracy_nb(real, limits):
    def check(out, label):
        _need_pair(out.value, "(logprior, loglikelihood)", label)
        prior, ll = out.value
        _need_real(prior, f"{label}: logprior")
        _need_plain_dict(ll, "{word: log-likelihood ratio}", f"{label}: loglikelihood")
        for key, value in ll.items():
            _need_real(value, f"{label}: loglikelihood[{key!r}]")
        train_scores = np.array([ref_nb_score(t, float(prior), ll) for t in real["train_tokens"]], dtype=np.float64)
        test_scores = np.array([ref_nb_score(t, float(prior), ll) for t in real["test_tokens"]], dtype=np.float64)
        bad = int(np.sum(~np.isfinite(test_scores)) + np.sum(~np.isfinite(train_scores)))
        if bad:
            raise AssertionError(f"{label}: expected finite scores for every text, got {bad} score(s) that are inf or NaN "
                                 "(a log of 0: check the Laplace smoothing)")
        train = float(np.mean((train_scores > 0) == real["y_train"]))
        test = float(np.mean((test_scores > 0) == real["y_test"]))
        check_at_least(train, limits["nb_train"], f"{label}: train accuracy", hint="Check the Laplace smoothing.")
        check_at_least(test, limits["nb_test"], f"{label}: test accuracy")
    return check


def test_nb_accuracy(ctx):
    real = _data(ctx)
    n = len(real["y_train"])
    return [Case(f"train_naive_bayes on the sentiment data's training freqs ({n} texts), scored on train and test",
                 call("train_naive_bayes", real["freqs"], real["y_train"]), _accuracy_nb(real, _thresholds(ctx)))]


# ------------------------------------------------------------------ measuring the thresholds
def measure(mode: str | None = None) -> dict:
    """Reference accuracies on the judge's data in the active mode (to set the thresholds)."""
    from dlcourse.modes import Budget, mode as active_mode

    mode = mode or active_mode()
    real = real_data(mode, Budget(f"grade-{mode}").profile.max_samples)
    theta, costs = ref_gradient_descent(real["X_train"], real["y_train"].astype(float), np.zeros(3), ALPHA, NUM_ITERS)
    prior, ll = ref_train_naive_bayes(real["freqs"], real["y_train"])
    acc = lambda scores, y: float(np.mean((scores > 0) == y))  # noqa: E731 - NB: score > 0 is positive
    acc_lr = lambda z, y: float(np.mean((z >= 0) == y))  # noqa: E731 - LR: sigmoid(z) >= 0.5
    return {
        "mode": mode, "n_train": len(real["y_train"]), "n_test": len(real["y_test"]),
        "theta": np.round(theta, 3).tolist(), "cost": [round(costs[0], 4), round(costs[-1], 4)],
        "lr_train": acc_lr(real["X_train"] @ theta, real["y_train"]), "lr_test": acc_lr(real["X_test"] @ theta, real["y_test"]),
        "nb_train": acc(np.array([ref_nb_score(t, prior, ll) for t in real["train_tokens"]]), real["y_train"]),
        "nb_test": acc(np.array([ref_nb_score(t, prior, ll) for t in real["test_tokens"]]), real["y_test"]),
        "thresholds": QUICK_THRESHOLDS if mode == "quick" else FULL_THRESHOLDS,
    }


if __name__ == "__main__":
    print(measure())
