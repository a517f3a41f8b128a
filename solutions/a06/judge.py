"""Hidden checks of a06, judged in the grader's process (instructor-only: never released, never
visible to the student's kernel). One function per graded test cell, named by its grade_id; it
returns the calls the kernel makes and how to check what comes back (dlcourse.grader.judge).

What is judged and how
----------------------
Every value is compared with this module's reference implementations on inputs sent from here,
and with the lecture's oracles (SYLLABUS L6, checked by hand: insert('re') ⊇ {are, ere, ore,
red}; delete('wiall') → {wall, will}; switch('taem') → {tame, team}; replace('red') ⊇ {bed, fed,
led, med, ned, rid, rud, wed}; D('fur' → 'fear') = 3; the bigram add-1 probabilities with V = 8).
Minimum edit distance is also compared with RapidFuzz's weighted Levenshtein distance.

The instructions say which later functions call earlier ones (``edits1`` the four operations,
``get_corrections`` ``edits1``/``edits2``, ``perplexity`` and ``autocomplete``
``estimate_probability``): a mistake in an earlier function can fail those cells too, and the
known-wrong cases in ``grader_tests/cases/a06.toml`` list every cell each mistake fails.

* ``test_delete_insert`` (2), ``test_switch`` (1), ``test_replace`` (1): the oracle words and
  hidden words: empty, one letter, doubled letters (``aa``, ``book``: a switch of two equal
  letters gives the word itself, which no operation returns), other alphabets (``xyz``, Russian).
* ``test_edits`` (1): ``edits1`` and ``edits2`` on short words with small alphabets (``edits2``
  of a 5-letter word over 26 letters has ~100,000 strings: too big to ship for nothing).
* ``test_get_corrections`` (2): a known word, an edits1 and an edits2 case, ties (alphabetical),
  ``n``, no candidate at all, a Russian dictionary; and 12 real misspellings of at most 6 letters
  (codespell's list) ranked with real word probabilities (wordfreq, the 20,000 most frequent
  words; only each word's candidates are sent), compared word by word with the reference.
* ``test_min_edit_distance`` (3): the oracle and its table, empty strings, other costs, and
  random pairs of letters from a 3-letter alphabet (many ties between paths) compared with the
  reference and with ``rapidfuzz.distance.Levenshtein.distance(weights=(ins, del, rep))``.
* ``test_count_n_grams`` (2), ``test_vocabulary`` (1): the lecture corpus with n = 1, 2, 3,
  other padding tokens, an empty sentence; thresholds of 1-3 and another unknown token.
* ``test_estimate_probability`` (2): the seven SYLLABUS oracles, unseen n-grams, k = 0.01 and 0,
  unigram (empty context) and trigram contexts.
* ``test_perplexity`` (2): a hand-computed value on the lecture corpus, n = 1, 2, 3 and several k
  on random corpora, and a real case: a bigram model of 80 % of gensim's Lee news sentences
  (words seen fewer than twice -> <unk>), add-0.1, scored on 15 held-out sentences.
* ``test_autocomplete`` (2): contexts shorter than n − 1 (padded with <s>), prefixes, ties,
  no candidate with the prefix (``None``), trigram and unigram models.

No threshold here depends on the mode: quick and full grading send the same inputs, and every
answer is compared exactly (floats to 1e-9 relative) with the reference. For scale, the
reference corrector gets 7 of the 12 real misspellings right (0.58) (``python solutions/a06/judge.py``).
"""

from __future__ import annotations

import math
import re

import numpy as np

from dlcourse.checks import check_close, check_equal
from dlcourse.grader.judge import Case, _describe, all_of, call, number, close, equal

LETTERS = "abcdefghijklmnopqrstuvwxyz"
RUSSIAN = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
LECTURE_CORPUS = [["i", "like", "machine", "learning"], ["deep", "learning", "is", "like", "machine", "learning"]]
ORACLE_ADD1 = {("i", ("<s>",)): 0.2, ("like", ("<s>",)): 0.1, ("machine", ("like",)): 0.3,
               ("learning", ("machine",)): 0.3, ("</s>", ("learning",)): 3 / 11, ("is", ("learning",)): 2 / 11,
               ("like", ("is",)): 2 / 9}
N_REAL_MISSPELLINGS = 12


