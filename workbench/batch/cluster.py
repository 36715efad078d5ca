"""Dask clusters for sweeps: a local one sized to this machine, or an existing scheduler."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from workbench.errors import BadInput

SCHEDULER_TIMEOUT_S = 5


@dataclass(frozen=True)
class Slots:
    """How a local cluster is laid out: worker processes, torch threads each, GPUs."""

    workers: int
    threads: int
    gpus: tuple[str, ...] = ()


def gpu_ids() -> tuple[str, ...]:
    """The CUDA devices visible here, as CUDA_VISIBLE_DEVICES names them; () without CUDA."""
    try:
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception:  # a broken driver must not stop a CPU sweep
        return ()
    # Under CUDA_VISIBLE_DEVICES=2,3 torch counts 2 devices; the workers must get "2" and "3".
    visible = [d.strip() for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")]
    visible = [d for d in visible if d]
    names = visible if visible else [str(i) for i in range(count)]
    return tuple(names[:count])


def local_slots(workers: int | None = None, use_gpus: bool = True) -> Slots:
    """One worker per GPU when there are GPUs, else one per CPU slot; torch threads to match."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpus = max(1, cpus or 1)
    gpus = gpu_ids() if use_gpus else ()
    if workers is not None and workers < 1:
        raise BadInput(f"--workers must be at least 1 (got {workers})")
    if gpus:
        n = min(workers or len(gpus), len(gpus))
        return Slots(workers=n, threads=max(1, cpus // n), gpus=gpus[:n])
    n = workers or cpus
    return Slots(workers=n, threads=max(1, cpus // n))


def _thread_env(threads: int) -> dict[str, str]:
    # The notebook kernel is a child of the worker and inherits these, so torch, MKL and
    # OpenMP in the kernel use this worker's share of the CPUs rather than all of them.
    n = str(threads)
    return {"OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n, "WORKBENCH_TORCH_THREADS": n}


def gpu_worker_specs(slots: Slots) -> dict[str, dict[str, Any]]:
    """SpecCluster worker specs: one Nanny per device, each seeing only its own GPU."""
    from distributed import Nanny

    return {
        f"gpu{g}": {
            "cls": Nanny,
            "options": {
                "nthreads": 1,
                "memory_limit": 0,
                "silence_logs": 40,
                # Inside the worker (and its notebook kernels) the device is cuda:0.
                "env": {**_thread_env(slots.threads), "CUDA_VISIBLE_DEVICES": g},
                "resources": {"GPU": 1},
            },
        }
        for g in slots.gpus
    }


def _local_cluster(slots: Slots, allowed_failures: int) -> Any:
    import dask
    from distributed import LocalCluster, Scheduler, SpecCluster

    settings = {
        "distributed.scheduler.allowed-failures": allowed_failures,
        # One job per worker thread, none queued on a worker: a queued job would be charged
        # with a death it had no part in, and could wait behind a long job while others idle.
        "distributed.scheduler.worker-saturation": 1.0,
    }
    with dask.config.set(settings):
        if not slots.gpus:
            return LocalCluster(
                n_workers=slots.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                memory_limit=0,
                env=_thread_env(slots.threads),
                silence_logs=40,
            )
        scheduler = {"cls": Scheduler, "options": {"dashboard_address": None}}
        return SpecCluster(workers=gpu_worker_specs(slots), scheduler=scheduler, silence_logs=40)


@contextlib.contextmanager
def connect(
    scheduler: str | None = None,
    *,
    workers: int | None = None,
    allowed_failures: int = 2,
    use_gpus: bool = True,
) -> Iterator[tuple[Any, str]]:
    """A Dask client: on `scheduler` (fails fast when unreachable) or on a new local cluster.

    Yields (client, description). `allowed_failures` is how many worker deaths a task
    survives on a local cluster (an external scheduler keeps its own setting).
    """
    from distributed import Client

    if scheduler:
        try:
            client = Client(scheduler, timeout=SCHEDULER_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise BadInput(f"--scheduler {scheduler}: not reachable ({exc})") from None
        try:
            n = len(client.scheduler_info(n_workers=-1).get("workers", {}))
            yield client, f"scheduler {scheduler} ({n} workers now)"
        finally:
            client.close()
        return
    slots = local_slots(workers, use_gpus)
    cluster = _local_cluster(slots, allowed_failures)
    client = Client(cluster)
    try:
        what = f"{slots.workers} GPU" if slots.gpus else f"{slots.workers} CPU"
        yield client, f"local cluster: {what} worker(s), {slots.threads} thread(s) each"
    finally:
        with contextlib.suppress(Exception):
            client.close()
        with contextlib.suppress(Exception):
            cluster.close()
