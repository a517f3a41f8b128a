"""Hidden checks of a01, judged in the grader's process (instructor-only: never released, never
visible to the student's kernel). One function per graded test cell, named by its grade_id; it
returns the calls the kernel makes and how to check what comes back (dlcourse.grader.judge).

What is judged and how
----------------------
* ``test_pool2d``, ``test_softmax``, ``test_cross_entropy``: the student's functions run in the
  kernel on the lecture's examples (the visible cases) and on hidden inputs (other sizes,
  strides, ranks, scores far apart); the expected values are computed here in NumPy (pooling
  with 'valid' windows as ``tf.nn.max_pool2d`` / ``avg_pool2d`` do, a max-shifted softmax, the
  log-sum-exp cross-entropy and Keras' clipping to [1e-7, 1 - 1e-7]). ``softmax`` is also given
  scores more than 709 apart ([0, 1000], [-1000, 0, 1000]): a softmax that subtracts the
  minimum instead of the maximum overflows there.
* ``test_build_mlp``: behaviour, not construction. The architecture (JSON) goes to the model
  worker, which rebuilds it from built-in layers and reports its class (``Functional``, as the
  task asks for the Functional API), its parameter count (13,002) and its outputs for weights
  and pixels chosen here; the outputs must equal a NumPy forward pass (sigmoid, sigmoid, linear
  logits). Dense layers with ``activation="sigmoid"`` or Dense + ``Activation("sigmoid")``
  layers both pass.
* ``test_train_step``: the kernel builds a small Dense(8, tanh) -> Dense(4) model from weights
  chosen here, and an optimizer (SGD 0.5 for one step; Adam 0.01 for three steps on the same
  model and optimizer); the returned losses (Python floats) and the weights after the steps must
  match a NumPy reference of the same steps (backpropagation written out, Keras' Adam update).
* ``test_cnn_builds`` (1 point): the worker rebuilds the CNN and reports its parameter count
  (at most 40,000), its layers (a ``Conv2D``) and its outputs on a batch of 2 blank and 5 random
  images with its seed-0 initial weights: shape (batch, 10), and not probabilities (rows that
  are all >= 0 and sum to 1 mean the model ends in a softmax, while logits were asked for).
* ``test_cnn_trains`` (1 point) and ``test_cnn_accuracy`` (1 point): the worker trains the
  rebuilt CNN with the grading budget (:data:`dlcourse.vision.MNIST_CNN_BUDGET`, the routine
  :func:`dlcourse.vision.train_and_evaluate` that the notebook's visible test also runs) and
  reports the training loss before and after and the test accuracy. "Trains": the training loss
  drops and the test accuracy is at least 0.2 (twice chance). "Accuracy": at least
  ``CNN_MIN_ACCURACY``. A model over the cap is not trained (both cells fail with that reason).
  The worker caches identical requests, and this judge keys the replies by the architecture with
  its layer names normalised (every build_cnn() call in a kernel names its layers anew), so the
  two cells train the model once.

Calibration of the CNN budget and threshold (quick mode)
--------------------------------------------------------
Offline MNIST sample of dlcourse.data.load_mnist() (4,000 train / 1,000 test digits), seed 0,
the worker's own code path (``modellab.op_fit``), this course's 2-core CPU box. Test accuracy
after training, and the worker's training seconds (compile, loss before, fit, evaluations):

| design (build_cnn)                                        | params  | chosen: 4,000 / 2 / 16 | s    | 4,000 / 2 / 32 | 4,000 / 3 / 32 | 3,000 / 3 / 32 |
|-----------------------------------------------------------|---------|------------------------|------|----------------|----------------|----------------|
| reference solution: Conv16-Pool-Conv32-Pool-Dense32       | 30,762  | 0.939                  | 16.7 | 0.924          | 0.945          | 0.923          |
| smaller: Conv8-Pool-Conv16-Pool-Dense32 (Sequential)      | 14,410  | 0.926                  | 13.3 | 0.902          | 0.933          | 0.909          |
| lecture's better CNN (L1.4): 2 x [Conv(16/32, no bias) -  | 12,954  | 0.943                  | 13.7 | 0.948          | 0.956          | 0.936          |
|   BatchNormalization(momentum=0.9) - ReLU - Pool],        |         |                        |      |                |                |                |
|   Dropout(0.2), Dense10                                   |         |                        |      |                |                |                |
| the same with BatchNormalization() (momentum 0.99)        | 12,954  | 0.940                  | 13.6 | 0.553          | 0.804          | 0.656          |
| one block: Conv16-Pool-Flatten-Dense10                    | 27,210  | 0.913                  | 10.4 | 0.907          | 0.914          | 0.897          |
| lecture's reference CNN (over the cap: never trained)     | 121,930 | (0.951)                | 21.5 | -              | -              | -              |
| wrong: the reference with a softmax output layer          | 30,762  | 0.939                  | 16.4 | 0.924          | -              | 0.923          |
| wrong: no Conv2D, Flatten-Dense48-Dense10                 | 38,170  | 0.903                  | 6.7  | 0.899          | -              | 0.892          |

Budgets are training digits / epochs / batch size, all with Adam(learning_rate=0.001); "s" is the
worker's seconds for the chosen budget (compile, loss before, fit, two evaluations; the data
already loaded), measured while other jobs kept the 2-core box at a load average of 4 to 6, so a
quiet box is faster. Keras' cross-entropy from logits unwraps a softmax output layer (it uses
the logits the softmax saw), so the softmax variant trains exactly like the reference; only
``test_cnn_builds`` (logits) catches it. Batch 16 gives 500 steps: with 375 or fewer, the
running statistics of a BatchNormalization layer with the default momentum (0.99) still carry
their initial values and its test accuracy collapses (0.55-0.80), with 500 they have settled.

Chosen budget (quick grading): the first 4,000 training digits of the offline sample, 2 epochs, batch 16
(500 steps), Adam(learning_rate=0.001), seed 0, evaluated on the 1,000 test digits; threshold CNN_MIN_ACCURACY = 0.88.
0.88 is 3.3 points below the weakest reasonable design (one conv block, 0.913) and 4.6 below
the smaller two-block design (0.926): about 3.5 standard errors of an accuracy measured on 1,000
digits (sqrt(0.9 * 0.1 / 1000) = 0.0095) below the weakest. A network without Conv2D also
reaches it (0.903): that the model is a CNN is judged by test_cnn_builds, not by the threshold.
On a quieter box (load average about 2) the fit of the chosen budget takes 6.8 s (reference)
and 8.3 s (better CNN), plus 1.7 s for the three evaluations.

Grading time of one submission (nbgrader's per-student seconds: the kernel with its TensorFlow
import, the model worker's start with its own TensorFlow import and the digits, overlapped with
the kernel by _warm_up, then the judging and the fit): 18.8 s for the reference solution on a
quiet box (kernel done at 9.4 s, worker ready at 11 s, fit 7.4 s); 26.7 to 31.5 s for single
submissions of the reference, small and both BatchNormalization designs, and at most 42 s in a
29-submission batch, while other jobs kept the load average at 3 to 5. Budget: 45 s.

Full mode (real MNIST: the first 20,000 of the 60,000 training digits, 2 epochs, batch 16,
2,500 steps, evaluated on the 10,000 test digits) could not be calibrated on the offline build
box; with five times the digits and steps of quick mode every design above should only gain
accuracy, so the same threshold is conservative there (measure it before grading in full mode).
"""

