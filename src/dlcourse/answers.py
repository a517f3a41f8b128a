"""Answers out, verdict in: the kernel side of grading.

When the grader runs a submission it writes the hidden test inputs of every test cell into
``.grader/inputs.json`` in the submission's folder. Each locked test cell starts with one line,
``submit_answers("test_x", fn=fn)``: it calls the student's functions on those inputs and puts
what they return into the cell's output as plain data (JSON; arrays as raw bytes). The grader's
own process reads that data after the notebook has run and judges it against expected values
that never enter the kernel (``dlcourse.grader.judge``). Nothing in the kernel decides a score,
so patching checks, rebinding names or walking the call stack changes nothing: only correct
answers pass.

Outside grading (the student's own run) there is no inputs file and ``submit_answers`` does
nothing. The codec here is shared by both sides; decoding builds only plain values (numbers,
strings, lists, tuples, dicts, sets, NumPy arrays of numeric, bool or str dtype) and never
imports or runs anything named in the data.
"""

from __future__ import annotations

import base64
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MIME = "application/vnd.dlcourse.answers+json"
INPUTS = Path(".grader") / "inputs.json"
# keras.applications models a call may ask the kernel to build (untrained: weights=None)
APPLICATIONS = frozenset({"MobileNet", "MobileNetV2", "ResNet50", "VGG16", "EfficientNetB0", "DenseNet121"})
class SubclassDict(dict):
    """A dict subclass the kernel returned (a Counter, a defaultdict), decoded as its items; a
    check that asks for a plain dict sees ``type(value) is not dict``."""

    def __init__(self, type_name: str, items=()):
        super().__init__(items)
        self.type_name = type_name


MAX_ELEMENTS = 2_000_000  # per array; a bigger answer is recorded as too large
_NUMERIC_KINDS = "biufc"


# ------------------------------------------------------------------ values that are not plain data
@dataclass(frozen=True)
class RaisedError:
    """The student's function raised instead of returning."""

    text: str


@dataclass(frozen=True)
class Opaque:
    """A returned object the codec does not carry (a student class, a generator, ...)."""

    type_name: str
    text: str


@dataclass(frozen=True)
class ModelConfig:
    """A Keras model, carried as its JSON architecture (``model.to_json()``), never as code."""

    config: str
    class_name: str


@dataclass(frozen=True)
class TooLarge:
    type_name: str
    shape: tuple


class TensorValue:
    """A TensorFlow/Keras tensor, decoded as its values: behaves like an array for the checks
    (``numpy()``, ``__array__``) and keeps the fact that it was a tensor."""

    def __init__(self, array):
        self.array = array

    def numpy(self):
        return self.array

    def __array__(self, dtype=None, copy=None):
        import numpy as np

        return np.asarray(self.array, dtype=dtype)

    @property
    def shape(self):
        return self.array.shape

    @property
    def dtype(self):
        return self.array.dtype

    def __repr__(self):
        return f"tf.Tensor({self.array!r})"


# ------------------------------------------------------------------ encoding (kernel side)
def _encode_array(array) -> dict:
    import numpy as np

    array = np.asarray(array)
    if array.size > MAX_ELEMENTS:
        return {"__too_large__": {"type": "ndarray", "shape": list(array.shape)}}
    if array.dtype.kind in _NUMERIC_KINDS:
        array = np.array(array, dtype=array.dtype.newbyteorder("<"), order="C")  # keeps 0-d shapes
        return {"__ndarray__": {"dtype": array.dtype.str, "shape": list(array.shape),
                                "bytes": base64.b64encode(array.tobytes()).decode("ascii")}}
    if array.dtype.kind == "U":
        return {"__ndarray__": {"dtype": "str", "shape": list(array.shape), "items": [str(x) for x in array.ravel()]}}
    return {"__ndarray__": {"dtype": "object", "shape": list(array.shape),
                            "items": [encode(x) for x in array.ravel()[:10_000]]}}


def _is_keras_model(value) -> bool:
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(value, keras.Model)


