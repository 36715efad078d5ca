"""The shipped sweep files: each one validates against the training notebook and run spec."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.batch import plan_sweep
from workbench.policies import from_spec
from workbench.train.spec import RunSpec

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").rglob("*.yaml"))


def test_paper_and_cpu_configs_exist() -> None:
    names = {p.relative_to(p.parents[1]).as_posix() for p in CONFIGS}
    assert {
        "paper/table2_lenet5_mnist.yaml",
        "paper/table3_cnn3_cifar10.yaml",
        "paper/table4_resnet_cifar10.yaml",
        "paper/table5_optimizer_grid.yaml",
        "cpu/smoke.yaml",
    } <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_expands_to_valid_run_specs(path: Path) -> None:
    plan = plan_sweep(path, db="sqlite:////tmp/unused-configs.sqlite")
    assert plan.payloads and len(set(plan.job_ids)) == len(plan.payloads)
    for payload in plan.payloads:
        params = payload["parameters"]
        RunSpec.parse(params)  # raises BadInput naming the field
        from_spec(params["policy"])
    if path.parent.name == "paper":
        assert plan.loaded.config.gpus_per_job == 1
        assert {p["parameters"]["dataset"] for p in plan.payloads} <= {"mnist", "cifar10"}
    else:
        offline = {"mnist1d", "digits", "synthetic", "synthetic-image"}
        assert {p["parameters"]["dataset"] for p in plan.payloads} <= offline
