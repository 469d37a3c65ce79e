"""The shape of the package: lines per module, the longest functions, private names that cross modules.

Run with ``python benchmarks/package_shape.py`` (``make bench`` runs it too).  Issue 17 measured
the package with it before and after its refactor; the README's "Package shape" table quotes it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "te_course"


#: The names of the package's modules and subpackages (``_network``, ``_common``, ``security``, ...).
SUBMODULES = {p.stem for p in PACKAGE.rglob("*.py")} | {p.name for p in PACKAGE.rglob("*") if p.is_dir()}


def _path(name: str) -> Path:
    """The file of a module given by its dotted name."""
    base = PACKAGE.joinpath(*name.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def modules() -> dict[str, ast.Module]:
    """Every module of the package by dotted name (``auction``, ``security.contingencies``, ...)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"] or ["__init__"]
        out[".".join(parts)] = ast.parse(path.read_text(), filename=str(path))
    return out


def _defined_private(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def private_crossings() -> list[str]:
    """Each use, in one module, of a private name (``_x``) that only another module defines.

    Counted: ``from .mod import _x`` and attribute access ``obj._x`` (``feeder._replace(...)``,
    ``coordination._clearing_price``).  A private name that the module defines itself is its own.
    """
    trees = modules()
    own = {name: _defined_private(tree) for name, tree in trees.items()}
    everywhere = set().union(*own.values())
    found = []
    for name, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("te_course")):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__") \
                            and alias.name not in SUBMODULES:  # importing a private module is how one uses it
                        where = f"{'.' * node.level}{node.module or ''}"
                        found.append(f"{name}:{node.lineno}: from {where} import {alias.name}")
            elif isinstance(node, ast.Attribute) and not isinstance(node.ctx, ast.Store):
                attr = node.attr
                if attr.startswith("_") and not attr.startswith("__") and attr in everywhere and attr not in own[name]:
                    found.append(f"{name}:{node.lineno}: .{attr}")
    return found


def functions() -> list[tuple[int, int, str]]:
    """(lines, lines of code, module.function) for every function and method, longest first.

    Lines of code leave out the docstring (numpydoc docstrings with examples are long on purpose).
    """
    out = []
    for name, tree in modules().items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                total = node.end_lineno - node.lineno + 1
                doc = node.body[0]
                docstring = isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant) \
                    and isinstance(doc.value.value, str)
                code = total - (doc.end_lineno - doc.lineno + 1 if docstring else 0)
                out.append((total, code, f"{name}.{node.name}"))
    return sorted(out, reverse=True)


def main() -> int:
    lines = {name: len(_path(name).read_text().splitlines()) for name in modules()}
    print(f"{len(lines)} modules, {sum(lines.values())} lines")
    for name, n in sorted(lines.items(), key=lambda kv: -kv[1])[:12]:
        print(f"  {n:6d}  {name}")
    funcs = functions()
    print(f"functions over 80 lines: {sum(1 for n, _, _ in funcs if n > 80)} "
          f"({sum(1 for _, c, _ in funcs if c > 80)} over 80 lines without their docstring); the longest:")
    for n, code, name in funcs[:10]:
        print(f"  {n:6d}  {name} ({code} without the docstring)")
    print("the longest without their docstrings:")
    for code, _, name in sorted(((c, n, f) for n, c, f in funcs), reverse=True)[:5]:
        print(f"  {code:6d}  {name}")
    crossings = private_crossings()
    print(f"private names used across modules: {len(crossings)}")
    for line in crossings:
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
