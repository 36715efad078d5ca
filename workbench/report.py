"""Tables and figures from the results store: the paper's tables (PAPER_TABLES.md) and the
small summaries the notebooks show.

Notebooks and widgets only call these functions. Everything here reads the store through
its public methods (`runs`, `curves`, `searches`, `speedup`) and returns pandas frames or
`Plot`s; `write_report` writes them to files and lists what the store lacks for each table
instead of failing on an empty or sparse store.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from workbench.errors import BadInput
from workbench.jsonio import finite_or_none
from workbench.paths import store_path
from workbench.policies import Policy, catalog, from_spec
from workbench.policies.functions import REGISTRY
from workbench.policies.plot import draw_policy, plot_families

TASK_KEYS = ("dataset", "model", "optimizer", "batch_size")
# The paper's metrics, per run at its last evaluation point (PAPER_TABLES.md).
POINT_METRICS = ("val_top5", "test_top5", "confidence_mean", "confidence_std", "cvac")
RUN_METRICS = (
    "final_top1", "best_top1", "final_test_top1", "iterations_to_target",
    "seconds_to_target", "robustness_gap",
)  # fmt: skip
TABLE_TITLES = {
    1: "LR function catalogue",
    2: "LeNet-5 on MNIST (CPU twins: digits/lenet5, MNIST-1D/cnn1d): default vs candidates vs recommended",
    3: "CNN3 on CIFAR-10 (CPU twin: MNIST-1D/cnn1d with FIX 0.001): default vs candidates vs recommended",
    4: "ResNet on CIFAR-10: default vs candidates vs recommended",
    5: "LR policy × optimizer",
    6: "Speedup summary: recommended vs default, time to the target",
    7: "LR range test",
    8: "Policy traces: default vs recommended",
}
# Which paper table a task belongs to: its model's full-scale table, or the table whose
# default policy was run on it (the CPU twins).
TABLE_MODELS = {2: ("lenet5",), 3: ("cnn3",), 4: ("resnet20", "resnet32", "resnet")}
TABLE_BASELINES = {
    2: ("caffe-lenet-inv",), 3: ("caffe-cifar10-quick-fix", "caffe-cifar10-full-nstep"),
    4: ("resnet-cifar10-nstep",),
}  # fmt: skip


# --- figures ---------------------------------------------------------------------------------


class Plot:
    """A matplotlib figure that shows itself in Jupyter (as PNG) and saves to a file."""

    def __init__(self, rows: int = 1, cols: int = 1, size: tuple[float, float] = (8, 3.5)):
        self.figure = Figure(figsize=size, dpi=90)
        FigureCanvasAgg(self.figure)
        self.axes = list(np.atleast_1d(self.figure.subplots(rows, cols)).ravel())

    def save(self, path: str | Path) -> Path:
        """Write the figure as PNG."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.figure.tight_layout()
        self.figure.savefig(path, format="png")
        return path

    def png(self) -> bytes:
        """The figure as PNG bytes."""
        import io

        buf = io.BytesIO()
        self.figure.tight_layout()
        self.figure.savefig(buf, format="png")
        return buf.getvalue()

    def _repr_png_(self) -> bytes:
        return self.png()


def draw_run_curves(
    axes: Sequence[Any],
    curves: pd.DataFrame,
    labels: Mapping[str, str] | None = None,
    target: float | None = None,
    marks: Iterable[tuple[int, str]] = (),
) -> None:
    """Draw LR, losses and accuracy of runs (long-form `curves`) on three axes.

    `marks` are (iteration, text) pairs drawn as vertical lines (verifier decisions, stops).
    """
    ax_lr, ax_loss, ax_acc = axes
    for run_id, pts in curves.groupby("run_id", sort=False):
        pts = pts.sort_values("iteration")
        name = (labels or {}).get(str(run_id), str(run_id)[:8])
        (line,) = ax_lr.plot(pts["iteration"], pts["lr"], label=name)
        color = line.get_color()
        if "train_loss" in pts:
            ax_loss.plot(pts["iteration"], pts["train_loss"], color=color, label=f"{name} train")
        if "val_loss" in pts:
            ax_loss.plot(pts["iteration"], pts["val_loss"], color=color, linestyle="--",
                         label=f"{name} val")  # fmt: skip
        if "val_top1" in pts:
            ax_acc.plot(pts["iteration"], pts["val_top1"], color=color, label=f"{name} val")
    if target is not None and finite_or_none(target) is not None:
        ax_acc.axhline(float(target), color="red", linestyle=":", label=f"target {target:g}")
    for it, text in marks:
        for ax in axes:
            ax.axvline(it, color="purple", linestyle="-.", linewidth=0.9)
        ax_acc.annotate(text, (it, 0.02), xycoords=("data", "axes fraction"), fontsize=7,
                        rotation=90, color="purple")  # fmt: skip
    for ax, title in zip(axes, ("learning rate", "loss", "validation top-1"), strict=True):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("iteration")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6)


