"""Adversarial submissions, built for any assignment from its source notebook.

Each attack goes after one answer cell X (the first one; the kernel killer after the last one,
so the cells before it show what survives). X's own answer is wrong or missing, so the only way
to get X's points is the attack. With trusted judging (the kernel only records answers; the
grader's process judges them) an attack must get exactly what a student who left X unanswered
gets (the ``control`` submission); the kernel killer keeps the test cells before it and gets 0
for the rest. The attacks are properties of the pipeline, not of an assignment: grader_tests run
them on representative assignments only (ATTACKED in batches.py).

They were written as a dishonest student would, against what runs in the kernel: the checks and
their module, numpy (directly, through an alias, through ``locals()``), print, Keras, the exit
routes, the cell timeout, output size, the disk (the instructor's clone, temp folders), the
answers channel itself (forged or duplicated answers, rewritten inputs), the running cell's
source, answer objects that lie about their value, and the submission folder (junk notebooks,
symlinks, a large file), besides editing, deleting and skip-tagging the locked test cell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dlcourse.grader import nbgrading as g

WRONG = "def {fn}(*args, **kwargs):\n    return None  # a wrong answer: the attack below must not make it pass\n"
STUB = "def {fn}(*args, **kwargs):\n    raise NotImplementedError()\n"

# attack name -> (why, answer-cell source template); {fn} is X's function, {aid} the assignment,
# {gid} X's answer cell and {test} X's test cell
IN_ANSWER = {
    "rebind_checks": (
        "rebinds the check helpers the tests call to no-ops",
        WRONG + "check_close = check_equal = check_shape = check_type = lambda *a, **k: None\n"
                "check_at_least = check_at_most = lambda *a, **k: None\n",
    ),
    "rebind_through_locals": (
        "rebinds every check_* name through locals() without naming it",
        WRONG + "for _name in [n for n in list(locals()) if n.startswith('check')]:\n"
                "    locals()[_name] = lambda *a, **k: None\n",
    ),
    "patch_check_module": (
        "patches functions inside dlcourse.checks",
        WRONG + "import dlcourse.checks\nfor _n in dir(dlcourse.checks):\n"
                "    if _n.startswith('check'):\n        setattr(dlcourse.checks, _n, lambda *a, **k: None)\n",
    ),
    "patch_numpy_through_alias": (
        "makes numpy's comparisons always succeed, through an alias",
        WRONG + "import numpy\n_n = numpy\n_n.isclose = lambda a, b, **k: _n.ones(_n.shape(b), bool)\n"
                "_t = _n.testing\n_t.assert_allclose = lambda *a, **k: None\n",
    ),
    "patch_print": (
        "replaces builtins.print (to hide or fake test output)",
        WRONG + "import builtins\nbuiltins.print = lambda *a, **k: None\n",
    ),
    "patch_keras": (
        "makes Keras report perfect accuracy, through an alias",
        WRONG + "import keras\n_M = keras.Model\n_M.evaluate = lambda self, *a, **k: [0.0, 1.0]\n"
                "keras.metrics.SparseCategoricalAccuracy.result = lambda self: 1.0\n",
    ),
    "sys_exit": (
        "calls sys.exit() at the end of the answer cell",
        WRONG + "import sys\nsys.exit(0)\n",
    ),
    "infinite_loop": (
        "never finishes (the per-cell timeout must stop it)",
        WRONG + "while True:\n    pass\n",
    ),
    "huge_output": (
        "prints 30 MB into the notebook",
        WRONG + "print('x' * 30_000_000)\n",
    ),
    "search_disk_for_solutions": (
        "searches the disk for the instructor's source notebook and judge (clones, home and temp folders) "
        "and runs the solution it finds",
        STUB + """import glob, json, os
print("sandboxed:", os.environ.get("DLCOURSE_SANDBOXED"))
_found = []
for _root in ("/", "/root", "/home", "/tmp", "/work", "/var/tmp", os.path.expanduser("~"), "../../.."):
    for _depth in range(0, 6):
        _pattern = os.path.join(_root, *(["*"] * _depth), "solutions", "{aid}", "{aid}.ipynb")
        _found += [p for p in glob.glob(_pattern) if p not in _found]
        _found += glob.glob(os.path.join(_root, *(["*"] * _depth), "solutions", "{aid}", "judge.py"))
print("found:", _found[:5] or "none")
print("gradebook visible:", os.path.exists("../../../gradebook.db"))
for _path in [p for p in _found if p.endswith(".ipynb")]:
    try:
        _cells = json.load(open(_path))["cells"]
        _code = [''.join(c["source"]) for c in _cells if c["metadata"].get("nbgrader", {{}}).get("grade_id") == "{gid}"][0]
        exec("\\n".join(l for l in _code.splitlines() if "### " not in l), globals())
        break
    except Exception as _error:
        print("could not use", _path, _error)
""",
    ),
    "stack_walking_answer": (
        "returns an object whose __array__/numpy()/__eq__ walk the call stack for an expected value",
        """import inspect
import numpy as np


class _Oracle:
    def _steal(self):
        for frame in inspect.stack():
            for key in ("expected", "want", "want_f", "desired"):
                if key in frame.frame.f_locals:
                    return np.asarray(frame.frame.f_locals[key])
        return np.zeros(1)

    def __array__(self, dtype=None, copy=None):
        return self._steal() if dtype is None else self._steal().astype(dtype)

    def numpy(self):
        return self._steal()

    def __eq__(self, other):
        return True

    def __getattr__(self, name):
        return getattr(self._steal(), name)


def {fn}(*args, **kwargs):
    return _Oracle()
""",
    ),
    "permissive_ndarray": (
        "returns an ndarray subclass whose comparisons and closeness checks always succeed",
        """import numpy as np


