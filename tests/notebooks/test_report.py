"""workbench.report: the paper tables from an empty, a sparse and a filled store."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.widgets.fakes import fake_result
from workbench.policies import from_spec
from workbench.report import compare_policies, markdown_table, write_report

store_mod = pytest.importorskip("workbench.store")
defaults = pytest.importorskip("workbench.recommend.defaults")


@pytest.fixture
def store(tmp_path: Path):
    return store_mod.open_store(f"sqlite:///{tmp_path / 'report.db'}")


def test_empty_store_gives_table_1_and_says_what_is_missing(store, tmp_path: Path) -> None:
    report = write_report(store, tmp_path / "out", catalogue_budget=100)
    cat = pd.read_csv(tmp_path / "out" / "table1.csv")
    assert {"TRI", "NSTEP", "COSRSWEXP", "LINEAR"} <= set(cat["function"])
    assert set(cat["family"]) == {"fixed", "decaying", "cyclic", "restart"}
    assert (tmp_path / "out" / "table1_catalogue.png").stat().st_size > 1000
    assert any("no runs" in m for m in report.missing)
    for n in range(2, 9):
        assert any(m.startswith(f"Table {n} ") for m in report.missing), n
    text = (tmp_path / "out" / "paper_tables.md").read_text()
    assert "Missing from the store" in text and "| TRI | cyclic |" in text


def test_filled_store_gives_results_speedup_optimizers_range_test_and_traces(
    store, tmp_path: Path
) -> None:
    budget = 100
    default = defaults.LENET_MNIST.at(budget).to_spec()
    rec = {"stages": [{"policy": {"function": "FIX", "k0": 0.1}, "until": 50},
                      {"policy": {"function": "COS", "k0": 0.0, "k1": 0.1, "l": 50}}]}  # fmt: skip
    adam = {"name": "adam"}
    for seed in (0, 1):
        store.record_run(fake_result(default, final=0.7, seed=seed))
        store.record_run(fake_result(rec, final=0.9, seed=seed))
        store.record_run(fake_result({"function": "EXP", "k0": 0.05, "gamma": 0.99},
                                     final=0.8, seed=seed))  # fmt: skip
        store.record_run(fake_result({"function": "TRI", "k0": 0.01, "k1": 0.1, "l": 25},
                                     final=0.75, seed=seed, optimizer=adam))  # fmt: skip
    for lr, acc in ((0.001, 0.3), (0.01, 0.6), (0.1, 0.5)):
        store.record_run(fake_result({"function": "FIX", "k0": lr}, final=acc, kind="range_test"))
    task = {"dataset": "synthetic", "model": "mlp", "batch_size": 32,
            "optimizer": {"name": "momentum", "momentum": 0.9}}  # fmt: skip
    curve = {"lrs": [0.001, 0.01, 0.1, 1.0], "losses": [2.3, 2.0, 1.5, float("nan")]}
    rng = {"low": 0.01, "high": 0.1, "suggested": True, "lr_at_min": 0.1, "diverged_at": 1.0,
           "iterations": 4, "reason": None, "curve": curve}  # fmt: skip
    store.record_search(
        {"policy": rec, "task": task, "budget": budget, "status": "done", "range": rng}
    )

    report = write_report(store, tmp_path / "out", catalogue_budget=100)
    t2 = next(v for k, v in report.tables.items() if k.startswith("Table 2"))
    roles = dict(zip(t2["policy"], t2["role"], strict=True))
    assert roles[from_spec(rec).text] == "recommended"
    assert roles[from_spec(default).text] == "default (caffe-lenet-inv)"
    assert set(t2["seeds"]) >= {2}
    assert {"cvac", "confidence_mean", "val_top5", "robustness_gap"} <= set(t2.columns)
    t6 = next(v for k, v in report.tables.items() if k.startswith("Table 6"))
    assert len(t6) == 1 and t6["speedup"].iloc[0] == pytest.approx(100 / 75)
    assert t6["default iterations"].iloc[0] == 100 and t6["recommended iterations"].iloc[0] == 75
    t5 = next(v for k, v in report.tables.items() if k.startswith("Table 5"))
    assert set(t5["optimizer"]) == {"momentum", "adam"}
    row = t5.set_index("optimizer").loc["momentum"]
    assert row["best decaying"].startswith("EXP") and row["recommended"].startswith("FIX")
    t7 = next(v for k, v in report.tables.items() if k.startswith("Table 7"))
    assert len(t7) == 3
    assert (tmp_path / "out" / "table7_range_test.png").is_file()
    t7b = next(v for k, v in report.tables.items() if k.startswith("Table 7b"))
    assert t7b[["low", "high", "iterations"]].values.tolist() == [[0.01, 0.1, 4]]
    assert (tmp_path / "out" / "table7b_range_tests.png").is_file()
    assert list((tmp_path / "out").glob("table8_*.png"))
    assert not [m for m in report.missing if m.startswith(("Table 2 ", "Table 6 ", "Table 8 "))]


def test_compare_policies_and_markdown() -> None:
    table = compare_policies({"fix": {"function": "FIX", "k0": 0.1},
                              "lin": {"function": "LINEAR", "k0": 0.0, "k1": 1.0, "l": 100}},
                             101)  # fmt: skip
    assert table.loc["fix", "mean lr"] == pytest.approx(0.1)
    assert table.loc["lin", "lr@50%"] == pytest.approx(0.5)
    assert table.loc["lin", "lr@end"] == pytest.approx(1.0)
    md = markdown_table(table.reset_index()[["policy", "text"]])
    assert md.splitlines()[0] == "| policy | text |" and "| fix | FIX(k0=0.1) |" in md
