"""The answers channel: the codec keeps types and refuses anything but plain data; the judge
decides from recorded answers alone and says what was expected and what was produced."""

from __future__ import annotations

import json

import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_output

from dlcourse import answers as A
from dlcourse.grader import judge as J


def roundtrip(value):
    return A.decode(json.loads(json.dumps(A.encode(value))))


@pytest.mark.parametrize("value", [
    None, True, 3, -7, 2**70, 1.5, "text", [1, "a", None], (1, 2.5), {1, 2}, frozenset({"x"}),
    {("good", 1.0): 3, ("bad", 0.0): 1}, {"nested": [(1, 2), {"k": [3]}]},
])
def test_plain_values_keep_their_type(value):
    got = roundtrip(value)
    assert got == value and type(got) is type(value)


def test_floats_that_json_cannot_carry():
    assert np.isnan(roundtrip(float("nan"))) and roundtrip(float("inf")) == float("inf")


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "uint8", "bool", "complex128"])
def test_arrays_are_exact_and_keep_dtype_and_shape(dtype):
    array = (np.arange(24).reshape(2, 3, 4) * 1.37).astype(dtype)
    got = roundtrip(array)
    assert type(got) is np.ndarray and got.dtype == array.dtype and got.shape == array.shape
    assert np.array_equal(got, array)


def test_numpy_scalars_are_not_python_floats():
    got = roundtrip(np.float32(0.25))
    assert type(got) is np.float32 and got == np.float32(0.25)
    assert type(roundtrip(0.25)) is float


def test_string_arrays_and_tensors():
    assert roundtrip(np.array(["a", "bc"])).tolist() == ["a", "bc"]
    tf = pytest.importorskip("tensorflow")
    got = roundtrip(tf.constant([[1.0, 2.0]]))
    assert isinstance(got, A.TensorValue) and got.numpy().dtype == np.float32 and got.numpy().tolist() == [[1.0, 2.0]]


def test_objects_that_lie_are_carried_as_opaque_not_as_values():
    class Liar:
        def __array__(self, dtype=None, copy=None):
            raise RuntimeError("walks the stack")

        def __eq__(self, other):
            return True

    class Yes(np.ndarray):
        def __eq__(self, other):
            return True

    assert isinstance(roundtrip(Liar()), A.Opaque)
    assert isinstance(roundtrip(np.zeros(3).view(Yes)), A.Opaque)


def test_dict_subclasses_travel_as_their_items():
    from collections import Counter, OrderedDict, defaultdict

    class Lying(dict):
        def items(self):
            return [("forged", 1)]

        def __eq__(self, other):
            return True

    counts = defaultdict(int, {("<s>", "i"): 2})
    assert roundtrip(counts) == {("<s>", "i"): 2} and roundtrip(counts).type_name == "defaultdict"
    assert type(roundtrip(counts)) is not dict, "a check asking for a plain dict can still tell"
    assert roundtrip(Counter("aab")) == {"a": 2, "b": 1} and roundtrip(OrderedDict(x=1)).type_name == "OrderedDict"
    got = roundtrip(Lying(real=3))
    assert isinstance(got, dict) and dict(got) == {"real": 3}  # the stored items, not what items() claims
    assert type(roundtrip({"plain": 1})) is dict


def test_huge_arrays_are_recorded_as_too_large():
    got = roundtrip(np.zeros(A.MAX_ELEMENTS + 1, np.uint8))
    assert isinstance(got, A.TooLarge) and got.shape == (A.MAX_ELEMENTS + 1,)


@pytest.mark.parametrize("data", [
    {"__ndarray__": {"dtype": "object", "shape": [1], "bytes": ""}},
    {"__ndarray__": {"dtype": "|O", "shape": [1], "bytes": "AAAAAAAAAAA="}},
    {"__pickle__": "gASVAAAAAAAAAAB9lC4="},
    {"a": 1, "b": 2},
])
def test_decoding_refuses_anything_but_plain_data(data):
    with pytest.raises((ValueError, TypeError)):
        A.decode(data)


