"""Trusted judging: hidden verdicts decided in the grader's own process.

Every assignment has an instructor-only judge module, ``solutions/<aid>/judge.py`` (nbgrader
does not release it; the grading kernel's sandbox cannot see it). For every graded test cell
``test_x`` of the assignment it defines a function ``test_x(ctx)`` that returns the cell's
:class:`Case` list: which call to make (function name and plain-data arguments) and how to check
what comes back. The grading pipeline (:class:`JudgedExecute`, an nbgrader preprocessor that
replaces plain execution):

1. writes every cell's calls to ``.grader/inputs.json`` in the submission folder;
2. runs the notebook in the sandboxed kernel; each locked test cell starts with
   ``submit_answers("test_x", fn=fn)`` (``dlcourse.answers``), which makes the calls and puts
   the results into the cell's output as plain data;
3. back in the grader's process, decodes those results (plain data only), runs each case's
   check with expected values computed here, and replaces the cell's outputs with the verdict:
   nothing on success, an error output listing what was expected and what was produced on
   failure. nbgrader's SaveAutoGrades then scores the cells as usual.

The student's kernel never holds an expected value and never decides a score. Models travel as
JSON architecture and are rebuilt and trained by :mod:`dlcourse.grader.modellab` in a separate,
sandboxed worker process.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import shutil
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .. import answers as A
from ..checks import check_close, check_equal

MAX_BUNDLE_CHARS = 20_000_000  # answers larger than this are refused (a test cell records little)
GRADER_DIR = A.INPUTS.parent.name
APPLICATIONS = A.APPLICATIONS


# ------------------------------------------------------------------ what a judge module writes
def make_model(model_or_config, weights=None) -> dict:
    """An argument the kernel builds into a Keras model (architecture + weights) before the call."""
    config = model_or_config if isinstance(model_or_config, str) else model_or_config.to_json()
    weights = model_or_config.get_weights() if weights is None else weights
    return {"__make_model__": {"config": config, "weights": [A.encode(w) for w in weights]}}


def make_optimizer(class_name: str, **config) -> dict:
    """An argument the kernel builds into a Keras optimizer, e.g. ``make_optimizer("Adam", learning_rate=0.01)``."""
    return {"__make_optimizer__": {"class_name": class_name, "config": config}}


def make_application(name: str, **kwargs) -> dict:
    """An argument the kernel builds as ``keras.applications.<name>(weights=None, **kwargs)``: an
    architecture too large to send as JSON, built untrained on the kernel's side."""
    if name not in APPLICATIONS:
        raise ValueError(f"{name} is not one of the keras.applications models the kernel may build: {sorted(APPLICATIONS)}")
    return {"__make_application__": {"name": name, "kwargs": kwargs}}


def layer_spec(cls: str, **config) -> dict:
    """One built-in layer as it appears in a model's Keras JSON: ``layer_spec("Dense", units=8)``."""
    return {"module": "keras.layers", "class_name": cls, "config": config, "registered_name": None}


def sequential_config(name: str, input_shape, layers: list[dict]) -> str:
    """The Keras JSON of ``keras.Sequential([keras.Input(input_shape), *layers])``, written by hand so
    that a judge needs no Keras to describe the models it sends (see :func:`make_model`)."""
    return json.dumps({"module": "keras", "class_name": "Sequential", "registered_name": None, "config": {
        "name": name, "layers": [layer_spec("InputLayer", batch_shape=[None, *input_shape], name="image")] + layers}})


def same(name: str) -> dict:
    """The object an earlier call of the same cell built (``call(..., name=...)``): ``same("adam.1")``
    is the second argument of the call named ``adam``."""
    return {"__same__": name}


def _arg(value):
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in (
            "__make_model__", "__make_optimizer__", "__make_application__", "__same__"):
        return value
    return A.encode(value)


def call(fn: str, *args, repeat: int = 0, name: str = "", gradient: bool = False, **kwargs) -> dict:
    """One call the kernel makes: ``fn(*args, **kwargs)`` (``repeat`` times when > 0). With
    ``gradient``, float-array arguments go in as TensorFlow tensors and the kernel also records
    the gradient of the sum of the result with respect to each (``Outcome.gradients``)."""
    spec = {"fn": fn, "args": [_arg(a) for a in args], "kwargs": {k: _arg(v) for k, v in kwargs.items()},
            "repeat": repeat, "name": name}
    if gradient:
        spec["gradient"] = True
    return spec


