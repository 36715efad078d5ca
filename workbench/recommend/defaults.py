"""The baselines the recommender is measured against: the paper's default policies, each
optimizer's framework default LR, and the modern reference points (one-cycle, warm-up +
cosine, Schedule-Free).

Every paper baseline is stored at the budget it was published with and re-targeted to a
task's budget with `Policy.retarget` (the same shape over fewer iterations).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from workbench.errors import BadInput
from workbench.policies import Policy, from_spec, one_cycle, warmup_cosine


@dataclass(frozen=True)
class Baseline:
    """A published default policy with the setting it was published for."""

    name: str
    policy: dict[str, Any]
    budget: int
    optimizer: dict[str, Any]
    batch_size: int
    source: str
    models: tuple[str, ...] = field(default_factory=tuple)

    def at(self, budget: int) -> Policy:
        """This policy re-targeted to `budget` iterations."""
        return from_spec(self.policy).retarget(self.budget, budget)


LENET_MNIST = Baseline(
    name="caffe-lenet-inv",
    policy={"function": "INV", "k0": 0.01, "gamma": 1e-4, "p": 0.75},
    budget=10_000,
    optimizer={"name": "momentum", "momentum": 0.9, "weight_decay": 5e-4},
    batch_size=64,
    source=(
        "Caffe examples/mnist/lenet_solver.prototxt: base_lr 0.01, lr_policy 'inv', "
        "gamma 1e-4, power 0.75, momentum 0.9, weight_decay 5e-4, max_iter 10000, batch 64 "
        "(the LRBench paper's LeNet/MNIST baseline; its TensorFlow twin uses batch 100)"
    ),
    models=("lenet5", "cnn1d", "mlp"),
)
"""LeNet-5 on MNIST, Caffe's solver: INV k0=0.01 γ=1e-4 p=0.75 for 10,000 iterations."""

CNN3_CIFAR10 = Baseline(
    name="caffe-cifar10-quick-fix",
    policy={"function": "FIX", "k0": 0.001},
    budget=60_000,
    optimizer={"name": "momentum", "momentum": 0.9, "weight_decay": 0.004},
    batch_size=100,
    source=(
        "Caffe examples/cifar10/cifar10_full_solver.prototxt: base_lr 0.001, lr_policy "
        "'fixed', momentum 0.9, weight_decay 0.004, batch 100, 60,000 iterations "
        "(the LRBench paper's CNN3/CIFAR-10 baseline)"
    ),
    models=("cnn3",),
)
"""CNN3 on CIFAR-10, Caffe's cifar10_full solver: FIX 0.001 for 60,000 iterations."""

CNN3_CIFAR10_NSTEP = Baseline(
    name="caffe-cifar10-full-nstep",
    policy={"function": "NSTEP", "k0": 0.001, "gamma": 0.1, "l": [60_000, 65_000]},
    budget=70_000,
    optimizer={"name": "momentum", "momentum": 0.9, "weight_decay": 0.004},
    batch_size=100,
    source=(
        "Caffe cifar10_full_solver_lr1/lr2: 0.001 for 60k iterations, ×0.1 at 60k and 65k, "
        "70,000 iterations in all, momentum 0.9, weight_decay 0.004, batch 100"
    ),
    models=("cnn3",),
)
"""CNN3 on CIFAR-10, Caffe's three-phase schedule: NSTEP 0.001 ×0.1 at 60k/65k, 70k."""

RESNET_CIFAR10 = Baseline(
    name="resnet-cifar10-nstep",
    policy={"function": "NSTEP", "k0": 0.1, "gamma": 0.1, "l": [32_000, 48_000]},
    budget=64_000,
    optimizer={"name": "momentum", "momentum": 0.9, "weight_decay": 1e-4},
    batch_size=128,
    source=(
        "He et al. 2016 (Deep Residual Learning, §4.2): lr 0.1 divided by 10 at 32k and 48k, "
        "stop at 64k, momentum 0.9, weight decay 1e-4, batch 128"
    ),
    models=("resnet20", "resnet32", "resnet44", "resnet56", "resnet110"),
)
"""ResNet on CIFAR-10 (He et al.): NSTEP 0.1 ×0.1 at 32k/48k, 64,000 iterations."""

PAPER_BASELINES: dict[str, Baseline] = {
    b.name: b for b in (LENET_MNIST, CNN3_CIFAR10, CNN3_CIFAR10_NSTEP, RESNET_CIFAR10)
}

