"""Engine throughput versus a bare hand-written PyTorch loop, and the cost of an evaluation.

Same model (same seed), same optimizer, same in-memory training tensors, same batch size
and thread count. The variants are interleaved (order alternating per repeat) and repeated;
figures are the median and the spread (min–max). Engine iterations/s come from its
`train_seconds` (evaluation excluded); the bare loop is timed around its loop only.

    .venv/bin/python benchmarks/train_throughput.py --repeats 7 --iterations 1000 --write
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.train import Trainer, build_model, build_optimizer  # noqa: E402

TASKS = {
    "mnist1d-cnn1d": {"dataset": "mnist1d", "model": "cnn1d", "batch_size": 64},
    "digits-lenet5": {"dataset": "digits", "model": "lenet5", "batch_size": 64},
}
OPTIMIZER = {"name": "momentum", "momentum": 0.9, "weight_decay": 5e-4}
LR = 0.01


def spec_for(task: dict[str, Any], iterations: int, threads: int) -> dict[str, Any]:
    """A run spec with one evaluation at the start and one at the end."""
    return {
        **task,
        "optimizer": OPTIMIZER,
        "policy": {"function": "FIX", "k0": LR},
        "budget": iterations,
        "eval_every": iterations,
        "seed": 0,
        "threads": threads,
        "device": "cpu",
    }


def engine(spec: dict[str, Any]) -> tuple[float, float, float]:
    """(wall it/s, CPU-time it/s, seconds per evaluation pass) of one engine run.

    Wall it/s use the engine's own `train_seconds` (evaluation excluded). CPU time (this
    thread's, which is all of torch's work with one thread) is less disturbed by other
    processes on a shared machine; evaluation passes are timed and subtracted.
    """
    trainer = Trainer(spec)
    evaluate, eval_cpu = trainer._evaluate, []

    def timed_evaluate() -> dict[str, Any]:
        c0 = time.thread_time()
        try:
            return evaluate()
        finally:
            eval_cpu.append(time.thread_time() - c0)

    trainer._evaluate = timed_evaluate  # type: ignore[method-assign]
    c0 = time.thread_time()
    result = trainer.run()
    cpu = time.thread_time() - c0 - sum(eval_cpu)
    n = result.iterations
    return n / result.train_seconds, n / cpu, result.eval_seconds / len(result.history)


def bare(spec: dict[str, Any], trainer: Trainer) -> tuple[float, float]:
    """(wall it/s, CPU-time it/s) of a hand-written loop over the engine's own tensors."""
    x_all, y_all = trainer.data.train.x, trainer.data.train.y
    normalize = trainer.data.normalize
    n, bs = len(y_all), spec["batch_size"]
    torch.manual_seed(spec["seed"])
    model = build_model(spec["model"], trainer.data.input_shape, trainer.data.num_classes)
    opt = build_optimizer(OPTIMIZER, model.parameters(), LR)
    model.train()
    gen = torch.Generator().manual_seed(0)
    perm, pos = torch.randperm(n, generator=gen), 0
    t0, c0 = time.perf_counter(), time.thread_time()
    for _ in range(spec["budget"]):
        if pos + bs > n:
            perm, pos = torch.randperm(n, generator=gen), 0
        idx = perm[pos : pos + bs]
        pos += bs
        loss = F.cross_entropy(model(normalize(x_all[idx])), y_all[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    cpu, wall = time.thread_time() - c0, time.perf_counter() - t0
    return spec["budget"] / wall, spec["budget"] / cpu


def fmt(values: list[float], digits: int = 0) -> str:
    """Median (min–max)."""
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def measure(name: str, iterations: int, repeats: int, threads: int) -> dict[str, Any]:
    """Interleaved, repeated measurement of one task."""
    torch.set_num_threads(threads)
    spec = spec_for(TASKS[name], iterations, threads)
    probe = Trainer(spec)  # loads the data once (cached), and lends its tensors to `bare`
    engine(dict(spec, budget=50, eval_every=50))  # warm-up (lazy init, allocator)
    bare(dict(spec, budget=50), probe)
    eng, ref, eng_cpu, ref_cpu, evals = [], [], [], [], []
    for r in range(repeats):
        order = ("engine", "bare") if r % 2 == 0 else ("bare", "engine")
        for variant in order:
            if variant == "engine":
                speed, cpu_speed, per_eval = engine(spec)
                eng.append(speed)
                eng_cpu.append(cpu_speed)
                evals.append(per_eval)
            else:
                speed, cpu_speed = bare(spec, probe)
                ref.append(speed)
                ref_cpu.append(cpu_speed)
    # Ratios pair each repeat's engine run with its own bare run.
    per_it = 1 / statistics.median(eng)
    return {
        "task": name,
        "engine": eng,
        "bare": ref,
        "ratio": [e / b for e, b in zip(eng, ref, strict=True)],
        "engine_cpu": eng_cpu,
        "bare_cpu": ref_cpu,
        "ratio_cpu": [e / b for e, b in zip(eng_cpu, ref_cpu, strict=True)],
        "eval_ms": [1000 * e for e in evals],
        "eval_iterations": [e / per_it for e in evals],
        "data": dict(probe.data.info),
    }


def table(rows: list[dict[str, Any]]) -> str:
    """The markdown table of the results."""
    lines = [
        "| task | clock | engine it/s | bare loop it/s | engine / bare |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        for clock, suffix in (("wall", ""), ("CPU", "_cpu")):
            lines.append(
                f"| {r['task']} | {clock} | {fmt(r['engine' + suffix])} | "
                f"{fmt(r['bare' + suffix])} | {fmt(r['ratio' + suffix], 3)} |"
            )
    lines += ["", "| task | one evaluation pass (val + test) | in training iterations |",
              "|---|---|---|"]  # fmt: skip
    for r in rows:
        d = r["data"]
        lines.append(
            f"| {r['task']} | {fmt(r['eval_ms'], 1)} ms ({d['val']} + {d['test']} examples) | "
            f"{statistics.median(r['eval_iterations']):.1f} |"
        )
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Replace (or add) the `## Training engine` section of benchmarks/README.md."""
    path = ROOT / "benchmarks" / "README.md"
    body = path.read_text() if path.is_file() else "# Benchmarks\n"
    section = "## Training engine\n\n" + text.strip() + "\n"
    pattern = re.compile(r"^## Training engine\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(body):
        body = pattern.sub(lambda _: section + "\n", body).rstrip() + "\n"
    else:
        body = body.rstrip() + "\n\n" + section
    path.write_text(body)


def main() -> None:
    """Run the measurement and print (optionally write) the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--write", action="store_true", help="update benchmarks/README.md")
    args = parser.parse_args()
    rows = [measure(t, args.iterations, args.repeats, args.threads) for t in args.tasks.split(",")]
    text = table(rows)
    print(text)
    if args.write:
        cmd = (
            f"`.venv/bin/python benchmarks/train_throughput.py --repeats {args.repeats} "
            f"--iterations {args.iterations} --threads {args.threads} --write`"
        )
        write_section(f"{cmd} (CPU, torch {torch.__version__}).\n\n{text}\n")


if __name__ == "__main__":
    main()
