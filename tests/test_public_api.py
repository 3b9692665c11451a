import subprocess
import sys
import types

import hotpipe


def test_all_is_the_public_surface():
    public = {
        name
        for name in dir(hotpipe)
        if not name.startswith("_") and not isinstance(getattr(hotpipe, name), types.ModuleType)
    }
    assert public == set(hotpipe.__all__) - {"__version__"}
    assert callable(hotpipe.node) and hotpipe.node.__module__ == "hotpipe.node"


def test_import_is_cheap():
    # rich is imported lazily, only when a profile is printed
    heavy = ["rich", "asyncio", "sqlite3", "xxhash", "loky", "cloudpickle", "numpy"]
    code = f"import sys, hotpipe; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_quickstart_runs():
    out = subprocess.run(
        [sys.executable, "examples/quickstart.py"], capture_output=True, text=True, check=True
    )
    assert "sentence_stats: map of 8 items" in out.stdout
    assert "per_sentence" in out.stdout
