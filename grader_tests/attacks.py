"""Adversarial submissions, built for any assignment from its source notebook.

Each attack goes after one answer cell X (the first one; the kernel-killing attack after the
last one, so the cells before it show what survives). X's own answer is wrong or missing, so
the only way to get X's points is the attack. With the course's defences an attack must get
exactly what a student who left X unanswered gets (the ``control`` submission); the kernel
killer must keep the points of the test cells before it and get 0 for the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dlcourse.grader import nbgrading as g

WRONG = "def {fn}(*args, **kwargs):\n    return None  # a wrong answer: the attack below must not make it pass\n"
STUB = "def {fn}(*args, **kwargs):\n    raise NotImplementedError()\n"

# attack name -> (why, answer-cell source template); {fn} is X's function, {aid} the assignment
IN_ANSWER = {
    "rebind_checks": (
        "rebinds the check helpers the tests call to no-ops",
        WRONG + "check_close = check_equal = check_shape = check_type = lambda *a, **k: None\n"
                "check_at_least = check_at_most = lambda *a, **k: None\n",
    ),
    "patch_check_module": (
        "patches functions inside dlcourse.checks",
        WRONG + "import dlcourse.checks\ndlcourse.checks.check_close = lambda *a, **k: None\n"
                "dlcourse.checks.check_equal = lambda *a, **k: None\n",
    ),
    "patch_numpy": (
        "makes numpy's comparisons (used by check_close and numpy.testing) always succeed",
        WRONG + "import numpy\nnumpy.isclose = lambda a, b, **k: numpy.ones(numpy.shape(b), bool)\n"
                "numpy.testing.assert_allclose = lambda *a, **k: None\n",
    ),
    "patch_print": (
        "replaces builtins.print (to hide or fake test output)",
        WRONG + "import builtins\nbuiltins.print = lambda *a, **k: None\n",
    ),
    "patch_keras_metrics": (
        "makes Keras report perfect accuracy",
        WRONG + "import keras\nkeras.Model.evaluate = lambda self, *a, **k: [0.0, 1.0]\n"
                "keras.metrics.SparseCategoricalAccuracy.result = lambda self: 1.0\n",
    ),
    "sys_exit": (
        "calls sys.exit() at the end of the answer cell",
        WRONG + "import sys\nsys.exit(0)\n",
    ),
    "os_exit": (
        "calls os._exit() in the answer cell",
        WRONG + "import os\nos._exit(0)\n",
    ),
    "infinite_loop": (
        "never finishes (the per-cell timeout must stop it)",
        WRONG + "while True:\n    pass\n",
    ),
    "huge_output": (
        "prints 30 MB into the notebook",
        WRONG + "print('x' * 30_000_000)\n",
    ),
    "read_solutions": (
        "reads the instructor's source notebook from disk during grading and imports its answer",
        STUB + """import json, os
import dlcourse.grader.nbgrading as _nbg
print("sandboxed:", os.environ.get("DLCOURSE_SANDBOXED"))
for _root in ("../../..", str(_nbg.course_root())):
    _path = os.path.join(_root, "solutions", "{aid}", "{aid}.ipynb")
    print(_path, "exists:", os.path.exists(_path))
    if os.path.exists(_path):
        _cells = json.load(open(_path))["cells"]
        _code = [''.join(c["source"]) for c in _cells if c["metadata"].get("nbgrader", {{}}).get("grade_id") == "{gid}"][0]
        with open("_stolen.py", "w") as _out:
            _out.write("from __main__ import *\\n" + _nbg.answer_of(_code))
        import _stolen
        {fn} = _stolen.{fn}
        break
print("gradebook bytes:", len(open("../../../gradebook.db", "rb").read()))
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


def control(source_nb, aid: str) -> g.Case:
    gid, fn = answer_cells(source_nb)[0]
    return g.Case("control", "the first answer left unanswered", {gid: STUB.format(fn=fn)})


def attacks(source_nb, aid: str) -> list[Attack]:
    answers = answer_cells(source_nb)
    gid, fn = answers[0]
    test_id = next(g.grade_id(c) for c in source_nb.cells if g.is_test(c))
    stub = {gid: STUB.format(fn=fn)}
    out = [
        Attack(g.Case(name, why, {gid: template.format(fn=fn, aid=aid, gid=gid)}), "control-equal", gid)
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
    killer = ("import operator, os\n"  # not in the guard's list: the kernel really dies here
              "operator.attrgetter('_exit')(os)(0)\n")
    out.append(Attack(g.Case("kernel_killed", "kills the kernel in the last answer cell (a route the static guard "
                             "does not know)", {last_gid: WRONG.format(fn=last_fn) + killer}), "dies-at", last_gid))
    return out


def expected_when_dying(source_nb, target: str, points: dict[str, float]) -> dict[str, float]:
    """Full points for test cells before the target answer cell, 0 from there on."""
    ids = [g.grade_id(c) for c in source_nb.cells if g.grade_id(c)]
    cut = ids.index(target)
    return {gid: (points[gid] if ids.index(gid) < cut else 0.0) for gid in points}
