"""RunMonitor: start a training or verification run in the background and watch it live.

A view over `workbench.train.train` and `workbench.verify.verify`: the run spec comes from
the task form and the composer's policy; a callback feeds the live curves and the progress
bar; the stop button calls `RunContext.request_stop("user")`, so the loop ends the run
cleanly with status `stopped` and reason `user` (recorded as such in the store).

In a verification run the verifier's decisions show live: `verify` gets the default stop
rules, each wrapped so that what it answers reaches the monitor on the training thread. The
verifier consults the rules at a point before the monitor's callback sees that point, so a
point and the decisions made at it are drawn by one redraw (a marker at the decision's
iteration, and the verifier line naming the rule, its reason and its forecast).
"""

from __future__ import annotations

import contextlib
import html
import json
import threading
import traceback
from typing import Any

import ipywidgets as widgets
import pandas as pd

from workbench.errors import BadInput
from workbench.policies import from_spec
from workbench.report import draw_run_curves
from workbench.widgets import _figure
from workbench.widgets._store import MissingPackage, need, open_store

DEFAULT_TASK: dict[str, Any] = {
    "dataset": "mnist1d", "model": "cnn1d",
    "optimizer": {"name": "momentum", "momentum": 0.9, "weight_decay": 0.0005},
    "batch_size": 64, "eval_every": 250, "seed": 0, "target": 0.9,
}  # fmt: skip
MODES = ("train", "verify")


def _names(registry_name: str) -> list[str]:
    """Names registered in a workbench.train registry (empty if train is missing)."""
    try:
        return list(getattr(need("train"), registry_name))
    except MissingPackage:
        return []


def _choice(options: list[str], value: str, description: str) -> Any:
    # A registry lookup that failed (or a user-registered name not loaded yet) still
    # allows typing the name.
    if value in options:
        return widgets.Dropdown(options=options, value=value, description=description)
    return widgets.Text(value=value, description=description)


class _RuleTap:
    """A stop rule as the verifier sees it, telling the monitor what the rule answered.

    Everything else (name, `min_points`, settings) is the wrapped rule's, so `verify` treats
    it exactly as the rule itself.
    """

    def __init__(self, rule: Any, watcher: _Watcher):
        self.rule, self.watcher = rule, watcher

    @property
    def name(self) -> str:
        """The wrapped rule's name."""
        return getattr(self.rule, "name", type(self.rule).__name__)

    def __getattr__(self, attr: str) -> Any:
        if attr in ("rule", "watcher"):  # not set yet (e.g. while copying): no recursion
            raise AttributeError(attr)
        return getattr(self.rule, attr)

    def should_stop(self, context: Any) -> Any:
        """The wrapped rule's answer, reported to the monitor on the way."""
        decision = self.rule.should_stop(context)
        self.watcher.on_rule(self.name, int(context.iteration), decision)
        return decision


class _Watcher:
    """The training callback that feeds the monitor (called on the training thread)."""

    def __init__(self, monitor: RunMonitor):
        self.monitor = monitor

    def tap(self, rules: list[Any]) -> list[Any]:
        """`rules` wrapped so that each answer reaches the monitor."""
        return [_RuleTap(rule, self) for rule in rules]

    def on_rule(self, name: str, iteration: int, decision: Any) -> None:
        self.monitor._on_rule(name, iteration, decision)

    def on_run_start(self, run: Any) -> None:
        self.monitor._on_start(run)

    def on_progress(self, run: Any, iteration: int) -> None:
        self.monitor._on_progress(iteration)

    def on_eval(self, run: Any, point: dict[str, Any]) -> None:
        self.monitor._on_point(point)

    def on_run_end(self, run: Any, result: dict[str, Any]) -> None:
        self.monitor._on_end(result)


