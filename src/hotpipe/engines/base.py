"""The engine interface: an adapter that says where chunks of a map run.

Every engine runs the same loop (:func:`hotpipe.schedule.run_map`: broadcast once, probe,
chunk sizes, ordered merge, first error at the lowest index, cancellation) and the same
runner (plain or cached, chosen once per call). An engine only answers the loop's questions:
how many items per chunk (``plan_chunks``, or a ``fixed_chunk``), and how to start a chunk on
a worker and get its results back (``prepare``/``submit``/``collect``/``abort``). ``Local``
runs every chunk in the calling thread (``window = 0``). A new engine is such an adapter plus
the conformance suite (``tests/hotpipe/engines``); docs/engines.md shows one.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from hotpipe.plan import Plan
from hotpipe.schedule import Job, Outcome, Probe, run_map

if TYPE_CHECKING:
    from hotpipe.execute import Broadcast, PlainRunner
    from hotpipe.profile.stats import Stats

__all__ = ["Engine", "Outcome"]


class Engine:
    """Base class of execution engines: ``Local``, ``Threads``, ``Processes``.

    Class attributes the loop reads: ``workers``; ``fixed_chunk`` (items per chunk, or None
    to size chunks from the probe with :meth:`plan_chunks`); ``wants_probe``; ``window``
    (chunks in flight at once; 0 runs every chunk in the calling thread).
    """

    name: str = "engine"
    workers: int = 1
    fixed_chunk: int | None = None
    wants_probe: bool = False
    window: int = 0

    @property
    def stream_chunk(self) -> int:
        """Items per chunk when mapping an iterator of unknown length."""
        return 256

    def run_item(self, plan: Plan, inputs: dict[str, Any]) -> Outcome:
        """Run the plan once on ``inputs`` (in the caller: there is nothing to split);
        raise :class:`~hotpipe.NodeError` on failure."""
        from hotpipe.engines.local import run_item

        return run_item(plan, inputs)

    def run_map(
        self,
        plan: Plan,
        columns: dict[str, list[Any]],
        scalars: dict[str, Any],
        n: int,
        on_error: str,
        on_progress: Callable[[int], None] | None = None,
        runner: PlainRunner | None = None,
        broadcast: Broadcast | None = None,
        offset: int = 0,
    ) -> Outcome:
        """Run the plan over ``n`` items: ``columns`` hold one value per item (lists),
        ``scalars`` are broadcast. Returns columns for ``plan.outputs``. ``on_progress`` is
        called with the number of items finished each time a chunk completes (after the
        ``runner`` stored its results, when it caches). ``runner`` runs each chunk (default
        :data:`hotpipe.execute.PLAIN`); the engine only decides where. A stream passes the
        ``broadcast`` values it computed once, and the ``offset`` of the first item."""
        return run_map(self, plan, columns, scalars, n, on_error, on_progress, runner,
                       broadcast, offset)

    # ------------------------------------------------------------------ adapter protocol

    def plan_chunks(self, job: Job, probe: Probe, rest: int, notes: list[str]) -> int | None:
        """Items per chunk for the remaining ``rest`` items, or None to run them in the
        calling thread (append the reason to ``notes``)."""
        return None

    def skip_probe(self, job: Job) -> str | None:
        """Why to start on the workers without probing items in the caller (None: probe):
        a probe that would build what every worker builds again (a resource), or one with
        nothing to decide, costs more than it measures."""
        return None

    def prepare(self, job: Job, probe: Probe) -> Any:
        """Per-map state shared by the submissions (e.g. the pickled plan)."""
        return probe

    def submit(self, handle: Any, job: Job, start: int, stop: int) -> Future:
        """Start items ``start..stop`` on a worker."""
        raise NotImplementedError(f"{type(self).__name__} runs every chunk in the caller")

    def collect(self, fut: Future, handle: Any, job: Job, start: int,
                stop: int) -> tuple[dict[str, list[Any]], Stats]:
        """The finished chunk's output columns and counters (raise its NodeError)."""
        return fut.result()

    def abort(self) -> None:
        """Stop the workers now: an interrupt (Ctrl-C) arrived during a map."""

    def progress_ticks(self, starts: list[int]) -> Any:
        """Counters a worker fills while it runs the chunk starting at each of ``starts``
        (a :class:`hotpipe._ticks.Ticks`), asked for only when the map has a progress
        callback; None (the default): progress moves when a chunk comes back."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