@dataclass
class Outcome:
    """What one call produced: the returned value (decoded), for Keras-model arguments their
    weights after the call (``after[i]`` for argument ``i``), and for a ``call(..., gradient=True)``
    the gradient of the sum of the value with respect to each float-array argument
    (``gradients[i]``, None where no gradient reached it)."""

    value: Any
    after: dict[int, list] = field(default_factory=dict)
    gradients: dict[int, Any] = field(default_factory=dict)


@dataclass
class Case:
    """One hidden check: ``name`` is what the student reads; ``check(outcome)`` raises
    AssertionError with an expected-vs-produced message when the answer is wrong."""

    name: str
    call: dict
    check: Callable[[Outcome], None]


# Ready-made checks; anything that raises AssertionError on a wrong outcome will do.
def close(expected, *, rtol: float = 1e-5, atol: float = 1e-6, name: str | None = None):
    def check(out: Outcome, label: str = ""):
        check_close(out.value, expected, name or label, rtol=rtol, atol=atol)
    return check


def equal(expected, *, name: str | None = None):
    def check(out: Outcome, label: str = ""):
        check_equal(out.value, expected, name or label)
    return check


def returns(*types: type, what: str = ""):
    """The value's type is one of ``types`` (exactly: a subclass of ndarray is not an ndarray)."""
    def check(out: Outcome, label: str = ""):
        if type(out.value) not in types:
            wanted = " or ".join(_type_name(t) for t in types)
            raise AssertionError(f"{label}: expected {what or 'a ' + wanted}, got {_describe(out.value)}")
    return check


def number(out: Outcome, label: str = "") -> None:
    """The value is a real number: a Python int or float or a NumPy scalar (not a bool)."""
    import numpy as np

    value = out.value
    if isinstance(value, bool) or not (type(value) in (float, int) or isinstance(value, (np.floating, np.integer))):
        raise AssertionError(f"{label}: expected a number (a Python or NumPy float), got {_describe(value)}")


def all_of(*checks):
    def check(out: Outcome, label: str = ""):
        for one in checks:
            _run(one, out, label)
    return check


def _type_name(t: type) -> str:
    return {"ndarray": "NumPy array", "float": "Python float", "int": "Python int"}.get(t.__name__, t.__name__)


def _describe(value) -> str:
    if isinstance(value, A.Opaque):
        return f"a {value.type_name} ({value.text[:80]})"
    if isinstance(value, A.TensorValue):
        return "a TensorFlow tensor"
    if isinstance(value, A.SubclassDict):
        return f"a {value.type_name} ({dict(value)!r:.80})"
    if isinstance(value, A.ModelConfig):
        return f"a Keras model ({value.class_name})"
    return f"a {type(value).__name__} ({value!r:.80})"


def _run(check, out: Outcome, label: str) -> None:
    """Checks take ``(outcome, label)``, or just ``(outcome)`` when they name things themselves."""
    try:
        takes_label = len(inspect.signature(check).parameters) >= 2
    except (TypeError, ValueError):
        takes_label = True
    if takes_label:
        check(out, label)
    else:
        check(out)


# ------------------------------------------------------------------ context given to judge modules
def canonical_config(config: str) -> str:
    """A model's JSON with its layer and model names replaced by their order of appearance: each
    call of a model-building function in a kernel names its layers anew (conv2d, conv2d_1, ...),
    and names do not change what the model worker measures, so calls that differ only in names
    can share one reply."""
    tree = json.loads(config)
    names: dict[str, str] = {}

    def collect(node):
        if isinstance(node, dict):
            inner = node.get("config")
            if isinstance(inner, dict) and isinstance(inner.get("layers"), list):
                if isinstance(inner.get("name"), str):
                    names.setdefault(inner["name"], f"name_{len(names)}")
                for layer in inner["layers"]:
                    if isinstance(layer, dict) and isinstance(layer.get("config"), dict):
                        if isinstance(layer["config"].get("name"), str):
                            names.setdefault(layer["config"]["name"], f"name_{len(names)}")
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    def rename(node):
        if isinstance(node, dict):
            return {key: rename(value) for key, value in node.items()}
        if isinstance(node, list):
            return [rename(value) for value in node]
        return names.get(node, node) if isinstance(node, str) else node

    collect(tree)
    return json.dumps(rename(tree), sort_keys=True)


