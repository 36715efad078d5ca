"""The training loop: learning, determinism, exact resume, divergence, LR, callbacks."""

from __future__ import annotations

import math
import threading

import pytest
import torch

from tests.train.common import strip_times, tiny_spec
from workbench.errors import BadInput
from workbench.policies import from_spec
from workbench.train import (
    OPTIMIZERS,
    POINT_KEYS,
    RESULT_KEYS,
    Callback,
    RunSpec,
    StopRequest,
    Trainer,
    train,
)


def test_short_synthetic_run_learns():
    result = train(tiny_spec(budget=120, eval_every=40, eval_subset=None), progress=False)
    h = result.history
    assert result.status == "completed" and result.iterations == 120
    assert h[-1]["val_top1"] > 0.6 and h[-1]["test_top1"] > 0.6  # chance is 0.1
    assert h[-1]["val_loss"] < h[0]["val_loss"] - 1
    assert h[-1]["train_loss"] < h[1]["train_loss"]


def test_points_and_result_have_every_key():
    result = train(tiny_spec(budget=50, eval_every=20, target=0.3), progress=False).to_dict()
    assert tuple(result) == RESULT_KEYS
    assert [p["iteration"] for p in result["history"]] == [0, 20, 40, 50]
    for point in result["history"]:
        assert tuple(point) == POINT_KEYS
    first, last = result["history"][0], result["history"][-1]
    assert math.isnan(first["train_loss"]) and first["train_seconds"] == 0
    assert last["epoch"] == pytest.approx(50 * 32 / 1800)
    assert result["final_top1"] == last["val_top1"]
    assert result["final_test_top1"] == last["test_top1"]
    assert result["robustness_gap"] == pytest.approx(last["test_loss"] - last["train_loss"])
    reached = next(p for p in result["history"] if p["val_top1"] >= 0.3)
    assert result["iterations_to_target"] == reached["iteration"]
    assert result["seconds_to_target"] == reached["train_seconds"]
    assert result["task"]["optimizer"] == {
        "name": "momentum", "momentum": 0.9, "dampening": 0.0, "weight_decay": 0.0
    }  # fmt: skip
    prov = result["provenance"]
    assert prov["seed"] == 0 and prov["device"] == "cpu" and prov["versions"]["torch"]
    assert "git_revision" in prov and prov["hostname"]
    assert result["policy_hash"] == from_spec(tiny_spec()["policy"]).hash


def test_same_seed_same_history_other_seed_differs():
    a = train(tiny_spec(), progress=False)
    b = train(tiny_spec(), progress=False)
    c = train(tiny_spec(seed=1), progress=False)
    assert strip_times(a.history) == strip_times(b.history)
    assert strip_times(a.history) != strip_times(c.history)


@pytest.mark.parametrize(
    "over",
    [
        {},
        {"optimizer": {"name": "schedulefree-adamw"}, "policy": {"function": "FIX", "k0": 0.01}},
        {"dataset": "synthetic-image", "dataset_options": {"size": 16}, "model": "resnet20",
         "augment": True, "budget": 12,
         "eval_every": 4, "batch_size": 16, "eval_subset": 32, "subset": 100},
    ],
    ids=["momentum", "schedulefree", "resnet-augment"],
)  # fmt: skip
def test_resume_from_checkpoint_matches_uninterrupted(tmp_path, over):
    spec = tiny_spec(**{"policy": {"function": "TRI", "k0": 0.01, "k1": 0.1, "l": 15}, **over})
    full = Trainer(spec).run()
    mid = spec["budget"] // 2 + 1  # not an evaluation point
    first = Trainer(spec)
    paused = first.run(until=mid)
    assert paused.status == "running" and paused.iterations == mid
    first.save(tmp_path / "ckpt.pt")
    resumed = Trainer.restore(tmp_path / "ckpt.pt").run()
    assert resumed.run_id == first.run_id
    assert resumed.status == "completed"
    assert strip_times(resumed.history) == strip_times(full.history)
    # in-memory state, and continuing the same Trainer, agree too
    assert strip_times(first.run().history) == strip_times(full.history)


def test_forks_from_one_state_are_independent_and_cheap():
    spec = tiny_spec(budget=40)
    base = Trainer(spec)
    base.run(until=20)
    state = base.state()
    other = dict(spec, policy={"function": "FIX", "k0": 0.001})
    forks = [Trainer.restore(state, spec=s) for s in (spec, other, spec)]
    for fork in forks:  # interleave the forks: private RNG states keep them apart
        fork.run(until=30)
    results = [fork.run() for fork in forks]
    assert strip_times(results[0].history) == strip_times(results[2].history)
    assert strip_times(results[0].history) == strip_times(Trainer(spec).run().history)
    assert results[1].history[-1]["lr"] == 0.001 and results[1].history[1]["lr"] == 0.05
    assert results[1].run_id != base.run_id
    assert results[1].provenance["forked_from"] == {"run_id": base.run_id, "iteration": 20}


