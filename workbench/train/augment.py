"""Batch-level data augmentation on raw tensors (no per-example Python, no DataLoader)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pad_crop_flip(x: torch.Tensor, gen: torch.Generator, pad: int = 4) -> torch.Tensor:
    """CIFAR augmentation on a raw N×C×H×W batch: zero-pad, random crop, random h-flip."""
    n, _, h, w = x.shape
    device = x.device
    padded = F.pad(x, (pad, pad, pad, pad))
    draws = torch.randint(0, 2 * pad + 1, (2, n), generator=gen, device=gen.device).to(device)
    flip = torch.randint(0, 2, (n,), generator=gen, device=gen.device).to(device).bool()
    rows = draws[0, :, None] + torch.arange(h, device=device)  # N×H
    cols = torch.arange(w, device=device).expand(n, w)
    cols = torch.where(flip[:, None], cols.flip(1), cols) + draws[1, :, None]  # N×W
    batch = torch.arange(n, device=device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # N×H×W×C
    return out.permute(0, 3, 1, 2).contiguous()
