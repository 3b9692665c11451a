"""hypernodes' DaftEngine against hand-written Daft, in the peer's own venv.

hypernodes 0.4.8's DaftEngine imports private Daft symbols that Daft 0.7 removed, so it cannot
run beside hotpipe (Daft 0.7). This script runs in a separate venv that pins the Daft release
it imports with (``benchmarks/requirements-peers-daft.txt``: hypernodes 0.4.8, daft 0.6.14)
and measures it against the hand-written floor on THAT Daft (``_daft_floor``: the same floors
as ``benchmarks/daft.py``), so its ratio can be set beside hotpipe's ratio to its own floor.
Questions (a) and (d) of benchmarks/daft.py: the 3-node chain ``str((x + 1) * 2)`` over N
items and a nested map (outer x 100 inner, ``v + 1`` then a sum). Values are checked against
plain Python before anything is timed.

Usage::

    python3 -m venv /tmp/peer-daft
    /tmp/peer-daft/bin/pip install -r benchmarks/requirements-peers-daft.txt
    /tmp/peer-daft/bin/python benchmarks/daft_peer.py [--n 1000000] [--outer 10000]
    # or from the hotpipe venv: python benchmarks/daft.py --peer-python /tmp/peer-daft/bin/python

Prints one line ``JSON{...}`` (benchmarks/daft.py reads it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

# this folder holds daft.py: keep it off the path so `import daft` finds Daft
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
os.environ.setdefault("DAFT_PROGRESS_BAR", "0")

sys.path.append(str(_HERE))  # after site-packages: for _daft_floor only
from _daft_floor import chain_floor, nested_floor, race  # noqa: E402


def inc(x: int) -> int:
    return x + 1


def double(y: int) -> int:
    return y * 2


def text(z: int) -> str:
    return str(z)


def plus(v: int) -> int:
    return v + 1


def add_up(ws: list) -> int:
    return sum(ws)


def chain_pipeline() -> Any:
    import hypernodes as hn
    from hypernodes.engines import DaftEngine

    nodes = [hn.node(output_name="y")(inc), hn.node(output_name="z")(double),
             hn.node(output_name="s")(text)]
    return hn.Pipeline(nodes=nodes, name="chain", engine=DaftEngine())


def nested_pipeline() -> Any:
    import hypernodes as hn
    from hypernodes.engines import DaftEngine

    inner = hn.Pipeline(nodes=[hn.node(output_name="w")(plus)], name="inner")
    per = inner.as_node(input_mapping={"vs": "v"}, output_mapping={"w": "ws"},
                        map_over="vs", name="per")
    return hn.Pipeline(nodes=[per, hn.node(output_name="total")(add_up)], name="outer",
                       engine=DaftEngine())


def bench_chain(n: int, rounds: int) -> dict[str, Any]:
    xs = list(range(n))
    pipe = chain_pipeline()

    def peer() -> list[str]:
        return [row["s"] for row in pipe.map(inputs={"x": xs}, map_over="x")]

    want = [str((x + 1) * 2) for x in xs]
    assert peer() == want and chain_floor(xs) == want, "wrong values"
    t = race({"daft hand-written (floor)": lambda: chain_floor(xs),
              "hypernodes DaftEngine": peer}, rounds)
    return {"items": n, "seconds": t,
            "ratio_vs_floor": t["hypernodes DaftEngine"] / t["daft hand-written (floor)"]}


def bench_nested(outer: int, rounds: int) -> dict[str, Any]:
    data = [list(range(100)) for _ in range(outer)]
    pipe = nested_pipeline()

    def peer() -> list[int]:
        return [row["total"] for row in pipe.map(inputs={"vs": data}, map_over="vs")]

    want = [sum(range(1, 101))] * outer
    assert peer() == want and nested_floor(data) == want, "wrong values"
    t = race({"daft hand-written explode/groupby (floor)": lambda: nested_floor(data),
              "hypernodes DaftEngine": peer}, rounds)
    return {"outer": outer, "inner": 100, "seconds": t,
            "ratio_vs_floor": t["hypernodes DaftEngine"]
            / t["daft hand-written explode/groupby (floor)"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--outer", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    report: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_before": os.getloadavg()},
        "versions": {"hypernodes": version("hypernodes"), "daft": version("daft")},
        "a_chain": bench_chain(args.n, args.rounds),
        "d_nested": bench_nested(args.outer, args.rounds),
    }
    report["machine"]["load_after"] = os.getloadavg()
    print("JSON" + json.dumps(report))


if __name__ == "__main__":
    main()
