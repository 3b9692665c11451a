"""Run by test_daft_ray.py in its own process (Daft fixes its runner once per process):
README's tour on Ray, as the README writes it. Its first ``python`` block defines ``pipe``;
the ``py`` block marked for this test maps it on ``hotpipe.Daft(runner="ray")`` and asserts
Local's values."""

import re
from pathlib import Path

import daft

README = Path(__file__).resolve().parents[3] / "README.md"
MARKER = "# run by tests/hotpipe/engines/test_daft_ray.py, after the tour's first block\n"


def blocks(text):
    """The tour's first block (it defines ``pipe``) and the Ray block, verbatim."""
    first = re.search(r"^```python\n(.*?)^```", text, re.S | re.M).group(1)
    ray_block = re.search(r"^```py\n(" + re.escape(MARKER) + r".*?)^```", text,
                          re.S | re.M).group(1)
    return first, ray_block


def main():
    first, ray_block = blocks(README.read_text())
    namespace = {"__name__": "docs_README"}
    exec(compile(first, "README.md[tour, block 0]", "exec"), namespace)
    exec(compile(ray_block, "README.md[tour, on Ray]", "exec"), namespace)
    on_ray = namespace["on_ray"]
    assert on_ray.profile.engine == "daft", on_ray.profile.engine
    print(f"TOUR runner {daft.get_or_infer_runner_type()} items {len(on_ray['s'])}")


if __name__ == "__main__":
    main()
