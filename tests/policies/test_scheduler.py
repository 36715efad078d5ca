"""The torch adapter: equals torch's own schedulers where they coincide, resumes exactly."""

from __future__ import annotations

import pytest
import torch
from torch.optim import lr_scheduler as tls

from workbench.policies import PolicyScheduler, compose, from_spec

STEPS = 3000


def _optimizer(lr: float = 0.1, groups: int = 1, **kwargs) -> torch.optim.Optimizer:
    params = [{"params": [torch.nn.Parameter(torch.zeros(1))], **kwargs} for _ in range(groups)]
    return torch.optim.SGD(params, lr=lr)


def _trace(optimizer, scheduler, steps: int = STEPS) -> list[list[float]]:
    """LR of each group used at iterations 0 … steps − 1 (read before each step)."""
    out = []
    for _ in range(steps):
        out.append([g["lr"] for g in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    return out


TORCH_EQUIVALENTS = [
    ("StepLR", lambda o: tls.StepLR(o, step_size=250, gamma=0.5),
     {"function": "STEP", "k0": 0.1, "gamma": 0.5, "l": 250}),
    ("MultiStepLR", lambda o: tls.MultiStepLR(o, milestones=[700, 1900], gamma=0.1),
     {"function": "NSTEP", "k0": 0.1, "gamma": 0.1, "l": [700, 1900]}),
    ("ExponentialLR", lambda o: tls.ExponentialLR(o, gamma=0.999),
     {"function": "EXP", "k0": 0.1, "gamma": 0.999}),
    ("CosineAnnealingLR", lambda o: tls.CosineAnnealingLR(o, T_max=1000, eta_min=0.001),
     {"function": "COS", "k0": 0.001, "k1": 0.1, "l": 1000}),
    ("CyclicLR-triangular",
     lambda o: tls.CyclicLR(o, base_lr=0.001, max_lr=0.1, step_size_up=200,
                            mode="triangular", cycle_momentum=False),
     {"function": "TRI", "k0": 0.001, "k1": 0.1, "l": 200}),
    ("CyclicLR-triangular2",
     lambda o: tls.CyclicLR(o, base_lr=0.001, max_lr=0.1, step_size_up=200,
                            mode="triangular2", cycle_momentum=False),
     {"function": "TRI2", "k0": 0.001, "k1": 0.1, "l": 200}),
    ("PolynomialLR", lambda o: tls.PolynomialLR(o, total_iters=2000, power=2.0),
     {"function": "POLY", "k0": 0.0, "k1": 0.1, "p": 2.0, "l": 2000}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "make", "spec"), TORCH_EQUIVALENTS, ids=[t[0] for t in TORCH_EQUIVALENTS]
)
def test_matches_torch_scheduler(name, make, spec):
    o1 = _optimizer()
    expected = _trace(o1, make(o1))
    o2 = _optimizer()
    got = _trace(o2, from_spec(spec).scheduler(o2))
    # torch's recursive forms accumulate rounding; an off-by-one would be off by far more.
    for t, (e, g) in enumerate(zip(expected, got, strict=True)):
        assert g[0] == pytest.approx(e[0], rel=1e-6, abs=1e-12), f"{name} at t={t}"


def test_lr_at_iteration_t_is_policy_of_t():
    policy = compose([({"function": "LINEAR", "k0": 0.0, "k1": 0.1, "l": 100}, 100),
                      ({"function": "COS", "k0": 0.0, "k1": 0.1, "l": 900}, None)])  # fmt: skip
    o = _optimizer()
    trace = _trace(o, policy.scheduler(o), 1000)
    assert [row[0] for row in trace] == [policy(t) for t in range(1000)]


def test_parameter_group_scales():
    policy = from_spec({"function": "EXP", "k0": 0.1, "gamma": 0.99})
    o = _optimizer(groups=3)
    o.param_groups[2]["lr_scale"] = 0.5
    trace = _trace(o, PolicyScheduler(o, policy), 50)
    assert [row[2] for row in trace] == [policy(t) * 0.5 for t in range(50)]
    o = _optimizer(groups=2)
    trace = _trace(o, policy.scheduler(o, scales=[1.0, 10.0]), 50)
    assert [row[1] for row in trace] == [policy(t) * 10.0 for t in range(50)]
    with pytest.raises(ValueError, match="scales"):
        policy.scheduler(_optimizer(groups=2), scales=[1.0])


@pytest.mark.parametrize("cut", [1, 137, 1500])
def test_resume_from_state_dict_mid_run(cut):
    policy = from_spec({"function": "TRI2", "k0": 0.001, "k1": 0.1, "l": 300})
    o = _optimizer()
    s = policy.scheduler(o)
    full = _trace(o, s, 2000)

    o1 = _optimizer()
    s1 = policy.scheduler(o1)
    first = _trace(o1, s1, cut)
    state_o, state_s = o1.state_dict(), s1.state_dict()

    o2 = _optimizer()
    s2 = policy.scheduler(o2)
    o2.load_state_dict(state_o)
    s2.load_state_dict(state_s)
    rest = _trace(o2, s2, 2000 - cut)
    assert first + rest == full


def test_state_dict_is_plain_data():
    s = from_spec({"function": "FIX", "k0": 0.1}).scheduler(_optimizer())
    state = s.state_dict()
    assert state["policy_spec"] == {"function": "FIX", "k0": 0.1}
    assert state["last_epoch"] == 0
    torch.save(state, __import__("io").BytesIO())  # picklable: no live objects
