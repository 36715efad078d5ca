"""PolicyComposer: compose an LR policy stage by stage and see it at once.

A view over `workbench.policies`: the controls are read into a policy spec, the library
validates it (`from_spec`), and the plot, spec, hash, text and code views show the last
*valid* policy. Every change goes through one `update()`, which redraws once.
"""

from __future__ import annotations

import contextlib
import html
import json
import math
import pprint
import re
from collections.abc import Callable, Iterator
from typing import Any

import ipywidgets as widgets

from workbench.policies import (
    FAMILIES,
    PRESETS,
    REGISTRY,
    Param,
    Policy,
    PolicyError,
    by_family,
    example_spec,
    from_spec,
    from_text,
    preset,
)
from workbench.policies.plot import draw_policy
from workbench.widgets import _figure
from workbench.widgets._store import MissingPackage, open_store, records

# Log-slider range for learning rates (10^LR_MIN … 10^LR_MAX); typed values outside clamp.
LR_MIN, LR_MAX = -7.0, 1.0
_STAGE_FIELD = re.compile(r"^stages\[(\d+)\]\.(?:policy\.)?(.+)$")


class FieldError(ValueError):
    """A control holds a value that cannot even be turned into a spec (e.g. a bad list)."""

    def __init__(self, field: str, problem: str):
        self.field, self.problem = field, problem
        super().__init__(f"{field}: {problem}")


def function_options() -> list[tuple[str, str]]:
    """Dropdown options grouped by family: ("cyclic · TRI", "TRI"), in family order."""
    groups = by_family()
    return [(f"{family} · {name}", name) for family in FAMILIES for name in groups[family]]


def parse_steps(text: str, field: str) -> list[int]:
    """NSTEP boundaries from "500, 750" (or "[500, 750]")."""
    parts = [p for p in re.split(r"[\s,;]+", text.strip().strip("[]")) if p]
    if not parts:
        raise FieldError(field, "give a list of iteration boundaries, e.g. 500, 750")
    out = []
    for p in parts:
        try:
            out.append(int(p))
        except ValueError:
            raise FieldError(field, f"{p!r} is not a whole number of iterations") from None
    return out


def _error_html(text: str) -> str:
    return f'<span style="color:#b00020">⚠ {html.escape(text, quote=False)}</span>'


def _lr_range(value: float) -> tuple[float, float]:
    """Log10 slider bounds that hold `value` (the default range, widened if needed)."""
    if value <= 0:
        return LR_MIN, LR_MAX
    exp = math.log10(value)
    return min(LR_MIN, math.floor(exp)), max(LR_MAX, math.ceil(exp))


class _LRControl(widgets.HBox):
    """A learning rate: a log slider plus a 'zero' box (LRs may be 0, a log axis cannot)."""

    def __init__(self, name: str, value: float):
        lo, hi = _lr_range(value)
        self.slider = widgets.FloatLogSlider(
            value=value if value > 0 else 1e-3, base=10, min=lo, max=hi, step=0.01,
            description=name,
            readout_format=".3g", continuous_update=False,
            layout=widgets.Layout(width="420px"),
        )  # fmt: skip
        self.zero = widgets.Checkbox(
            value=value == 0, description="0", indent=False, layout=widgets.Layout(width="50px")
        )
        self.slider.disabled = self.zero.value
        self.slider.add_class(f"wb-param-{name}")
        super().__init__([self.slider, self.zero])

    @property
    def value(self) -> float:
        return 0.0 if self.zero.value else float(self.slider.value)

    def set(self, value: float) -> None:
        """Show `value` (0 ticks the zero box)."""
        self.zero.value = value == 0
        if value > 0:
            # Widen the slider rather than clamp: loading a policy must not change it.
            lo, hi = _lr_range(value)
            self.slider.min = min(self.slider.min, lo)
            self.slider.max = max(self.slider.max, hi)
            self.slider.value = value

    def observe_value(self, handler: Callable[[Any], None]) -> None:
        self.slider.observe(handler, "value")
        self.zero.observe(handler, "value")


