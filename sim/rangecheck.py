"""Range checker for the per-sample path: every arithmetic result must be a 31-bit small int.

MicroPython on 32-bit ports (RP2040) keeps ints in [-2**30, 2**30 - 1] as small ints; beyond
that they become heap-allocated big ints, which breaks the per-sample no-allocation rule. The
unix port is 64-bit, so such a bug is invisible there. This module loads firmware modules from
source under CPython with an `ast.NodeTransformer` that, inside every function decorated with
`@micropython.native` (or `.viper`), wraps

- every BinOp and arithmetic UnaryOp (-x, +x, ~x) in `_rc(value, site)`;
- every augmented assignment `t op= v` as `t = _rc(t op v, site)` (t a name, an attribute
  or a subscript; the target expression must be free of calls, since it is evaluated twice).

`_rc` returns the value if it is an int within range; otherwise it raises `RangeViolation`
(or, with `Checker(collect=True)`, records the violation and carries on) with the file, line,
function and - through `Checker.context` - the input being processed. It counts checks and the
largest magnitude per function.

    checker = Checker()
    with install(checker, ROOT):          # shared.* and device.* replaced in sys.modules
        from device.app import App        # ... now the checked code
    # sys.modules restored here
"""

from __future__ import annotations

import ast
import copy
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

LO = -(1 << 30)
HI = (1 << 30) - 1
RC_NAME = "_rc"
NATIVE_DECORATORS = ("native", "viper")

# Dependency order: each module is registered before the ones that import it.
MODULES = (
    "shared.fixedpoint",
    "shared.mount",
    "shared.config",
    "shared.calib",
    "shared.cue",
    "shared.estimator",
    "shared.steps",
    "shared.slstest",
    "shared.exercise",
    "shared.fromconfig",  # after the classes it builds, so it builds the instrumented ones
    "sim.board",
    "device.app",
)


class RangeViolation(AssertionError):
    """An arithmetic result on the per-sample path is not a small int of a 32-bit port."""


class Checker:
    """Counters and the `_rc` check function shared by all instrumented modules.

    Every wrapped expression is a site (function, line, column, source text); counts and the
    largest magnitude are kept per site and summed per function for the report.
    """

    def __init__(self, collect: bool = False) -> None:
        self.collect = collect
        self.names: list[str] = []  # per function id: module.qualname
        self.files: list[str] = []
        self.site_fid: list[int] = []  # per site id
        self.site_where: list[tuple[int, int, str]] = []  # line, column, source text
        self.counts: list[int] = []  # per site
        self.peak: list[int] = []  # per site
        self.violations: dict[int, dict] = {}  # site -> first occurrence + count
        # Called on a violation to describe the current input (e.g. trace and sample index).
        self.context: Callable[[], str] | None = None
        self.rc = self._make_rc()

    def register(self, name: str, filename: str) -> int:
        self.names.append(name)
        self.files.append(filename)
        return len(self.names) - 1

    def site(self, fid: int, line: int, col: int, text: str) -> int:
        self.site_fid.append(fid)
        self.site_where.append((line, col, text))
        self.counts.append(0)
        self.peak.append(0)
        return len(self.site_fid) - 1

    @property
    def total(self) -> int:
        return sum(self.counts)

    def describe(self, sid: int) -> str:
        fid = self.site_fid[sid]
        line, col, text = self.site_where[sid]
        if len(text) > 90:
            text = text[:87] + "..."
        return f"{self.files[fid]}:{line}:{col + 1} in {self.names[fid]}: `{text}`"

    def stats(self) -> dict[str, tuple[int, int, int]]:
        """function name -> (checks, largest |value|, site of the largest); functions of the
        same name (e.g. from several loads) are summed."""
        out: dict[str, tuple[int, int, int]] = {}
        for name in self.names:
            out.setdefault(name, (0, -1, -1))
        for sid, fid in enumerate(self.site_fid):
            name = self.names[fid]
            c, p, best = out[name]
            if self.peak[sid] > p:
                p, best = self.peak[sid], sid
            out[name] = (c + self.counts[sid], p, best)
        return out

    def report(self) -> str:
        lines = [f"{'function':44s} {'checks':>10s} {'max |v|':>11s} {'/2**30':>7s}  at"]
        for name, (c, p, sid) in sorted(self.stats().items()):
            where = ""
            if sid >= 0:
                line, _col, text = self.site_where[sid]
                where = f"line {line}: {text[:60]}"
            lines.append(f"{name:44s} {c:10d} {max(p, 0):11d} {max(p, 0) / 2**30:7.4f}  {where}")
        lines.append(f"{'total':44s} {self.total:10d}")
        return "\n".join(lines)

    def violation_report(self) -> str:
        return "\n".join(
            f"{v['message']} (seen {v['count']} times)" for v in self.violations.values()
        )

    def _violation(self, value: object, sid: int, problem: str) -> object:
        ctx = ""
        if self.context is not None:
            try:
                ctx = "; input: " + self.context()
            except Exception as e:  # the context must never hide the violation
                ctx = f"; input: <context failed: {e!r}>"
        message = f"{self.describe(sid)} = {value!r} {problem}{ctx}"
        if not self.collect:
            raise RangeViolation(message)
        rec = self.violations.get(sid)
        if rec is None:
            self.violations[sid] = {"message": message, "count": 1, "value": value}
        else:
            rec["count"] += 1
        return value

    def _make_rc(self) -> Callable[[object, int], object]:
        counts = self.counts
        peak = self.peak
        violation = self._violation

        def _rc(v, sid):
            counts[sid] += 1
            if type(v) is int:
                if LO <= v <= HI:
                    a = v if v >= 0 else -v
                    if a > peak[sid]:
                        peak[sid] = a
                    return v
                return violation(v, sid, "is outside [-2**30, 2**30 - 1]")
            return violation(v, sid, f"is not an int ({type(v).__name__})")

        return _rc


