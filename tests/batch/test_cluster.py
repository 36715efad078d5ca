"""Local cluster layout: CPU slots and threads, and one worker per GPU seeing only its device."""

from __future__ import annotations

import pytest

from workbench.batch import cluster
from workbench.errors import BadInput


def test_cpu_slots_share_the_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster, "gpu_ids", lambda: ())
    monkeypatch.setattr(cluster.os, "sched_getaffinity", lambda _pid: set(range(8)))
    assert cluster.local_slots() == cluster.Slots(workers=8, threads=1)
    assert cluster.local_slots(workers=2) == cluster.Slots(workers=2, threads=4)
    with pytest.raises(BadInput, match="--workers"):
        cluster.local_slots(workers=0)


def test_one_worker_per_gpu_each_seeing_its_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster, "gpu_ids", lambda: ("2", "3"))
    monkeypatch.setattr(cluster.os, "sched_getaffinity", lambda _pid: set(range(16)))
    slots = cluster.local_slots()
    assert slots == cluster.Slots(workers=2, threads=8, gpus=("2", "3"))
    specs = cluster.gpu_worker_specs(slots)
    assert [s["options"]["env"]["CUDA_VISIBLE_DEVICES"] for s in specs.values()] == ["2", "3"]
    assert all(s["options"]["nthreads"] == 1 for s in specs.values())
    assert all(s["options"]["env"]["OMP_NUM_THREADS"] == "8" for s in specs.values())
    assert cluster.local_slots(use_gpus=False).gpus == ()


def test_gpu_ids_follow_cuda_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7")
    assert cluster.gpu_ids() == ("5", "7")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert cluster.gpu_ids() == ("0", "1")