# Framework default learning rates (FIX policies), per optimizer. SGD-type optimizers use
# Caffe's/Keras's 0.01 (torch.optim.SGD's own default is 1e-3, which no tutorial trains
# with); the adaptive ones use torch.optim's (= Keras's) defaults; Schedule-Free uses the
# `schedulefree` package's defaults.
FRAMEWORK_DEFAULT_LR: dict[str, tuple[float, str]] = {
    "sgd": (0.01, "Keras SGD default / Caffe LeNet base_lr"),
    "momentum": (0.01, "Keras SGD default / Caffe LeNet base_lr"),
    "nesterov": (0.01, "Keras SGD default / Caffe LeNet base_lr"),
    "adam": (0.001, "torch.optim.Adam / Keras Adam default"),
    "adamw": (0.001, "torch.optim.AdamW / Keras AdamW default"),
    "adagrad": (0.01, "torch.optim.Adagrad default"),
    "rmsprop": (0.01, "torch.optim.RMSprop default (Keras: 0.001)"),
    "adadelta": (1.0, "torch.optim.Adadelta default"),
    "schedulefree-sgd": (1.0, "schedulefree.SGDScheduleFree default"),
    "schedulefree-adamw": (0.0025, "schedulefree.AdamWScheduleFree default"),
}

# Optimizers whose per-parameter scaling makes the SGD baselines' LRs meaningless.
ADAPTIVE = frozenset({"adam", "adamw", "adagrad", "rmsprop", "adadelta", "schedulefree-adamw"})
SGD_LIKE = frozenset({"sgd", "momentum", "nesterov"})


def optimizer_name(task_or_optimizer: Mapping[str, Any]) -> str:
    """The optimizer name of a task, run spec or optimizer dict (lower case)."""
    opt = task_or_optimizer.get("optimizer", task_or_optimizer)
    name = opt.get("name") if isinstance(opt, Mapping) else opt
    if not isinstance(name, str) or not name:
        raise BadInput(f"optimizer: needs a name (got {opt!r})")
    return name.lower()


def framework_default(optimizer: str) -> dict[str, Any]:
    """The framework's default LR for `optimizer` as a FIX spec."""
    name = optimizer.lower()
    if name not in FRAMEWORK_DEFAULT_LR:
        known = ", ".join(FRAMEWORK_DEFAULT_LR)
        raise BadInput(f"optimizer: no framework default known for {optimizer!r}; known: {known}")
    return {"function": "FIX", "k0": FRAMEWORK_DEFAULT_LR[optimizer.lower()][0]}


def paper_baseline(model: str) -> Baseline:
    """The paper's baseline for a model (LeNet's for small image/sequence models)."""
    for b in (CNN3_CIFAR10, RESNET_CIFAR10):
        if model.lower() in b.models:
            return b
    return LENET_MNIST


def default_policy(task: Mapping[str, Any], budget: int) -> Policy:
    """The default policy the paper compares against, re-targeted to `budget`.

    SGD-type optimizers get the paper's baseline for the model (Caffe's LeNet INV for
    lenet5/cnn1d/mlp, FIX 0.001 for cnn3, He et al.'s NSTEP for ResNets); adaptive and
    schedule-free optimizers get their framework's default FIX LR.
    """
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise BadInput(f"budget: must be a positive number of iterations (got {budget!r})")
    name = optimizer_name(task)
    if name in SGD_LIKE:
        return paper_baseline(str(task.get("model", ""))).at(budget)
    return from_spec(framework_default(name))


def default_explanation(task: Mapping[str, Any]) -> str:
    """Where the default policy of `task` comes from (for tables and reports)."""
    name = optimizer_name(task)
    if name in SGD_LIKE:
        b = paper_baseline(str(task.get("model", "")))
        return f"{b.name}, re-targeted from {b.budget} iterations: {b.source}"
    return f"FIX {FRAMEWORK_DEFAULT_LR[name][0]} ({FRAMEWORK_DEFAULT_LR[name][1]})"


# --- modern baselines ------------------------------------------------------------------------

SCHEDULE_FREE = {"sgd": "schedulefree-sgd", "momentum": "schedulefree-sgd",
                 "nesterov": "schedulefree-sgd"}  # fmt: skip


# The optimizers that have a Schedule-Free counterpart for the recommender's opt-in
# (`recommend(..., allow_optimizer_change=True)`): the SGD family and Adam(W). The others
# (Adagrad, RMSprop, Adadelta) have none in the `schedulefree` package, so asking for one
# there is an error rather than a silent swap to AdamW.
COUNTERPARTS = {**SCHEDULE_FREE, "adam": "schedulefree-adamw", "adamw": "schedulefree-adamw"}
SCHEDULE_FREE_NAMES = frozenset({"schedulefree-sgd", "schedulefree-adamw"})