MODEL_FIELDS = ("config", "encoder", "decoder")  # request fields that carry a model's JSON


class Context:
    """What a judge function may use: the grading budget and the model worker. One context
    judges one notebook, so its cache of the worker's replies never mixes two students."""

    def __init__(self, course: Path, aid: str):
        from ..modes import Budget, mode

        self.course = course
        self.aid = aid
        self.mode = mode()
        self.budget = Budget(f"grade-{self.mode}")
        self.replies: dict[str, dict] = {}

    @property
    def lab(self):
        from .modellab import shared_lab

        return shared_lab()

    def warm_up(self, op: str, **fields) -> None:
        """Start the model worker (its TensorFlow import, its data) while the kernel still runs the
        notebook: one request in a background thread, whose reply is not used."""
        def run():
            try:
                self.lab.request(op, **fields)
            except Exception:  # noqa: BLE001 - a warm-up only; the real requests report their own errors
                pass

        threading.Thread(target=run, daemon=True, name=f"{self.aid}-modellab-warm-up").start()

    def ask(self, label: str, op: str, **fields) -> dict:
        """The model worker's answer (``op``: "inspect", "fit", "localize" or "vae") about submitted
        architectures (the fields named in MODEL_FIELDS, e.g. ``config``), or an AssertionError
        naming ``label`` and saying why there is none. Requests that differ only in layer names
        share one reply."""
        try:
            key = json.dumps([op, {k: canonical_config(v) if k in MODEL_FIELDS else v for k, v in fields.items()}],
                             sort_keys=True)
        except (TypeError, ValueError, KeyError, AttributeError):
            key = None  # not JSON: the worker refuses it with its own message
        reply = self.replies.get(key) if key else None
        if reply is None:
            reply = self.lab.request(op, **fields)
            if key:
                self.replies[key] = reply
        if "refused" in reply:
            raise AssertionError(f"{label}: expected a model made of built-in Keras layers with keras.Sequential or "
                                 f"the Functional API (the grader rebuilds it from its JSON), got one it cannot "
                                 f"rebuild: {reply['refused']}")
        if "error" in reply:
            raise AssertionError(f"{label}: expected a model the grader can rebuild and run, got an error: {reply['error']}")
        return reply["ok"]


