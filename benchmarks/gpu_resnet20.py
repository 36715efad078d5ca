"""ResNet-20 on CIFAR-shaped synthetic data on CUDA: the engine versus a bare loop.

A short prepared check for a machine with a GPU (never part of tests or CI): trains
`resnet20` with the engine (`workbench.train.Trainer`, device cuda) and with a hand-written
loop on the same tensors, model, optimizer and batch size, interleaved and repeated, and
prints iterations/s of both and the engine's ratio. Without CUDA it says so and exits 0.

    python benchmarks/gpu_resnet20.py --iterations 400 --repeats 3 [--amp] [--augment]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def spec_for(args: argparse.Namespace, iterations: int) -> dict[str, Any]:
    """The engine's run spec: one evaluation at the start and one at the end."""
    return {
        "dataset": "synthetic-image",
        "dataset_options": {"n_train": args.n_train, "n_test": 1000},
        "model": "resnet20",
        "optimizer": {"name": "momentum", "momentum": 0.9, "weight_decay": 1e-4},
        "policy": {"function": "FIX", "k0": 0.1},
        "batch_size": args.batch_size,
        "budget": iterations,
        "eval_every": iterations,
        "seed": 0,
        "device": "cuda",
        "amp": args.amp,
        "augment": args.augment,
        "val_fraction": 0.0,
    }


def engine(spec: dict[str, Any]) -> float:
    """Training iterations/s of one engine run (evaluation excluded)."""
    from workbench.train import Trainer

    result = Trainer(spec).run()
    if result.status != "completed":
        raise SystemExit(f"engine run ended {result.status}: {result.error or result.stop_reason}")
    return result.iterations / result.train_seconds


def bare(spec: dict[str, Any], data: Any) -> float:
    """Iterations/s of a hand-written loop on the same device tensors (no per-step sync)."""
    from workbench.train import build_model, build_optimizer
    from workbench.train.augment import pad_crop_flip

    device = torch.device("cuda")
    torch.manual_seed(0)
    model = build_model("resnet20", data.input_shape, data.num_classes).to(device)
    opt = build_optimizer(spec["optimizer"], model.parameters(), spec["policy"]["k0"])
    x_all, y_all, normalize = data.train.x, data.train.y, data.normalize
    n, bs = len(y_all), spec["batch_size"]
    gen = torch.Generator(device=device).manual_seed(0)
    autocast = (
        (lambda: torch.autocast("cuda", dtype=torch.bfloat16))
        if spec["amp"]
        else contextlib.nullcontext
    )
    model.train()
    perm, pos = torch.randperm(n, device=device, generator=gen), 0
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(spec["budget"]):
        if pos + bs > n:
            perm, pos = torch.randperm(n, device=device, generator=gen), 0
        idx = perm[pos : pos + bs]
        pos += bs
        x = x_all[idx]
        if spec["augment"]:
            x = pad_crop_flip(x, gen)
        with autocast():
            loss = F.cross_entropy(model(normalize(x)), y_all[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    torch.cuda.synchronize()
    return spec["budget"] / (time.perf_counter() - t0)


def fmt(values: list[float], digits: int = 1) -> str:
    """Median (min–max)."""
    med = statistics.median(values)
    return f"{med:.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def main() -> int:
    """Run the check; exit 0 with a message when CUDA is absent."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--n-train", type=int, default=10000)
    parser.add_argument("--amp", action="store_true", help="bfloat16 autocast in both loops")
    parser.add_argument("--augment", action="store_true", help="pad-crop-flip in both loops")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("gpu_resnet20: CUDA is not available on this machine; nothing to measure.")
        return 0

    from workbench.train import RunSpec, prepare_data

    spec = spec_for(args, args.iterations)
    data = prepare_data(RunSpec.parse(spec), torch.device("cuda"))
    warm = spec_for(args, 30)
    engine(warm)  # cuDNN autotuning, allocator warm-up, lazy CUDA init
    bare(warm, data)
    eng, ref = [], []
    for r in range(args.repeats):
        order = (engine, bare) if r % 2 == 0 else (bare, engine)
        for fn in order:
            if fn is engine:
                eng.append(engine(spec))
            else:
                ref.append(bare(spec, data))
    ratios = [e / b for e, b in zip(eng, ref, strict=True)]
    print(f"device        {torch.cuda.get_device_name()}  torch {torch.__version__}")
    print(f"setup         resnet20, batch {args.batch_size}, {args.iterations} iterations x "
          f"{args.repeats} repeats, amp={args.amp}, augment={args.augment}")  # fmt: skip
    print(f"engine        {fmt(eng)} it/s")
    print(f"bare loop     {fmt(ref)} it/s")
    print(f"engine/bare   {fmt(ratios, 3)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