def test_restore_refuses_another_task():
    state = Trainer(tiny_spec()).state()
    with pytest.raises(BadInput, match="differs in model"):
        Trainer.restore(state, spec=tiny_spec(model="cnn1d"))


def test_huge_lr_diverges_with_history():
    result = train(tiny_spec(policy={"function": "FIX", "k0": 1e6}), progress=False)
    assert result.status == "diverged" and result.stop_reason == "non_finite_loss"
    assert 0 < result.iterations < 60
    assert result.history[0]["iteration"] == 0
    assert result.history[-1]["iteration"] == result.iterations
    assert not math.isfinite(result.history[-1]["train_loss"])


def test_lr_seen_by_optimizer_is_policy_of_t():
    policy = {"stages": [
        {"policy": {"function": "TRI", "k0": 0.001, "k1": 0.05, "l": 7}, "until": 25},
        {"policy": {"function": "NSTEP", "k0": 0.02, "gamma": 0.5, "l": [5, 12]}},
    ]}  # fmt: skip
    trainer = Trainer(tiny_spec(policy=policy, budget=45))
    seen: list[float] = []
    trainer.optimizer.register_step_pre_hook(
        lambda opt, args, kwargs: seen.append(opt.param_groups[0]["lr"])
    )
    result = trainer.run()
    p = from_spec(policy)
    assert seen == [p(t) for t in range(45)]
    assert [pt["lr"] for pt in result.history] == [p(pt["iteration"]) for pt in result.history]


class _StopAt(Callback):
    def __init__(self, at: int, answer):
        self.at, self.answer, self.events = at, answer, []

    def on_run_start(self, run):
        self.events.append("start")

    def on_eval(self, run, point):
        self.events.append(point["iteration"])
        return self.answer if point["iteration"] >= self.at else None

    def on_run_end(self, run, result):
        self.events.append(("end", result["status"], result["stop_reason"]))


@pytest.mark.parametrize(
    ("answer", "status", "reason"),
    [("rule:test", "stopped", "rule:test"),
     (StopRequest("rule:nan-ish", status="diverged"), "diverged", "rule:nan-ish")],
)  # fmt: skip
def test_callback_stops_the_run(answer, status, reason):
    cb = _StopAt(20, answer)
    result = train(tiny_spec(), callbacks=[cb], progress=False)
    assert (result.status, result.stop_reason, result.iterations) == (status, reason, 20)
    assert cb.events == ["start", 0, 20, ("end", status, reason)]


def test_request_stop_from_another_thread_stops_within_an_iteration():
    class Stopper(Callback):
        def on_progress(self, run, iteration):
            if iteration == 30:
                threading.Thread(target=run.request_stop, args=("user",)).start()

    result = train(tiny_spec(budget=1000, eval_every=500), callbacks=[Stopper()], progress=False)
    assert result.status == "stopped" and result.stop_reason == "user"
    assert 30 <= result.iterations < 1000
    assert result.history[-1]["iteration"] == result.iterations


def test_stop_at_target_and_plain_run_reports_target():
    plain = train(tiny_spec(target=0.3), progress=False)
    assert plain.status == "completed" and plain.iterations_to_target is not None
    stopping = train(tiny_spec(target=0.3, stop_at_target=True), progress=False)
    assert (stopping.status, stopping.stop_reason) == ("stopped", "target_reached")
    assert stopping.iterations == plain.iterations_to_target


def test_failing_callback_gives_failed_with_traceback():
    class Broken(Callback):
        def on_eval(self, run, point):
            if point["iteration"] == 20:
                raise RuntimeError("boom")

    result = train(tiny_spec(), callbacks=[Broken()], progress=False)
    assert result.status == "failed" and "RuntimeError: boom" in result.error


