"""``python -m hotpipe.bench._child``: load one pickled case from stdin, call it once, print
``HOTPIPE-BENCH {"load_s": ..., "first_s": ...}``. See :func:`hotpipe.bench._run.run_fresh`."""

from __future__ import annotations

import json
import sys
import time


def main() -> int:
    payload = sys.stdin.buffer.read()
    t0 = time.perf_counter()
    import cloudpickle

    fn = cloudpickle.loads(payload)
    t1 = time.perf_counter()
    fn()
    t2 = time.perf_counter()
    print("HOTPIPE-BENCH " + json.dumps({"load_s": t1 - t0, "first_s": t2 - t1}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
