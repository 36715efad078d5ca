"""`Recorder`: the training callback that records runs into the store as they go.

Duck-typed against the callback contract of docs/contracts.md (`on_run_start`,
`on_eval`, `on_run_end`); the store never imports `workbench.train`. The run row is
written synchronously at start (so a run that cannot be recorded fails before it trains);
evaluation points go to a background writer thread, which writes whatever has queued up
(at most once a second by default) in one transaction together with the heartbeat, so
the training loop only appends to a queue. `on_run_end` waits for the writer and writes
the final status and summary.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import queue
import threading
import time
import warnings
import weakref
from collections.abc import Mapping
from typing import Any

from workbench.store.store import Store, open_store

_END = object()
_live: weakref.WeakSet[_RunWriter] = weakref.WeakSet()


class Recorder:
    """Training callback: `train(spec, callbacks=[Recorder(store)])` records the run.

    `Recorder(store=None, *, kind=None, job_id=None, search_id=None, tags=None,
    max_batch=500, flush_interval=1.0)`: kind/job_id/search_id/tags override the run
    spec's fields of the same name; `store=None` opens the default store. The writer
    thread writes at most once per `flush_interval` seconds (all points queued meanwhile,
    the heartbeat being the last one's time), at most `max_batch` points a transaction.
    Errors while writing points are kept in `errors` and warned about rather than raised
    into the training loop; `stats` says what recording cost.
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        kind: str | None = None,
        job_id: str | None = None,
        search_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        max_batch: int = 500,
        flush_interval: float = 1.0,
    ):
        self.store = store if store is not None else open_store()
        self.kind, self.job_id, self.search_id, self.tags = kind, job_id, search_id, tags
        self.max_batch, self.flush_interval = max_batch, flush_interval
        self.errors: list[BaseException] = []
        # What recording cost: seconds spent in the callbacks (the training thread) and
        # CPU seconds of the writer threads; points and transactions written.
        self.stats = {
            "callback_seconds": 0.0,
            "writer_cpu_seconds": 0.0,
            "points": 0,
            "transactions": 0,
        }
        self._writers: dict[str, _RunWriter] = {}

    def on_run_start(self, run: Any) -> None:
        """Write the run as `running` and start its background writer."""
        t0 = time.perf_counter()
        try:
            self._start(run)
        finally:
            self.stats["callback_seconds"] += time.perf_counter() - t0

    def _start(self, run: Any) -> None:
        spec = dict(_get(run, "spec") or {})
        run_id = str(_get(run, "run_id") or spec.get("run_id") or "")
        policy = _get(run, "policy")
        run_id = self.store.begin_run(
            spec,
            run_id=run_id or None,
            task=_get(run, "task") or spec,
            policy=policy if policy is not None else spec.get("policy"),
            provenance=_get(run, "provenance"),
            started_at=_get(run, "started_at"),
            kind=self.kind,
            job_id=self.job_id,
            search_id=self.search_id,
            tags=self.tags,
        )
        old = self._writers.pop(run_id, None)
        if old is not None:  # the same run started again (continued): finish the old writer
            old.close(None)
        writer = _RunWriter(
            self.store, run_id, self.max_batch, self.flush_interval, self.errors, self.stats
        )
        self._writers[run_id] = writer
        # A continued run (restored trainer) brings the points it already has.
        for point in list(_get(run, "history") or []):
            writer.put(point, time.time())

    def on_eval(self, run: Any, point: Mapping[str, Any]) -> None:
        """Queue the point (and the heartbeat) for the writer thread; never blocks on I/O."""
        t0 = time.perf_counter()
        writer = self._writers.get(str(_get(run, "run_id")))
        if writer is not None:
            writer.put(dict(point), time.time())
        self.stats["callback_seconds"] += time.perf_counter() - t0
        return None

    def on_run_end(self, run: Any, result: Mapping[str, Any]) -> None:
        """Flush the points, then write the final status and summary."""
        t0 = time.perf_counter()
        try:
            self._end(run, result)
        finally:
            self.stats["callback_seconds"] += time.perf_counter() - t0

    def _end(self, run: Any, result: Mapping[str, Any]) -> None:
        run_id = str(_get(run, "run_id") or result.get("run_id"))
        writer = self._writers.pop(run_id, None)
        if writer is None:
            self.store.finish_run(run_id, result, points=result.get("history") or ())
            return
        writer.close(dict(result))
        if writer.failed:
            warnings.warn(
                f"results store: run {run_id} was not fully recorded: {writer.failed[-1]}",
                RuntimeWarning,
                stacklevel=2,
            )

    def flush(self) -> None:
        """Wait until every queued point has been written."""
        for writer in list(self._writers.values()):
            writer.flush()


