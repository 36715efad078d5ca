"""Models: a public registry of builders that adapt to the input shape and class count.

Each entry has `accepts(shape) -> reason | None`, so an incompatible model/dataset pair is
refused before training with a message that says why and which models would fit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from workbench.errors import BadInput
from workbench.train.registry import Registry

Shape = tuple[int, ...]


@dataclass
class ModelEntry:
    """A registered model: `builder(input_shape, num_classes) -> nn.Module` and a check."""

    builder: Callable[[Shape, int], nn.Module]
    description: str
    accepts: Callable[[Shape], str | None] = lambda shape: None


MODELS: Registry[ModelEntry] = Registry("model")


def register_model(name: str, entry: ModelEntry, *, replace: bool = False) -> ModelEntry:
    """Add a model to the public registry."""
    return MODELS.add(name, entry, replace=replace)


def compatible_models(input_shape: Shape) -> list[str]:
    """Names of the registered models that accept `input_shape`."""
    return [n for n, e in MODELS.items() if e.accepts(tuple(input_shape)) is None]


def build_model(name: str, input_shape: Shape, num_classes: int) -> nn.Module:
    """Build model `name` for the shape; `BadInput` saying why not and what would fit."""
    entry = MODELS.get(name)
    shape = tuple(int(s) for s in input_shape)
    reason = entry.accepts(shape)
    if reason is not None:
        fits = ", ".join(compatible_models(shape)) or "none registered"
        shown = "×".join(map(str, shape))
        raise BadInput(
            f"model {name!r} cannot take inputs of shape {shown}: {reason}; models that fit: {fits}"
        )
    return entry.builder(shape, num_classes)


def _needs_image(min_side: int) -> Callable[[Shape], str | None]:
    def check(shape: Shape) -> str | None:
        if len(shape) != 3:
            return "it needs images (channels×height×width)"
        if min(shape[1:]) < min_side:
            return f"it needs images of at least {min_side}×{min_side} pixels"
        return None

    return check


def _needs_sequence(min_len: int) -> Callable[[Shape], str | None]:
    def check(shape: Shape) -> str | None:
        if len(shape) != 2:
            return "it needs 1-D sequences (channels×length)"
        if shape[1] < min_len:
            return f"it needs sequences of at least {min_len} samples"
        return None

    return check


def _flat_size(features: nn.Module, shape: Shape) -> int:
    with torch.no_grad():
        return int(features(torch.zeros(1, *shape)).numel())


# --- LeNet-5 (Caffe's) --------------------------------------------------------------------


class LeNet5(nn.Module):
    """Caffe's LeNet: conv20(5) → maxpool2 → conv50(5) → maxpool2 → fc500 → ReLU → fc."""

    def __init__(self, input_shape: Shape, num_classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(input_shape[0], 20, 5),
            nn.MaxPool2d(2),
            nn.Conv2d(20, 50, 5),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.classifier = nn.Sequential(
            nn.Linear(_flat_size(self.features, input_shape), 500),
            nn.ReLU(inplace=True),
            nn.Linear(500, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


# --- CNN3 (Caffe's cifar10_full) ----------------------------------------------------------


class WithinChannelLRN(nn.Module):
    """Caffe's LRN with norm_region WITHIN_CHANNEL: x / (1 + α/n · Σ_window x²)^β, n = k²."""

    def __init__(self, size: int = 3, alpha: float = 5e-5, beta: float = 0.75):
        super().__init__()
        self.size, self.alpha, self.beta = size, alpha, beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # avg_pool over the k×k window (zero padded, counted) is Σ x² / k².
        mean_sq = F.avg_pool2d(x * x, self.size, 1, self.size // 2, count_include_pad=True)
        return x / (1 + self.alpha * mean_sq).pow(self.beta)


class CNN3(nn.Module):
    """Caffe's cifar10_full: three 5×5 convs (32/32/64) with pooling and LRN, then fc."""

    def __init__(self, input_shape: Shape, num_classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(input_shape[0], 32, 5, padding=2),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            nn.ReLU(inplace=True),
            WithinChannelLRN(),
            nn.Conv2d(32, 32, 5, padding=2),
            nn.ReLU(inplace=True),
            nn.AvgPool2d(3, 2, ceil_mode=True),
            WithinChannelLRN(),
            nn.Conv2d(32, 64, 5, padding=2),
            nn.ReLU(inplace=True),
            nn.AvgPool2d(3, 2, ceil_mode=True),
            nn.Flatten(),
        )
        self.classifier = nn.Linear(_flat_size(self.features, input_shape), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


# --- CIFAR ResNets, option A (He et al. 2016) ---------------------------------------------


class _ShortcutA(nn.Module):
    """Option A: parameter-free shortcut; subsample by 2 and zero-pad the new channels."""

    def __init__(self, extra: int):
        super().__init__()
        self.pad = extra // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))


class _BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = _ShortcutA(cout - cin)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for CIFAR: 16/32/64 channels, n basic blocks per stage, option A."""

    def __init__(self, depth: int, input_shape: Shape, num_classes: int):
        super().__init__()
        n = (depth - 2) // 6
        self.conv = nn.Conv2d(input_shape[0], 16, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        layers: list[nn.Module] = []
        cin = 16
        for i, cout in enumerate((16, 32, 64)):
            for j in range(n):
                layers.append(_BasicBlock(cin, cout, 2 if (i > 0 and j == 0) else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Linear | nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(F.relu(self.bn(self.conv(x))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


# --- MNIST-1D CNN and an MLP --------------------------------------------------------------


class CNN1D(nn.Module):
    """The MNIST-1D paper's ConvBase: three stride-2 conv1d layers (25 channels), then fc."""

    def __init__(self, input_shape: Shape, num_classes: int, channels: int = 25):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(input_shape[0], channels, 5, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv1d(channels, channels, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv1d(channels, channels, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        self.classifier = nn.Linear(_flat_size(self.features, input_shape), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class MLP(nn.Module):
    """Flatten → two hidden ReLU layers of 100 → classes (the MNIST-1D paper's MLP)."""

    def __init__(self, input_shape: Shape, num_classes: int, hidden: int = 100):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(math.prod(input_shape), hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


register_model(
    "lenet5",
    ModelEntry(LeNet5, "Caffe LeNet: conv20-pool-conv50-pool-fc500-fc", _needs_image(16)),
)
register_model(
    "cnn3",
    ModelEntry(CNN3, "Caffe cifar10_full: conv32-conv32-conv64 (5×5) with LRN", _needs_image(8)),
)
for _depth in (20, 32, 44, 56, 110):
    register_model(
        f"resnet{_depth}",
        ModelEntry(
            lambda shape, classes, d=_depth: CifarResNet(d, shape, classes),
            f"CIFAR ResNet-{_depth} (He et al. 2016, option A shortcuts)",
            _needs_image(4),
        ),
    )
register_model(
    "cnn1d",
    ModelEntry(CNN1D, "MNIST-1D ConvBase: 3× conv1d (25 ch, stride 2) + fc", _needs_sequence(8)),
)
register_model("mlp", ModelEntry(MLP, "MLP: flatten → 100 → 100 → classes (any input)"))