def run_curves_figure(store: Any, run_ids: Sequence[str], target: float | None = None) -> Plot:
    """LR, loss and accuracy curves of stored runs, side by side."""
    plot = Plot(1, 3, size=(12, 3.5))
    draw_run_curves(plot.axes, store.curves(list(run_ids)), target=target)
    return plot


def policies_figure(policies: Mapping[str, Any], budget: int, log: bool = False) -> Plot:
    """The policies' learning rates over `budget` iterations, overlaid."""
    plot = Plot()
    for label, p in policies.items():
        draw_policy(plot.axes[0], p, budget, label=label, log=log)
    plot.axes[0].legend(fontsize=7)
    return plot


# --- summaries ---------------------------------------------------------------------------------


def compare_policies(policies: Mapping[str, Any], budget: int) -> pd.DataFrame:
    """One row per policy: text, hash, LR at 0/25/50/75/100% of the budget, mean LR."""
    rows = []
    for label, p in policies.items():
        pol = from_spec(p)
        lrs = pol.values(budget)
        row: dict[str, Any] = {"policy": label, "text": pol.text, "hash": pol.short_hash}
        for frac in (0.0, 0.25, 0.5, 0.75):
            row[f"lr@{frac:.0%}"] = float(lrs[int(frac * (budget - 1))])
        row["lr@end"] = float(lrs[-1])
        row["mean lr"] = float(lrs.mean())
        row["max lr"] = float(lrs.max())
        rows.append(row)
    return pd.DataFrame(rows).set_index("policy")


_RUN_SUMMARY = (
    "run_id", "status", "stop_reason", "iterations", "final_top1", "best_top1",
    "final_test_top1", "iterations_to_target", "seconds_to_target", "robustness_gap",
    "wall_seconds", "policy_hash",
)  # fmt: skip


def summarise_run(result: Any) -> pd.DataFrame:
    """A run result (`RunResult` or its dict) as a one-column table of its headline figures."""
    if hasattr(result, "to_dict"):
        result = result.to_dict()
    return pd.DataFrame({"value": {k: result.get(k) for k in _RUN_SUMMARY}})


def summarise_verdict(verdict: Any) -> pd.DataFrame:
    """A verdict (`Verdict` or its dict) with its run's headline figures, as one column."""
    if hasattr(verdict, "to_dict"):
        verdict = verdict.to_dict()
    head = {k: verdict.get(k) for k in ("verdict", "iteration", "compute_fraction", "rule",
                                         "predicted_final")}  # fmt: skip
    run = verdict.get("run") or {}
    head |= {f"run.{k}": run.get(k) for k in _RUN_SUMMARY}
    return pd.DataFrame({"value": head})


# --- the paper's tables ------------------------------------------------------------------------


def catalogue_table() -> pd.DataFrame:
    """Table 1: every LR function with family, formula and parameters."""
    rows = [
        {
            "function": row["name"],
            "family": row["family"],
            "formula": f"lr(t) = {row['formula']}",
            "parameters": ", ".join(f"{p['name']} ({p['kind']})" for p in row["params"]),
        }
        for row in catalog()
    ]
    return pd.DataFrame(rows)


def task_label(row: Mapping[str, Any]) -> str:
    """The task as dataset/model/optimizer/batch, for a runs() row or a task dict."""
    opt = row.get("optimizer")
    if isinstance(opt, Mapping):
        opt = opt.get("name")
    return f"{row.get('dataset')}/{row.get('model')}/{opt}/{row.get('batch_size')}"


def _policy(store: Any, policy_hash: str, cache: dict[str, Policy]) -> Policy | None:
    if policy_hash not in cache:
        try:
            cache[policy_hash] = from_spec(store.policy(policy_hash)["spec"])
        except Exception:  # a policy the store cannot give back is left out of role tests
            return None
    return cache[policy_hash]