# ------------------------------------------------------------------ reference implementations
def _splits(word):
    return [(word[:i], word[i:]) for i in range(len(word) + 1)]


def ref_delete(word):
    return {a + b[1:] for a, b in _splits(word) if b}


def ref_switch(word):
    return {a + b[1] + b[0] + b[2:] for a, b in _splits(word) if len(b) > 1} - {word}


def ref_replace(word, alphabet=LETTERS):
    return {a + c + b[1:] for a, b in _splits(word) if b for c in alphabet if c != b[0]}


def ref_insert(word, alphabet=LETTERS):
    return {a + c + b for a, b in _splits(word) for c in alphabet}


def ref_edits1(word, alphabet=LETTERS):
    return ref_delete(word) | ref_switch(word) | ref_replace(word, alphabet) | ref_insert(word, alphabet)


def ref_edits2(word, alphabet=LETTERS):
    return {e2 for e1 in ref_edits1(word, alphabet) for e2 in ref_edits1(e1, alphabet)}


def ref_get_corrections(word, probs, n=3, alphabet=LETTERS):
    if word in probs:
        found = {word}
    else:
        found = {w for w in ref_edits1(word, alphabet) if w in probs} or \
                {w for w in ref_edits2(word, alphabet) if w in probs}
    ranked = sorted(found, key=lambda w: (-probs[w], w))
    return [(w, probs[w]) for w in ranked[:n]]


def ref_min_edit_distance(source, target, ins_cost=1, del_cost=1, rep_cost=2):
    m, n = len(source), len(target)
    table = np.zeros((m + 1, n + 1), dtype=np.int64)
    table[:, 0] = np.arange(m + 1) * del_cost
    table[0, :] = np.arange(n + 1) * ins_cost
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            replace = 0 if source[i - 1] == target[j - 1] else rep_cost
            table[i, j] = min(table[i - 1, j] + del_cost, table[i, j - 1] + ins_cost, table[i - 1, j - 1] + replace)
    return int(table[m, n]), table


def ref_count_n_grams(sentences, n, start_token="<s>", end_token="</s>"):
    counts = {}
    for tokens in sentences:
        padded = [start_token] * (n - 1) + list(tokens) + [end_token]
        for i in range(len(padded) - n + 1):
            gram = tuple(padded[i:i + n])
            counts[gram] = counts.get(gram, 0) + 1
    return counts


def ref_build_vocabulary(sentences, min_count):
    totals = {}
    for tokens in sentences:
        for t in tokens:
            totals[t] = totals.get(t, 0) + 1
    return sorted(w for w, c in totals.items() if c >= min_count)


def ref_replace_oov(sentences, vocabulary, unknown_token="<unk>"):
    known = set(vocabulary)
    return [[t if t in known else unknown_token for t in tokens] for tokens in sentences]


def ref_estimate_probability(word, context, counts, vocabulary_size, k=1.0):
    context = tuple(context)
    context_count = sum(c for g, c in counts.items() if g[:-1] == context)
    return (counts.get(context + (word,), 0) + k) / (context_count + k * vocabulary_size)


def ref_perplexity(sentences, counts, n, vocabulary_size, k=1.0):
    context_counts = {}  # the same sums as ref_estimate_probability, computed once
    for gram, c in counts.items():
        context_counts[gram[:-1]] = context_counts.get(gram[:-1], 0) + c
    log_sum, m = 0.0, 0
    for tokens in sentences:
        padded = ["<s>"] * (n - 1) + list(tokens) + ["</s>"]
        for i in range(n - 1, len(padded)):
            context = tuple(padded[i - n + 1:i])
            p = (counts.get(context + (padded[i],), 0) + k) / (context_counts.get(context, 0) + k * vocabulary_size)
            log_sum += math.log(p)
            m += 1
    return math.exp(-log_sum / m)


def ref_autocomplete(previous_tokens, counts, n, candidates, vocabulary_size, k=1.0, prefix=""):
    context = tuple((["<s>"] * (n - 1) + list(previous_tokens))[len(previous_tokens):]) if n > 1 else ()
    scored = [(-ref_estimate_probability(w, context, counts, vocabulary_size, k), w)
              for w in candidates if w.startswith(prefix)]
    if not scored:
        return None
    p, w = min(scored)
    return (w, -p)


