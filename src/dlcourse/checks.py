"""Checks used by the visible tests of assignments and by the lecture notebooks.

Each check raises ``AssertionError`` with a message that names the quantity, what was
expected and what was produced, so a student knows what to fix without reading test code.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "numpy") and callable(value.numpy):  # tf.Tensor, keras tensors
        value = value.numpy()
    return np.asarray(value)


def _short(array: np.ndarray) -> str:
    return np.array2string(array, precision=4, threshold=40, edgeitems=3, suppress_small=True)


def check_type(value: Any, expected: type | tuple[type, ...], name: str) -> None:
    if not isinstance(value, expected):
        names = expected.__name__ if isinstance(expected, type) else " or ".join(t.__name__ for t in expected)
        raise AssertionError(f"{name}: expected a {names}, got a {type(value).__name__} ({value!r:.80})")


def check_shape(value: Any, expected: Sequence[int | None], name: str) -> None:
    """``None`` in ``expected`` accepts any size on that axis."""
    shape = tuple(_to_numpy(value).shape)
    ok = len(shape) == len(expected) and all(e is None or e == s for s, e in zip(shape, expected))
    if not ok:
        want = ", ".join("any" if e is None else str(e) for e in expected)
        raise AssertionError(f"{name}: expected shape ({want}{',' if len(expected) == 1 else ''}), got shape {shape}")


def check_equal(actual: Any, expected: Any, name: str) -> None:
    """Exact equality for scalars, strings, lists, dicts and arrays (with a readable diff)."""
    if isinstance(expected, (str, bool, int, type(None))) or isinstance(expected, (list, tuple, dict, set)):
        if actual != expected:
            raise AssertionError(f"{name}: expected {expected!r}, got {actual!r}")
        return
    check_close(actual, expected, name, rtol=0, atol=0)


def check_close(actual: Any, expected: Any, name: str, *, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """Numbers or arrays equal within ``atol + rtol * |expected|``; shapes must match."""
    got, want = _to_numpy(actual), _to_numpy(expected)
    if got.shape != want.shape:
        raise AssertionError(f"{name}: expected shape {want.shape}, got shape {got.shape}\nexpected:\n{_short(want)}")
    try:
        got_f, want_f = got.astype(np.float64), want.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"{name}: expected numbers, got values of dtype {got.dtype}") from exc
    if np.isnan(got_f).any() and not np.isnan(want_f).any():
        raise AssertionError(f"{name}: expected finite numbers, got NaN at {int(np.isnan(got_f).sum())} position(s)"
                             f"\ngot:\n{_short(got)}\nexpected:\n{_short(want)}")
    bad = ~np.isclose(got_f, want_f, rtol=rtol, atol=atol, equal_nan=True)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0]) if bad.ndim else ()
        where = f" at index {first}" if first else ""
        raise AssertionError(
            f"{name}: {int(bad.sum())} of {bad.size} value(s) differ (tolerance atol={atol:g}, rtol={rtol:g}); "
            f"first{where}: expected {want_f[first]:.6g}, got {got_f[first]:.6g}\n"
            f"expected:\n{_short(want)}\ngot:\n{_short(got)}"
        )


def check_at_least(value: float, threshold: float, name: str, *, hint: str = "") -> None:
    """For accuracies and similar scores that must reach a calibrated threshold."""
    if not np.isfinite(value) or value < threshold:
        extra = f" {hint}" if hint else ""
        raise AssertionError(f"{name}: expected at least {threshold:.4g}, got {value:.4g}.{extra}")


def check_at_most(value: float, threshold: float, name: str, *, hint: str = "") -> None:
    """For losses, parameter counts and times that must stay under a cap."""
    if not np.isfinite(value) or value > threshold:
        extra = f" {hint}" if hint else ""
        raise AssertionError(f"{name}: expected at most {threshold:.4g}, got {value:.4g}.{extra}")