class _Yes(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(other), bool)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if ufunc in (np.isclose, np.equal, np.less_equal, np.greater_equal):
            return np.ones(np.broadcast_shapes(*[np.shape(i) for i in inputs]), bool)
        inputs = [np.asarray(i) for i in inputs]
        return getattr(ufunc, method)(*inputs, **kwargs)


def {fn}(*args, **kwargs):
    return np.zeros((1,)).view(_Yes)
""",
    ),
    "forged_answers": (
        "replaces the answers channel for the attacked test cell (other cells pass through) and also "
        "emits a forged answers bundle for it",
        WRONG + """import dlcourse.answers as _answers
from IPython.display import display as _display

_real_submit = _answers.submit_answers


def _forge(cell, **functions):
    if cell != "{test}":
        return _real_submit(cell, **functions)
    calls = _answers.grader_inputs(cell) or []
    fake = {{"cell": cell, "answers": [{{"value": _answers.encode(1.0)}} for _ in calls]}}
    _display({{_answers.MIME: fake}}, raw=True)


_answers.submit_answers = _forge
_forge("{test}")
""",
    ),
    "rewrite_grader_inputs": (
        "rewrites the grader's inputs for the attacked test cell so every call gets zeros, and answers zeros",
        """import json, os
import numpy as np
import dlcourse.answers as _answers

if os.path.exists(_answers.INPUTS):
    _all = json.load(open(_answers.INPUTS))
    for _calls in [_all.get("{test}", [])]:
        for _call in _calls:
            _call["args"] = [_answers.encode(np.zeros(2)) for _ in _call["args"]]
            _call["kwargs"] = {{}}
    json.dump(_all, open(_answers.INPUTS, "w"))


def {fn}(*args, **kwargs):
    return np.zeros(2)
""",
    ),
    "read_test_source": (
        "reads the running test cell's source from In[-1] and returns the first list literal it finds",
        """import ast
import numpy as np


def {fn}(*args, **kwargs):
    source = get_ipython().user_ns["In"][-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.List):
            try:
                return np.asarray(ast.literal_eval(node), dtype=float)
            except Exception:
                continue
    return None
""",
    ),
    "junk_in_submission_folder": (
        "writes an invalid notebook, a symlink to /etc/passwd and a 50 MB file into its own folder",
        WRONG + """import os
open("extra.ipynb", "w").write("{{ not json")
open("{aid} (2).ipynb", "w").write("[]")
try:
    os.symlink("/etc/passwd", "evil.ipynb")
except OSError as error:
    print(error)
with open("big.bin", "wb") as _big:
    _big.write(b"0" * 50_000_000)
""",
    ),
}


@dataclass
class Attack:
    case: g.Case
    kind: str  # "control-equal" (scores of the control) or "dies-at" (0 from the target cell on)
    target: str


def _function_name(source: str, gid: str) -> str:
    match = re.search(r"^def (\w+)\(", source, re.M)
    if not match:
        raise ValueError(f"answer cell {gid} defines no function to attack")
    return match.group(1)


def answer_cells(source_nb) -> list[tuple[str, str]]:
    """(grade_id, function name) of every answer cell, in notebook order."""
    return [(g.grade_id(c), _function_name(c.source, g.grade_id(c))) for c in source_nb.cells if g.is_solution(c)]


def first_attacked_test(source_nb) -> str:
    """The test cell of the first answer cell: the one the attacks go after."""
    return _first_test_after(source_nb, answer_cells(source_nb)[0][0])


def _first_test_after(source_nb, gid: str) -> str:
    ids = [g.grade_id(c) for c in source_nb.cells]
    return next(g.grade_id(c) for c in source_nb.cells[ids.index(gid):] if g.is_test(c))


def control(source_nb, aid: str) -> g.Case:
    gid, fn = answer_cells(source_nb)[0]
    return g.Case("control", "the first answer left unanswered", {gid: STUB.format(fn=fn)})


def attacks(source_nb, aid: str) -> list[Attack]:
    answers = answer_cells(source_nb)
    gid, fn = answers[0]
    test_id = _first_test_after(source_nb, gid)
    stub = {gid: STUB.format(fn=fn)}
    out = [
        Attack(g.Case(name, why, {gid: template.format(fn=fn, aid=aid, gid=gid, test=test_id)}), "control-equal", gid)
        for name, (why, template) in IN_ANSWER.items()
    ]
    out += [
        Attack(g.Case("edit_locked_test", "replaces the test cell's code with `pass`", stub,
                      edit={test_id: "pass"}), "control-equal", gid),
        Attack(g.Case("delete_locked_test", "deletes the test cell", stub, delete=[test_id]), "control-equal", gid),
        Attack(g.Case("skip_execution_tag", "tags the test cell skip-execution", stub,
                      tags={test_id: ["skip-execution"]}), "control-equal", gid),
        Attack(g.Case("fake_pass_message", "prints a fake 'all tests passed' after the tests", stub,
                      insert_after={test_id: "print('All tests passed! 100%')"}), "control-equal", gid),
    ]
    last_gid, last_fn = answers[-1]
    out.append(Attack(g.Case("kernel_killed", "kills the kernel (os._exit) in the last answer cell",
                             {last_gid: WRONG.format(fn=last_fn) + "import os\nos._exit(0)\n"}), "dies-at", last_gid))
    return out


def expected_when_dying(source_nb, target: str, points: dict[str, float]) -> dict[str, float]:
    """Full points for test cells before the target answer cell, 0 from there on."""
    ids = [g.grade_id(c) for c in source_nb.cells if g.grade_id(c)]
    cut = ids.index(target)
    return {gid: (points[gid] if ids.index(gid) < cut else 0.0) for gid in points}
