"""Image-classification helpers shared by the vision notebooks and the grader's model worker.

One training routine, :func:`train_and_evaluate`, is used both by the visible CNN test of a01
(run in the student's notebook, outside grading) and by the grader's model worker
(:func:`dlcourse.grader.modellab.op_fit`), so the accuracy a student sees is the accuracy the
grader measures: same digits, same seed, same rebuild of the architecture from its JSON, same
compile, fit and evaluate calls.

The grading budget of a01's CNN is :data:`MNIST_CNN_BUDGET` (per mode); its calibration is in
``solutions/a01/judge.py``.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class TrainingBudget:
    """How a graded CNN is trained: ``train`` digits for ``epochs`` epochs in batches of
    ``batch_size`` with ``optimizer_name`` (Adam) at ``learning_rate``, from weights initialised
    with ``seed`` (the same seed also fixes the shuffling and dropout of training)."""

    train: int
    epochs: int
    batch_size: int
    learning_rate: float
    seed: int = 0
    optimizer_name: str = "Adam"

    @property
    def optimizer(self) -> dict:
        """The optimizer as a Keras config (``keras.optimizers.get`` builds it)."""
        return {"class_name": self.optimizer_name, "config": {"learning_rate": self.learning_rate}}

    def describe(self) -> str:
        return (f"{self.train:,} training digits, {self.epochs} epochs, batch {self.batch_size}, "
                f"{self.optimizer_name}(learning_rate={self.learning_rate:g}), seed {self.seed}")


# The budget a01's grader trains a submitted CNN with, per mode. Quick: the whole offline sample
# (4,000 train / 1,000 test digits), 500 steps, calibrated in solutions/a01/judge.py. Full: the
# first 20,000 of the 60,000 real MNIST training digits, 2,500 steps; not measured offline.
MNIST_CNN_BUDGET = {
    "quick": TrainingBudget(train=4_000, epochs=2, batch_size=16, learning_rate=1e-3),
    "full": TrainingBudget(train=20_000, epochs=2, batch_size=16, learning_rate=1e-3),
}


def cnn_budget(mode: str | None = None) -> TrainingBudget:
    """The grading budget of the active mode (``DLCOURSE_MODE``) or of ``mode``."""
    from .modes import mode as active_mode

    return MNIST_CNN_BUDGET[mode or active_mode()]


def mnist_digits(n_train: int, *, quiet: bool = False):
    """``(x_train, y_train, x_test, y_test)``: the first ``n_train`` training digits and every test
    digit of :func:`dlcourse.data.load_mnist`, as float32 images of shape (n, 28, 28, 1) in [0, 1]
    and uint8 labels. ``quiet`` sends the loader's source line to stderr (the model worker's
    stdout carries its replies)."""
    import numpy as np

    from .data import load_mnist

    with contextlib.redirect_stdout(sys.stderr) if quiet else contextlib.nullcontext():
        data = load_mnist()
    x_train = data.x_train[:n_train, :, :, None].astype(np.float32) / 255.0
    x_test = data.x_test[:, :, :, None].astype(np.float32) / 255.0
    return x_train, data.y_train[:n_train], x_test, data.y_test


FASHION_RGB_TRAIN = 2_000  # training images of the graded transfer-learning fit (a02)
FASHION_RGB_TEST = 1_000


def fashion_rgb(n_train: int, *, size: int = 32, n_test: int = FASHION_RGB_TEST, quiet: bool = False):
    """``(x_train, y_train, x_test, y_test)``: the first ``n_train`` training and ``n_test`` test
    images of Fashion-MNIST as a pretrained ImageNet network takes them: resized (bilinear) to
    ``size`` x ``size``, grey copied into 3 channels, scaled to [-1, 1] as
    ``keras.applications.mobilenet_v2.preprocess_input`` does; float32 (n, size, size, 3)."""
    import numpy as np

    from .data import load_fashion_mnist

    with contextlib.redirect_stdout(sys.stderr) if quiet else contextlib.nullcontext():
        data = load_fashion_mnist()

    def prepare(images):
        import keras

        x = keras.ops.image.resize(images[..., None].astype(np.float32), (size, size), interpolation="bilinear")
        return np.repeat(keras.ops.convert_to_numpy(x), 3, axis=-1) / 127.5 - 1.0

    return prepare(data.x_train[:n_train]), data.y_train[:n_train], prepare(data.x_test[:n_test]), data.y_test[:n_test]


def fresh_copy(model_or_json, seed: int = 0, *, check=None):
    """A new, untrained model with the same architecture, rebuilt from its JSON the way the grader
    rebuilds it (Keras safe mode: built-in layers only), its weights initialised from ``seed``.
    ``check(config)`` (the grader's allowlist) runs first when given."""
    import json

    import keras

    config = model_or_json if isinstance(model_or_json, str) else model_or_json.to_json()
    if check is not None:
        check(config)
    keras.utils.set_random_seed(seed)
    return keras.saving.deserialize_keras_object(json.loads(config), safe_mode=True)


def train_and_evaluate(model, data, budget: TrainingBudget, *, train_losses: bool = True) -> dict:
    """Compile ``model`` (an untrained model from :func:`fresh_copy`) with ``budget``'s Adam and the
    cross-entropy from logits, measure its loss on the training digits, train it, and return plain
    numbers: ``loss_before`` and ``train_loss`` (training digits, before and after), ``loss`` and
    ``accuracy`` (test digits), sizes and seconds. ``data`` is :func:`mnist_digits`'s tuple.
    ``train_losses=False`` skips the two passes over the training set (both are then ``None``):
    with a large frozen base they cost as much as the training itself."""
    import keras
    import tensorflow as tf

    started = time.time()
    x_train, y_train, x_test, y_test = data
    x_train, y_train = x_train[: budget.train], y_train[: budget.train]
    tf.config.experimental.enable_op_determinism()  # the same score every time it is graded
    model.compile(optimizer=keras.optimizers.get(budget.optimizer),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    loss_before = model.evaluate(x_train, y_train, batch_size=256, verbose=0)[0] if train_losses else None
    keras.utils.set_random_seed(budget.seed)
    model.fit(x_train, y_train, batch_size=budget.batch_size, epochs=budget.epochs, shuffle=True, verbose=0)
    train_loss = model.evaluate(x_train, y_train, batch_size=256, verbose=0)[0] if train_losses else None
    loss, accuracy = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    return {"params": int(model.count_params()), "accuracy": float(accuracy), "loss": float(loss),
            "loss_before": None if loss_before is None else float(loss_before),
            "train_loss": None if train_loss is None else float(train_loss), "n_train": int(len(x_train)),
            "n_test": int(len(x_test)), "epochs": budget.epochs, "batch_size": budget.batch_size,
            "seconds": round(time.time() - started, 2)}


__all__ = ["TrainingBudget", "MNIST_CNN_BUDGET", "cnn_budget", "mnist_digits", "fashion_rgb", "fresh_copy",
           "train_and_evaluate"]
