"""``@node(depends_on=[...])``: declared modules, files and directories are in the key
(issue 11): code reached by a computed name, which a fingerprint cannot follow."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hotpipe import DefinitionError, node
from hotpipe.cache.keys import fingerprint_function

ROOT = Path(__file__).resolve().parents[3]
SRC = str(ROOT / "src")

MAIN = """
import importlib
from hotpipe import node
import prims

@node(output="y", depends_on=[prims, "data"])
def apply(x, name="double"):
    return getattr(importlib.import_module("prims"), name)(x)

@node(output="y")
def undeclared(x, name="double"):
    return getattr(importlib.import_module("prims"), name)(x)
"""


def _project(tmp_path: Path) -> Path:
    (tmp_path / "prims").mkdir(parents=True)
    (tmp_path / "prims" / "__init__.py").write_text("from .ops import double\n")
    (tmp_path / "prims" / "ops.py").write_text("def double(x):\n    return 2 * x\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "table.csv").write_text("a,b\n1,2\n")
    (tmp_path / "main.py").write_text(MAIN)
    return tmp_path


def _keys(root: Path) -> tuple[str, str]:
    code = (f"import sys; sys.path[:0] = [{str(root)!r}, {SRC!r}]\n"
            "from hotpipe.cache.keys import fingerprint_function as f\nimport main\n"
            "print(f(main.apply.func).hex(), f(main.undeclared.func).hex())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd="/")
    declared, undeclared = out.stdout.split()
    return declared, undeclared


def test_editing_a_declared_module_or_data_file_changes_the_key(tmp_path):
    root = _project(tmp_path)
    before = _keys(root)
    (root / "prims" / "ops.py").write_text("def double(x):\n    return x + x + 0\n")
    edited = _keys(root)
    assert edited[0] != before[0]
    assert edited[1] == before[1]  # what a fingerprint alone would miss
    (root / "data" / "table.csv").write_text("a,b\n1,3\n")
    assert _keys(root)[0] != edited[0]


def test_comments_and_formatting_in_a_declared_module_keep_the_key(tmp_path):
    root = _project(tmp_path)
    before = _keys(root)[0]
    (root / "prims" / "ops.py").write_text('"""Doc."""\n# a comment\ndef double(x):  # twice\n'
                                           "    return 2*x\n")
    assert _keys(root)[0] == before


def test_the_same_tree_elsewhere_has_the_same_key(tmp_path):
    a = _project(tmp_path / "a")
    b = tmp_path / "b"
    shutil.copytree(a, b)
    assert _keys(a) == _keys(b)


def test_an_edit_in_this_process_is_seen_by_the_next_call(tmp_path):
    mod = tmp_path / "helpers_dep.txt"
    mod.write_text("1")

    def f(x):
        return x

    n = node(f, output="y", depends_on=[str(mod)])
    before = fingerprint_function(n.func)
    assert fingerprint_function(n.func) == before
    mod.write_text("22")
    assert fingerprint_function(n.func) != before
    assert n.depends_on == (str(mod),)


def test_bad_declarations_are_definition_errors(tmp_path):
    def f(x):
        return x

    with pytest.raises(DefinitionError, match="does not exist"):
        node(f, depends_on=["no/such/dir"])
    with pytest.raises(DefinitionError, match="neither a module nor a path"):
        node(f, depends_on=[42])
    with pytest.raises(DefinitionError, match="no source file"):
        node(f, depends_on=[sys])


def _edit_first_primitive(path: Path) -> None:
    """Insert a statement at the top of the first function's body."""
    text = path.read_text()
    func = next(n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef))
    first = func.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        first = func.body[1]  # after a docstring
    lines = text.splitlines(keepends=True)
    indent = " " * first.col_offset
    lines.insert(first.lineno - 1, f"{indent}_edited = 1\n")
    path.write_text("".join(lines))


def _arcsearch_keys(src: Path) -> list[str]:
    code = textwrap.dedent(f"""
        import sys; sys.path[:0] = [{str(src)!r}, {SRC!r}]
        import arcsearch.pipeline as p
        assert p.__file__.startswith({str(src)!r}), p.__file__
        from hotpipe.cache.run import node_fingerprint
        print(" ".join(node_fingerprint(n).hex() for n in p.solve.nodes))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd="/")
    return out.stdout.split()


def test_editing_an_arcsearch_primitive_changes_the_keys(tmp_path):
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "arcsearch", copy / "arcsearch",
                    ignore=shutil.ignore_patterns("__pycache__"))
    before = _arcsearch_keys(copy)
    _edit_first_primitive(copy / "arcsearch" / "dsl" / "colour.py")
    after = _arcsearch_keys(copy)
    changed = [b != a for b, a in zip(before, after, strict=True)]
    assert changed.count(True) == 4  # generate, execute, validate, score (not submission)