@lru_cache(maxsize=256)
def _baseline_hashes(model: str, optimizer: str, budget: int) -> dict[str, str]:
    """Hashes of the default policies at `budget`: the paper's baselines (re-targeted) and
    the recommender's default for the task (framework default LRs for adaptive
    optimizers): hash → baseline name."""
    try:
        from workbench.recommend.defaults import PAPER_BASELINES, default_policy
    except ImportError:
        return {}
    out = {}
    for name, base in PAPER_BASELINES.items():
        # As published (the CPU twins' configs often keep it unscaled) and re-targeted.
        out[from_spec(base.policy).hash] = name
        try:
            out[base.at(budget).hash] = name
        except Exception:  # a budget too small to re-target to: no such baseline there
            continue
    try:
        task = {"model": model, "optimizer": {"name": optimizer}}
        out.setdefault(default_policy(task, budget).hash, f"{optimizer} default")
    except Exception:  # an optimizer the recommender does not know: paper baselines only
        pass
    return out


def _recommended_hashes(store: Any) -> set[str]:
    try:
        searches = store.searches()
    except Exception:  # a store without searches: nothing was recommended
        return set()
    if searches is None or searches.empty or "policy_hash" not in searches:
        return set()
    return {h for h in searches["policy_hash"].dropna()}


def _role(row: Mapping[str, Any], pol: Policy | None, defaults: dict[str, str],
          recommended: set[str]) -> str:  # fmt: skip
    h = row["policy_hash"]
    if h in recommended:
        return "recommended"
    if h in defaults:
        return f"default ({defaults[h]})"
    if str(row.get("optimizer", "")).startswith("schedulefree"):
        return "modern: schedule-free"
    functions = pol.functions if pol is not None else ()
    if functions == ("UPCOS", "COS"):
        return "modern: one-cycle"
    if functions == ("LINEAR", "COS"):
        return "modern: warm-up + cosine"
    return "candidate"


def runs_frame(store: Any) -> pd.DataFrame:
    """Stored runs (probes left out) with task label, role, functions and final-point metrics."""
    runs = store.runs(include_probes=False)
    if runs is None or runs.empty:
        return pd.DataFrame()
    runs = runs[runs["kind"] != "probe"].copy()
    cache: dict[str, Policy] = {}
    recommended = _recommended_hashes(store)
    roles, functions, families = [], [], []
    for row in runs.to_dict("records"):
        pol = _policy(store, row["policy_hash"], cache)
        defaults = _baseline_hashes(
            str(row.get("model", "")), str(row.get("optimizer", "")), int(row.get("budget") or 1)
        )
        roles.append(_role(row, pol, defaults, recommended))
        fns = pol.functions if pol is not None else ()
        functions.append("+".join(fns))
        families.append("+".join(sorted({REGISTRY[f].family for f in fns})))
    runs["task"] = [task_label(r) for r in runs.to_dict("records")]
    runs["role"], runs["functions"], runs["families"] = roles, functions, families
    return runs.join(_final_points(store, list(runs["run_id"])), on="run_id")


def _final_points(store: Any, run_ids: list[str]) -> pd.DataFrame:
    if not run_ids:
        return pd.DataFrame(columns=list(POINT_METRICS))
    curves = store.curves(run_ids)
    if curves is None or curves.empty:
        return pd.DataFrame(columns=list(POINT_METRICS))
    last = curves.sort_values("iteration").groupby("run_id").tail(1).set_index("run_id")
    return last.reindex(columns=list(POINT_METRICS))


def _spread(values: pd.Series) -> str:
    v = pd.to_numeric(values, errors="coerce").dropna()
    if v.empty:
        return "—"
    if len(v) == 1:
        return f"{v.iloc[0]:.4g}"
    return f"{v.median():.4g} [{v.min():.4g}, {v.max():.4g}]"


