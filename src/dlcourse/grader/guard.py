"""Look at a student's code before nbgrader runs it, and refuse code that attacks the grader.

nbgrader runs a submission's cells and its test cells in one Python kernel, so a student cell
can change what the tests see: rebind ``dlcourse.checks.check_close`` or
``numpy.testing.assert_allclose`` to a no-op, replace ``builtins.print`` or a Keras metric,
leave the kernel with ``sys.exit()`` / ``os._exit()``. No in-kernel defence survives code that
runs first, so the grader reads each student-editable cell (answer cells and cells the student
added) before execution. A cell that does one of the things below is not run: its source is
replaced by a ``raise`` that names the line and the reason, with the original code kept below as
comments, so the feedback shows the student exactly what was refused. Tests that need that cell
then fail, and every other cell is graded as usual.

Refused:
- assigning to or deleting an attribute or item of anything imported (``np.testing.x = ...``,
  ``keras.Model.evaluate = ...``, ``os.environ[...] = ...``), except matplotlib's rcParams;
- ``setattr``/``delattr``/``getattr``/``vars`` on something imported, ``exec``, ``eval``,
  ``compile``, ``__import__``, ``globals()``, ``breakpoint()``, ``exit()``, ``quit()``;
- importing ``builtins``, ``importlib``, ``ctypes``, ``gc``, ``inspect``, ``nbgrader``,
  ``pytest`` or ``unittest.mock``, or ``from X import *`` (hides which names are rebound);
- ``sys.exit``, ``sys.modules``, ``sys.settrace``/``setprofile``, ``os._exit``, ``os.kill``,
  ``os.abort``, ``os.system``, ``subprocess``, ``signal``; dunder access such as ``__code__``,
  ``__globals__``, ``__dict__``, ``__builtins__``, ``__subclasses__``.

Code that cannot be parsed is left alone: it fails with its own SyntaxError when run.
Reading files of the course is stopped by the grading sandbox (``dlcourse.grader.sandbox``), not here.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

REFUSED_CALLS = {"exec", "eval", "compile", "__import__", "globals", "breakpoint", "exit", "quit"}
REFLECTIVE_CALLS = {"setattr", "delattr", "getattr", "vars"}
REFUSED_MODULES = {"builtins", "importlib", "ctypes", "gc", "inspect", "nbgrader", "pytest", "unittest.mock",
                   "subprocess", "signal", "multiprocessing", "threading", "_thread"}
REFUSED_ATTRS = {
    ("sys", "exit"), ("sys", "modules"), ("sys", "settrace"), ("sys", "setprofile"), ("sys", "_getframe"),
    ("os", "_exit"), ("os", "kill"), ("os", "abort"), ("os", "system"), ("os", "fork"), ("os", "killpg"),
    ("os", "execv"), ("os", "execl"), ("os", "popen"),
}
REFUSED_DUNDERS = {
    "__code__", "__globals__", "__dict__", "__builtins__", "__subclasses__", "__closure__", "__defaults__",
    "__kwdefaults__", "__setattr__", "__delattr__", "__getattribute__", "__import__", "__loader__", "__spec__",
}
BENIGN_TARGETS = {"rcParams"}  # plt.rcParams["figure.figsize"] = ... is style, not tampering
MARK = "# dlcourse grader: this cell was not run"


@dataclass(frozen=True)
class Finding:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


def imported_names(sources: list[str]) -> dict[str, str]:
    """Names bound by import statements in any of the cells -> the module they come from."""
    names: dict[str, str] = {}
    for source in sources:
        tree = _parse(source)
        for node in ast.walk(tree) if tree else ():
            if isinstance(node, ast.Import):
                for alias in node.names:
                    names[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _parse(source: str) -> ast.Module | None:
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]  # IPython magics
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def _root(node: ast.AST) -> ast.Name | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node if isinstance(node, ast.Name) else None


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Subscript):
        return f"{_dotted(node.value)}[...]"
    return node.id if isinstance(node, ast.Name) else "..."


def _chain(node: ast.AST) -> set[str]:
    names = set()
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        if isinstance(node, ast.Attribute):
            names.add(node.attr)
        node = node.value
    return names


class _Visitor(ast.NodeVisitor):
    def __init__(self, imported: dict[str, str]):
        self.imported = imported
        self.findings: list[Finding] = []
        self.local: set[str] = set()  # functions and classes the cell defines shadow built-in calls

    def _flag(self, node: ast.AST, reason: str) -> None:
        self.findings.append(Finding(getattr(node, "lineno", 0), reason))

    def _is_imported(self, node: ast.AST) -> bool:
        root = _root(node)
        return root is not None and root.id in self.imported and root.id not in self.local

    def _module_of(self, node: ast.AST) -> str:
        root = _root(node)
        return self.imported.get(root.id, root.id) if root else ""

    def _check_target(self, target: ast.AST, verb: str) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._check_target(element, verb)
        elif isinstance(target, ast.Starred):
            self._check_target(target.value, verb)
        elif isinstance(target, (ast.Attribute, ast.Subscript)):
            if self._is_imported(target) and not (_chain(target) & BENIGN_TARGETS):
                self._flag(target, f"{verb} `{_dotted(target)}`, which changes a library the tests rely on")

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._check_target(target, "assigns to")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._check_target(node.target, "assigns to")
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._check_target(node.target, "assigns to")
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._check_target(target, "deletes")
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name in REFUSED_MODULES or alias.name.split(".")[0] in REFUSED_MODULES:
                self._flag(node, f"imports `{alias.name}`, which can change how the tests run")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if module in REFUSED_MODULES or module.split(".")[0] in REFUSED_MODULES:
            self._flag(node, f"imports from `{module}`, which can change how the tests run")
        for alias in node.names:
            if alias.name == "*":
                self._flag(node, f"`from {module} import *` hides which names it rebinds")
            elif f"{module}.{alias.name}" in REFUSED_MODULES or (module.split(".")[0], alias.name) in REFUSED_ATTRS:
                self._flag(node, f"imports `{module}.{alias.name}`")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in REFUSED_DUNDERS:
            self._flag(node, f"uses `{node.attr}`, which reaches into the interpreter")
        base = self._module_of(node.value).split(".")[0] if isinstance(node.value, ast.Name) else ""
        if (base, node.attr) in REFUSED_ATTRS:
            self._flag(node, f"uses `{_dotted(node)}`, which stops the kernel or changes the interpreter")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in REFUSED_DUNDERS:
            self._flag(node, f"uses `{node.id}`, which reaches into the interpreter")

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id not in self.local:
            if func.id in REFUSED_CALLS:
                self._flag(node, f"calls `{func.id}()`, which the grader does not run")
            elif func.id in REFLECTIVE_CALLS and node.args and self._is_imported(node.args[0]):
                self._flag(node, f"calls `{func.id}()` on `{_dotted(node.args[0])}`, which can change a library")
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.local.add(node.name)
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.local.add(node.name)
        self.generic_visit(node)


def protected_names(sources: list[str]) -> dict[str, str]:
    """Names the locked cells provide to the tests: imports (-> module), functions, classes,
    UPPER_CASE constants and ``check*`` helpers (-> ""). A student cell that rebinds one of them
    (``def check_close(*a): pass``, ``CNN_MIN_ACCURACY = 0``) changes what the tests run."""
    names = imported_names(sources)
    for source in sources:
        for node in (_parse(source) or ast.Module(body=[], type_ignores=[])).body:
            for name in _bound_names(node):
                if name.isupper() or name.startswith("check") or isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    names.setdefault(name, "")
    return names


def _bound_names(node: ast.stmt) -> list[str]:
    """Names a top-level statement binds (imports excluded: they are checked by module)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    targets: list[ast.AST] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor)):
        targets = [node.target]
    elif isinstance(node, (ast.With, ast.AsyncWith)):
        targets = [item.optional_vars for item in node.items if item.optional_vars is not None]
    names = []
    for target in targets:
        names += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
    return names


