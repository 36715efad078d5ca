"""Cost of the policy library: `policy(t)`, one scheduler step versus torch's LambdaLR on the
same formula, and `values(1_000_000)`.

Variants are interleaved and repeated on this shared machine; we report the median and the
spread (min–max) of the per-call times and the ratio adapter/LambdaLR measured in the same
run. Goal (issue 2): adapter step ≤ 1.5× LambdaLR's; values(1e6) well under a second.

    .venv/bin/python benchmarks/policies_bench.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import warnings

import torch
from torch.optim.lr_scheduler import LambdaLR

from workbench.policies import compose, from_spec

SPECS = {
    "TRI": {"function": "TRI", "k0": 0.001, "k1": 0.1, "l": 500},
    "COS": {"function": "COS", "k0": 0.001, "k1": 0.1, "l": 2000},
    "NSTEP": {"function": "NSTEP", "k0": 0.1, "gamma": 0.1, "l": [3000, 6000]},
}
COMPOSITE = compose(
    [
        ({"function": "LINEAR", "k0": 0.0, "k1": 0.1, "l": 500}, 500),
        ({"function": "COS", "k0": 0.0, "k1": 0.1, "l": 9500}, None),
    ]
)


def _lambda_for(name: str):
    """The same formula hand-written for LambdaLR (a multiplier of base lr = 1)."""
    if name == "TRI":
        return lambda t: (
            (0.1 - 0.001) * (2 / math.pi) * abs(math.asin(math.sin(math.pi * t / 1000))) + 0.001
        )
    if name == "COS":
        return lambda t: (0.1 - 0.001) * 0.5 * (1 + math.cos(math.pi * t / 2000)) + 0.001
    return lambda t: 0.1 * 0.1 ** sum(1 for b in (3000, 6000) if b <= t)


def _optimizer() -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)


def time_steps(make, steps: int) -> float:
    """Seconds per scheduler.step() over `steps` steps (optimizer.step excluded)."""
    sched = make(_optimizer())
    start = time.perf_counter()
    for _ in range(steps):
        sched.step()
    return (time.perf_counter() - start) / steps


def time_calls(policy, n: int) -> float:
    start = time.perf_counter()
    for t in range(n):
        policy(t)
    return (time.perf_counter() - start) / n


def time_values(policy, n: int) -> float:
    start = time.perf_counter()
    policy.values(n)
    return time.perf_counter() - start


def summary(xs: list[float], scale: float, unit: str) -> str:
    xs = [x * scale for x in xs]
    return f"{statistics.median(xs):8.3f} {unit} ({min(xs):.3f}–{max(xs):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--steps", type=int, default=20_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    # Stepping a scheduler without optimizer steps is the point here; silence torch's hint.
    warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step()`")

    rows = []
    for name, spec in [*SPECS.items(), ("composite", COMPOSITE.to_spec())]:
        policy = from_spec(spec)
        lam = _lambda_for(name) if name in SPECS else (lambda t, p=policy: p(t))
        ours, theirs, calls, ratios = [], [], [], []
        for _ in range(args.repeats):  # interleaved: A, B, A, B, …
            a = time_steps(lambda o, p=policy: p.scheduler(o), args.steps)
            b = time_steps(lambda o, f=lam: LambdaLR(o, f), args.steps)
            ours.append(a)
            theirs.append(b)
            ratios.append(a / b)
            calls.append(time_calls(policy, args.steps))
        rows.append((name, calls, ours, theirs, ratios))

    print(f"{'policy':<10} {'policy(t)':>26} {'adapter step':>26} {'LambdaLR step':>26} ratio")
    for name, calls, ours, theirs, ratios in rows:
        r = sorted(ratios)
        print(
            f"{name:<10} {summary(calls, 1e6, 'µs')} {summary(ours, 1e6, 'µs')} "
            f"{summary(theirs, 1e6, 'µs')} {statistics.median(r):.2f} ({r[0]:.2f}–{r[-1]:.2f})"
        )
    for name, spec in [("COS", SPECS["COS"]), ("composite", COMPOSITE.to_spec())]:
        ts = [time_values(from_spec(spec), 1_000_000) for _ in range(args.repeats)]
        print(f"values(1_000_000) {name:<10} {summary(ts, 1e3, 'ms')}")


if __name__ == "__main__":
    main()