# ------------------------------------------------------------------ judging a cell
def _cell(*payloads, error=None):
    cell = new_code_cell("")
    cell.outputs = [new_output("display_data", data={A.MIME: p}) for p in payloads]
    if error:
        cell.outputs.append(new_output("error", ename="ValueError", evalue=error, traceback=[]))
    return cell


CASES = [J.Case("double(2)", J.call("double", 2), J.equal(4)),
         J.Case("double(array)", J.call("double", np.array([1.0, 2.0])), J.close([2.0, 4.0]))]


def test_correct_answers_pass_and_wrong_ones_say_expected_and_got():
    good = {"cell": "t", "answers": [{"value": A.encode(4)}, {"value": A.encode(np.array([2.0, 4.0]))}]}
    assert J.judge_cell(_cell(good), "t", CASES) == (["double(2)", "double(array)"], [])
    bad = {"cell": "t", "answers": [{"value": A.encode(5)}, {"value": A.encode(np.array([2.0, 5.0]))}]}
    passed, failed = J.judge_cell(_cell(bad), "t", CASES)
    assert passed == [] and len(failed) == 2
    assert all("expected" in m and "got" in m for m in failed)


def test_no_answers_duplicates_and_other_cells_answers_fail():
    answers = {"cell": "t", "answers": [{"value": A.encode(4)}, {"value": A.encode(np.array([2.0, 4.0]))}]}
    _, failed = J.judge_cell(_cell(error="boom"), "t", CASES)
    assert "no answers" in failed[0] and "ValueError: boom" in failed[0]
    _, failed = J.judge_cell(_cell(answers, answers), "t", CASES)
    assert "expected one set" in failed[0]
    _, failed = J.judge_cell(_cell({**answers, "cell": "other"}), "t", CASES)
    assert "no answers" in failed[0]
    _, failed = J.judge_cell(_cell({"cell": "t", "answers": answers["answers"][:1]}), "t", CASES)
    assert "expected answers to 2 calls" in failed[0]


def test_raised_errors_and_opaque_objects_fail_with_a_reason():
    record = {"cell": "t", "answers": [{"value": {"__error__": "TypeError: bad"}},
                                       {"value": {"__object__": {"type": "Liar", "text": "<Liar>"}}}]}
    _, failed = J.judge_cell(_cell(record), "t", CASES)
    assert "your code raised TypeError: bad" in failed[0]
    assert "double(array)" in failed[1]


def test_returns_checks_the_exact_type():
    check = J.returns(np.ndarray)
    check(J.Outcome(np.zeros(2)), "f()")
    with pytest.raises(AssertionError, match="expected a NumPy array, got a list"):
        check(J.Outcome([0.0, 0.0]), "f()")


def test_verdict_outputs_score_through_nbgraders_rule():
    ok = J.verdict_outputs(["a"], [])
    assert [o.output_type for o in ok] == ["stream"] and ok[0].name == "stdout"
    bad = J.verdict_outputs(["a"], ["b: expected 1, got 2"])
    assert bad[-1].output_type == "error" and bad[-1].evalue.startswith("b: expected 1, got 2")


def test_the_kernel_side_runs_the_calls_and_records_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".grader").mkdir()
    calls = [J.call("double", 2), J.call("double", "x", repeat=2), J.call("missing", 1)]
    (tmp_path / ".grader" / "inputs.json").write_text(json.dumps({"t": calls}))
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append(obj))

    def double(x):
        if isinstance(x, str):
            raise TypeError("numbers only")
        return 2 * x

    A.submit_answers("t", double=double)
    records = shown[0][A.MIME]["answers"]
    assert A.decode(records[0]["value"]) == 4
    assert A.decode(records[1]["value"]) == A.RaisedError("TypeError: numbers only")
    assert "NameError" in A.decode(records[2]["value"]).text
    A.submit_answers("absent", double=double)  # a cell the grader asks nothing of: records nothing
    assert len(shown) == 1