# ------------------------------------------------------------------ small checks
def _set_of_str(expected: set):
    def check(out, label):
        value = out.value
        if type(value) is not set or not all(type(w) is str for w in value):
            raise AssertionError(f"{label}: expected a set of str, got {_describe(value)}")
        if value != expected:
            missing, extra = sorted(expected - value), sorted(value - expected)
            raise AssertionError(
                f"{label}: expected {len(expected)} strings, got {len(value)}; "
                + (f"missing {len(missing)}, e.g. {missing[:6]}; " if missing else "")
                + (f"unexpected {len(extra)}, e.g. {extra[:6]}" if extra else ""))
    return check


def _contains(words: set):
    def check(out, label):
        if type(out.value) is set and not words <= out.value:
            raise AssertionError(f"{label}: expected it to contain {sorted(words)}, missing {sorted(words - out.value)}")
    return check


def _corrections(expected):
    def check(out, label):
        value = out.value
        if type(value) is not list or not all(type(t) is tuple and len(t) == 2 for t in value):
            raise AssertionError(f"{label}: expected a list of (word, probability) tuples, got {_describe(value)}")
        check_equal([w for w, _ in value], [w for w, _ in expected], f"{label}: the words, best first")
        check_close([p for _, p in value], [p for _, p in expected], f"{label}: the probabilities")
    return check


def _edit_distance_check(source, target, costs):
    distance, table = ref_min_edit_distance(source, target, *costs)

    def check(out, label):
        value = out.value
        if type(value) is not tuple or len(value) != 2:
            raise AssertionError(f"{label}: expected a tuple (distance, table), got {_describe(value)}")
        got_d, got_table = value
        if not (type(got_d) is int or isinstance(got_d, np.integer)):
            raise AssertionError(f"{label}: expected the distance as an int, got {_describe(got_d)}")
        if type(got_table) is not np.ndarray or got_table.dtype.kind not in "iu":
            raise AssertionError(f"{label}: expected the table as a NumPy integer array, got {_describe(got_table)}")
        check_equal(int(got_d), distance, f"{label}: distance")
        if got_table.shape != table.shape:
            raise AssertionError(f"{label}: expected a table of shape {table.shape} (len(source) + 1, len(target) + 1), "
                                 f"got {got_table.shape}")
        if not np.array_equal(got_table, table):
            i, j = np.argwhere(got_table != table)[0]
            raise AssertionError(f"{label}: expected table[{i}, {j}] = {table[i, j]} (distance from {source[:i]!r} to "
                                 f"{target[:j]!r}), got {got_table[i, j]}")
    return check


def _counts_check(expected):
    def check(out, label):
        value = out.value
        if not isinstance(value, dict):  # a Counter or defaultdict is allowed (the instructions say so)
            raise AssertionError(f"{label}: expected a dict (tuple of tokens -> count), got {_describe(value)}")
        bad_keys = [k for k in value if type(k) is not tuple]
        if bad_keys:
            raise AssertionError(f"{label}: expected tuple keys such as ('<s>', 'i'), got the key {bad_keys[0]!r}")
        got = {k: v for k, v in value.items() if v != 0}
        if got != expected:
            missing = sorted(set(expected) - set(got))
            extra = sorted(set(got) - set(expected))
            wrong = sorted(g for g in set(got) & set(expected) if got[g] != expected[g])
            parts = []
            if missing:
                parts.append(f"missing {len(missing)} n-gram(s), e.g. {missing[:3]}")
            if extra:
                parts.append(f"unexpected {len(extra)}, e.g. {extra[:3]}")
            if wrong:
                parts.append(f"wrong counts, e.g. {wrong[0]}: expected {expected[wrong[0]]}, got {got[wrong[0]]}")
            raise AssertionError(f"{label}: expected {len(expected)} distinct n-grams, got {len(got)}; " + "; ".join(parts))
    return check


# ------------------------------------------------------------------ 1. the four edit operations
DELETE_INSERT_WORDS = ["wiall", "re", "", "a", "book", "abc"]