def _rebinds(tree: ast.Module, protected: dict[str, str]) -> list[Finding]:
    findings = []
    for node in tree.body:
        for name in _bound_names(node):
            if name in protected:
                findings.append(Finding(node.lineno, f"redefines `{name}`, which the tests use"))
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for name, module in imported_names([ast.unparse(node)]).items():
                if name in protected and protected[name] != module:
                    findings.append(Finding(node.lineno, f"rebinds `{name}` (the tests use it as `{protected[name] or name}`)"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            for name in set(node.names) & set(protected):
                findings.append(Finding(node.lineno, f"declares `global {name}`, which the tests use"))
    return findings


def inspect_source(source: str, imported: dict[str, str], protected: dict[str, str] | None = None) -> list[Finding]:
    """Every refused construct in one cell's code (empty: the cell may run)."""
    tree = _parse(source)
    if tree is None:
        return []
    visitor = _Visitor({**imported, **imported_names([source])})  # the cell's own imports count too
    visitor.visit(tree)
    visitor.findings += _rebinds(tree, protected or {})
    unique = {(f.line, f.reason): f for f in visitor.findings}
    return sorted(unique.values(), key=lambda f: f.line)


def neutralized(source: str, findings: list[Finding]) -> str:
    """The replacement for a refused cell: a raise that says why, then the original as comments."""
    reasons = "; ".join(str(f) for f in findings)
    message = (f"the grader did not run this cell: {reasons}. Answers may not change libraries or the "
               "interpreter, leave the kernel or run generated code; remove that and resubmit.")
    commented = "\n".join(f"# {line}" for line in source.splitlines())
    return f"{MARK} (see the error below); your code follows as comments.\nraise RuntimeError({message!r})\n{commented}\n"


def is_student_editable(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and (meta.get("solution") or not meta.get("locked"))


def guard_notebook(nb) -> dict[int, list[Finding]]:
    """Neutralize refused student cells in place; return {cell index: findings}."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    imported = imported_names([c.source for c in code])
    protected = protected_names([c.source for c in code if not is_student_editable(c)])
    refused = {}
    for index, cell in enumerate(nb.cells):
        if not is_student_editable(cell) or cell.source.startswith(MARK):
            continue
        findings = inspect_source(cell.source, imported, protected)
        if findings:
            cell.source = neutralized(cell.source, findings)
            refused[index] = findings
    return refused