def test_the_kernel_builds_models_and_applications_it_is_sent(tmp_path, monkeypatch):
    keras = pytest.importorskip("keras")
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".grader").mkdir()
    small = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    calls = [J.call("describe", J.make_application("MobileNetV2", include_top=False, input_shape=(32, 32, 3), alpha=0.35)),
             J.call("describe", J.make_model(small.to_json(), [])),
             J.call("describe", {"__make_application__": {"name": "NASNetLarge", "kwargs": {}}}),
             J.call("describe", {"__make_application__": {"name": "MobileNetV2", "kwargs": {"weights": "imagenet"}}})]
    (tmp_path / ".grader" / "inputs.json").write_text(json.dumps({"t": calls}))
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append(obj))
    A.submit_answers("t", describe=lambda model: [model.name.split("_")[0], model.count_params()])
    values = [A.decode(r["value"]) for r in shown[0][A.MIME]["answers"]]
    assert values[0] == ["mobilenetv2", keras.applications.MobileNetV2(
        weights=None, include_top=False, input_shape=(32, 32, 3), alpha=0.35).count_params()]
    assert values[1][1] == 3 * 2 + 2, "no weights sent: the model keeps its own initial weights"
    assert all(isinstance(v, A.RaisedError) and "may build only" in v.text for v in values[2:])
    with pytest.raises(ValueError, match="keras.applications models the kernel may build"):
        J.make_application("NASNetLarge")


def test_outside_grading_submit_answers_does_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: pytest.fail("displayed outside grading"))
    A.submit_answers("t", double=lambda x: x)


def test_gradient_calls_pass_tensors_and_record_where_the_gradient_is_cut(tmp_path, monkeypatch):
    """``call(..., gradient=True)``: float arrays go in as tensors; the grader gets d sum(value)/d arg,
    and None where a NumPy step cut the chain (a reparameterization written with np.exp, say)."""
    pytest.importorskip("tensorflow")
    from keras import ops

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".grader").mkdir()
    mu, log_var = np.array([[1.0, -2.0]], np.float32), np.array([[0.0, np.log(4.0)]], np.float32)
    calls = [J.call("keras_ops", mu, log_var, 3, gradient=True), J.call("numpy_sigma", mu, log_var, 3, gradient=True),
             J.call("keras_ops", mu, log_var, 3)]
    (tmp_path / ".grader" / "inputs.json").write_text(json.dumps({"t": calls}))
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append(obj))
    seen_types = []

    def keras_ops(m, lv, scale):
        seen_types.append(type(m).__name__)
        return m + ops.exp(0.5 * lv) * scale

    def numpy_sigma(m, lv, scale):
        return m + np.exp(0.5 * np.asarray(lv)) * scale

    A.submit_answers("t", keras_ops=keras_ops, numpy_sigma=numpy_sigma)
    records = shown[0][A.MIME]["answers"]
    assert seen_types == ["EagerTensor", "ndarray"], "tensors only in a gradient call; plain arrays otherwise"
    grads = {int(k): A.decode(v) for k, v in records[0]["gradients"].items()}
    np.testing.assert_allclose(grads[0], [[1.0, 1.0]])
    np.testing.assert_allclose(grads[1], [[1.5, 3.0]], rtol=1e-6)  # d/dlv of exp(lv/2)*3 = 1.5 * sigma
    cut = records[1]["gradients"]
    assert A.decode(cut["0"]) is not None and cut["1"] is None, "no gradient through np.exp"
    assert "gradients" not in records[2]
    # the judge's side: the gradients reach Outcome.gradients, keyed by argument position
    seen = {}
    cases = [J.Case(name, c, lambda out, label, i=i: seen.__setitem__(i, out.gradients)) for i, (name, c) in
             enumerate([("a", calls[0]), ("b", calls[1]), ("c", calls[2])])]
    passed, failed = J.judge_cell({"outputs": [{"output_type": "display_data", "data": shown[0]}]}, "t", cases)
    assert failed == [] and len(passed) == 3
    assert seen[1][1] is None and seen[2] == {} and np.allclose(seen[0][1], [[1.5, 3.0]])


def test_hand_written_sequential_configs_build_in_keras():
    keras = pytest.importorskip("keras")
    config = J.sequential_config("tiny", (4,), [J.layer_spec("Dense", units=3, activation="relu"), J.layer_spec("Dense", units=1)])
    model = keras.models.model_from_json(config)
    assert model.count_params() == 4 * 3 + 3 + 3 + 1 and tuple(model.output_shape) == (None, 1)
