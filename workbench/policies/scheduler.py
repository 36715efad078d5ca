"""The torch adapter: a policy as an `LRScheduler` stepped once per iteration."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from workbench.policies.policy import Policy, from_spec


class PolicyScheduler(LRScheduler):
    """Sets every parameter group's LR to `policy(t) · scale` for iteration t.

    Call `step()` once after each optimizer step, as with torch's own schedulers. Group
    scales come from `scales`, else from a group's `lr_scale` key, else 1. The policy is a
    pure function of t, so `state_dict()` only needs the clock: loading it into a scheduler
    resumes exactly (a scheduler built with another policy continues *its* policy from
    that clock, which is how a search forks continuations from one checkpoint).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        policy: Policy | dict[str, Any],
        scales: Sequence[float] | None = None,
        last_epoch: int = -1,
    ):
        self.policy = from_spec(policy)
        groups = optimizer.param_groups
        if scales is None:
            scales = [float(g.get("lr_scale", 1.0)) for g in groups]
        if len(scales) != len(groups):
            raise ValueError(f"scales: {len(scales)} given for {len(groups)} parameter groups")
        self.scales = [float(s) for s in scales]
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        lr = self.policy(self.last_epoch)
        return [lr * s for s in self.scales]

    def _get_closed_form_lr(self) -> list[float]:
        return self.get_lr()

    def state_dict(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "policy")}
        state["policy_spec"] = self.policy.to_spec()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = {k: v for k, v in state_dict.items() if k != "policy_spec"}
        self.__dict__.update(state)
        # The LR in the optimizer is whatever the checkpoint's optimizer state says; make
        # it this policy's value at the restored clock.
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]