def _is_native(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for d in fn.decorator_list:
        if (
            isinstance(d, ast.Attribute)
            and d.attr in NATIVE_DECORATORS
            and isinstance(d.value, ast.Name)
            and d.value.id == "micropython"
        ):
            return True
    return False


_ARITH_UNARY = (ast.USub, ast.UAdd, ast.Invert)


class Instrument(ast.NodeTransformer):
    """Wrap arithmetic inside native functions in `_rc(value, site)`."""

    def __init__(self, checker: Checker, modname: str, filename: str, source: str) -> None:
        self.checker = checker
        self.source = source
        self.modname = modname
        self.filename = filename
        self.scope: list[str] = []
        self.fid: int | None = None
        self.instrumented: list[str] = []

    # scopes
    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()
        return node

    def _visit_function(self, node):
        self.scope.append(node.name)
        outer = self.fid
        if _is_native(node):
            name = self.modname + "." + ".".join(self.scope)
            self.fid = self.checker.register(name, self.filename)
            self.instrumented.append(name)
        # decorators and defaults are evaluated at definition time, outside the function
        node.body = [self.visit(s) for s in node.body]
        node.body = [s for s in node.body if s is not None]
        self.fid = outer
        self.scope.pop()
        return node

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        outer = self.fid
        self.fid = None  # a lambda would allocate anyway; not part of the native body
        self.generic_visit(node)
        self.fid = outer
        return node

    # arithmetic
    def _wrap(self, value: ast.expr, where: ast.AST) -> ast.expr:
        assert self.fid is not None
        text = ast.get_source_segment(self.source, where) or ast.unparse(where)
        sid = self.checker.site(self.fid, where.lineno, where.col_offset, " ".join(text.split()))
        call = ast.Call(
            func=ast.Name(id=RC_NAME, ctx=ast.Load()),
            args=[value, ast.Constant(sid)],
            keywords=[],
        )
        return ast.copy_location(call, value)

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if self.fid is None:
            return node
        return self._wrap(node, node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if self.fid is None or not isinstance(node.op, _ARITH_UNARY):
            return node
        return self._wrap(node, node)

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.generic_visit(node)
        if self.fid is None:
            return node
        target = node.target
        if not isinstance(target, (ast.Name, ast.Attribute, ast.Subscript)):
            raise SyntaxError(f"{self.filename}:{node.lineno}: unsupported augmented target")
        load = copy.deepcopy(target)
        load.ctx = ast.Load()
        for sub in ast.walk(load):
            if isinstance(sub, ast.Call) and not (
                isinstance(sub.func, ast.Name) and sub.func.id == RC_NAME
            ):
                raise SyntaxError(
                    f"{self.filename}:{node.lineno}: augmented target with a call "
                    "(would be evaluated twice)"
                )
        value = ast.copy_location(ast.BinOp(left=load, op=node.op, right=node.value), node)
        new = ast.Assign(targets=[target], value=self._wrap(value, node))
        return ast.copy_location(new, node)


def build_module(
    checker: Checker, name: str, source: str, filename: str
) -> tuple[types.ModuleType, types.CodeType, list[str]]:
    """Instrument `source`; returns the (not yet executed) module, its code and the names of
    the instrumented functions."""
    tree = ast.parse(source, filename=filename)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == RC_NAME:
            raise SyntaxError(f"{filename}: already uses the name {RC_NAME}")
    inst = Instrument(checker, name, filename, source)
    tree = inst.visit(tree)
    ast.fix_missing_locations(tree)
    code = compile(tree, filename, "exec")
    mod = types.ModuleType(name)
    mod.__file__ = filename
    mod.__package__ = name.rpartition(".")[0]
    setattr(mod, RC_NAME, checker.rc)
    return mod, code, inst.instrumented


def load_source(checker: Checker, name: str, source: str) -> types.ModuleType:
    """Instrument and execute a snippet as a module (not registered in sys.modules)."""
    mod, code, _ = build_module(checker, name, source, f"<{name}>")
    exec(code, mod.__dict__)
    return mod


@contextmanager
def install(
    checker: Checker, root: str | Path, names: Sequence[str] = MODULES
) -> Iterator[dict[str, types.ModuleType]]:
    """Load instrumented modules from `root` into sys.modules (in `names` order) for the
    duration of the block; the previous modules (and package attributes) are restored after."""
    root = Path(root)
    saved: dict[str, types.ModuleType | None] = {n: sys.modules.get(n) for n in names}
    parents: dict[str, tuple[types.ModuleType, bool, object]] = {}
    loaded: dict[str, types.ModuleType] = {}
    try:
        for name in names:
            path = root / (name.replace(".", "/") + ".py")
            mod, code, instrumented = build_module(
                checker, name, path.read_text(encoding="utf-8"), str(path)
            )
            mod.__dict__["__instrumented__"] = instrumented
            sys.modules[name] = mod
            pkg_name, _, leaf = name.rpartition(".")
            pkg = sys.modules.get(pkg_name) or __import__(pkg_name)
            if name not in parents:
                parents[name] = (pkg, hasattr(pkg, leaf), getattr(pkg, leaf, None))
            setattr(pkg, leaf, mod)
            exec(code, mod.__dict__)
            loaded[name] = mod
        yield loaded
    finally:
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old
        for name, (pkg, had, old_attr) in parents.items():
            leaf = name.rpartition(".")[2]
            if had:
                setattr(pkg, leaf, old_attr)
            elif hasattr(pkg, leaf):
                delattr(pkg, leaf)