class RunMonitor(widgets.VBox):
    """Start a run from a task form and a policy; live curves, progress, a stop button.

    After a run: `result` (the run result dict), `verdict` (verification only),
    `history` (evaluation points), `error` (traceback text if the run could not start or
    crashed). `redraws` counts plot redraws. During a verification run: `decisions` (the
    verifier's decisions so far, as in the verdict's `decisions`), `decision` (the deciding
    one), `checked_at` (the last iteration the rules were consulted at) and the
    `verifier_status` line; `shadow` (a checkbox) verifies without stopping the run.
    """

    def __init__(
        self,
        composer: Any = None,
        *,
        task: dict[str, Any] | None = None,
        policy: Any = None,
        budget: int | None = None,
        db_url: str | None = None,
        store: Any = None,
        mode: str = "train",
        record: bool = True,
        shadow: bool = False,
    ):
        self.composer = composer
        self._policy = policy
        self._store, self._db_url, self.record = store, db_url, record
        self.result: dict[str, Any] | None = None
        self.verdict: dict[str, Any] | None = None
        self.history: list[dict[str, Any]] = []
        self.error: str | None = None
        self.decisions: list[dict[str, Any]] = []
        self.checked_at: int | None = None
        self._new_decisions: list[dict[str, Any]] = []  # from the rules, not yet shown
        self._rule_names: list[str] = []
        self._shadow_run = False
        self.redraws = 0
        self.context: Any = None
        self._thread: threading.Thread | None = None
        self._stop_wanted = False
        self._lock = threading.Lock()
        self._shown_progress = 0
        self._figure = _figure.new_figure(1, 3, size=(12, 3.2))
        t = {**DEFAULT_TASK, **(task or {})}
        self._build(t, budget, mode, shadow)
        super().__init__(self._layout())
        self.add_class("wb-monitor")

    # --- form ------------------------------------------------------------------------------

    def _build(self, t: dict[str, Any], budget: int | None, mode: str, shadow: bool) -> None:
        opt = dict(t["optimizer"]) if isinstance(t["optimizer"], dict) else {"name": t["optimizer"]}
        self.dataset = _choice(_names("DATASETS"), t["dataset"], "dataset")
        self.model = _choice(_names("MODELS"), t["model"], "model")
        self.optimizer = _choice(_names("OPTIMIZERS"), opt.pop("name"), "optimizer")
        self.optimizer_settings = widgets.Text(
            value=json.dumps(opt), description="settings", tooltip="optimizer settings (JSON)"
        )
        self.batch_size = widgets.IntText(value=t["batch_size"], description="batch size")
        default_budget = budget or (self.composer.budget if self.composer else 3000)
        self.budget = widgets.IntText(value=default_budget, description="budget")
        self.eval_every = widgets.IntText(value=t["eval_every"], description="eval every")
        self.seed = widgets.IntText(value=t["seed"], description="seed")
        target = t.get("target")
        self.target = widgets.Text(
            value="" if target is None else str(target), description="target",
            placeholder="e.g. 0.9 (blank: none)",
        )  # fmt: skip
        self.mode = widgets.ToggleButtons(options=MODES, value=mode, description="run")
        self.shadow = widgets.Checkbox(
            value=shadow, description="shadow", indent=False,
            tooltip="verify without stopping: log what each rule would decide",
        )  # fmt: skip
        self.start_button = widgets.Button(description="start", icon="play", button_style="success")
        self.start_button.on_click(lambda _: self.start())
        self.stop_button = widgets.Button(description="stop", icon="stop", button_style="danger",
                                          disabled=True)  # fmt: skip
        self.stop_button.on_click(lambda _: self.stop())
        self.progress = widgets.IntProgress(value=0, min=0, max=default_budget,
                                            description="0 it")  # fmt: skip
        self.status = widgets.HTML()
        self.status.add_class("wb-run-status")
        self.verifier_status = widgets.HTML()
        self.verifier_status.add_class("wb-verifier-status")
        self.plot = _figure.image()
        self.plot.add_class("wb-run-plot")

    def _layout(self) -> list[Any]:
        form = widgets.GridBox(
            [self.dataset, self.model, self.optimizer, self.optimizer_settings, self.batch_size,
             self.budget, self.eval_every, self.seed, self.target],
            layout=widgets.Layout(grid_template_columns="repeat(3, 330px)"),
        )  # fmt: skip
        buttons = widgets.HBox([self.mode, self.shadow, self.start_button, self.stop_button])
        return [widgets.HTML("<b>Run monitor</b>"), form, buttons, self.progress, self.status,
                self.verifier_status, self.plot]  # fmt: skip

    def policy_spec(self) -> dict[str, Any]:
        """The policy to run: the composer's last valid policy, else the one given."""
        if self.composer is not None:
            return self.composer.spec
        if self._policy is None:
            raise BadInput("no policy: give a composer or policy=…")
        return from_spec(self._policy).to_spec()

    def run_spec(self) -> dict[str, Any]:
        """The run spec the form describes (DESIGN.md "Run spec")."""
        try:
            settings = json.loads(self.optimizer_settings.value or "{}")
        except json.JSONDecodeError as exc:
            raise BadInput(f"optimizer settings: not valid JSON ({exc})") from None
        if not isinstance(settings, dict):
            raise BadInput('optimizer settings: give a JSON object, e.g. {"momentum": 0.9}')
        target = self.target.value.strip()
        try:
            target_value = float(target) if target else None
        except ValueError:
            raise BadInput(f"target: {target!r} is not a number") from None
        budget = self.composer.budget if self.composer is not None else self.budget.value
        self.budget.value = budget
        return {
            "dataset": self.dataset.value, "model": self.model.value,
            "optimizer": {"name": self.optimizer.value, **settings},
            "policy": self.policy_spec(), "batch_size": self.batch_size.value,
            "budget": budget, "eval_every": self.eval_every.value, "seed": self.seed.value,
            "target": target_value,
        }  # fmt: skip

    # --- running ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether a run is in progress."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def store(self) -> Any:
        """The results store runs are recorded in (needs workbench.store)."""
        self._store = open_store(self._store, self._db_url)
        return self._store

    def start(self, mode: str | None = None) -> None:
        """Start a run of the form's spec in a background thread (`mode`: train | verify)."""
        if self.running:
            self._say("a run is already going: stop it first", error=True)
            return
        mode = mode or self.mode.value
        try:
            spec = self.run_spec()
            runner = self._runner(mode)
        except (BadInput, MissingPackage) as exc:
            self.error = str(exc)
            self._say(str(exc), error=True)
            return
        self.result, self.verdict, self.history, self.error = None, None, [], None
        self.context, self._stop_wanted, self._shown_progress = None, False, 0
        with self._lock:
            self.decisions, self._new_decisions, self.checked_at = [], [], None
        self.verifier_status.value = ""
        self.progress.max, self.progress.value = spec["budget"], 0
        self.progress.bar_style = ""
        self.start_button.disabled, self.stop_button.disabled = True, False
        self._say(f"starting {mode} run…")
        self._thread = threading.Thread(
            target=self._work, args=(runner, spec), name="workbench-run", daemon=True
        )
        self._thread.start()

    def _runner(self, mode: str) -> Any:
        if mode not in MODES:
            raise BadInput(f"mode: {mode!r}; one of {', '.join(MODES)}")
        watcher = _Watcher(self)
        if mode == "verify":
            verifying = need("verify")
            store = self.store if self.record else None
            # The rules verify would use by default, tapped: their answers show live.
            rules = watcher.tap(verifying.default_rules())
            self._rule_names = [r.name for r in rules]
            self._shadow_run = shadow = bool(self.shadow.value)

            def run_verify(spec: dict[str, Any]) -> None:
                verdict = verifying.verify(
                    spec, rules=rules, store=store, shadow=shadow, callbacks=[watcher]
                )
                self.verdict = verdict.to_dict()
                self.result = self.verdict.get("run") or self.result

            return run_verify
        train = need("train").train
        callbacks: list[Any] = [watcher]
        if self.record:
            callbacks.append(need("store").Recorder(self.store))

        def run_train(spec: dict[str, Any]) -> None:
            self.result = train(spec, callbacks=callbacks, progress=False).to_dict()

        return run_train

    def _work(self, runner: Any, spec: dict[str, Any]) -> None:
        try:
            runner(spec)
        except Exception as exc:  # shown in the view: a bad spec or a crash of the run
            self.error = traceback.format_exc()
            self._say(f"{type(exc).__name__}: {exc}", error=True)
        finally:
            self.start_button.disabled, self.stop_button.disabled = False, True
            self._finish()

    def stop(self) -> None:
        """Ask the run to stop; it ends as `stopped` with reason `user`."""
        with self._lock:
            self._stop_wanted = True
            ctx = self.context
        if ctx is not None:
            ctx.request_stop("user")
        self._say("stopping…")

    def wait(self, timeout: float | None = None) -> dict[str, Any] | None:
        """Wait for the run to end; returns its result dict (None if it never ran)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.result

    # --- callbacks (training thread) -------------------------------------------------------

    def _on_start(self, run: Any) -> None:
        with self._lock:
            self.context = run
            stop_now = self._stop_wanted
        if stop_now:  # stop was pressed before the loop had a context
            run.request_stop("user")
        self._say(f"running <code>{html.escape(str(run.run_id))[:12]}</code>")

    def _on_progress(self, iteration: int) -> None:
        step = max(1, self.progress.max // 200)  # at most ~200 progress messages per run
        if iteration - self._shown_progress >= step:
            self._shown_progress = iteration
            self.progress.value = iteration
            self.progress.description = f"{iteration} it"

    def _on_rule(self, name: str, iteration: int, decision: Any) -> None:
        # The verifier consults its rules inside its own on_eval, before ours for the same
        # point: hold the decision so that _on_point draws it with its point, in one redraw.
        with self._lock:
            self.checked_at = iteration
            if decision is not None:
                d = decision.to_dict() if hasattr(decision, "to_dict") else dict(decision)
                self._new_decisions.append(d)

    def _on_point(self, point: dict[str, Any]) -> None:
        self.history.append(dict(point))
        self._on_progress(int(point["iteration"]))
        self._show_decisions()
        self.redraw()

    def _show_decisions(self) -> None:
        """Move the decisions made since the last point into view (verifier line)."""
        with self._lock:
            new, self._new_decisions = self._new_decisions, []
            self.decisions.extend(new)
            checked, shown = self.checked_at, bool(self.decisions)
        if shown or checked is not None:
            self.verifier_status.value = self._verifier_line(checked)

    @property
    def decision(self) -> dict[str, Any] | None:
        """The deciding decision so far (the first one), as a dict; None before any."""
        with self._lock:
            return self.decisions[0] if self.decisions else None

    def _verifier_line(self, checked: int | None) -> str:
        shadow = self._shadow_run
        head = "verifier (shadow)" if shadow else "verifier"
        with self._lock:
            decisions = list(self.decisions)
        if not decisions:
            rules = ", ".join(self._rule_names)
            return (f"{head}: <b>continue</b> at iteration {checked}: no rule fired"
                    + (f" ({html.escape(rules)})" if rules else ""))  # fmt: skip
        parts = []
        # Shadow mode logs every rule's first decision; otherwise the first one decides.
        for d in decisions if shadow else decisions[:1]:
            verb = "diverged" if d.get("kind") == "diverged" else "stop"
            rule, kind, reason = (html.escape(str(d.get(k))) for k in ("rule", "kind", "reason"))
            text = (f"<b>{'would ' + verb if shadow else verb}</b> at iteration "
                    f"{d.get('iteration')}: <code>{rule}</code> ({kind}): {reason}")  # fmt: skip
            forecast = d.get("predicted_final")
            if isinstance(forecast, int | float):
                text += f"; forecast {forecast:.3f}"
            parts.append(text)
        if shadow and checked is not None and self.result is None:
            parts.append(f"the run goes on (rules consulted at iteration {checked})")
        return f"{head}: " + "; ".join(parts)

    def _on_end(self, result: dict[str, Any]) -> None:
        self.result = result

    def _finish(self) -> None:
        with self._lock:
            unseen = bool(self._new_decisions)
            if not self.decisions and not unseen and self.verdict:
                # Rules not tapped (none reported live): the verdict's log still shows.
                self.decisions = list(self.verdict.get("decisions") or [])
        if unseen or self.decisions:
            self._show_decisions()
        r = self.result or {}
        self.progress.value = int(r.get("iterations") or self.progress.value)
        self.progress.description = f"{self.progress.value} it"
        status = r.get("status")
        self.progress.bar_style = {"completed": "success", "stopped": "warning"}.get(
            str(status), "danger" if status else ""
        )
        if r:
            self._say(self.summary())
        self.redraw()

    # --- views -----------------------------------------------------------------------------

    def summary(self) -> str:
        """One line: status, stop reason, iterations, accuracies, verdict."""
        r = self.result or {}
        parts = [f"status <b>{r.get('status')}</b>"]
        if r.get("stop_reason"):
            parts.append(f"reason {r['stop_reason']}")
        parts.append(f"{r.get('iterations')} iterations")
        for key in ("final_top1", "best_top1", "iterations_to_target"):
            if r.get(key) is not None:
                v = r[key]
                parts.append(f"{key} {v:.4f}" if isinstance(v, float) else f"{key} {v}")
        if self.verdict:
            v = self.verdict
            parts.append(f"verdict <b>{v.get('verdict')}</b> at {v.get('iteration')}"
                         + (f" ({v['rule']})" if v.get("rule") else ""))  # fmt: skip
        return ", ".join(parts)

    def _marks(self) -> list[tuple[int, str]]:
        marks = []
        with self._lock:
            decisions = list(self.decisions)
        for d in decisions:
            text = f"{d.get('rule')}: {d.get('kind', '')}"
            if isinstance(d.get("predicted_final"), int | float):
                text += f" (forecast {d['predicted_final']:.3f})"
            marks.append((int(d["iteration"]), text))
        r = self.result or {}
        if r.get("status") == "stopped" and r.get("iterations") is not None:
            it, reason = int(r["iterations"]), str(r.get("stop_reason"))
            ruled = any(f"rule:{d.get('rule')}" == reason and int(d["iteration"]) == it
                        for d in decisions)  # fmt: skip
            if not ruled:  # a rule's stop is already marked by its decision
                marks.append((it, f"stopped: {reason}"))
        return marks

    def redraw(self) -> None:
        """Redraw the LR, loss and accuracy curves of the current run."""
        self.redraws += 1
        axes = _figure.clear(self._figure)
        budget = int(self.progress.max or 1)
        with contextlib.suppress(BadInput):  # no policy yet: nothing planned to draw
            planned = from_spec(self.policy_spec()).values(budget)
            axes[0].plot(range(budget), planned, color="grey", linestyle=":", label="planned")
        for ax in axes:
            ax.set_xlim(0, budget)
        if self.history:
            curves = pd.DataFrame(self.history).assign(run_id="run")
            target = self.target.value.strip()
            draw_run_curves(axes, curves, labels={"run": "this run"},
                            target=float(target) if target else None,
                            marks=self._marks())  # fmt: skip
        self._figure.tight_layout()
        _figure.show(self.plot, self._figure)

    def _say(self, text: str, error: bool = False) -> None:
        style = "color:#b00020" if error else ""
        self.status.value = (
            f'<span style="{style}">{text if not error else html.escape(text)}</span>'
        )
