"""Every model builds and gives (batch, classes) logits on every compatible dataset shape."""

from __future__ import annotations

import pytest
import torch

from workbench.errors import BadInput
from workbench.train import DATASETS, MODELS, build_model, compatible_models

# Datasets of the same shape and class count share one case.
SHAPES: dict[tuple, list[str]] = {}
for _name, _entry in DATASETS.items():
    SHAPES.setdefault((_entry.input_shape, _entry.num_classes), []).append(_name)
CASES = [
    pytest.param(shape, classes, model, id=f"{'+'.join(names)}-{model}")
    for (shape, classes), names in SHAPES.items()
    for model in compatible_models(shape)
]


def test_every_model_fits_some_dataset():
    assert {c.values[2] for c in CASES} == set(MODELS.names())
    assert all(DATASETS.get(n).input_shape for names in SHAPES.values() for n in names)


@pytest.mark.parametrize(("shape", "classes", "model"), CASES)
def test_forward_shape(shape: tuple[int, ...], classes: int, model: str):
    torch.manual_seed(0)
    net = build_model(model, shape, classes)
    net.eval()
    with torch.no_grad():
        out = net(torch.randn(2, *shape))
    assert out.shape == (2, classes)
    assert torch.isfinite(out).all()


def test_models_adapt_to_channels_and_classes():
    for name in ("lenet5", "cnn3", "resnet20"):
        net = build_model(name, (5, 20, 24), 7)
        assert net(torch.randn(3, 5, 20, 24)).shape == (3, 7)
    assert build_model("cnn1d", (2, 64), 4)(torch.randn(3, 2, 64)).shape == (3, 4)


def test_resnet_depths_follow_6n_plus_2():
    def convs(net: torch.nn.Module) -> int:
        return sum(isinstance(m, torch.nn.Conv2d) for m in net.modules())

    for depth in (20, 32, 44, 56, 110):
        net = build_model(f"resnet{depth}", (3, 32, 32), 10)
        assert convs(net) + 1 == depth  # convolutions plus the final linear layer


def test_lenet5_is_caffes_layout():
    net = build_model("lenet5", (1, 28, 28), 10)
    sizes = [p.shape for p in net.parameters()]
    assert sizes[0] == (20, 1, 5, 5) and sizes[2] == (50, 20, 5, 5)
    assert sizes[4] == (500, 800) and sizes[6] == (10, 500)


def test_incompatible_model_says_why_and_what_fits():
    with pytest.raises(BadInput) as info:
        build_model("lenet5", (1, 40), 10)
    assert "needs images" in str(info.value) and "cnn1d" in str(info.value)
    with pytest.raises(BadInput, match="at least 16"):
        build_model("lenet5", (1, 8, 8), 10)
    with pytest.raises(BadInput, match="known: .*lenet5"):
        build_model("lenet6", (1, 28, 28), 10)