def encode(value: Any, _depth: int = 0) -> Any:
    """A JSON-ready form of ``value`` that keeps its type (list vs tuple, float vs np.float32)."""
    if _depth > 50:
        return {"__object__": {"type": type(value).__name__, "text": "nested too deeply"}}
    if value is None or type(value) in (bool, str):
        return value
    if type(value) is int:
        return value if abs(value) < 2**53 else {"__int__": str(value)}
    if type(value) is float:
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if type(value) in (list, tuple, set, frozenset):
        items = list(value)
        if type(value) in (set, frozenset):
            try:
                items = sorted(items, key=repr)
            except Exception:  # noqa: BLE001 - unsortable reprs: keep iteration order
                pass
        encoded = [encode(x, _depth + 1) for x in items]
        return encoded if type(value) is list else {f"__{type(value).__name__}__": encoded}
    if type(value) is dict:
        return {"__dict__": [[encode(k, _depth + 1), encode(v, _depth + 1)] for k, v in value.items()]}
    if isinstance(value, dict):  # Counter, defaultdict, OrderedDict: their stored items, and their type's name
        return {"__dictsub__": {"type": type(value).__name__,
                                "items": [[encode(k, _depth + 1), encode(v, _depth + 1)] for k, v in dict.items(value)]}}
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        if isinstance(value, numpy.ndarray):
            out = _encode_array(value)
            if type(value) is not numpy.ndarray:
                out = {"__subclass__": {"type": type(value).__name__, "value": out}}
            return out
        if isinstance(value, numpy.generic):
            return {"__npscalar__": _encode_array(numpy.asarray(value))["__ndarray__"]}
    if _is_keras_model(value):
        try:
            return {"__keras_model__": {"config": value.to_json(), "class": type(value).__name__}}
        except Exception as error:  # noqa: BLE001 - an unserializable model is the student's answer
            return {"__object__": {"type": type(value).__name__, "text": f"to_json() failed: {error!r:.300}"}}
    module = type(value).__module__ or ""
    if (module.startswith(("tensorflow", "keras")) and hasattr(value, "numpy")) or type(value).__name__ == "EagerTensor":
        try:
            return {"__tensor__": _encode_array(value.numpy())}
        except Exception as error:  # noqa: BLE001
            return {"__object__": {"type": type(value).__name__, "text": f"numpy() failed: {error!r:.300}"}}
    try:
        text = repr(value)[:300]
    except Exception:  # noqa: BLE001
        text = "<repr failed>"
    return {"__object__": {"type": type(value).__name__, "text": text}}


# ------------------------------------------------------------------ decoding (both sides)
def _decode_array(spec: dict):
    import numpy as np

    shape = tuple(int(n) for n in spec["shape"])
    dtype = spec["dtype"]
    if dtype == "str":
        return np.array([str(x) for x in spec["items"]], dtype=str).reshape(shape)
    if dtype == "object":
        items = [decode(x) for x in spec["items"]]
        out = np.empty(len(items), dtype=object)
        out[:] = items
        return out.reshape(shape) if out.size == math.prod(shape) else out
    dt = np.dtype(dtype)
    if dt.kind not in _NUMERIC_KINDS or dt.hasobject:
        raise ValueError(f"refused array dtype {dtype!r}")
    raw = base64.b64decode(spec["bytes"], validate=True)
    return np.frombuffer(raw, dtype=dt).reshape(shape).astype(dt.newbyteorder("="))


def decode(data: Any) -> Any:
    """The value :func:`encode` wrote (plain data only; unknown tags are refused with ValueError)."""
    try:
        return _decode(data)
    except (KeyError, TypeError, AttributeError, IndexError) as error:
        raise ValueError(f"malformed encoded value ({type(error).__name__}: {error})") from None


def _decode(data: Any) -> Any:
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(x) for x in data]
    if not isinstance(data, dict) or len(data) != 1:
        raise ValueError(f"not an encoded value: {str(data)[:100]}")
    (tag, body), = data.items()
    if tag == "__int__":
        return int(body)
    if tag == "__float__":
        return float(body)
    if tag == "__tuple__":
        return tuple(decode(x) for x in body)
    if tag == "__set__":
        return {decode(x) for x in body}
    if tag == "__frozenset__":
        return frozenset(decode(x) for x in body)
    if tag == "__dictsub__":
        return SubclassDict(str(body["type"]), ((decode(k), decode(v)) for k, v in body["items"]))
    if tag == "__dict__":
        return {decode(k): decode(v) for k, v in body}
    if tag == "__ndarray__":
        return _decode_array(body)
    if tag == "__npscalar__":
        return _decode_array(body)[()]
    if tag == "__tensor__":
        inner = decode(body)
        return inner if isinstance(inner, TooLarge) else TensorValue(inner)
    if tag == "__subclass__":
        return Opaque(str(body["type"]), "a subclass of numpy.ndarray (return a plain array)")
    if tag == "__keras_model__":
        return ModelConfig(str(body["config"]), str(body["class"]))
    if tag == "__too_large__":
        return TooLarge(str(body["type"]), tuple(body["shape"]))
    if tag == "__object__":
        return Opaque(str(body["type"]), str(body["text"]))
    if tag == "__error__":
        return RaisedError(str(body))
    raise ValueError(f"unknown tag {tag!r}")