def _get(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


class _RunWriter:
    """The background writer of one run: batches points, beats the heartbeat, finishes."""

    def __init__(
        self,
        store: Store,
        run_id: str,
        max_batch: int,
        flush_interval: float,
        errors: list[BaseException],
        stats: dict[str, Any],
    ):
        self.store, self.run_id, self.max_batch = store, run_id, max_batch
        self.flush_interval = flush_interval
        self.errors, self.stats = errors, stats
        self.failed: list[BaseException] = []
        self._queue: queue.Queue[Any] = queue.Queue()
        self._wake = threading.Event()
        self._pending: list[dict[str, Any]] = []  # points whose write failed: retried
        self._written: set[int] = set()
        self._first_at: float | None = None
        self._n = 0
        self._thread = threading.Thread(
            target=self._loop, name=f"workbench-recorder-{run_id[:8]}", daemon=True
        )
        self._thread.start()
        _live.add(self)

    def put(self, point: dict[str, Any], at: float) -> None:
        self._queue.put((point, at))

    def flush(self) -> None:
        done = threading.Event()
        self._queue.put(done)
        self._wake.set()
        done.wait()

    def close(self, result: dict[str, Any] | None) -> None:
        self._queue.put((_END, result))
        self._wake.set()
        self._thread.join()

    def _loop(self) -> None:
        last_write = -math.inf
        while True:
            first = self._queue.get()
            # Let points gather until `flush_interval` after the last write, without waking
            # on each of them (a wake-up per point costs the training thread the GIL); a
            # flush request or the end cuts the wait short.
            wait = last_write + self.flush_interval - time.monotonic()
            if wait > 0 and not _urgent(first):
                self._wake.wait(wait)
            self._wake.clear()
            items = [first]
            with contextlib.suppress(queue.Empty):
                while True:
                    items.append(self._queue.get_nowait())
            batch = [it for it in items if not _urgent(it)]
            events = [it for it in items if isinstance(it, threading.Event)]
            end = next((it for it in items if isinstance(it, tuple) and it[0] is _END), None)
            cpu0 = time.thread_time()
            for i in range(0, len(batch), self.max_batch):
                self._write(batch[i : i + self.max_batch])
            if batch:
                last_write = time.monotonic()
            if end is not None:
                self._finish(end[1])
            self.stats["writer_cpu_seconds"] += time.thread_time() - cpu0
            for e in events:
                e.set()
            if end is not None:
                return

    def _write(self, batch: list[tuple[dict[str, Any], float]]) -> None:
        for _, at in batch:
            self._n += 1
            if self._first_at is None:
                self._first_at = at
        if not batch and not self._pending:
            return
        beat = batch[-1][1] if batch else time.time()
        # Seconds per evaluation interval: how long "a few intervals" is for staleness.
        every = (beat - self._first_at) / (self._n - 1) if self._n > 1 and self._first_at else None
        points = self._pending + [p for p, _ in batch]
        try:
            self.store.add_points(self.run_id, points, heartbeat_at=beat, heartbeat_every=every)
        except Exception as exc:  # keep training; retry these points with the next batch
            self._pending = points
            self._fail(exc)
            return
        self._pending = []
        self._written.update(int(p["iteration"]) for p in points if _has_iteration(p))
        self.stats["points"] += len(points)
        self.stats["transactions"] += 1

    def _finish(self, result: dict[str, Any] | None) -> None:
        if result is None:
            self._write([])
            return
        late = [
            p
            for p in result.get("history") or ()
            if _has_iteration(p) and int(p["iteration"]) not in self._written
        ]
        try:
            self.store.finish_run(self.run_id, result, points=self._pending + late)
            self._pending = []
        except Exception as exc:
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        self.failed.append(exc)
        self.errors.append(exc)


def _urgent(item: Any) -> bool:
    """A flush request or the end of the run (not a point)."""
    return isinstance(item, threading.Event) or (isinstance(item, tuple) and item[0] is _END)


def _has_iteration(p: Mapping[str, Any]) -> bool:
    it = p.get("iteration")
    return it is not None and not (isinstance(it, float) and math.isnan(it))


@atexit.register
def _flush_at_exit() -> None:
    # A process ending without on_run_end (a crash in user code) still leaves its points.
    for writer in list(_live):
        if writer._thread.is_alive():
            with contextlib.suppress(Exception):
                writer.flush()