def load_judge(course: Path, aid: str, source_directory: str = "solutions"):
    """Import ``<course>/<source_directory>/<aid>/judge.py`` under a private module name."""
    path = course / source_directory / aid / "judge.py"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: every assignment needs a judge module for its hidden checks")
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    spec = importlib.util.spec_from_file_location(f"_dlcourse_judge_{aid}_{digest}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cases_for(judge, gid: str, ctx: Context) -> list[Case]:
    function = getattr(judge, gid, None)
    if function is None:
        raise LookupError(f"judge module {judge.__file__} has no function {gid}(ctx) for test cell {gid}")
    cases = list(function(ctx))
    if not all(isinstance(c, Case) for c in cases):
        raise TypeError(f"{gid}(ctx) must return Case objects")
    return cases


# ------------------------------------------------------------------ reading answers and verdicts
def answer_bundles(cell, gid: str) -> list:
    found = []
    for output in cell.get("outputs", []):
        data = output.get("data", {}) if output.get("output_type") in ("display_data", "execute_result") else {}
        if A.MIME in data:
            payload = data[A.MIME]
            if isinstance(payload, str):
                if len(payload) > MAX_BUNDLE_CHARS:
                    found.append(ValueError("the recorded answers are too large"))
                    continue
                payload = json.loads(payload)
            if isinstance(payload, dict) and payload.get("cell") == gid:
                found.append(payload)
    return found


def _kernel_error(cell) -> str:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return f"{output.get('ename', 'Error')}: {str(output.get('evalue', ''))[:500]}"
    return ""


def judge_cell(cell, gid: str, cases: list[Case]) -> tuple[list[str], list[str]]:
    """(passed check names, failure messages) for one executed test cell."""
    bundles = answer_bundles(cell, gid)
    if not bundles:
        why = _kernel_error(cell)
        return [], [f"{gid}: the grader found no answers in this cell"
                    + (f"; the cell stopped with {why}" if why else " (the cell did not run to the grader's line)")]
    if len(bundles) > 1 or isinstance(bundles[0], Exception):
        return [], [f"{gid}: expected one set of recorded answers, got {len(bundles)} (answers must come only "
                    "from the grader's own line of the test cell)"]
    answers = bundles[0].get("answers", [])
    if not isinstance(answers, list) or len(answers) != len(cases):
        return [], [f"{gid}: expected answers to {len(cases)} calls, got {len(answers) if isinstance(answers, list) else 'none'}"]
    passed, failed = [], []
    for case, record in zip(cases, answers):
        try:
            value = A.decode(record.get("value"))
            after = {int(k): [A.decode(w) for w in ws] for k, ws in (record.get("after") or {}).items()}
            gradients = {int(k): None if g is None else A.decode(g) for k, g in (record.get("gradients") or {}).items()}
        except Exception as error:  # noqa: BLE001 - malformed data is a failed answer
            failed.append(f"{case.name}: the recorded answer could not be read ({error})")
            continue
        if isinstance(value, A.RaisedError):
            failed.append(f"{case.name}: your code raised {value.text}")
            continue
        if isinstance(value, A.TooLarge):
            failed.append(f"{case.name}: expected a result of ordinary size, got a {value.type_name} of shape {value.shape}")
            continue
        try:
            _run(case.check, Outcome(value, after, gradients), case.name)
            passed.append(case.name)
        except AssertionError as error:
            failed.append(str(error) or f"{case.name}: wrong answer")
        except Exception as error:  # noqa: BLE001 - the answer broke the check: report, do not crash the batch
            failed.append(f"{case.name}: the answer could not be checked ({type(error).__name__}: {str(error)[:300]})")
    return passed, failed


def verdict_outputs(passed: list[str], failed: list[str]) -> list:
    from nbformat.v4 import new_output

    summary = f"grader: {len(passed)} of {len(passed) + len(failed)} checks passed"
    if not failed:
        return [new_output("stream", name="stdout", text=summary + "\n")]
    lines = [f"  FAILED {msg}" for msg in failed] + [f"  passed {name}" for name in passed]
    first = failed[0] if len(failed) == 1 else f"{failed[0]}\n(and {len(failed) - 1} more failed check(s), listed above)"
    return [new_output("stream", name="stdout", text=summary + "\n" + "\n".join(lines) + "\n"),
            new_output("error", ename="AssertionError", evalue=first, traceback=[f"AssertionError: {first}"])]


# ------------------------------------------------------------------ the nbgrader preprocessor
def _is_test(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution") and cell.get("cell_type") == "code"


try:
    from .nbgrading import ResilientExecute

    class JudgedExecute(ResilientExecute):
        """Write the hidden inputs, execute (a dead kernel costs only later cells), then judge
        every test cell in this process and put the verdict in its outputs."""

        def preprocess(self, nb, resources, km=None):
            from nbgrader.coursedir import CourseDirectory

            coursedir = CourseDirectory(config=self.config)
            course = Path(coursedir.root)
            aid = resources["nbgrader"]["assignment"]
            folder = Path(resources["metadata"]["path"])
            judge = load_judge(course, aid, coursedir.source_directory)
            ctx = Context(course, aid)
            tests = [(c, c.metadata["nbgrader"]["grade_id"]) for c in nb.cells if _is_test(c)]
            cases = {gid: cases_for(judge, gid, ctx) for _, gid in tests}
            grader_dir = folder / GRADER_DIR
            shutil.rmtree(grader_dir, ignore_errors=True)
            grader_dir.mkdir(parents=True)
            (grader_dir / A.INPUTS.name).write_text(json.dumps({gid: [c.call for c in cs] for gid, cs in cases.items()}))
            try:
                nb, resources = super().preprocess(nb, resources, km=km)
            finally:
                shutil.rmtree(grader_dir, ignore_errors=True)
            for cell, gid in tests:
                try:
                    passed, failed = judge_cell(cell, gid, cases[gid])
                except Exception:  # noqa: BLE001 - a bug here must cost one cell, not the batch
                    self.log.error("judging %s failed:\n%s", gid, traceback.format_exc())
                    passed, failed = [], [f"{gid}: the grader could not judge this cell (grader error; tell your instructor)"]
                cell.outputs = verdict_outputs(passed, failed)
                self.log.info("judged %s: %d passed, %d failed", gid, len(passed), len(failed))
            return nb, resources

except ImportError:  # pragma: no cover - nbgrader is part of the grading extra
    JudgedExecute = None  # type: ignore[assignment,misc]

