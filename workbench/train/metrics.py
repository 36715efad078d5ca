"""Evaluation: loss, top-1/top-5 and the paper's utility metrics, accumulated per batch.

Utility metrics (PAPER_TABLES.md): over the correctly classified examples, the mean and the
(population) standard deviation of the confidence (softmax probability of the predicted =
true class); CVAC = the (population) standard deviation across classes of the per-class mean
confidence of correct predictions (classes without a correct prediction are left out).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

NAN = math.nan


@dataclass
class EvalTotals:
    """Sums over an evaluation pass, kept on the device until read (one sync per pass)."""

    num_classes: int
    utility: bool = False

    def __post_init__(self) -> None:
        self.count = 0
        self._parts: list[torch.Tensor] = []  # [loss_sum, top1, top5] per batch
        self._class_sum: torch.Tensor | None = None
        self._class_sq: torch.Tensor | None = None
        self._class_n: torch.Tensor | None = None

    def add(self, logits: torch.Tensor, y: torch.Tensor) -> None:
        """Accumulate one batch of logits and labels."""
        logits = logits.float()
        logp = F.log_softmax(logits, dim=1)
        loss = F.nll_loss(logp, y, reduction="sum")
        pred = logp.argmax(dim=1)
        correct = pred == y
        k = min(5, self.num_classes)
        top5 = (logp.topk(k, dim=1).indices == y[:, None]).any(dim=1).sum()
        self._parts.append(torch.stack([loss, correct.sum().float(), top5.float()]))
        self.count += int(y.shape[0])
        if self.utility:
            self._add_utility(logp, y, correct)

    def _add_utility(self, logp: torch.Tensor, y: torch.Tensor, correct: torch.Tensor) -> None:
        conf = logp.max(dim=1).values.exp().double() * correct
        c = self.num_classes
        if self._class_sum is None:
            z = torch.zeros(c, dtype=torch.float64, device=logp.device)
            self._class_sum, self._class_sq, self._class_n = z, z.clone(), z.clone()
        self._class_sum.index_add_(0, y, conf)
        self._class_sq.index_add_(0, y, conf * conf)
        self._class_n.index_add_(0, y, correct.double())

    def result(self, prefix: str) -> dict[str, float]:
        """`{prefix}_loss`, `{prefix}_top1`, `{prefix}_top5` (+ utility metrics if asked)."""
        out: dict[str, float] = {}
        if self.count == 0:
            out = {f"{prefix}_loss": NAN, f"{prefix}_top1": NAN, f"{prefix}_top5": NAN}
        else:
            loss, top1, top5 = (torch.stack(self._parts).sum(0).double() / self.count).tolist()
            top5 = top5 if self.num_classes > 5 else NAN  # top-5 means nothing below 6 classes
            out = {f"{prefix}_loss": loss, f"{prefix}_top1": top1, f"{prefix}_top5": top5}
        if self.utility:
            out.update(self._utility())
        return out

    def _utility(self) -> dict[str, float]:
        if self._class_n is None or float(self._class_n.sum()) == 0:
            return {"confidence_mean": NAN, "confidence_std": NAN, "cvac": NAN}
        s, sq, n = self._class_sum, self._class_sq, self._class_n
        total = float(n.sum())
        mean = float(s.sum()) / total
        var = max(float(sq.sum()) / total - mean * mean, 0.0)
        has = n > 0
        per_class = s[has] / n[has]
        cvac = float(per_class.std(correction=0)) if int(has.sum()) > 0 else NAN
        return {"confidence_mean": mean, "confidence_std": math.sqrt(var), "cvac": cvac}


def utility_metrics(logits: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Confidence mean/std of correct predictions and CVAC for a fixed batch of logits."""
    totals = EvalTotals(int(logits.shape[1]), utility=True)
    totals.add(logits, y)
    return totals._utility()


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    prefix: str,
    num_classes: int,
    normalize: Callable[[torch.Tensor], torch.Tensor],
    batch_size: int = 1024,
    utility: bool = False,
    autocast: Callable[[], object] | None = None,
) -> dict[str, float]:
    """Loss and accuracy of `model` on (x, y); the model must already be in eval mode."""
    totals = EvalTotals(num_classes, utility=utility)
    for start in range(0, int(y.shape[0]), batch_size):
        xb = normalize(x[start : start + batch_size])
        if autocast is not None:
            with autocast():
                logits = model(xb)
        else:
            logits = model(xb)
        totals.add(logits, y[start : start + batch_size])
    return totals.result(prefix)
