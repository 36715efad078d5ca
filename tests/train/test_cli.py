"""`workbench train` and `workbench datasets list` from the command line."""

from __future__ import annotations

import json

import pytest

from tests.train.common import tiny_spec
from workbench import jsonio
from workbench.cli import main


def test_train_spec_json_round_trip(tmp_path, capsys):
    path = tmp_path / "run.json"
    path.write_text(json.dumps(tiny_spec(budget=20, eval_every=10, target=0.2)))
    assert main(["train", "--spec", str(path), "--json"]) == 0
    out = jsonio.loads(capsys.readouterr().out)
    assert out["status"] == "completed" and out["iterations"] == 20
    assert "history" not in out
    for key in ("run_id", "final_top1", "best_top1", "iterations_to_target", "seconds_to_target"):
        assert key in out
    assert out["spec"]["budget"] == 20 and out["spec"]["dataset"] == "synthetic"


def test_train_flags_override_spec_and_history(tmp_path, capsys):
    path = tmp_path / "run.json"
    path.write_text(json.dumps(tiny_spec(budget=20, eval_every=10)))
    argv = ["train", "--spec", str(path), "--budget", "10", "--optimizer", "adam",
            "--opt", "weight_decay=0.001", "--policy", '{"function": "FIX", "k0": 0.001}',
            "--set", "tags={\"who\": \"test\"}", "--json", "--history"]  # fmt: skip
    assert main(argv) == 0
    out = jsonio.loads(capsys.readouterr().out)
    assert out["iterations"] == 10 and [p["iteration"] for p in out["history"]] == [0, 10]
    assert out["task"]["optimizer"]["name"] == "adam"
    assert out["task"]["optimizer"]["weight_decay"] == 0.001
    assert out["spec"]["tags"] == {"who": "test"} and out["history"][0]["lr"] == 0.001


def test_train_readable_summary(capsys):
    argv = ["train", "--dataset", "synthetic", "--model", "mlp", "--policy",
            '{"function": "FIX", "k0": 0.05}', "--budget", "10", "--threads", "1",
            "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "completed" in text and "synthetic / mlp / momentum" in text


def test_train_bad_input_exit_code_2(capsys, tmp_path):
    base = ["train", "--dataset", "synthetic", "--model", "mlp", "--budget", "10"]
    assert main([*base, "--policy", '{"function": "FIX", "k0": 0.05}', "--model", "x"]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'x'" in err and "lenet5" in err
    assert main([*base, "--policy", '{"function": "FIX", "k0": 0.05}', "--budget", "0"]) == 2
    assert "budget" in capsys.readouterr().err
    assert main([*base]) == 2  # no policy
    assert "policy" in capsys.readouterr().err
    assert main(["train", "--spec", str(tmp_path / "missing.json")]) == 2
    assert main([*base, "--policy", '{"function": "FIX", "k0": 0.05}', "--dataset", "mnist",
                 "--model", "lenet5", "--data-root", str(tmp_path)]) == 2  # fmt: skip
    assert "train-images-idx3-ubyte" in capsys.readouterr().err


def test_datasets_list(capsys, tmp_path):
    assert main(["datasets", "list", "--json", "--data-root", str(tmp_path)]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert {"mnist1d", "digits", "synthetic", "mnist", "cifar10"} <= set(rows)
    assert rows["mnist1d"]["available"] and not rows["cifar10"]["available"]
    assert "cnn1d" in rows["mnist1d"]["models"] and "lenet5" not in rows["mnist1d"]["models"]
    assert main(["datasets", "list"]) == 0
    assert "mnist1d" in capsys.readouterr().out


def test_train_records_the_run_in_the_store(tmp_path, capsys):
    store_mod = pytest.importorskip("workbench.store")
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    path = tmp_path / "run.json"
    path.write_text(json.dumps(tiny_spec(budget=10, eval_every=5)))
    assert main(["train", "--spec", str(path), "--json", "--db", url]) == 0
    run_id = jsonio.loads(capsys.readouterr().out)["run_id"]
    recorded = store_mod.open_store(url).run(run_id)
    assert recorded["status"] == "completed"
