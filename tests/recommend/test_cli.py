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


def test_recommend_allow_schedule_free_flag(capsys):
    code = main(["recommend", *FLAGS, "--target", "0.8", "--no-verify", "--json",
                 "--allow-schedule-free"])  # fmt: skip
    d = json.loads(capsys.readouterr().out)
    assert code == 0 and d["allow_optimizer_change"] is True
    first = [p for p in d["lineage"] if p["stage"] == 0 and p["origin"] == "optimizer"]
    assert [p["label"] for p in first] == ["schedule-free", "schedule-free-hot"]
    assert d["optimizer"]["name"] in ("momentum", "schedulefree-sgd")
    assert d["run_spec"]["optimizer"] == d["optimizer"]
    # Without the flag: no such candidate, the request's optimizer.
    assert main(["recommend", *FLAGS, "--target", "0.8", "--no-verify", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["allow_optimizer_change"] is False and d["optimizer_changed"] is False
    assert not [p for p in d["lineage"] if p["origin"] == "optimizer"]


def test_recommend_allow_schedule_free_without_a_counterpart_exits_2(capsys):
    assert main(["recommend", *FLAGS, "--optimizer", "rmsprop", "--allow-schedule-free"]) == 2
    assert "'rmsprop' has no Schedule-Free counterpart" in capsys.readouterr().err


def test_summary_says_when_the_optimizer_changes():
    from workbench.commands.recommend import summary

    d = {"policy_text": "FIX(k0=0.1)", "policy_hash": "0" * 16, "source": "search",
         "explanation": "…", "search_iterations": 10, "plain_run_equivalents": 0.1,
         "budget": 100, "verdict": None, "optimizer": {"name": "schedulefree-sgd"},
         "optimizer_changed": True}  # fmt: skip
    assert "OPTIMIZER    changed to {'name': 'schedulefree-sgd'}" in summary(d)
    assert "OPTIMIZER" not in summary(dict(d, optimizer_changed=False))