def test_delete_insert(ctx):
    assert {"wall", "will"} <= ref_delete("wiall") and {"are", "ere", "ore", "red"} <= ref_insert("re")
    cases = [Case(f"delete_letter({w!r})", call("delete_letter", w), _set_of_str(ref_delete(w)))
             for w in DELETE_INSERT_WORDS]
    cases += [Case(f"insert_letter({w!r})", call("insert_letter", w), _set_of_str(ref_insert(w)))
              for w in DELETE_INSERT_WORDS]
    cases += [Case("insert_letter('ab', alphabet='xyz')", call("insert_letter", "ab", alphabet="xyz"),
                   _set_of_str(ref_insert("ab", "xyz"))),
              Case("insert_letter('кот', alphabet=Russian letters)", call("insert_letter", "кот", alphabet=RUSSIAN),
                   _set_of_str(ref_insert("кот", RUSSIAN))),
              Case("delete_letter('ёжик')", call("delete_letter", "ёжик"), _set_of_str(ref_delete("ёжик")))]
    return cases


def test_switch(ctx):
    assert {"tame", "team"} <= ref_switch("taem")
    words = ["taem", "ab", "a", "", "book", "aaa", "abcdef", "кошка"]
    return [Case(f"switch_letter({w!r})", call("switch_letter", w), _set_of_str(ref_switch(w))) for w in words]


def test_replace(ctx):
    assert {"bed", "fed", "led", "med", "ned", "rid", "rud", "wed"} <= ref_replace("red")
    cases = [Case(f"replace_letter({w!r})", call("replace_letter", w), _set_of_str(ref_replace(w)))
             for w in ("red", "a", "", "book")]
    cases += [Case("replace_letter('abc', alphabet='abc')", call("replace_letter", "abc", alphabet="abc"),
                   _set_of_str(ref_replace("abc", "abc"))),
              Case("replace_letter('мир', alphabet=Russian letters)", call("replace_letter", "мир", alphabet=RUSSIAN),
                   _set_of_str(ref_replace("мир", RUSSIAN)))]
    return cases


# ------------------------------------------------------------------ 2. edits1, edits2, corrections
def test_edits(ctx):
    cases = [Case(f"edits1({w!r}, alphabet={a!r})", call("edits1", w, alphabet=a), _set_of_str(ref_edits1(w, a)))
             for w, a in (("taem", LETTERS), ("book", "bko"), ("", "ab"), ("ab", "abc"))]
    cases += [Case(f"edits2({w!r}, alphabet={a!r})", call("edits2", w, alphabet=a), _set_of_str(ref_edits2(w, a)))
              for w, a in (("abc", "abc"), ("ba", "xab"), ("a", "ab"), ("tea", LETTERS))]
    return cases


def _real_misspelling_task():
    """Real misspellings (codespell) whose correction is among the 20,000 most frequent words."""
    from dlcourse.language import load_misspellings, word_probabilities

    probs = word_probabilities("en", 20_000)
    pairs = [(w, r) for w, r in load_misspellings(None, vocabulary=probs) if len(w) <= 6]
    rng = np.random.default_rng(6)
    pairs = [pairs[i] for i in sorted(rng.choice(len(pairs), N_REAL_MISSPELLINGS, replace=False))]
    return probs, pairs


def test_get_corrections(ctx):
    probs = {"are": 0.3, "ere": 0.01, "ore": 0.02, "red": 0.1, "bed": 0.05, "fed": 0.05, "team": 0.2, "tame": 0.1,
             "wall": 0.1, "will": 0.4, "the": 0.5, "dog": 0.2, "dogs": 0.05}
    russian = {"мир": 0.4, "мор": 0.1, "мера": 0.3, "кот": 0.2}
    examples = [("re", probs, 3), ("taem", probs, 3), ("wiall", probs, 1), ("red", probs, 3), ("rd", probs, 5),
                ("ebd", probs, 2), ("xed", probs, 3), ("xyzzy", probs, 3), ("rde", probs, 10), ("dgos", probs, 3), ("мр", russian, 3)]
    cases = []
    for word, table, n in examples:
        alphabet = RUSSIAN if table is russian else LETTERS
        kwargs = {"alphabet": alphabet} if table is russian else {}
        cases.append(Case(f"get_corrections({word!r}, probs, n={n})", call("get_corrections", word, table, n=n, **kwargs),
                          _corrections(ref_get_corrections(word, table, n, alphabet))))
    real_probs, pairs = _real_misspelling_task()
    # The answers to rank: each misspelling's candidates from the reference, plus noise words, so
    # the shipped dictionary is small (the whole 20k table per call would be 40 MB of calls).
    for wrong, right in pairs:
        one = {w for w in ref_edits1(wrong) if w in real_probs}
        candidates = one | {w for e in ref_edits1(wrong) for w in ref_edits1(e) if w in real_probs}
        table = {w: real_probs[w] for w in candidates}
        found = one or candidates  # ref_get_corrections on the small table, without a second edits2
        expected = [(w, table[w]) for w in sorted(found, key=lambda w: (-table[w], w))[:1]]
        cases.append(Case(f"get_corrections({wrong!r}, real word probabilities, n=1) [real misspelling of {right!r}]",
                          call("get_corrections", wrong, table, n=1), _corrections(expected)))
    return cases


