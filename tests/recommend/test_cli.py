"""`workbench recommend` and `workbench demo` through the real command line entry point."""

from __future__ import annotations

import json

from workbench.cli import main

FLAGS = ["--dataset", "synthetic", "--model", "mlp", "--batch-size", "32", "--budget", "120",
         "--eval-every", "10", "--stages", "3", "--k", "2"]  # fmt: skip


def test_recommend_json_has_the_contract_fields(capsys):
    code = main(["recommend", *FLAGS, "--target", "0.8", "--json"])
    out = capsys.readouterr().out
    assert code == 0
    d = json.loads(out)
    assert {"policy", "explanation", "search_iterations"} <= set(d)
    assert d["verdict"]["verdict"] in ("meets", "fails", "rejected")
    assert d["search_iterations"] == sum(e["iterations"] for e in d["ledger"])


def test_recommend_bad_input_exits_2_before_training(capsys):
    assert main(["recommend", *FLAGS, "--target", "85"]) == 2
    assert "target" in capsys.readouterr().err
    assert main(["recommend", *FLAGS[:-4], "--stages", "8", "--k", "2"]) == 2
    assert "stages" in capsys.readouterr().err


def test_demo_runs_end_to_end_on_a_small_budget(capsys, _isolated_store):
    assert main(["demo", "--budget", "300", "--no-baselines"]) == 0
    out = capsys.readouterr().out
    assert "default (Caffe INV)" in out and "recommended" in out and "speedup" in out
    assert (_isolated_store / "reports" / "demo.json").is_file()
    assert (_isolated_store / "plots" / "lr-functions.png").is_file()
    assert (_isolated_store / "plots" / "demo-traces.png").is_file()
    assert (_isolated_store / "workbench.sqlite").is_file()
    # Again on the same store: answered from history; the modern baselines still get their
    # peak LR from a range test.
    assert main(["demo", "--budget", "300"]) == 0
    out = capsys.readouterr().out
    assert "history" in out and "one-cycle" in out and "schedule-free" in out
