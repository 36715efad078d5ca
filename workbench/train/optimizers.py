"""Optimizers: a public registry with each optimizer's usual settings and their defaults.

The learning rate is never a setting: it comes from the policy (its value at t = 0 is
passed at construction, then the policy's scheduler sets it before every iteration).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from workbench.errors import BadInput
from workbench.train.registry import Registry


@dataclass
class OptimizerEntry:
    """A registered optimizer: `factory(params, lr=…, **settings)` and its default settings."""

    factory: Callable[..., torch.optim.Optimizer]
    defaults: dict[str, Any]
    description: str
    fixed: dict[str, Any] = field(default_factory=dict)  # passed always, not settable
    mode_switching: bool = False  # needs optimizer.train()/.eval() (Schedule-Free)


OPTIMIZERS: Registry[OptimizerEntry] = Registry("optimizer")


def register_optimizer(
    name: str, entry: OptimizerEntry, *, replace: bool = False
) -> OptimizerEntry:
    """Add an optimizer to the public registry."""
    return OPTIMIZERS.add(name, entry, replace=replace)


def optimizer_settings(spec: dict[str, Any]) -> dict[str, Any]:
    """The full settings of an optimizer spec (defaults filled in); `BadInput` if invalid."""
    name = spec.get("name")
    entry = OPTIMIZERS.get(name)
    given = {k: v for k, v in spec.items() if k != "name"}
    if "lr" in given:
        raise BadInput("optimizer.lr: the learning rate comes from the policy; remove 'lr'")
    unknown = sorted(set(given) - set(entry.defaults))
    if unknown:
        known = ", ".join(sorted(entry.defaults)) or "none"
        raise BadInput(
            f"optimizer {name!r}: unknown setting(s) {', '.join(unknown)}; known: {known}"
        )
    settings = {**entry.defaults, **given}
    for key, value in settings.items():
        if isinstance(entry.defaults[key], tuple):
            settings[key] = tuple(value)
    return settings


def build_optimizer(
    spec: dict[str, Any], params: Iterable[torch.nn.Parameter], lr: float
) -> torch.optim.Optimizer:
    """Build the optimizer of `spec` ({"name": …, **settings}) starting at `lr`."""
    entry = OPTIMIZERS.get(spec.get("name"))
    settings = optimizer_settings(spec)
    try:
        return entry.factory(params, lr=lr, **entry.fixed, **settings)
    except (ValueError, TypeError) as exc:
        raise BadInput(f"optimizer {spec.get('name')!r}: {exc}") from None


def is_mode_switching(name: str) -> bool:
    """Whether the optimizer needs train()/eval() around evaluation (Schedule-Free)."""
    return OPTIMIZERS.get(name).mode_switching


def _schedulefree(cls_name: str) -> Callable[..., torch.optim.Optimizer]:
    def make(params: Iterable[torch.nn.Parameter], **kw: Any) -> torch.optim.Optimizer:
        import schedulefree

        return getattr(schedulefree, cls_name)(params, **kw)

    return make


_WD = {"weight_decay": 0.0}
register_optimizer("sgd", OptimizerEntry(torch.optim.SGD, {**_WD}, "plain SGD"))
register_optimizer(
    "momentum",
    OptimizerEntry(
        torch.optim.SGD, {"momentum": 0.9, "dampening": 0.0, **_WD}, "SGD with momentum"
    ),
)
register_optimizer(
    "nesterov",
    OptimizerEntry(
        torch.optim.SGD,
        {"momentum": 0.9, **_WD},
        "SGD with Nesterov momentum",
        fixed={"nesterov": True},
    ),
)
register_optimizer(
    "adam",
    OptimizerEntry(
        torch.optim.Adam,
        {"betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False, **_WD},
        "Adam (L2 weight decay)",
    ),
)
register_optimizer(
    "adamw",
    OptimizerEntry(
        torch.optim.AdamW,
        {"betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False, "weight_decay": 0.01},
        "AdamW (decoupled weight decay)",
    ),
)
register_optimizer(
    "adagrad",
    OptimizerEntry(
        torch.optim.Adagrad,
        {"lr_decay": 0.0, "initial_accumulator_value": 0.0, "eps": 1e-10, **_WD},
        "Adagrad",
    ),
)
register_optimizer(
    "rmsprop",
    OptimizerEntry(
        torch.optim.RMSprop,
        {"alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "centered": False, **_WD},
        "RMSprop",
    ),
)
register_optimizer(
    "adadelta",
    OptimizerEntry(torch.optim.Adadelta, {"rho": 0.9, "eps": 1e-6, **_WD}, "Adadelta"),
)
register_optimizer(
    "schedulefree-sgd",
    OptimizerEntry(
        _schedulefree("SGDScheduleFree"),
        {"momentum": 0.9, "warmup_steps": 0, "r": 0.0, "weight_lr_power": 2.0, **_WD},
        "Schedule-Free SGD (the schedulefree package)",
        mode_switching=True,
    ),
)
register_optimizer(
    "schedulefree-adamw",
    OptimizerEntry(
        _schedulefree("AdamWScheduleFree"),
        {
            "betas": (0.9, 0.999),
            "eps": 1e-8,
            "warmup_steps": 0,
            "r": 0.0,
            "weight_lr_power": 2.0,
            **_WD,
        },
        "Schedule-Free AdamW (the schedulefree package)",
        mode_switching=True,
    ),
)
