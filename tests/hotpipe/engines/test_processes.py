"""Failures across the process boundary, with real worker processes."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from hotpipe import FAILED, NodeError, Pipeline, Processes, Threads, WorkerDied, node


@pytest.fixture(scope="module")
def pool():
    engine = Processes(2, chunk_size=3)
    yield engine
    engine.close()


def _die(x):
    if x == 4:
        os._exit(3)
    return x * 10


def _segfault(x):
    if x == 2:
        import ctypes

        ctypes.string_at(0)
    return x


def _oom(x):
    if x == 1:
        raise MemoryError("simulated: cannot allocate")
    return x


def test_worker_exit_names_the_item_and_pool_recovers(pool):
    p = Pipeline([node(_die, output="y")])
    with pytest.raises(NodeError) as info:
        p.map({"x": list(range(8))}, over="x", engine=pool)
    assert info.value.index == 4
    assert isinstance(info.value.__cause__, WorkerDied)
    # the next map gets a fresh pool
    assert p.map({"x": [1, 2]}, over="x", engine=pool)["y"] == [10, 20]


def test_worker_death_collect_keeps_other_items(pool):
    p = Pipeline([node(_die, output="y")])
    r = p.map({"x": list(range(8))}, over="x", on_error="collect", engine=pool)
    assert r["y"] == [0, 10, 20, 30, FAILED, 50, 60, 70]
    assert [(e.index, type(e.exception)) for e in r.errors] == [(4, WorkerDied)]


def test_segfault_in_native_code(pool):
    p = Pipeline([node(_segfault, output="y")])
    r = p.map({"x": list(range(5))}, over="x", on_error="collect", engine=pool)
    assert r["y"] == [0, 1, FAILED, 3, 4]
    assert r.errors[0].index == 2


def test_memory_error_is_a_node_error_with_type(pool):
    p = Pipeline([node(_oom, output="y")])
    with pytest.raises(NodeError) as info:
        p.map({"x": [0, 1, 2]}, over="x", engine=pool)
    assert info.value.index == 1 and info.value.node == "_oom"
    assert isinstance(info.value.__cause__, MemoryError)
    assert any("Traceback in the worker" in n for n in getattr(info.value, "__notes__", []))


def test_unpicklable_result_names_node_and_type(pool):
    import threading

    @node(output="lock")
    def make_lock(x):
        return threading.Lock()

    with pytest.raises(NodeError) as info:
        Pipeline([make_lock]).map({"x": [1, 2]}, over="x", engine=pool)
    msg = str(info.value)
    assert info.value.node == "make_lock"
    assert "lock" in msg and "cannot be pickled" in msg and "Threads()" in msg


def test_small_map_runs_in_process_and_says_so():
    p = Pipeline([node(lambda x: x + 1, output="y")])
    r = p.map({"x": list(range(2000))}, over="x", engine=Processes(2))
    assert r["y"] == list(range(1, 2001))
    assert any("ran in-process" in note for note in r.profile.notes)


def test_closures_and_main_functions_in_workers(tmp_path):
    script = tmp_path / "main_script.py"
    script.write_text(textwrap.dedent("""
        from hotpipe import Pipeline, Processes, node
        factor = 7
        def times(x):
            return x * factor
        if __name__ == "__main__":
            p = Pipeline([node(times, output="y"), node(lambda y: y + 1, output="z")])
            engine = Processes(2, chunk_size=2)
            r = p.map({"x": list(range(6))}, over="x", engine=engine)
            pids = {e.pid for e in r.profile.stats.events}
            print(r["z"], len(pids - {__import__("os").getpid()}) >= 1)
            engine.close()
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == "[1, 8, 15, 22, 29, 36] True"