def results_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per task and policy: role, seeds, and each metric as median [min, max] over seeds."""
    if runs.empty:
        return pd.DataFrame()
    rows = []
    for (task, h), g in runs.groupby(["task", "policy_hash"], sort=False):
        row: dict[str, Any] = {
            "task": task, "role": g["role"].iloc[0], "policy": g["policy_text"].iloc[0],
            "hash": str(h)[:16], "budget": int(g["budget"].max()), "seeds": g["seed"].nunique(),
            "runs": len(g), "met target": int(g["iterations_to_target"].notna().sum()),
        }  # fmt: skip
        for m in (*RUN_METRICS, *POINT_METRICS):
            row[m] = _spread(g[m]) if m in g else "—"
        rows.append(row)
    order = {"recommended": 0}
    out = pd.DataFrame(rows)
    out["_o"] = [order.get(r, 1 if r.startswith("default") else 2) for r in out["role"]]
    return out.sort_values(["task", "_o"]).drop(columns="_o").reset_index(drop=True)


def _tasks_for_table(runs: pd.DataFrame, table: int) -> list[str]:
    mine = runs["model"].isin(TABLE_MODELS[table]) | runs["role"].isin(
        [f"default ({b})" for b in TABLE_BASELINES[table]]
    )
    return sorted(runs.loc[mine, "task"].unique())


def optimizer_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Table 5: per task family (dataset, model, batch) and optimizer: the default, the best
    decaying, the best cyclic and the recommended policy by median final top-1."""
    if runs.empty:
        return pd.DataFrame()
    rows = []
    for (ds, model, bs, opt), g in runs.groupby(["dataset", "model", "batch_size", "optimizer"]):
        row: dict[str, Any] = {"dataset": ds, "model": model, "batch_size": bs, "optimizer": opt}
        for name, mask in (
            ("default", g["role"].str.startswith("default")),
            ("best decaying", g["families"] == "decaying"),
            ("best cyclic", g["families"].isin(["cyclic", "restart", "cyclic+restart"])),
            ("recommended", g["role"] == "recommended"),
        ):
            row[name] = _best(g[mask])
        rows.append(row)
    out = pd.DataFrame(rows)
    # Table 5 compares optimizers: keep settings run with more than one optimizer.
    n_opt = out.groupby(["dataset", "model", "batch_size"])["optimizer"].transform("nunique")
    return out[n_opt > 1].reset_index(drop=True)


def _best(g: pd.DataFrame) -> str:
    if g.empty:
        return "—"
    med = g.groupby("policy_hash")["final_top1"].median().dropna()
    if med.empty:
        return "—"
    h = med.idxmax()
    text = g.loc[g["policy_hash"] == h, "policy_text"].iloc[0]
    return f"{text} → {med[h]:.4f}"


def speedup_table(store: Any, runs: pd.DataFrame) -> pd.DataFrame:
    """Table 6: per task, recommended vs default iterations and seconds to the target."""
    rows = []
    if runs.empty:
        return pd.DataFrame()
    for task, g in runs.groupby("task"):
        rec = g[g["role"] == "recommended"]
        dflt = g[g["role"].str.startswith("default")]
        if rec.empty or dflt.empty:
            continue
        task_id = g["task_id"].iloc[0]
        for h_rec in rec["policy_hash"].unique():
            for h_def in dflt["policy_hash"].unique():
                try:
                    s = store.speedup(task_id, h_rec, h_def)
                except BadInput:  # e.g. no finished default run to fix the target
                    continue
                rows.append(_speedup_row(task, s, g))
    return pd.DataFrame(rows)


def _speedup_row(task: str, s: Mapping[str, Any], g: pd.DataFrame) -> dict[str, Any]:
    def text(h: str) -> str:
        return str(g.loc[g["policy_hash"] == h, "policy_text"].iloc[0])

    def seconds(key: str) -> float | None:
        vals = [finite_or_none(r.get(key)) for r in s.get("per_seed") or []]
        vals = [v for v in vals if v is not None]
        return float(np.median(vals)) if vals else None

    base, pol = s.get("baseline") or {}, s.get("policy") or {}
    return {
        "task": task, "target": s.get("target"),
        "default": text(s["baseline_hash"]),
        "default iterations": base.get("median_iterations"),
        "default seconds": seconds("baseline_seconds"),
        "recommended": text(s["policy_hash"]),
        "recommended iterations": pol.get("median_iterations"),
        "recommended seconds": seconds("policy_seconds"),
        "speedup": s.get("speedup"), "seconds speedup": s.get("seconds_speedup"),
        "seeds": len(s.get("seeds") or []),
        "censored (default/recommended)": f"{base.get('censored', 0)}/{pol.get('censored', 0)}",
    }  # fmt: skip