# ------------------------------------------------------------------ 3. minimum edit distance
def _rapidfuzz(source, target, costs):
    from rapidfuzz.distance import Levenshtein

    return Levenshtein.distance(source, target, weights=costs)


def test_min_edit_distance(ctx):
    assert ref_min_edit_distance("fur", "fear")[0] == 3  # the SYLLABUS oracle
    rng = np.random.default_rng(61)
    examples = [("fur", "fear", (1, 1, 2)), ("", "", (1, 1, 2)), ("", "abc", (1, 1, 2)), ("abc", "", (1, 1, 2)),
                ("kitten", "sitting", (1, 1, 1)), ("intention", "execution", (1, 1, 2)), ("ab", "ba", (2, 3, 4)),
                ("мама", "рама", (1, 1, 2))]
    for _ in range(6):
        a = "".join(rng.choice(list("abc"), rng.integers(0, 9)))
        b = "".join(rng.choice(list("abc"), rng.integers(0, 9)))
        examples.append((a, b, tuple(int(c) for c in rng.integers(1, 4, 3))))
    cases = []
    for a, b, costs in examples:
        distance, _ = ref_min_edit_distance(a, b, *costs)
        assert distance == _rapidfuzz(a, b, costs), (a, b, costs)  # the library agrees with the reference
        args = {} if costs == (1, 1, 2) else dict(zip(("ins_cost", "del_cost", "rep_cost"), costs))
        shown = "" if not args else ", " + ", ".join(f"{k}={v}" for k, v in args.items())
        cases.append(Case(f"min_edit_distance({a!r}, {b!r}{shown})", call("min_edit_distance", a, b, **args),
                          _edit_distance_check(a, b, costs)))
    return cases


# ------------------------------------------------------------------ 4. n-gram counts, vocabulary
def test_count_n_grams(ctx):
    rng = np.random.default_rng(64)
    random_corpus = [[str(w) for w in rng.choice(list("abcd"), rng.integers(1, 7))] for _ in range(6)]
    examples = [(LECTURE_CORPUS, n, {}) for n in (1, 2, 3)]
    examples += [(random_corpus, 2, {}), (random_corpus, 4, {}), ([["x"], [], ["x", "x"]], 2, {}),
                 (LECTURE_CORPUS, 2, {"start_token": "<bos>", "end_token": "<eos>"})]
    cases = []
    for sentences, n, kwargs in examples:
        expected = ref_count_n_grams(sentences, n, **kwargs)
        name = "the lecture corpus" if sentences is LECTURE_CORPUS else repr(sentences)
        extra = "".join(f", {k}={v!r}" for k, v in kwargs.items())
        cases.append(Case(f"count_n_grams({name}, {n}{extra})", call("count_n_grams", sentences, n, **kwargs),
                          _counts_check(expected)))
    return cases