import json

import numpy as np

from dlcourse.answers import ModelConfig, decode, encode
from dlcourse.checks import check_at_least, check_at_most, check_close, check_equal, check_shape
from dlcourse.grader.judge import Case, _describe, all_of, call, close, make_model, make_optimizer, same
from dlcourse.vision import cnn_budget

CNN_CAP = 40_000
CNN_MIN_ACCURACY = 0.88
CHANCE_TWICE = 0.2  # "trains": accuracy at least twice chance (10 classes)


# ------------------------------------------------------------------ NumPy references
def _pool(x, size, stride, mode):
    x = np.asarray(x, dtype=np.float64)
    windows = np.lib.stride_tricks.sliding_window_view(x, (size, size))[::stride, ::stride]
    return windows.max(axis=(2, 3)) if mode == "max" else windows.mean(axis=(2, 3))


def _softmax(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _cross_entropy(outputs, labels, from_logits=False):
    outputs = np.asarray(outputs, dtype=np.float64)
    rows = np.arange(len(labels))
    if from_logits:
        z = outputs - outputs.max(axis=-1, keepdims=True)
        log_probs = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    else:
        log_probs = np.log(np.clip(outputs, 1e-7, 1 - 1e-7))
    return float(-log_probs[rows, np.asarray(labels)].mean())


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _mlp_forward(weights, x):
    w1, b1, w2, b2, w3, b3 = (np.asarray(w, np.float64) for w in weights)
    return _sigmoid(_sigmoid(x @ w1 + b1) @ w2 + b2) @ w3 + b3


def _step_loss_and_grads(weights, x, y):
    """Loss and gradients of the Dense(8, tanh) -> Dense(4) model with the mean cross-entropy from logits."""
    w1, b1, w2, b2 = weights
    h = np.tanh(x @ w1 + b1)
    p = _softmax(h @ w2 + b2)
    n = len(y)
    loss = float(-np.log(p[np.arange(n), y]).mean())
    dz = p.copy()
    dz[np.arange(n), y] -= 1
    dz /= n
    dh = dz @ w2.T * (1 - h**2)
    return loss, [x.T @ dh, dh.sum(0), h.T @ dz, dz.sum(0)]


def _sgd(weights, x, y, lr, steps):
    weights, losses = [np.asarray(w, np.float64) for w in weights], []
    for _ in range(steps):
        loss, grads = _step_loss_and_grads(weights, x, y)
        losses.append(loss)
        weights = [w - lr * g for w, g in zip(weights, grads)]
    return losses, weights


def _adam(weights, x, y, lr, steps, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Keras 3's Adam: alpha = lr * sqrt(1 - b2^t) / (1 - b1^t); w -= alpha * m / (sqrt(v) + eps)."""
    weights, losses = [np.asarray(w, np.float64) for w in weights], []
    m = [np.zeros_like(w) for w in weights]
    v = [np.zeros_like(w) for w in weights]
    for t in range(1, steps + 1):
        loss, grads = _step_loss_and_grads(weights, x, y)
        losses.append(loss)
        alpha = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        m = [mi + (g - mi) * (1 - beta_1) for mi, g in zip(m, grads)]
        v = [vi + (g * g - vi) * (1 - beta_2) for vi, g in zip(v, grads)]
        weights = [w - alpha * mi / (np.sqrt(vi) + epsilon) for w, mi, vi in zip(weights, m, v)]
    return losses, weights


# ------------------------------------------------------------------ small checks
def _float_array(out, label):
    value = out.value
    if type(value) is not np.ndarray:
        raise AssertionError(f"{label}: expected a NumPy array, got {_describe(value)}")
    if value.dtype.kind != "f":
        raise AssertionError(f"{label}: expected a float array, got an array of dtype {value.dtype}")


def _finite(out, label):
    got = np.asarray(out.value, dtype=np.float64)
    if not np.all(np.isfinite(got)):
        raise AssertionError(f"{label}: expected only finite values, got {int((~np.isfinite(got)).sum())} inf or nan "
                             f"value(s): {got!r:.200}")


def _python_float(out, label):
    """A Python float, as the task asks (a NumPy float scalar is accepted too; a tensor is not)."""
    if not isinstance(out.value, (float, np.floating)):
        raise AssertionError(f"{label}: expected a Python float (use float(...)), got {_describe(out.value)}")


def _model_config(out, label) -> ModelConfig:
    if not isinstance(out.value, ModelConfig):
        raise AssertionError(f"{label}: expected a keras.Model, got {_describe(out.value)}")
    return out.value


def _warm_up(ctx) -> None:
    """Start the model worker (TensorFlow import, the digits) while the kernel runs the notebook."""
    tiny = ('{"module": "keras", "class_name": "Sequential", "registered_name": null, "config": {"name": "warm_up", '
            '"layers": [{"module": "keras.layers", "class_name": "InputLayer", "registered_name": null, "config": '
            '{"batch_shape": [null, 28, 28, 1], "dtype": "float32"}}, {"module": "keras.layers", "class_name": '
            '"Flatten", "registered_name": null, "config": {}}, {"module": "keras.layers", "class_name": "Dense", '
            '"registered_name": null, "config": {"units": 10}}]}}')
    budget = cnn_budget(ctx.mode)
    ctx.warm_up("fit", config=tiny, dataset="mnist", train=64, epochs=1, batch_size=budget.batch_size,
                optimizer=budget.optimizer, seed=budget.seed, max_params=CNN_CAP)


# ------------------------------------------------------------------ 1. pooling
def test_pool2d(ctx):
    feature_map = [[4, 42, 220, 43], [16, 176, 120, 104], [156, 253, 120, 177], [190, 103, 99, 41]]
    rng = np.random.default_rng(10)
    square = rng.normal(size=(6, 6))
    hidden = np.random.default_rng(110)
    odd = hidden.normal(size=(7, 9))
    wide = hidden.normal(size=(5, 8))
    cases = [
        Case("pool2d(lecture map, 2, 2, 'max')", call("pool2d", feature_map, 2, 2, "max"),
             all_of(_float_array, close([[176, 220], [253, 177]]))),
        Case("pool2d(lecture map, 2, 2, 'avg')", call("pool2d", feature_map, 2, 2, "avg"),
             all_of(_float_array, close([[59.5, 121.75], [175.5, 109.25]]))),
        Case("pool2d(random 6x6, 2, 2, 'max') vs tf.nn.max_pool2d", call("pool2d", square, 2, 2, "max"),
             close(_pool(square, 2, 2, "max"), atol=1e-5)),
        Case("pool2d(random 5x8) with the default size, stride and mode", call("pool2d", wide),
             all_of(_float_array, close(_pool(wide, 2, 2, "max"), atol=1e-5))),
    ]
    for size, stride in [(3, 2), (2, 1), (3, 3)]:
        for mode in ("max", "avg"):
            cases.append(Case(f"pool2d(random 7x9, {size}, {stride}, {mode!r}) vs TensorFlow",
                              call("pool2d", odd, size, stride, mode),
                              all_of(_float_array, close(_pool(odd, size, stride, mode), atol=1e-5))))
    return cases


# ------------------------------------------------------------------ 2. softmax
def test_softmax(ctx):
    batch = np.random.default_rng(111).normal(scale=30.0, size=(4, 3, 10))
    spread = np.array([[0.0, 1000.0, 500.0], [-1000.0, 0.0, 1000.0], [3.0, 1.0, 2.0]])
    stable = lambda expected, atol=1e-6: all_of(_float_array, _finite, close(expected, atol=atol))  # noqa: E731
    return [
        Case("softmax(lecture example 1)", call("softmax", [4.80, 1.15, -0.35, 4.95, 2.45, 2.85]),
             all_of(_float_array, close([0.411, 0.011, 0.002, 0.478, 0.039, 0.059], atol=1e-3))),
        Case("softmax(lecture example 2)", call("softmax", [0.5, 0.5, 0.1, 0.7]),
             close([0.257, 0.257, 0.172, 0.314], atol=1e-3)),
        Case("softmax([1000, 1001])", call("softmax", [1000.0, 1001.0]), stable([0.2689414, 0.7310586])),
        Case("softmax(lecture example 3)", call("softmax", [-1, 0, 1, 0, -1]),
             close([0.07, 0.18, 0.50, 0.18, 0.07], atol=6e-3)),
        Case("softmax([-1000, -1000])", call("softmax", [-1000.0, -1000.0]), stable([0.5, 0.5], atol=1e-9)),
        Case("softmax([0, 1000])", call("softmax", [0.0, 1000.0]), stable([0.0, 1.0], atol=1e-9)),
        Case("softmax([-1000, 0, 1000])", call("softmax", np.array([-1000.0, 0.0, 1000.0])),
             stable([0.0, 0.0, 1.0], atol=1e-9)),
        Case("softmax(3x3 batch with scores 2000 apart)", call("softmax", spread), stable(_softmax(spread), atol=1e-9)),
        Case("softmax(random 4x3x10) vs tf.nn.softmax", call("softmax", batch), stable(_softmax(batch))),
    ]


# ------------------------------------------------------------------ 3. cross-entropy
def test_cross_entropy(ctx):
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    logits = np.array([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]])
    rng = np.random.default_rng(112)
    z = rng.normal(scale=3.0, size=(32, 10))
    y = rng.integers(0, 10, size=32)
    p = _softmax(z)
    one = np.array([1])
    loss = lambda expected, **tol: all_of(_python_float, _finite, close(expected, **tol))  # noqa: E731
    return [
        Case("cross_entropy(probs, [0, 2])", call("cross_entropy", probs, np.array([0, 2])),
             loss(-(np.log(0.7) + np.log(0.8)) / 2, atol=1e-6)),
        Case("cross_entropy(logits, [2, 1], from_logits=True) vs Keras",
             call("cross_entropy", logits, np.array([2, 1]), from_logits=True),
             loss(_cross_entropy(logits, [2, 1], True), atol=1e-5)),
        Case("cross_entropy(random logits, from_logits=True) vs Keras", call("cross_entropy", z, y, from_logits=True),
             loss(_cross_entropy(z, y, True), atol=1e-4)),
        Case("cross_entropy(random probs) vs Keras", call("cross_entropy", p, y), loss(_cross_entropy(p, y), atol=1e-4)),
        Case("cross_entropy([[1000, 0]], [1], from_logits=True)",
             call("cross_entropy", np.array([[1000.0, 0.0]]), one, from_logits=True), loss(1000.0, atol=1e-6)),
        Case("cross_entropy([[1, 0]], [1]) (clipped)", call("cross_entropy", np.array([[1.0, 0.0]]), one),
             loss(-np.log(1e-7), rtol=1e-4)),
    ]


# ------------------------------------------------------------------ 4. the MLP
MLP_SHAPES = [[784, 16], [16], [16, 16], [16], [16, 10], [10]]


def test_build_mlp(ctx):
    _warm_up(ctx)
    rng = np.random.default_rng(113)
    weights = [rng.normal(scale=0.3 if len(s) == 2 else 0.5, size=s).astype(np.float32) for s in MLP_SHAPES]
    pixels = rng.random((6, 784)).astype(np.float32)
    zeros = np.zeros((3, 784), np.float32)

    def inspect(out, label, inputs):
        config = _model_config(out, label).config
        return ctx.ask(label, "inspect", config=config, inputs=encode(inputs), weights=[encode(w) for w in weights])

    def functional(out, label):
        reply = inspect(out, label, zeros)
        check_equal(reply["class_name"], "Functional", f"{label}: the model's class (the Functional API, not keras.Sequential)")

    def params(out, label):
        check_equal(inspect(out, label, zeros)["params"], 13_002, label)

    def outputs(inputs):
        def check(out, label):
            reply = inspect(out, label, inputs)
            if reply.get("outputs") is None:
                raise AssertionError(f"{label}: expected weight arrays of shapes {MLP_SHAPES} (784-16-16-10), "
                                     f"got {reply['weight_shapes']}")
            got = decode(reply["outputs"])
            check_shape(got, (len(inputs), 10), f"{label}: output shape")
            check_close(got, _mlp_forward(weights, inputs.astype(np.float64)),
                        f"{label}: logits for the given weights (sigmoid, sigmoid, linear)", atol=1e-4)
        return check

    return [
        Case("build_mlp() uses the Functional API", call("build_mlp"), functional),
        Case("build_mlp().count_params()", call("build_mlp"), params),
        Case("build_mlp() on a batch of 3 blank images", call("build_mlp"), outputs(zeros)),
        Case("build_mlp() on 6 random images", call("build_mlp"), outputs(pixels)),
    ]


# ------------------------------------------------------------------ 5. one training step
def _dense_json(inputs: int, hidden: int, classes: int) -> str:
    layer = lambda name, config: {"module": "keras.layers", "class_name": name, "config": config,  # noqa: E731
                                  "registered_name": None}
    return json.dumps({"module": "keras", "class_name": "Sequential", "registered_name": None, "config": {
        "name": "twin", "layers": [layer("InputLayer", {"batch_shape": [None, inputs], "dtype": "float32"}),
                                   layer("Dense", {"units": hidden, "activation": "tanh"}),
                                   layer("Dense", {"units": classes})]}})


def test_train_step(ctx):
    config = _dense_json(20, 8, 4)
    rng = np.random.default_rng(13)
    x = rng.normal(size=(16, 20)).astype(np.float32)
    y = rng.integers(0, 4, size=16)
    hidden = np.random.default_rng(114)

    def weights():
        return [hidden.normal(scale=0.4, size=(20, 8)).astype(np.float32), hidden.normal(scale=0.1, size=8).astype(np.float32),
                hidden.normal(scale=0.5, size=(8, 4)).astype(np.float32), hidden.normal(scale=0.1, size=4).astype(np.float32)]

    sgd_w, adam_w = weights(), weights()
    sgd_losses, sgd_after = _sgd(sgd_w, x.astype(np.float64), y, 0.5, 1)
    adam_losses, adam_after = _adam(adam_w, x.astype(np.float64), y, 0.01, 3)

    def loss_is(expected, what):
        return all_of(_python_float, close(expected, atol=1e-5, name=what))

    def weights_are(expected, what):
        def check(out, label):
            after = out.after.get(0)
            if after is None or len(after) != len(expected):
                raise AssertionError(f"{label}: expected the model's {len(expected)} weight arrays after the step, "
                                     f"got {0 if after is None else len(after)}")
            for i, (got, want) in enumerate(zip(after, expected)):
                check_close(got, want, f"{label}: weight array {i} {what}", atol=1e-5)
        return check

    return [
        Case("train_step(model, SGD(0.5), x, y)", call("train_step", make_model(config, sgd_w), make_optimizer("SGD", learning_rate=0.5), x, y),
             all_of(loss_is(sgd_losses[0], "loss returned by train_step (SGD)"),
                    weights_are(sgd_after, "after one SGD step"))),
        Case("Adam step 1", call("train_step", make_model(config, adam_w), make_optimizer("Adam", learning_rate=0.01), x, y,
                                 name="adam"),
             loss_is(adam_losses[0], "loss of Adam step 1")),
        Case("Adam step 2", call("train_step", same("adam.0"), same("adam.1"), x, y),
             loss_is(adam_losses[1], "loss of Adam step 2")),
        Case("Adam step 3", call("train_step", same("adam.0"), same("adam.1"), x, y),
             all_of(loss_is(adam_losses[2], "loss of Adam step 3"), weights_are(adam_after, "after three Adam steps"))),
    ]


# ------------------------------------------------------------------ 6. the CNN
def _cnn_inspect(ctx, out, label, inputs) -> dict:
    return ctx.ask(label, "inspect", config=_model_config(out, label).config, inputs=encode(inputs))


def _cnn_fit(ctx, out, label) -> dict:
    budget = cnn_budget(ctx.mode)
    reply = ctx.ask(label, "fit", config=_model_config(out, label).config, dataset="mnist", train=budget.train,
                 epochs=budget.epochs, batch_size=budget.batch_size, optimizer=budget.optimizer, seed=budget.seed,
                 max_params=CNN_CAP)
    if "skipped" in reply:
        raise AssertionError(f"{label}: expected at most {CNN_CAP:,} parameters (the grader trains only a model under the "
                             f"cap), got {reply['params']:,}: not trained")
    return reply


def test_cnn_builds(ctx):
    blank = np.zeros((2, 28, 28, 1), np.float32)
    images = np.random.default_rng(115).random((5, 28, 28, 1)).astype(np.float32)

    def params(out, label):
        count = _cnn_inspect(ctx, out, label, blank)["params"]
        if count > CNN_CAP:
            raise AssertionError(f"{label}: expected at most {CNN_CAP:,} parameters, got {count:,}")

    def has_conv(out, label):
        layers = _cnn_inspect(ctx, out, label, blank)["layers"]
        if "Conv2D" not in layers:
            raise AssertionError(f"{label}: expected at least one Conv2D layer, got the layers {layers}")

    def shape(out, label):
        check_shape(decode(_cnn_inspect(ctx, out, label, blank)["outputs"]), (2, 10), label)

    def logits(out, label):
        got = np.asarray(decode(_cnn_inspect(ctx, out, label, images)["outputs"]), dtype=np.float64)
        check_shape(got, (5, 10), f"{label}: output shape on a batch of 5 images")
        if np.all(got >= 0) and np.allclose(got.sum(axis=-1), 1.0, atol=1e-3):
            raise AssertionError(f"{label}: expected 10 logits per image (no softmax at the end: the loss applies it), got "
                                 f"probabilities (every row >= 0 and summing to 1), e.g. {np.round(got[0], 3).tolist()}")

    return [
        Case("build_cnn().count_params()", call("build_cnn"), params),
        Case("build_cnn() has a Conv2D layer", call("build_cnn"), has_conv),
        Case("build_cnn() output shape on a batch of 2 blank digits", call("build_cnn"), shape),
        Case("build_cnn() outputs logits", call("build_cnn"), logits),
    ]


def test_cnn_trains(ctx):
    def trains(out, label):
        reply = _cnn_fit(ctx, out, label)
        check_at_most(reply["train_loss"], reply["loss_before"] - 1e-3,
                      f"{label}: training loss after training (it was {reply['loss_before']:.4f} before)")
        check_at_least(reply["accuracy"], CHANCE_TWICE, f"{label}: test accuracy after training (twice chance)")

    return [Case("the grader trains build_cnn()", call("build_cnn"), trains)]


def test_cnn_accuracy(ctx):
    budget = cnn_budget(ctx.mode)

    def accurate(out, label):
        reply = _cnn_fit(ctx, out, label)
        check_at_least(reply["accuracy"], CNN_MIN_ACCURACY,
                       f"{label}: test accuracy after training on {budget.describe()}")

    return [Case("build_cnn() trained by the grader", call("build_cnn"), accurate)]