def test_global_rng_untouched():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train(tiny_spec(budget=5, eval_every=5), progress=False)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_every_optimizer_trains_with_weight_decay(name):
    lr = 0.5 if name == "adadelta" else 0.01
    spec = tiny_spec(optimizer={"name": name, "weight_decay": 1e-4}, budget=40, eval_every=40,
                     policy={"function": "FIX", "k0": lr})  # fmt: skip
    result = train(spec, progress=False)
    assert result.status == "completed"
    assert result.history[-1]["val_loss"] < result.history[0]["val_loss"]


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"dataset": "nope"}, "known: .*mnist1d"),
        ({"model": "nope"}, "known: .*lenet5"),
        ({"optimizer": {"name": "nope"}}, "known: .*adamw"),
        ({"optimizer": {"name": "adam", "momentum": 0.9}}, "unknown setting.*momentum"),
        ({"optimizer": {"name": "sgd", "lr": 0.1}}, "comes from the policy"),
        ({"model": "lenet5"}, "needs images"),
        ({"batch_size": 5000}, "larger than the training split"),
        ({"budget": 0}, "budget"),
        ({"eval_every": -1}, "eval_every"),
        ({"target": 1.5}, "target"),
        ({"policy": {"function": "FIX", "k0": -1}}, "k0"),
        ({"dataset": "mnist"}, "train-images-idx3-ubyte"),
        ({"dataset_options": {"colour": 1}}, "colour"),
    ],
)
def test_bad_input_fails_before_training(over, message, tmp_path):
    with pytest.raises(BadInput, match=message):
        Trainer(tiny_spec(data_root=str(tmp_path), **over))


def test_runspec_keeps_extra_fields_and_names_missing_ones():
    spec = RunSpec.parse(tiny_spec(note="hello"))
    assert spec.to_dict()["note"] == "hello"
    with pytest.raises(BadInput, match="seed: Field required"):
        RunSpec.parse({k: v for k, v in tiny_spec().items() if k != "seed"})


def test_checkpoint_every_writes_files_that_resume(tmp_path):
    spec = tiny_spec(checkpoint_every=20, checkpoint_dir=str(tmp_path))
    full = train(spec, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "iter_00000020.pt", "iter_00000040.pt", "iter_00000060.pt"
    ]  # fmt: skip
    resumed = Trainer.restore(tmp_path / "iter_00000020.pt").run()
    assert strip_times(resumed.history) == strip_times(full.history)
    assert resumed.run_id == full.run_id


def test_forks_share_the_data():
    state = Trainer(tiny_spec()).state()
    a, b = Trainer.restore(state), Trainer.restore(state)
    assert a.data is b.data


def test_checkpoint_at_the_budget_restores_as_completed(tmp_path):
    spec = tiny_spec(checkpoint_every=60, checkpoint_dir=str(tmp_path))
    full = train(spec, progress=False)
    again = Trainer.restore(tmp_path / "iter_00000060.pt").run()
    assert again.status == "completed" and again.iterations == 60
    assert strip_times(again.history) == strip_times(full.history)


def test_keyboard_interrupt_ends_as_interrupted_and_propagates():
    ended = []

    class Interrupt(Callback):
        def on_eval(self, run, point):
            if point["iteration"] == 20:
                raise KeyboardInterrupt

        def on_run_end(self, run, result):
            ended.append((result["status"], result["iterations"]))

    trainer = Trainer(tiny_spec(), callbacks=[Interrupt()])
    with pytest.raises(KeyboardInterrupt):
        trainer.run()
    assert ended == [("interrupted", 20)] and trainer.result().status == "interrupted"


def test_progress_bar_renders(capsys):
    train(tiny_spec(budget=20, eval_every=10), progress=True)
    err = capsys.readouterr().err
    assert "synthetic/mlp" in err and "20/20" in err


def test_threads_apply_during_the_run_only():
    before = torch.get_num_threads()
    seen = []

    class Threads(Callback):
        def on_eval(self, run, point):
            seen.append(torch.get_num_threads())

    train(tiny_spec(threads=2, budget=5, eval_every=5), callbacks=[Threads()], progress=False)
    assert seen == [2, 2] and torch.get_num_threads() == before


def test_deferred_finiteness_checks_as_on_an_accelerator(monkeypatch):
    # The accelerator path (losses summed on the device, read every few steps) run on the CPU.
    from workbench.train import loop

    monkeypatch.setitem(loop.SYNC_EVERY, "cpu", 7)
    trainer = Trainer(tiny_spec(policy={"function": "FIX", "k0": 1e6}))
    assert not trainer.meter.on_host
    result = trainer.run()
    assert result.status == "diverged" and result.iterations % 7 == 0
    assert result.history[-1]["iteration"] == result.iterations
    good = train(tiny_spec(), progress=False)
    monkeypatch.setitem(loop.SYNC_EVERY, "cpu", 1)
    reference = train(tiny_spec(), progress=False)
    assert [p["train_loss"] for p in good.history[1:]] == pytest.approx(
        [p["train_loss"] for p in reference.history[1:]], rel=1e-6
    )