def test_vocabulary(ctx):
    corpus = [["the", "cat", "sat"], ["the", "dog", "sat", "down"], ["a", "cat"]]
    cases = [Case(f"build_vocabulary(corpus, {m})", call("build_vocabulary", corpus, m),
                  all_of(_list_type, equal(ref_build_vocabulary(corpus, m)))) for m in (1, 2, 3)]
    cases.append(Case("build_vocabulary(the lecture corpus, 2)", call("build_vocabulary", LECTURE_CORPUS, 2),
                      equal(ref_build_vocabulary(LECTURE_CORPUS, 2))))
    vocab = ["cat", "sat", "the"]
    cases += [Case("replace_oov(corpus, ['cat', 'sat', 'the'])", call("replace_oov", corpus, vocab),
                   equal(ref_replace_oov(corpus, vocab))),
              Case("replace_oov(corpus, ['cat'], unknown_token='UNK')",
                   call("replace_oov", corpus, ["cat"], unknown_token="UNK"), equal(ref_replace_oov(corpus, ["cat"], "UNK"))),
              Case("replace_oov([[], ['x']], [])", call("replace_oov", [[], ["x"]], []), equal([[], ["<unk>"]]))]
    return cases


def _list_type(out, label):
    if type(out.value) is not list:
        raise AssertionError(f"{label}: expected a list of str, got {_describe(out.value)}")


# ------------------------------------------------------------------ 5. probabilities
def test_estimate_probability(ctx):
    bigrams = ref_count_n_grams(LECTURE_CORPUS, 2)
    for (word, context), p in ORACLE_ADD1.items():
        assert abs(ref_estimate_probability(word, context, bigrams, 8, 1.0) - p) < 1e-12
    cases = [Case(f"estimate_probability({w!r}, {c}, bigram counts, 8, k=1)",
                  call("estimate_probability", w, c, bigrams, 8, k=1.0), all_of(number, close(p, rtol=1e-9)))
             for (w, c), p in ORACLE_ADD1.items()]
    trigrams = ref_count_n_grams(LECTURE_CORPUS, 3)
    unigrams = ref_count_n_grams(LECTURE_CORPUS, 1)
    more = [("deep", ("machine",), bigrams, 8, 1.0), ("learning", ("machine",), bigrams, 8, 0.01),
            ("learning", ("machine",), bigrams, 8, 0.0), ("machine", ("<s>", "i"), trigrams, 8, 1.0),
            ("like", ("i", "like"), trigrams, 8, 0.5), ("is", ("learning", "is"), trigrams, 8, 1.0),
            ("learning", (), unigrams, 8, 1.0), ("</s>", (), unigrams, 8, 0.1), ("<unk>", (), unigrams, 8, 1.0)]
    cases += [Case(f"estimate_probability({w!r}, {c}, {len(next(iter(t)))}-gram counts, {v}, k={k})",
                   call("estimate_probability", w, c, t, v, k=k),
                   all_of(number, close(ref_estimate_probability(w, c, t, v, k), rtol=1e-9)))
              for w, c, t, v, k in more]
    return cases


# ------------------------------------------------------------------ 6. perplexity
def _lee_task():
    """A bigram model of gensim's Lee news sentences: 80 % to count, 15 held-out sentences."""
    from dlcourse.data import _text_corpus_offline
    from dlcourse.language import sentences

    corpus = sentences(_text_corpus_offline())
    rng = np.random.default_rng(66)
    order = rng.permutation(len(corpus))
    cut = int(0.8 * len(corpus))
    train = [corpus[i] for i in order[:cut]]
    test = [corpus[i] for i in order[cut:cut + 15]]
    vocabulary = ref_build_vocabulary(train, 2)
    train, test = ref_replace_oov(train, vocabulary), ref_replace_oov(test, vocabulary)
    size = len(vocabulary) + 2  # + </s> and <unk>
    return ref_count_n_grams(train, 2), test, size