def _make_control(name: str, param: Param, value: Any) -> Any:
    """The value widget for one parameter, chosen by its kind."""
    kind = param.kind
    if kind == "lr":
        return _LRControl(name, float(value))
    if kind in ("period", "center"):
        return widgets.IntText(value=int(value), description=name, tooltip=param.doc)
    if kind == "steps":
        return widgets.Text(
            value=", ".join(str(int(v)) for v in value), description=name, tooltip=param.doc,
            continuous_update=False,
        )  # fmt: skip
    return widgets.FloatText(value=float(value), description=name, tooltip=param.doc)


def _control_value(control: Any, param: Param, field: str) -> Any:
    if param.kind == "steps":
        return parse_steps(control.value, field)
    return control.value


def _set_control(control: Any, param: Param, value: Any) -> None:
    if param.kind == "lr":
        control.set(float(value))
    elif param.kind == "steps":
        control.value = ", ".join(str(int(v)) for v in value)
    else:
        control.value = value


class StageEditor(widgets.VBox):
    """One stage: function picker, formula, parameter controls, boundary, messages, buttons."""

    def __init__(self, composer: PolicyComposer, spec: dict[str, Any], until: int | None):
        self.composer = composer
        self.function = widgets.Dropdown(
            options=function_options(), value=spec["function"].upper(), description="function"
        )
        self.function.add_class("wb-function")
        self.formula = widgets.HTML()
        self.controls: dict[str, Any] = {}
        self.params_box = widgets.VBox()
        self.until = widgets.IntText(value=until or 0, description="until")
        self.fraction = widgets.FloatText(
            value=0.0, step=0.01, description="fraction", tooltip="the boundary ÷ the budget"
        )
        self.boundary_box = widgets.HBox([self.until, self.fraction])
        self.message = widgets.HTML()
        self.message.add_class("wb-stage-message")
        self.up = widgets.Button(icon="arrow-up", tooltip="move up", layout=_small())
        self.down = widgets.Button(icon="arrow-down", tooltip="move down", layout=_small())
        self.remove = widgets.Button(icon="trash", tooltip="remove stage", layout=_small())
        self.title = widgets.HTML()
        self._syncing = False
        self._build_params(spec)
        self.function.observe(self._on_function, "value")
        self.until.observe(self._on_until, "value")
        self.fraction.observe(self._on_fraction, "value")
        self.up.on_click(lambda _: composer.move_stage(self.index, -1))
        self.down.on_click(lambda _: composer.move_stage(self.index, +1))
        self.remove.on_click(lambda _: composer.remove_stage(self.index))
        header = widgets.HBox([self.title, self.function, self.up, self.down, self.remove])
        super().__init__(
            [header, self.formula, self.params_box, self.boundary_box, self.message],
            layout=widgets.Layout(border="1px solid #ddd", padding="4px", margin="2px 0"),
        )

    @property
    def index(self) -> int:
        return self.composer.stage_editors.index(self)

    @property
    def name(self) -> str:
        return str(self.function.value)

    def _build_params(self, spec: dict[str, Any]) -> None:
        fn = REGISTRY[self.name]
        self.formula.value = f"<code>lr(t) = {html.escape(fn.formula)}</code>"
        self.controls = {}
        for p in fn.params:
            control = _make_control(p.name, p, spec[p.name])
            if isinstance(control, _LRControl):
                control.observe_value(self._on_param)
            else:
                control.observe(self._on_param, "value")
            self.controls[p.name] = control
        self.params_box.children = list(self.controls.values())

    def _on_param(self, _change: Any) -> None:
        for c in self.controls.values():
            if isinstance(c, _LRControl):
                c.slider.disabled = c.zero.value
        self.composer._changed()

    def _on_function(self, change: Any) -> None:
        # Keep values of parameters the old and new function share (same name and kind),
        # so switching TRI → COS keeps the LR bounds; fill the rest with examples.
        old = REGISTRY[change["old"]]
        new = REGISTRY[change["new"]]
        example = example_spec(new.name, self.composer.budget)
        old_kinds = {p.name: p.kind for p in old.params}
        spec: dict[str, Any] = {}
        for p in new.params:
            spec[p.name] = example[p.name]
            if old_kinds.get(p.name) == p.kind and p.name in self.controls:
                with contextlib.suppress(FieldError):
                    spec[p.name] = _control_value(self.controls[p.name], p, p.name)
        with self.composer.holding():
            self._build_params(spec)
            self.composer._changed()

    def _on_until(self, _change: Any) -> None:
        if self._syncing:
            return
        self.sync_fraction(self.composer.budget)
        self.composer._changed()

    def _on_fraction(self, change: Any) -> None:
        if self._syncing:
            return
        budget = self.composer.budget
        with self.composer.holding():
            self._syncing = True
            try:
                self.until.value = int(round(float(change["new"]) * budget))
            finally:
                self._syncing = False
            self.composer._changed()

    def sync_fraction(self, budget: int) -> None:
        """Show the boundary as a fraction of `budget` without triggering a change."""
        self._syncing = True
        try:
            self.fraction.value = round(self.until.value / budget, 4) if budget > 0 else 0.0
        finally:
            self._syncing = False

    def set_position(self, index: int, count: int) -> None:
        """Title, boundary visibility and button states for stage `index` of `count`."""
        last = index == count - 1
        self.title.value = f"<b>stage {index + 1}</b>" + (" (to the end)" if last else "")
        self.boundary_box.layout.display = "none" if last else ""
        self.up.disabled = index == 0
        self.down.disabled = last
        self.remove.disabled = count == 1

    def read(self, index: int, last: bool) -> dict[str, Any]:
        """This stage as a spec entry; raises FieldError for a control that is not parseable."""
        fn = REGISTRY[self.name]
        prefix = f"stages[{index}].policy."
        policy: dict[str, Any] = {"function": fn.name}
        for p in fn.params:
            policy[p.name] = _control_value(self.controls[p.name], p, prefix + p.name)
        entry: dict[str, Any] = {"policy": policy}
        if not last:
            entry["until"] = int(self.until.value)
        return entry

    def load(self, spec: dict[str, Any], until: int | None) -> None:
        """Show `spec` (a single-function spec) and boundary `until` (composer holds)."""
        name = spec["function"].upper()
        if name != self.name:
            self.function.unobserve(self._on_function, "value")
            self.function.value = name
            self.function.observe(self._on_function, "value")
            self._build_params(spec)
        else:
            fn = REGISTRY[name]
            for p in fn.params:
                _set_control(self.controls[p.name], p, spec[p.name])
        if until is not None:
            self.until.value = until


