import numpy as np
import pytest

from dlcourse import checks


def test_close_passes_and_reports_first_difference():
    checks.check_close([1.0, 2.0], np.array([1.0, 2.0 + 1e-9]), "x")
    with pytest.raises(AssertionError) as err:
        checks.check_close([[18, -14], [9, 1]], [[18, -11], [9, 1]], "conv2d_valid(example)")
    msg = str(err.value)
    assert "conv2d_valid(example): 1 of 4 value(s) differ" in msg
    assert "first at index (0, 1): expected -11, got -14" in msg


def test_close_reports_shape_and_nan():
    with pytest.raises(AssertionError, match=r"expected shape \(3,\), got shape \(2,\)"):
        checks.check_close([1, 2], [1, 2, 3], "v")
    with pytest.raises(AssertionError, match="expected finite numbers, got NaN"):
        checks.check_close([np.nan, 1.0], [0.0, 1.0], "v")


def test_close_accepts_tensors():
    class FakeTensor:
        def numpy(self):
            return np.array([0.5, 0.25])

    checks.check_close(FakeTensor(), [0.5, 0.25], "t")


def test_equal_type_shape_and_thresholds():
    checks.check_equal(["a", "b"], ["a", "b"], "tokens")
    with pytest.raises(AssertionError, match=r"tokens: expected \['a'\], got \['A'\]"):
        checks.check_equal(["A"], ["a"], "tokens")
    with pytest.raises(AssertionError, match="expected a ndarray, got a list"):
        checks.check_type([1], np.ndarray, "out")
    with pytest.raises(AssertionError, match=r"expected shape \(any, 10\), got shape \(4, 3\)"):
        checks.check_shape(np.zeros((4, 3)), (None, 10), "logits")
    checks.check_shape(np.zeros((4, 10)), (None, 10), "logits")
    with pytest.raises(AssertionError, match="accuracy: expected at least 0.9, got 0.85. Train longer"):
        checks.check_at_least(0.85, 0.9, "accuracy", hint="Train longer.")
    with pytest.raises(AssertionError, match="params: expected at most 1e\\+05, got 1.2e\\+05"):
        checks.check_at_most(120_000, 100_000, "params")