def test_perplexity(ctx):
    # By hand: unigram add-1 model of the lecture corpus (N = 12 tokens with 2 </s>, V = 8).
    unigrams = ref_count_n_grams(LECTURE_CORPUS, 1)
    probs = [(unigrams[(w,)] + 1) / (12 + 8) for w in ["i", "like", "machine", "learning", "</s>"]]
    by_hand = math.prod(probs) ** (-1 / 5)
    assert abs(ref_perplexity([LECTURE_CORPUS[0]], unigrams, 1, 8, 1.0) - by_hand) < 1e-9
    rng = np.random.default_rng(67)
    cases = [Case("perplexity([['i', 'like', 'machine', 'learning']], unigram counts, 1, 8, k=1)",
                  call("perplexity", [LECTURE_CORPUS[0]], unigrams, 1, 8, k=1.0), all_of(number, close(by_hand, rtol=1e-9)))]
    for n, k in ((2, 1.0), (3, 0.5), (2, 0.01)):
        counts = ref_count_n_grams(LECTURE_CORPUS, n)
        cases.append(Case(f"perplexity(lecture corpus, {n}-gram counts, {n}, 8, k={k})",
                          call("perplexity", LECTURE_CORPUS, counts, n, 8, k=k),
                          all_of(number, close(ref_perplexity(LECTURE_CORPUS, counts, n, 8, k), rtol=1e-9))))
    train = [[str(w) for w in rng.choice(list("abcde"), rng.integers(2, 9))] for _ in range(20)]
    test = [[str(w) for w in rng.choice(list("abcde"), rng.integers(0, 6))] for _ in range(5)]
    for n, k in ((1, 1.0), (2, 0.1), (3, 1.0)):
        counts = ref_count_n_grams(train, n)
        cases.append(Case(f"perplexity(random held-out sentences, {n}-gram counts, {n}, 6, k={k})",
                          call("perplexity", test, counts, n, 6, k=k),
                          all_of(number, close(ref_perplexity(test, counts, n, 6, k), rtol=1e-9))))
    counts, held_out, size = _lee_task()
    cases.append(Case(f"perplexity(15 held-out Lee news sentences, bigram counts of the rest, 2, {size}, k=0.1)",
                      call("perplexity", held_out, counts, 2, size, k=0.1),
                      all_of(number, close(ref_perplexity(held_out, counts, 2, size, 0.1), rtol=1e-7))))
    return cases


# ------------------------------------------------------------------ 7. autocomplete
def _suggestion(expected):
    def check(out, label):
        value = out.value
        if expected is None:
            if value is not None:
                raise AssertionError(f"{label}: expected None (no candidate starts with the prefix), got {_describe(value)}")
            return
        if type(value) is not tuple or len(value) != 2:
            raise AssertionError(f"{label}: expected a tuple (word, probability), got {_describe(value)}")
        check_equal(value[0], expected[0], f"{label}: the word")
        check_close(value[1], expected[1], f"{label}: its probability", rtol=1e-9)
    return check


def test_autocomplete(ctx):
    words = ["deep", "i", "is", "learning", "like", "machine", "</s>", "<unk>"]
    bigrams, trigrams = ref_count_n_grams(LECTURE_CORPUS, 2), ref_count_n_grams(LECTURE_CORPUS, 3)
    unigrams = ref_count_n_grams(LECTURE_CORPUS, 1)
    examples = [(["i", "like"], bigrams, 2, 1.0, ""), (["deep", "learning"], bigrams, 2, 1.0, ""),
                (["deep", "learning"], bigrams, 2, 1.0, "i"), ([], bigrams, 2, 1.0, ""), ([], trigrams, 3, 1.0, "d"),
                (["like"], trigrams, 3, 0.1, ""), (["machine", "learning"], trigrams, 3, 1.0, "x"),
                (["anything"], unigrams, 1, 1.0, "m"), (["is"], bigrams, 2, 1.0, "l")]
    cases = []
    for previous, counts, n, k, prefix in examples:
        expected = ref_autocomplete(previous, counts, n, words, 8, k, prefix)
        cases.append(Case(f"autocomplete({previous}, {n}-gram counts, {n}, candidates, 8, k={k}, prefix={prefix!r})",
                          call("autocomplete", previous, counts, n, words, 8, k=k, prefix=prefix), _suggestion(expected)))
    ties = {("<s>", "b"): 1, ("<s>", "a"): 1, ("a", "</s>"): 1, ("b", "</s>"): 1}
    cases.append(Case("autocomplete([], counts where 'a' and 'b' tie, 2, ['b', 'a'], 4, k=1)",
                      call("autocomplete", [], ties, 2, ["b", "a"], 4, k=1.0), _suggestion(("a", 2 / 6))))
    return cases


if __name__ == "__main__":  # calibration of the real-misspelling accuracy (docstring table)
    real_probs, pairs = _real_misspelling_task()
    hits = sum(ref_get_corrections(w, real_probs, 1)[:1] == [(r, real_probs[r])] for w, r in pairs)
    print(f"reference accuracy on {len(pairs)} real misspellings: {hits / len(pairs):.2f}")
