"""Hidden checks of a00, judged in the grader's process (instructor-only: never released, never
visible to the student's kernel). One function per graded test cell, named by its grade_id; it
returns the calls the kernel makes and how to check what comes back (dlcourse.grader.judge)."""

import numpy as np

from dlcourse.checks import check_close, check_equal, check_shape
from dlcourse.grader.judge import Case, all_of, call, close, returns


def _dtype(name):
    def check(out, label):
        check_equal(str(np.asarray(out.value).dtype), name, f"{label}.dtype")
    return check


def test_to_float(ctx):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, size=(7, 5, 3), dtype=np.uint8)
    return [
        Case("to_float([0, 51, 255])", call("to_float", np.array([0, 51, 255], np.uint8)),
             all_of(returns(np.ndarray), _dtype("float32"), close([0.0, 0.2, 1.0]))),
        Case("to_float(random 7x5x3)", call("to_float", pixels),
             all_of(returns(np.ndarray), _dtype("float32"), close(pixels / 255.0, atol=1e-6))),
        Case("to_float(all 255)", call("to_float", np.full((2, 2), 255, np.uint8)), close(np.ones((2, 2)))),
    ]


def test_to_grayscale(ctx):
    pixel = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]]], dtype=np.uint8)
    rgb = np.random.default_rng(2).random((6, 4, 3))
    weights = np.array([0.299, 0.587, 0.114])
    return [
        Case("to_grayscale(red, green, blue, (10,20,30))", call("to_grayscale", pixel),
             close([[76.245, 149.685, 29.07, 18.15]])),
        Case("to_grayscale(random floats)", call("to_grayscale", rgb), close(rgb @ weights)),
        Case("to_grayscale(random 5x7 uint8) shape", call("to_grayscale", (rgb[:5, :4] * 255).astype(np.uint8)),
             lambda out, label: check_shape(out.value, (5, 4), label)),
    ]


def _standardized(label, channels):
    """The per-channel mean is 0 and the std 1 (population std, over batch, height and width)."""
    def check(out, name):
        got = np.asarray(out.value, dtype=np.float64)
        check_close(got.mean(axis=(0, 1, 2)), np.zeros(channels), f"per-channel means of {label}", atol=1e-4)
        check_close(got.std(axis=(0, 1, 2)), np.ones(channels), f"per-channel stds of {label}", atol=1e-4)
    return check


def _tensor_float32(out, label):
    from dlcourse.answers import TensorValue

    if not isinstance(out.value, TensorValue):
        raise AssertionError(f"{label}: expected a tf.Tensor, got a {type(out.value).__name__}")
    check_equal(str(out.value.dtype), "float32", f"{label}.dtype")


def test_standardize(ctx):
    rng = np.random.default_rng(3)
    digits = rng.integers(0, 256, size=(16, 28, 28, 1), dtype=np.uint8)
    colour = rng.normal(loc=[10.0, -3.0, 0.5], scale=[2.0, 5.0, 0.1], size=(5, 4, 3, 3))
    return [
        Case("standardize(uint8 digits)", call("standardize", digits),
             all_of(_tensor_float32, lambda out, label: check_shape(out.value, (16, 28, 28, 1), f"{label}.shape"),
                    _standardized("standardize(uint8 digits)", 1))),
        Case("standardize(float64 colour batch)", call("standardize", colour),
             all_of(_tensor_float32, _standardized("standardize(colour batch)", 3))),
    ]


def _tf_free_correlate(image, kernel):
    image, kernel = np.asarray(image, float), np.asarray(kernel, float)
    kh, kw = kernel.shape
    windows = np.lib.stride_tricks.sliding_window_view(image, (kh, kw))
    return np.einsum("ijkl,kl->ij", windows, kernel)


def test_conv2d_valid(ctx):
    image = [[1, 2, -4, 0, 7], [-3, 5, 0, 4, -2], [1, 4, -6, 8, 5], [3, 7, -1, 0, 2], [6, 1, 2, -2, 1]]
    kernel = [[-1, 0, -1], [0, 2, 0], [-1, 0, -1]]
    image2 = [[3, 3, 2, 1, 0], [0, 0, 1, 3, 1], [3, 1, 2, 2, 3], [2, 0, 0, 2, 2], [2, 0, 0, 0, 1]]
    kernel2 = [[0, 1, 2], [2, 2, 0], [0, 1, 2]]
    rng = np.random.default_rng(4)
    rect, k3, k5 = rng.normal(size=(9, 6)), rng.normal(size=(3, 3)), rng.normal(size=(5, 5))
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    digit = rng.random((28, 28)).astype(np.float32)
    return [
        # The lecture's table prints -11 at row 0, column 1; the sum is -(2 + 0 + 4 + 8) + 2*0 = -14.
        Case("conv2d_valid(lecture example 1)", call("conv2d_valid", image, kernel),
             close([[18, -14, 6], [9, -28, 17], [11, -13, -2]])),
        Case("conv2d_valid(lecture example 2)", call("conv2d_valid", image2, kernel2),
             close([[12, 12, 17], [10, 17, 19], [9, 6, 14]])),
        Case("conv2d_valid(28x28 image, Sobel x)", call("conv2d_valid", digit, sobel_x),
             close(_tf_free_correlate(digit, sobel_x), atol=1e-5)),
        Case("conv2d_valid(random 9x6, random 3x3)", call("conv2d_valid", rect, k3),
             close(_tf_free_correlate(rect, k3), atol=1e-4)),
        Case("conv2d_valid(random 9x6, random 5x5)", call("conv2d_valid", rect, k5),
             close(_tf_free_correlate(rect, k5), atol=1e-4)),
    ]