def schedule_free_counterpart(optimizer: Mapping[str, Any]) -> dict[str, Any] | None:
    """The Schedule-Free optimizer the recommender may offer instead of `optimizer` (the
    same one the Schedule-Free baseline uses); None when `optimizer` already is one;
    BadInput naming it when it has no counterpart."""
    name = optimizer_name(optimizer)
    if name in SCHEDULE_FREE_NAMES:
        return None
    if name not in COUNTERPARTS:
        known = ", ".join(sorted(COUNTERPARTS))
        raise BadInput(
            f"optimizer {name!r} has no Schedule-Free counterpart, so the optimizer change "
            f"cannot be allowed for it; counterparts exist for: {known}"
        )
    return schedule_free_optimizer(optimizer)


def schedule_free_optimizer(optimizer: Mapping[str, Any]) -> dict[str, Any]:
    """The Schedule-Free counterpart of an optimizer (SGD family → schedulefree-sgd, else
    schedulefree-adamw), keeping momentum and weight decay."""
    name = optimizer_name(optimizer)
    out: dict[str, Any] = {"name": SCHEDULE_FREE.get(name, "schedulefree-adamw")}
    if "weight_decay" in optimizer:
        out["weight_decay"] = optimizer["weight_decay"]
    if out["name"] == "schedulefree-sgd" and "momentum" in optimizer:
        out["momentum"] = optimizer["momentum"]
    return out


@dataclass(frozen=True)
class ModernBaseline:
    """A modern reference point: a policy (and, for Schedule-Free, another optimizer)."""

    name: str
    policy: dict[str, Any]
    optimizer: dict[str, Any]
    note: str


def _one_cycle(peak: float, budget: int, optimizer: Mapping[str, Any]) -> ModernBaseline:
    return ModernBaseline(
        "one-cycle", one_cycle(peak, budget).to_spec(), dict(optimizer),
        "Smith's one-cycle (torch OneCycleLR shape), peak from the range test",
    )  # fmt: skip


def _warmup_cosine(peak: float, budget: int, optimizer: Mapping[str, Any]) -> ModernBaseline:
    return ModernBaseline(
        "warmup-cosine", warmup_cosine(peak, budget).to_spec(), dict(optimizer),
        "5% linear warm-up then cosine to 0, peak from the range test",
    )  # fmt: skip


# Schedule-Free's warm-up, as a fraction of the budget (the baseline and the recommender's
# Schedule-Free candidate share it, so that the two agree).
SCHEDULE_FREE_WARMUP = 0.05


def schedule_free_policy(peak: float, budget: int, warmup: int | None = None) -> dict[str, Any]:
    """Schedule-Free's policy: a linear warm-up (SCHEDULE_FREE_WARMUP of the budget unless
    `warmup` is given) to `peak`, then constant."""
    # Schedule-Free keeps a constant LR after a short warm-up; the warm-up is a policy stage
    # so the optimizer needs no schedule of its own.
    w = max(1, round(SCHEDULE_FREE_WARMUP * budget)) if warmup is None else max(1, warmup)
    spec = {"stages": [
        {"policy": {"function": "LINEAR", "k0": 0.0, "k1": peak, "l": w}, "until": w},
        {"policy": {"function": "FIX", "k0": peak}},
    ]}  # fmt: skip
    return from_spec(spec).to_spec()


def _schedule_free(peak: float, budget: int, optimizer: Mapping[str, Any]) -> ModernBaseline:
    return ModernBaseline(
        "schedule-free", schedule_free_policy(peak, budget), schedule_free_optimizer(optimizer),
        "Schedule-Free optimizer, 5% warm-up then constant peak from the range test",
    )  # fmt: skip


MODERN: dict[str, Callable[[float, int, Mapping[str, Any]], ModernBaseline]] = {
    "one-cycle": _one_cycle,
    "warmup-cosine": _warmup_cosine,
    "schedule-free": _schedule_free,
}


def modern_baselines(
    peak: float, budget: int, optimizer: Mapping[str, Any]
) -> dict[str, ModernBaseline]:
    """One-cycle, warm-up + cosine and Schedule-Free with `peak` (from the range test)."""
    if not peak > 0:
        raise BadInput(f"peak: must be a positive learning rate (got {peak!r})")
    return {name: make(peak, budget, optimizer) for name, make in MODERN.items()}