def test_exception_class_from_main_keeps_its_type(tmp_path):
    """A script's own exception class travels by value (cloudpickle), so the caller gets it
    back as itself; before, it arrived as a RuntimeError."""
    script = tmp_path / "main_exc.py"
    script.write_text(textwrap.dedent("""
        from hotpipe import NodeError, Pipeline, Processes, node
        class MainError(ValueError):
            pass
        def fail(x):
            if x == 2:
                raise MainError("two")
            return x
        if __name__ == "__main__":
            engine = Processes(2, chunk_size=1)
            try:
                Pipeline([node(fail, output="y")]).map({"x": [1, 2, 3]}, over="x",
                                                       engine=engine)
            except NodeError as err:
                print(type(err.error).__name__, isinstance(err.error, MainError), err.index)
            engine.close()
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == "MainError True 1"


def _children(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True)
    return [int(x) for x in out.stdout.split()]


def test_sigint_stops_all_workers_quickly(tmp_path):
    script = tmp_path / "interrupt.py"
    script.write_text(textwrap.dedent("""
        import sys, time
        from hotpipe import Pipeline, Processes, node
        def slow(x):
            time.sleep(0.2)
            return x
        if __name__ == "__main__":
            p = Pipeline([node(slow, output="y")])
            print("started", flush=True)
            try:
                p.map({"x": list(range(400))}, over="x", engine=Processes(2, chunk_size=1))
            except KeyboardInterrupt:
                print("interrupted", flush=True)
                sys.exit(130)
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "started"
    deadline = time.time() + 60
    while time.time() < deadline and len(_all_descendants(proc.pid)) < 2:
        time.sleep(0.1)
    workers = _all_descendants(proc.pid)
    assert len(workers) >= 2, "worker processes did not start"
    time.sleep(0.5)
    t0 = time.time()
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=10)
    while time.time() - t0 < 2 and any(_alive(w) for w in workers):
        time.sleep(0.05)
    assert not [w for w in workers if _alive(w)], "orphan worker processes remain"
    assert time.time() - t0 < 2.5
    assert proc.returncode == 130


@pytest.mark.parametrize("busy", [True, False], ids=["busy", "idle"])
def test_kill_9_of_the_parent_leaves_no_orphans(tmp_path, busy):
    """Issue 11: after kill -9 of the parent, loky's workers and resource trackers stayed
    alive for the pool's 600 s idle timeout. Workers now watch their parent; the trackers
    exit when the last process holding their pipe is gone."""
    script = tmp_path / "killed.py"
    script.write_text(textwrap.dedent(f"""
        import time
        from hotpipe import Pipeline, Processes, node
        def slow(x):
            time.sleep(0.2)
            return x
        if __name__ == "__main__":
            p = Pipeline([node(slow, output="y")])
            engine = Processes(2, chunk_size=1)
            if not {busy}:  # the pool is up and idle when the parent dies
                p.map({{"x": [1, 2, 3, 4]}}, over="x", engine=engine)
            print("started", flush=True)
            if {busy}:
                p.map({{"x": list(range(400))}}, over="x", engine=engine)
            else:
                time.sleep(60)
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "started"
    deadline = time.time() + 60
    while time.time() < deadline and len(_all_descendants(proc.pid)) < 2:
        time.sleep(0.1)
    time.sleep(0.5)
    spawned = _all_descendants(proc.pid)  # the workers and loky's resource trackers
    assert len(spawned) >= 2, "worker processes did not start"
    t0 = time.time()
    proc.kill()
    proc.wait(timeout=10)
    while time.time() - t0 < 5 and any(_alive(w) for w in spawned):
        time.sleep(0.05)
    orphans = [w for w in spawned if _alive(w)]
    for w in orphans:  # do not leave them to the next test
        os.kill(w, signal.SIGKILL)
    assert not orphans, f"{len(orphans)} of {len(spawned)} processes outlived the parent"


def _all_descendants(pid):
    found, todo = [], [pid]
    while todo:
        for child in _children(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_gpu_nodes_run_on_threads_in_this_process():
    @node(output="y", gpus=1)
    def on_gpu(x):
        return (x, os.getpid())

    r = Pipeline([on_gpu]).map({"x": list(range(6))}, over="x", engine=Processes(2))
    assert {pid for _, pid in r["y"]} == {os.getpid()}
    assert any("declare gpus" in note for note in r.profile.notes)
    assert on_gpu.hints.gpus == 1


# ------------------------------------------------------------------ exceptions that travel badly


class _Unpicklable(Exception):
    """Holds a lock: pickling it fails."""

    def __init__(self, msg):
        super().__init__(msg)
        import threading

        self.lock = threading.Lock()


class _OtherInit(Exception):
    """Pickles as OtherInit(message): unpickling calls __init__ with one argument, fails."""

    def __init__(self, a, b):
        super().__init__(f"{a}-{b}")


class _BadReduce(Exception):
    def __reduce__(self):
        raise RuntimeError("no reduce")


class _BadStr(Exception):
    def __str__(self):
        raise RuntimeError("str fails")


class _Plain(ValueError):
    pass


_RAISES = {1: lambda: _Unpicklable("u"), 2: lambda: _OtherInit("a", "b"),
           3: lambda: _BadReduce("r"), 4: lambda: _BadStr("s"), 5: lambda: _Plain("p")}
# what arrives: the type itself, or a RemoteError carrying the type's name
_ARRIVES = {"local": {1: _Unpicklable, 2: _OtherInit, 3: _BadReduce, 4: _BadStr, 5: _Plain}}
_ARRIVES["threads"] = _ARRIVES["local"]
_ARRIVES["processes"] = {1: "_Unpicklable", 2: "_OtherInit", 3: "_BadReduce", 4: _BadStr,
                         5: _Plain}


def _raiser(x):
    if x in _RAISES:
        raise _RAISES[x]()
    return x * 10


_ENGINES = {"local": lambda: None, "threads": lambda: Threads(2, chunk_size=1),
            "processes": lambda: Processes(2, chunk_size=1)}


def _check_arrived(exc, expected):
    from hotpipe import RemoteError

    if isinstance(expected, str):
        assert isinstance(exc, RemoteError), repr(exc)
        assert exc.type_name.endswith("." + expected)
        assert "_raiser" in exc.traceback  # the worker's traceback, as text
    else:
        assert type(exc) is expected


@pytest.mark.parametrize("kind", sorted(_ENGINES))
@pytest.mark.parametrize("x", sorted(_RAISES))
def test_worker_exceptions_keep_their_type_or_name_and_traceback(kind, x):
    """Issue 11: on Processes an exception that cannot be pickled (or re-created) lost its
    type or failed the whole map; an exception whose __str__ raises replaced the NodeError."""
    engine = _ENGINES[kind]()
    expected = _ARRIVES[kind][x]
    p = Pipeline([node(_raiser, output="y")])
    with pytest.raises(NodeError) as info:
        p.map({"x": [0, x, 7]}, over="x", engine=engine)
    err = info.value
    assert err.node == "_raiser" and err.index == 1
    _check_arrived(err.error, expected)
    assert err.__cause__ is err.error
    name = expected if isinstance(expected, str) else expected.__name__
    assert f"raised {name}" in str(err)
    if kind == "processes":
        assert any("_raiser" in n for n in getattr(err, "__notes__", []))


@pytest.mark.parametrize("kind", sorted(_ENGINES))
def test_collected_worker_exceptions_never_fail_other_items(kind):
    engine = _ENGINES[kind]()
    p = Pipeline([node(_raiser, output="y")])
    xs = [0, 1, 2, 3, 4, 5, 7]
    r = p.map({"x": xs}, over="x", engine=engine, on_error="collect")
    assert r["y"] == [0] + [FAILED] * 5 + [70]
    assert [e.index for e in r.errors] == [1, 2, 3, 4, 5]
    for e in r.errors:
        _check_arrived(e.exception, _ARRIVES[kind][xs[e.index]])