def _small() -> widgets.Layout:
    return widgets.Layout(width="36px")


Overlay = Callable[[int, float], Any]  # (budget, peak LR of the composed policy) -> spec


def _preset_overlays() -> dict[str, Overlay]:
    """Modern presets sized to the composer's budget and the composed policy's peak LR."""
    out: dict[str, Overlay] = {}
    for name in PRESETS:
        if name == "sgdr":
            out[f"preset: {name}"] = lambda b, peak: preset(
                "sgdr", peak=peak, budget=b, period=max(1, b // 8)
            )
        else:
            out[f"preset: {name}"] = lambda b, peak, name=name: preset(name, peak=peak, budget=b)
    return out


def _default_overlays() -> dict[str, Overlay]:
    """The paper's default policies, re-targeted to the budget (from workbench.recommend)."""
    try:
        from workbench.recommend.defaults import PAPER_BASELINES
    except ImportError:  # the recommender is optional for the composer: presets still show
        return {}
    return {
        f"default: {name}": lambda b, peak, base=base: base.at(b)
        for name, base in PAPER_BASELINES.items()
    }


class PolicyComposer(widgets.VBox):
    """Compose an LR policy; `.spec`, `.policy`, `.hash` hold the last valid policy.

    `redraws` counts plot redraws (one per change); `error` is the current validation
    message (None when the controls describe a valid policy).
    """

    def __init__(
        self,
        spec: Any = None,
        budget: int = 1000,
        *,
        store: Any = None,
        db_url: str | None = None,
        overlays: dict[str, Any] | None = None,
    ):
        self._store, self._db_url = store, db_url
        self._hold = 0
        self._dirty = False
        self.redraws = 0
        self.error: str | None = None
        default = {"function": "TRI", "k0": 0.001, "k1": 0.01, "l": max(1, budget // 8)}
        self._policy: Policy = _as_policy(spec if spec is not None else default)
        self._budget = budget
        self._figure = _figure.new_figure()
        self._build_controls(budget)
        self._overlays: dict[str, Overlay] = _default_overlays() | _preset_overlays()
        for label, ov in (overlays or {}).items():
            self.add_overlay(ov, label, select=False)
        self._refresh_overlay_options()
        super().__init__(self._layout())
        self.add_class("wb-composer")
        with self.holding():
            self._show_policy(self._policy)
            self._changed()

    # --- building --------------------------------------------------------------------------

    def _build_controls(self, budget: int) -> None:
        self.budget_box = widgets.IntText(value=budget, description="budget")
        self.budget_box.add_class("wb-budget")
        self.budget_box.observe(lambda _: self._changed(), "value")
        self.log_scale = widgets.Checkbox(value=False, description="log scale", indent=False)
        self.log_scale.observe(lambda _: self._redraw(), "value")
        self.overlay_select = widgets.SelectMultiple(
            description="overlay", rows=4, layout=widgets.Layout(width="360px")
        )
        self._quiet_overlays = False
        self.overlay_select.observe(self._on_overlays, "value")
        self.stage_editors: list[StageEditor] = []
        self.stages_box = widgets.VBox()
        self.add_button = widgets.Button(description="add stage", icon="plus")
        self.add_button.on_click(lambda _: self.add_stage())
        self.message = widgets.HTML()
        self.message.add_class("wb-message")
        self.plot = _figure.image(max_width="700px")
        self.plot.add_class("wb-plot")
        self.spec_view = widgets.HTML()
        self.spec_view.add_class("wb-spec")
        self.hash_view = widgets.HTML()
        self.hash_view.add_class("wb-hash")
        self.text_view = widgets.HTML()
        self.code_view = widgets.Textarea(
            layout=widgets.Layout(width="100%", height="120px"), disabled=False
        )
        self.copy_button = widgets.Button(description="copy as Python", icon="copy")
        self.copy_button.on_click(lambda _: self.copy_code())
        self._js_out = widgets.Output(layout=widgets.Layout(display="none"))
        self._build_load_save()

    def _build_load_save(self) -> None:
        self.source = widgets.Textarea(
            placeholder='{"function": "COS", "k0": 0.0, "k1": 0.1, "l": 1000}  or  '
            "LINEAR(k0=0.0, k1=0.1, l=100) until 100 | COS(k0=0.0, k1=0.1, l=900)",
            layout=widgets.Layout(width="100%", height="60px"),
        )
        self.load_button = widgets.Button(description="load spec / text")
        self.load_button.on_click(lambda _: self._try(lambda: self.load(self.source.value)))
        self.preset_name = widgets.Dropdown(options=list(PRESETS), description="preset")
        self.preset_peak = widgets.FloatLogSlider(
            value=0.1, base=10, min=LR_MIN, max=LR_MAX, step=0.01, description="peak",
            readout_format=".3g",
        )  # fmt: skip
        self.preset_button = widgets.Button(description="load preset")
        self.preset_button.on_click(
            lambda _: self._try(
                lambda: self.load_preset(self.preset_name.value, peak=self.preset_peak.value)
            )
        )
        self.stored = widgets.Dropdown(description="stored", options=[])
        self.refresh_stored_button = widgets.Button(description="refresh", icon="refresh")
        self.refresh_stored_button.on_click(lambda _: self._try(self.refresh_stored))
        self.stored_button = widgets.Button(description="load stored")
        self.stored_button.on_click(
            lambda _: self._try(lambda: self.load_stored(self.stored.value))
        )
        self.save_label = widgets.Text(description="label", placeholder="my policy")
        self.save_button = widgets.Button(description="save to store", icon="save")
        self.save_button.on_click(lambda _: self._try(lambda: self.save(self.save_label.value)))
        self.store_status = widgets.HTML()

    def _layout(self) -> list[Any]:
        top = widgets.HBox([self.budget_box, self.log_scale])
        spec_tab = widgets.VBox([self.hash_view, self.text_view, self.spec_view])
        load_tab = widgets.VBox([
            self.source, self.load_button,
            widgets.HBox([self.preset_name, self.preset_peak, self.preset_button]),
            widgets.HBox([self.stored, self.refresh_stored_button, self.stored_button]),
        ])  # fmt: skip
        save_tab = widgets.VBox([widgets.HBox([self.save_label, self.save_button])])
        code_tab = widgets.VBox([self.code_view, self.copy_button, self._js_out])
        tabs = widgets.Tab([spec_tab, load_tab, save_tab, code_tab])
        for i, title in enumerate(("spec", "load", "save", "Python")):
            tabs.set_title(i, title)
        return [
            widgets.HTML("<b>LR policy composer</b>"),
            top,
            self.stages_box,
            self.add_button,
            self.message,
            widgets.HBox([self.plot, self.overlay_select]),
            tabs,
            self.store_status,
        ]

    # --- the last valid policy -------------------------------------------------------------

    @property
    def policy(self) -> Policy:
        """The last valid policy."""
        return self._policy

    @property
    def spec(self) -> dict[str, Any]:
        """Canonical spec of the last valid policy."""
        return self._policy.to_spec()

    @property
    def hash(self) -> str:
        """SHA-256 of the last valid policy's canonical spec."""
        return self._policy.hash

    @property
    def budget(self) -> int:
        """The last valid budget (iterations shown in the plot)."""
        return self._budget

    # --- change handling: every change → one update() --------------------------------------

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """Collect changes made inside into a single update at the end."""
        self._hold += 1
        try:
            yield
        finally:
            self._hold -= 1
            if self._hold == 0 and self._dirty:
                self._dirty = False
                self.update()

    def _changed(self) -> None:
        if self._hold:
            self._dirty = True
        else:
            self.update()

    def update(self) -> None:
        """Read the controls; if they make a valid policy show it (one redraw), else say why."""
        try:
            budget = self._read_budget()
            policy = from_spec(self._read_spec())
        except (PolicyError, FieldError) as exc:
            self._show_error(exc)
            return
        self.error = None
        for ed in self.stage_editors:
            ed.message.value = ""
        self._policy, self._budget = policy, budget
        self._refresh_views()
        self._redraw()

    def _read_budget(self) -> int:
        budget = self.budget_box.value
        if budget < 2:
            raise FieldError("budget", f"must be at least 2 iterations (got {budget})")
        return int(budget)

    def _read_spec(self) -> dict[str, Any]:
        n = len(self.stage_editors)
        entries = [ed.read(i, i == n - 1) for i, ed in enumerate(self.stage_editors)]
        if n == 1:
            return entries[0]["policy"]
        return {"stages": entries}

    def _show_error(self, exc: Exception) -> None:
        field = getattr(exc, "field", "")
        text = str(exc)
        self.error = text
        m = _STAGE_FIELD.match(field)
        index = int(m.group(1)) if m else (0 if len(self.stage_editors) == 1 else None)
        for i, ed in enumerate(self.stage_editors):
            ed.message.value = _error_html(text) if i == index and field != "budget" else ""
        self.message.value = _error_html(
            f"{text} — the plot and spec show the last valid policy ({self._policy.short_hash})"
        )

    def _refresh_views(self) -> None:
        pol = self._policy
        spec_json = json.dumps(pol.to_spec(), sort_keys=True)
        self.spec_view.value = (
            f"<pre style='white-space:pre-wrap'>{html.escape(spec_json, quote=False)}</pre>"
        )
        self.hash_view.value = f"hash <code>{pol.short_hash}</code> <small>({pol.hash})</small>"
        self.text_view.value = f"<code>{html.escape(pol.text)}</code>"
        self.code_view.value = self.python_code()
        warnings = [
            f"stage {i + 2} starts at {ed.until.value}, after the budget ({self._budget})"
            for i, ed in enumerate(self.stage_editors[:-1])
            if ed.until.value >= self._budget
        ]
        self.message.value = "; ".join(warnings)
        for ed in self.stage_editors:
            ed.sync_fraction(self._budget)

    def _redraw(self) -> None:
        if self._hold:
            self._dirty = True
            return
        self.redraws += 1
        (ax,) = _figure.clear(self._figure)
        budget, log = self._budget, bool(self.log_scale.value)
        peak = float(max(self._policy.values(budget).max(initial=0.0), 1e-6))
        for label in self.overlay_select.value:
            try:
                draw_policy(ax, self._overlays[label](budget, peak), budget, label=label, log=log)
            except (PolicyError, ValueError) as exc:
                self.message.value = _error_html(f"overlay {label}: {exc}")
        for line in ax.get_lines():
            line.set_alpha(0.55)
            line.set_linewidth(1.0)
        line = draw_policy(ax, self._policy, budget, label=f"composed {self._policy.short_hash}",
                           log=log)  # fmt: skip
        line.set_linewidth(2.2)
        line.set_color("black")
        ax.set_xlim(0, budget)
        ax.legend(fontsize=7, loc="best")
        ax.set_title(self._policy.text[:90], fontsize=8)
        self._figure.tight_layout()
        _figure.show(self.plot, self._figure)

    # --- stages ----------------------------------------------------------------------------

    def _set_stages(self, editors: list[StageEditor]) -> None:
        self.stage_editors = editors
        self.stages_box.children = editors
        for i, ed in enumerate(editors):
            ed.set_position(i, len(editors))

    def add_stage(self, spec: dict[str, Any] | None = None, until: int | None = None) -> None:
        """Append a stage (default: a copy of the last stage's function, starting at 3/4)."""
        with self.holding():
            if spec is None:
                last = self.stage_editors[-1]
                spec = example_spec(last.name, self.budget)
                with contextlib.suppress(FieldError):
                    spec = last.read(0, True)["policy"]
            if self.stage_editors:
                # The old last stage now needs a boundary: put it between its start and the end.
                prev = self.stage_editors[-1]
                start = self.stage_editors[-2].until.value if len(self.stage_editors) > 1 else 0
                prev.until.value = until or max(start + 1, (start + self.budget) // 2)
            self._set_stages([*self.stage_editors, StageEditor(self, spec, None)])
            self._changed()

    def remove_stage(self, index: int) -> None:
        """Remove stage `index` (the only stage cannot be removed)."""
        if len(self.stage_editors) <= 1:
            return
        with self.holding():
            editors = list(self.stage_editors)
            del editors[index]
            self._set_stages(editors)
            self._changed()

    def move_stage(self, index: int, delta: int) -> None:
        """Move stage `index` by `delta` places; boundaries stay in place, functions move."""
        j = index + delta
        if not 0 <= j < len(self.stage_editors):
            return
        with self.holding():
            editors = list(self.stage_editors)
            untils = [ed.until.value for ed in editors]
            editors[index], editors[j] = editors[j], editors[index]
            for ed, u in zip(editors, untils, strict=True):
                ed._syncing = True
                ed.until.value = u
                ed._syncing = False
            self._set_stages(editors)
            self._changed()

    # --- loading ---------------------------------------------------------------------------

    def _show_policy(self, policy: Policy) -> None:
        stages = policy.stages
        editors = list(self.stage_editors[: len(stages)])
        for i, stage in enumerate(stages):
            spec = stage.policy.to_spec()
            if i < len(editors):
                editors[i].load(spec, stage.until)
            else:
                editors.append(StageEditor(self, spec, stage.until))
        self._set_stages(editors)

    def load(self, source: Any, budget: int | None = None) -> Policy:
        """Show a policy given as a spec dict, a Policy, JSON text or the text form."""
        policy = _as_policy(source)
        with self.holding():
            if budget is not None:
                self.budget_box.value = int(budget)
            self._show_policy(policy)
            self._changed()
        return self._policy

    def load_preset(self, name: str, **kwargs: Any) -> Policy:
        """Load a preset (see workbench.policies.PRESETS) sized to the budget."""
        kwargs.setdefault("budget", self.budget)
        if name == "sgdr":
            kwargs.setdefault("period", max(1, kwargs["budget"] // 8))
        return self.load(preset(name, **kwargs))

    # --- store -----------------------------------------------------------------------------

    @property
    def store(self) -> Any:
        """The results store (opened on first use; needs workbench.store)."""
        self._store = open_store(self._store, self._db_url)
        return self._store

    def stored_policies(self) -> list[dict[str, Any]]:
        """Stored policies as dicts (at least `spec`, plus label and hash where stored)."""
        return records(self.store.policies())

    def refresh_stored(self) -> None:
        """Reload the stored-policy list (for the picker and the overlays)."""
        options = []
        for row in self.stored_policies():
            spec = row.get("spec")
            if isinstance(spec, str):
                spec = json.loads(spec)
            pol = from_spec(spec)
            label = row.get("label") or pol.text[:40]
            key = f"stored: {label} ({pol.short_hash})"
            options.append((key, json.dumps(pol.to_spec())))
            self._overlays[key] = lambda b, peak, pol=pol: pol
        self.stored.options = options
        if options:
            self.stored.value = options[0][1]
        self._refresh_overlay_options()

    def load_stored(self, key: str) -> Policy:
        """Load a stored policy: a canonical-spec JSON (picker value), a hash, prefix or label."""
        if not key:
            raise FieldError("stored", "pick a stored policy first (refresh the list)")
        if key.lstrip().startswith("{"):
            return self.load(json.loads(key))
        return self.load(self.store.policy(key)["spec"])

    def save(self, label: str = "") -> Any:
        """Save the current policy to the store under `label`."""
        out = self.store.save_policy(self.spec, label or None)
        self.store_status.value = f"saved {self._policy.short_hash} as {html.escape(label or '-')}"
        return out

    # --- overlays and code -----------------------------------------------------------------

    def add_overlay(self, overlay: Any, label: str, select: bool = True) -> None:
        """Overlay a policy (spec, Policy, or a callable (budget, peak) -> spec) on the plot."""
        if callable(overlay) and not isinstance(overlay, Policy):
            fn = overlay
        else:
            fixed = _as_policy(overlay)
            fn = lambda b, peak: fixed  # noqa: E731 (same shape as the callables)
        self._overlays[label] = fn
        self._refresh_overlay_options((label,) if select else ())

    def _on_overlays(self, _change: Any) -> None:
        if not self._quiet_overlays:
            self._redraw()

    def _refresh_overlay_options(self, select: tuple[str, ...] = ()) -> None:
        # Replacing the options resets the selection: restore it without redrawing twice.
        before = tuple(self.overlay_select.value)
        chosen = tuple(v for v in before if v in self._overlays)
        chosen += tuple(v for v in select if v not in chosen)
        self._quiet_overlays = True
        try:
            self.overlay_select.options = list(self._overlays)
            self.overlay_select.value = chosen
        finally:
            self._quiet_overlays = False
        if chosen != before:
            self._redraw()

    def python_code(self) -> str:
        """Python code that rebuilds the current policy."""
        spec = pprint.pformat(self.spec, sort_dicts=True, width=88)
        return (
            "from workbench.policies import from_spec\n\n"
            f"# {self._policy.text}\n# hash {self._policy.short_hash}\n"
            f"policy = from_spec({spec})\n"
        )

    def copy_code(self) -> str:
        """Put the Python code in the code box and, in a browser, on the clipboard."""
        code = self.python_code()
        self.code_view.value = code
        from IPython.display import Javascript, display

        with self._js_out:
            self._js_out.clear_output()
            display(
                Javascript(
                    f"navigator.clipboard && navigator.clipboard.writeText({json.dumps(code)});"
                )
            )
        return code

    def _try(self, action: Callable[[], Any]) -> None:
        """Run a button's action; show bad input or a missing package inline."""
        try:
            action()
        except (PolicyError, FieldError, MissingPackage, ValueError) as exc:
            self.store_status.value = _error_html(str(exc))


def _as_policy(source: Any) -> Policy:
    if isinstance(source, Policy | dict):
        return from_spec(source)
    if isinstance(source, str):
        text = source.strip()
        if text.startswith("{"):
            try:
                return from_spec(json.loads(text))
            except json.JSONDecodeError as exc:
                raise FieldError("spec", f"not valid JSON ({exc})") from None
        return from_text(text)
    raise FieldError("spec", f"cannot load a policy from {type(source).__name__}")


__all__ = ["FieldError", "PolicyComposer", "StageEditor", "function_options", "parse_steps"]
