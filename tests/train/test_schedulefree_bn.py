"""Schedule-Free with BatchNorm: BN statistics are recomputed at the averaged weights."""

from __future__ import annotations

import copy

import pytest
import torch

from tests.train.common import strip_times, tiny_spec
from workbench.train import Trainer
from workbench.train.loop import BN_BATCHES, batchnorm_layers, recompute_bn

pytest.importorskip("schedulefree")


def _resnet_spec(**over):
    return tiny_spec(**{
        "dataset": "synthetic-image", "dataset_options": {"size": 16}, "model": "resnet20",
        "optimizer": {"name": "schedulefree-sgd", "momentum": 0.9},
        "policy": {"function": "FIX", "k0": 0.5}, "budget": 12, "eval_every": 4,
        "batch_size": 16, "eval_subset": 32, "subset": 400, **over,
    })  # fmt: skip


def _stats(model: torch.nn.Module) -> list[torch.Tensor]:
    return [t.clone() for m in batchnorm_layers(model) for t in (m.running_mean, m.running_var)]


def _reference_stats(trainer: Trainer, iterations: range) -> list[torch.Tensor]:
    """BN statistics of a copy of the model at its current weights: equal-weight average
    of the batch statistics of the given training batches (independent of the engine)."""
    model = copy.deepcopy(trainer.model)
    for m in batchnorm_layers(model):
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        for t in iterations:
            model(trainer.data.normalize(trainer.batcher.batch(t)[0]))
    return _stats(model)


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.allclose(x, y, rtol=1e-4, atol=1e-6) for x, y in zip(a, b, strict=True))


def test_bn_statistics_after_evaluation_are_those_of_the_averaged_weights():
    trainer = Trainer(_resnet_spec())
    result = trainer.run()
    assert result.status == "completed" and result.iterations == 12
    iterations = trainer.bn_iterations()
    assert iterations == range(0, BN_BATCHES)  # the first ones, early in a run
    evaluated = _stats(trainer.model)  # left by the last point's evaluation
    opt = trainer.optimizer
    opt.eval()  # the parameters are the averaged weights x, as during evaluation
    assert not opt.param_groups[0]["train_mode"]
    averaged = _reference_stats(trainer, iterations)
    opt.train()  # the training weights y
    at_training_weights = _reference_stats(trainer, iterations)
    assert _same(evaluated, averaged)
    assert not _same(averaged, at_training_weights)
    # And the last point was evaluated with them: evaluating again gives the same point.
    opt.eval()
    again = trainer._evaluate()
    assert again["val_loss"] == pytest.approx(result.history[-1]["val_loss"], rel=1e-5)


def test_evaluation_uses_the_last_batches_and_at_most_one_epoch():
    trainer = Trainer(_resnet_spec(subset=None))
    trainer.iteration = 100
    assert trainer.bn_iterations() == range(100 - BN_BATCHES, 100)
    trainer.iteration = 3
    assert trainer.bn_iterations() == range(0, BN_BATCHES)
    small = Trainer(_resnet_spec(subset=40))  # 36 training examples: 3 batches of 16
    assert len(small.bn_iterations()) == 3


def test_other_optimizers_keep_their_training_statistics():
    spec = _resnet_spec(optimizer={"name": "momentum", "momentum": 0.9},
                        policy={"function": "FIX", "k0": 0.05})  # fmt: skip
    trainer = Trainer(spec)
    assert trainer.bn_layers == []
    trainer.run()
    # Momentum-0.1 running averages: not the plain average over any window of batches.
    assert not _same(_stats(trainer.model), _reference_stats(trainer, trainer.bn_iterations()))


def test_resume_and_forks_stay_exact_with_bn_recomputation(tmp_path):
    spec = _resnet_spec(augment=True, policy={"function": "TRI", "k0": 0.05, "k1": 0.5, "l": 6})
    full = Trainer(spec)
    full_result = full.run()
    first = Trainer(spec)
    first.run(until=7)  # not an evaluation point
    first.save(tmp_path / "ckpt.pt")
    resumed = Trainer.restore(tmp_path / "ckpt.pt")
    assert strip_times(resumed.run().history) == strip_times(full_result.history)
    assert _same(_stats(resumed.model), _stats(full.model))
    # Pausing right after an evaluation point (its BN pass done) and forking from there.
    paused = Trainer(spec)
    paused.run(until=8)
    state = paused.state()
    forks = [Trainer.restore(state) for _ in range(2)]
    for fork in forks:  # interleaved
        fork.run(until=10)
    for fork in forks:
        assert strip_times(fork.run().history) == strip_times(full_result.history)
    assert strip_times(paused.run().history) == strip_times(full_result.history)


def test_recompute_bn_resets_and_restores_momentum_and_mode():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    bn = model[1]
    bn.running_mean.fill_(5.0)
    model.eval()
    gen = torch.Generator().manual_seed(0)
    batches = [torch.randn(8, 3, generator=gen) for _ in range(3)]
    assert recompute_bn(model, batches) == 3
    assert not model.training and bn.momentum == 0.1
    with torch.no_grad():
        outs = torch.cat([model[0](x) for x in batches])
        means = torch.stack([model[0](x).mean(0) for x in batches]).mean(0)
    assert torch.allclose(bn.running_mean, means, atol=1e-6)
    assert outs.shape == (24, 4)
    assert recompute_bn(torch.nn.Linear(2, 2), batches) == 0  # no BN: nothing to do


def test_evaluating_more_often_does_not_change_the_training():
    # The BN passes draw no augmentation and no RNG: training with 3 points or with 1
    # ends at the same weights, and the final point (same weights, same BN batches) agrees.
    spec = _resnet_spec(augment=True)
    often, once = Trainer(spec), Trainer(dict(spec, eval_every=12))
    a, b = often.run(), once.run()
    assert [p["iteration"] for p in a.history] == [0, 4, 8, 12]
    for key in ("val_loss", "val_top1", "test_loss", "test_top1"):
        assert a.history[-1][key] == pytest.approx(b.history[-1][key], rel=1e-5)
    for x, y in zip(often.model.parameters(), once.model.parameters(), strict=True):
        assert torch.allclose(x, y, rtol=1e-5, atol=1e-7)