# ------------------------------------------------------------------ inputs: special arguments
def _build_argument(spec: Any, made: dict):
    """Inputs are plain data; three tags ask the kernel to build an object from it."""
    if isinstance(spec, dict) and len(spec) == 1:
        (tag, body), = spec.items()
        if tag == "__make_model__":  # {"config": json, "weights": [arrays]}
            import keras

            model = keras.models.model_from_json(body["config"])
            if body["weights"]:  # none: the model keeps its fresh initial weights
                model.set_weights([decode(w) for w in body["weights"]])
            return model
        if tag == "__make_application__":  # {"name": "MobileNetV2", "kwargs": {...}}: untrained
            import keras

            if body["name"] not in APPLICATIONS or "weights" in body["kwargs"]:
                raise ValueError(f"the grader may build only {sorted(APPLICATIONS)}, untrained")
            return getattr(keras.applications, body["name"])(weights=None, **body["kwargs"])
        if tag == "__make_optimizer__":  # {"class_name": "Adam", "config": {...}}
            import keras

            return keras.optimizers.get({"class_name": body["class_name"], "config": body["config"]})
        if tag == "__same__":  # the object an earlier call of this cell built (the same optimizer)
            return made[body]
    return decode(spec)


@dataclass
class _Call:
    fn: str
    args: list = field(default_factory=list)
    kwargs: dict = field(default_factory=dict)
    repeat: int = 0  # > 0: call that many times and record the list of results
    name: str = ""  # objects built for the arguments are kept under this name for later calls
    gradient: bool = False  # also record d sum(value) / d argument for the float-array arguments


def _call_with_gradients(function, args: list, kwargs: dict) -> tuple[Any, dict]:
    """``function(*args, **kwargs)`` with every float NumPy argument passed as a TensorFlow tensor
    and watched by a gradient tape; returns the value and, per such argument, the gradient of
    the sum of the value (None where no gradient reaches it: a NumPy step breaks the chain)."""
    import numpy as np
    import tensorflow as tf

    watched = {i: tf.constant(a) for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype.kind == "f"}
    args = [watched.get(i, a) for i, a in enumerate(args)]
    with tf.GradientTape(persistent=True) as tape:
        for tensor in watched.values():
            tape.watch(tensor)
        value = function(*args, **kwargs)
        try:
            total = tf.reduce_sum(tf.cast(value, tf.float64))
        except (TypeError, ValueError):
            total = None
    gradients = {}
    for i, tensor in watched.items():
        grad = tape.gradient(total, tensor) if total is not None else None
        gradients[str(i)] = None if grad is None else encode(np.asarray(grad))
    del tape
    return value, gradients


def _run_call(spec: dict, functions: dict, made: dict) -> dict:
    call = _Call(**spec)
    record: dict[str, Any] = {}
    try:
        if call.fn not in functions:
            raise NameError(f"the test cell does not pass {call.fn!r} to submit_answers")
        args = [_build_argument(a, made) for a in call.args]
        kwargs = {k: _build_argument(v, made) for k, v in call.kwargs.items()}
        if call.name:
            made[call.name] = args[0] if len(args) == 1 else args
            for i, arg in enumerate(args):
                made[f"{call.name}.{i}"] = arg
        function = functions[call.fn]
        if call.gradient:
            value, record["gradients"] = _call_with_gradients(function, args, kwargs)
        elif call.repeat:
            value = [function(*args, **kwargs) for _ in range(call.repeat)]
        else:
            value = function(*args, **kwargs)
        record["value"] = encode(value)
        after = {str(i): [encode(w) for w in a.get_weights()] for i, a in enumerate(args) if _is_keras_model(a)}
        if after:
            record["after"] = after
    except Exception as error:  # noqa: BLE001 - the student's error is their answer
        record = {"value": {"__error__": f"{type(error).__name__}: {error}"[:1000]}}
    return record


def grader_inputs(cell: str) -> list[dict] | None:
    """The calls the grader asks of this test cell, or None outside grading."""
    path = Path.cwd() / INPUTS
    if not path.is_file():
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle).get(cell)


def submit_answers(cell: str, **functions) -> None:
    """Call the named functions on the grader's inputs for ``cell`` and output what they return.

    Does nothing outside grading. The grader's own process judges the output."""
    calls = grader_inputs(cell)
    if calls is None:
        return
    made: dict = {}
    answers = [_run_call(spec, functions, made) for spec in calls]
    payload = {"cell": cell, "answers": answers}
    from IPython.display import display

    display({MIME: payload, "text/plain": f"[answers for {cell} recorded for the grader]"}, raw=True)


__all__ = ["MIME", "INPUTS", "encode", "decode", "submit_answers", "grader_inputs", "RaisedError", "Opaque",
           "ModelConfig", "TooLarge", "TensorValue"]