def range_test_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Table 7: the LR range test runs: per task and learning rate, final accuracy and loss."""
    if runs.empty or "kind" not in runs:
        return pd.DataFrame()
    rt = runs[runs["kind"] == "range_test"]
    cols = ["task", "policy_text", "final_top1", "best_top1", "iterations", "status"]
    return rt[cols].sort_values(["task", "policy_text"]).reset_index(drop=True)


def search_range_table(store: Any) -> pd.DataFrame:
    """Table 7b: the recommender's LR range tests, one per stored search: the suggested
    range (or why there was none), the LR of the lowest smoothed loss, and where it diverged."""
    searches = store.searches()
    rows = []
    for sid in [] if searches is None or searches.empty else searches["search_id"]:
        search = store.search(sid)
        rng = (search.get("payload") or {}).get("range")
        if not rng:
            continue  # answered from history: no range test
        rows.append({
            "task": task_label(search.get("task") or {}), "search_id": sid,
            "suggested": bool(rng.get("suggested")), "low": rng.get("low"),
            "high": rng.get("high"), "lr_at_min": rng.get("lr_at_min"),
            "diverged_at": rng.get("diverged_at"), "iterations": rng.get("iterations"),
            "reason": rng.get("reason"),
        })  # fmt: skip
    return pd.DataFrame(rows)


def _search_range_figure(store: Any, table: pd.DataFrame, report: Report) -> None:
    """Loss against LR of each search's range test, the chosen range shaded."""
    if table.empty:
        return
    plot = Plot()
    ax = plot.axes[0]
    for row in table.to_dict("records"):
        curve = (store.search(row["search_id"]).get("payload") or {}).get("range", {}).get("curve")
        if not curve or not curve.get("lrs"):
            continue
        (line,) = ax.plot(
            curve["lrs"], curve["losses"], label=f"{row['task']} {row['search_id'][:6]}"
        )
        if row["suggested"]:
            ax.axvspan(row["low"], row["high"], color=line.get_color(), alpha=0.12)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.legend(fontsize=7)
    report.figures["Table 7b: recommender range tests"] = plot.save(
        report.out_dir / "table7b_range_tests.png"
    )


# --- writing the report ------------------------------------------------------------------------


@dataclass
class Report:
    """What `write_report` wrote: tables, figures, and what the store lacks."""

    out_dir: Path
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, Path] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    @property
    def files(self) -> list[Path]:
        """Every file written."""
        return sorted(self.out_dir.glob("*"))

    def markdown(self) -> str:
        """The report as Markdown: each table (or why it is empty) and its figures."""
        parts = ["# Paper tables (regenerated from the results store)\n"]
        for key, table in self.tables.items():
            parts.append(f"## {key}\n")
            parts.append(markdown_table(table) if not table.empty else "*(empty)*")
            parts.append("")
        for key, path in self.figures.items():
            parts.append(f"![{key}]({path.name})")
        if self.missing:
            parts.append("\n## Missing from the store\n")
            parts += [f"- {m}" for m in self.missing]
        return "\n".join(parts) + "\n"


def markdown_table(table: pd.DataFrame) -> str:
    """A DataFrame as a GitHub Markdown table (no extra dependency)."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "—" if math.isnan(v) else f"{v:.4g}"
        return str(v).replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "|" + "---|" * len(table.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def _add(report: Report, number: int, name: str, table: pd.DataFrame, why: str) -> None:
    key = f"Table {number}{name}: {TABLE_TITLES[number]}"
    if table.empty:
        report.missing.append(f"Table {number}{name} ({TABLE_TITLES[number]}): {why}")
    report.tables[key] = table
    stem = f"table{number}{name.replace(' ', '_').replace('/', '-')}"
    table.to_csv(report.out_dir / f"{stem}.csv", index=False)


def _trace_figure(store: Any, runs: pd.DataFrame, task: str) -> Plot | None:
    g = runs[runs["task"] == task]
    picked = [
        sub.sort_values("seed")["run_id"].iloc[0]
        for role, sub in g.groupby("role")
        if role == "recommended" or role.startswith("default")
    ]
    if len(picked) < 2:
        return None
    labels = {r: g.loc[g["run_id"] == r, "role"].iloc[0] for r in picked}
    plot = Plot(1, 3, size=(12, 3.5))
    draw_run_curves(plot.axes, store.curves(picked), labels=labels,
                    target=finite_or_none(g["target"].dropna().median()))  # fmt: skip
    for r in picked:
        pol = from_spec(store.policy(g.loc[g["run_id"] == r, "policy_hash"].iloc[0])["spec"])
        for b in getattr(pol, "boundaries", []):
            plot.axes[0].axvline(b, color="grey", linestyle="--", linewidth=0.8)
    plot.figure.suptitle(f"Policy traces: {task}", fontsize=9)
    return plot


def write_report(
    store: Any, out_dir: str | Path | None = None, *, catalogue_budget: int = 1000
) -> Report:
    """Write the paper's tables (CSV + one Markdown file) and figures (PNG) from `store`."""
    out = Path(out_dir) if out_dir else store_path("reports", "paper_tables", "x").parent
    out.mkdir(parents=True, exist_ok=True)
    report = Report(out)
    _add(report, 1, "", catalogue_table(), "")
    report.figures["Table 1: LR functions by family"] = plot_families(
        out / "table1_catalogue.png", budget=catalogue_budget
    )
    runs = runs_frame(store)
    if runs.empty:
        report.missing.append("the store has no runs: Tables 2–8 need training runs "
                              "(notebooks 04–06, `workbench train/verify/recommend`, sweeps)")  # fmt: skip
    # Range-test runs are short sweeps, not policies trained to compare: Table 7 only.
    main = runs[runs["kind"] != "range_test"] if not runs.empty else runs
    for number in (2, 3, 4):
        tasks = _tasks_for_table(main, number) if not main.empty else []
        table = results_table(main[main["task"].isin(tasks)]) if tasks else pd.DataFrame()
        _add(report, number, "", table, "no runs of its model or of its default policy")
    _add(report, 5, "", optimizer_table(main), "no task run with more than one optimizer")
    _add(report, 6, "", speedup_table(store, main),
         "no task with both a default-policy run and a recommended-policy run")  # fmt: skip
    _add(report, 7, "", range_test_table(runs), "no runs of kind range_test")
    searched = search_range_table(store)
    _add(report, 7, "b", searched, "no stored search with a range test (`workbench recommend`)")
    _search_range_figure(store, searched, report)
    traced = []
    for task in sorted(main["task"].unique()) if not main.empty else []:
        plot = _trace_figure(store, main, task)
        if plot is not None:
            name = f"Table 8: {task}"
            report.figures[name] = plot.save(out / f"table8_{task.replace('/', '_')}.png")
            traced.append(task)
    _add(report, 8, "", pd.DataFrame({"task": traced}),
         "no task with both a default and a recommended run to trace")  # fmt: skip
    if not runs.empty:
        _range_test_figure(runs, report)
    (out / "paper_tables.md").write_text(report.markdown())
    return report


def _range_test_figure(runs: pd.DataFrame, report: Report) -> None:
    rt = runs[runs["kind"] == "range_test"]
    if rt.empty:
        return
    plot = Plot()
    ax = plot.axes[0]
    for task, g in rt.groupby("task"):
        lrs = [_fix_lr(t) for t in g["policy_text"]]
        ok = [(lr, a) for lr, a in zip(lrs, g["final_top1"], strict=True) if lr is not None]
        if ok:
            xs, ys = zip(*sorted(ok), strict=True)
            ax.plot(xs, ys, marker="o", label=task)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("final validation top-1")
    ax.legend(fontsize=7)
    report.figures["Table 7: LR range test"] = plot.save(report.out_dir / "table7_range_test.png")


def _fix_lr(text: str) -> float | None:
    """The LR of a FIX policy's text form (range tests sweep FIX), else None."""
    if not text.startswith("FIX(k0=") or "|" in text:
        return None
    return finite_or_none(text[len("FIX(k0=") :].rstrip(")"))


__all__ = [
    "Plot",
    "Report",
    "catalogue_table",
    "compare_policies",
    "draw_run_curves",
    "markdown_table",
    "optimizer_table",
    "policies_figure",
    "range_test_table",
    "search_range_table",
    "results_table",
    "run_curves_figure",
    "runs_frame",
    "speedup_table",
    "summarise_run",
    "summarise_verdict",
    "task_label",
    "write_report",
]
