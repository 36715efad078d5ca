"""ResultsBrowser: filter, sort and compare the stored runs; open a run's policy.

A view over the store's `runs()`/`curves()` through `workbench.report.runs_frame` (which
adds the task label, the policy's functions and the paper's per-point metrics). The table's
header row is a row of buttons: a click sorts by that column, a second click reverses it.
"""

from __future__ import annotations

import html
import math
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd

from workbench.report import draw_run_curves, runs_frame
from workbench.widgets import _figure
from workbench.widgets._store import MissingPackage, open_store

ALL = "(all)"
STATUSES = ("running", "completed", "stopped", "diverged", "failed", "interrupted")
# The paper's metrics (PAPER_TABLES.md), in table order.
COLUMNS = (
    "run_id", "task", "policy_text", "status", "stop_reason", "seed", "budget", "iterations",
    "final_top1", "best_top1", "final_test_top1", "val_top5", "confidence_mean",
    "confidence_std", "cvac", "robustness_gap", "iterations_to_target", "seconds_to_target",
    "wall_seconds", "kind", "role",
)  # fmt: skip
UP, DOWN = "\u25b2", "\u25bc"  # ▲ ascending, ▼ descending
# The header buttons and the table's columns share these widths, so the header lines up.
CHAR_PX, PAD_PX, MIN_PX, MAX_PX = 8, 16, 56, 280


def sort_runs(df: pd.DataFrame, column: str, ascending: bool) -> pd.DataFrame:
    """`df` sorted by `column`; missing and non-finite values last either way; ties stable."""
    if df.empty or column not in df:
        return df
    values = df[column]
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().sum() == values.notna().sum():
        key = pd.Series(numbers.to_numpy(dtype="float64"))
        last = ~np.isfinite(key.to_numpy())
    else:  # text, or numbers mixed with text: compare as text
        last = values.isna().to_numpy()
        key = pd.Series(values.astype(str).to_numpy(dtype=object))
    pos = np.arange(len(df))
    ranked = key[~last].sort_values(ascending=ascending, kind="stable").index.to_numpy()
    return df.iloc[np.concatenate([ranked, pos[last]])]


def _cell(x: Any) -> str:
    """A value as the table shows it (to size its column)."""
    if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA:
        return "\u2014"
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def _column_px(name: str, cells: pd.Series) -> int:
    chars = max([len(name) + 2, *(len(_cell(x)) for x in cells)])
    return min(MAX_PX, max(MIN_PX, chars * CHAR_PX + PAD_PX))


class ResultsBrowser(widgets.VBox):
    """Stored runs: filter by task/function/status, sort, overlay curves, open in composer.

    `runs` holds every run read; `table` the filtered and sorted rows on show. The header
    row is `headers[column]` buttons: a click sorts by that column (ascending first), a
    second click reverses; ▲/▼ marks the sorted column (`sort_column`, `sort_ascending`).
    Missing and non-finite values (a diverged run's NaN accuracy) sort last either way.
    """

    def __init__(
        self,
        store: Any = None,
        *,
        db_url: str | None = None,
        composer: Any = None,
        max_rows: int = 200,
    ):
        self._store, self._db_url = store, db_url
        self.composer = composer
        self.max_rows = max_rows
        self.runs = pd.DataFrame()
        self.table = pd.DataFrame()
        self.sort_column, self.sort_ascending = "final_top1", False
        self._quiet = False
        self._figure = _figure.new_figure(1, 3, size=(12, 3.2))
        self._build()
        super().__init__(self._layout())
        self.add_class("wb-results")
        self.refresh()

    def _build(self) -> None:
        self.task = widgets.Dropdown(options=[ALL], description="task")
        self.function = widgets.Dropdown(options=[ALL], description="function")
        self.status = widgets.Dropdown(options=[ALL, *STATUSES], description="status")
        for w in (self.task, self.function, self.status):
            w.observe(lambda _: self._changed(), "value")
        self.refresh_button = widgets.Button(description="refresh", icon="refresh")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.headers: dict[str, widgets.Button] = {}
        for col in COLUMNS:
            b = widgets.Button(
                description=col, tooltip=f"sort by {col} (click again to reverse)",
                layout=widgets.Layout(margin="0", padding="0 4px", flex="0 0 auto"),
            )  # fmt: skip
            b.on_click(lambda _, c=col: self.sort(c))
            b.add_class("wb-results-header")
            self.headers[col] = b
        self.header_row = widgets.HBox(layout=widgets.Layout(flex="0 0 auto"))
        self.table_view = widgets.HTML(layout=widgets.Layout(margin="0"))
        self.table_view.add_class("wb-results-table")
        self.selection = widgets.SelectMultiple(
            description="runs", rows=6, layout=widgets.Layout(width="720px")
        )
        self.overlay_button = widgets.Button(description="overlay curves", icon="line-chart")
        self.overlay_button.on_click(lambda _: self.overlay())
        self.open_button = widgets.Button(description="open policy in composer", icon="edit")
        self.open_button.on_click(lambda _: self._try(self.open_in_composer))
        self.message = widgets.HTML()
        self.plot = _figure.image()

    def _layout(self) -> list[Any]:
        filters = widgets.HBox([self.task, self.function, self.status, self.refresh_button])
        # Rows scroll under a fixed header; header and rows scroll sideways together
        # (overflow is "x y").
        self.rows_box = widgets.Box(
            [self.table_view],
            layout=widgets.Layout(max_height="320px", overflow="hidden auto", flex="0 0 auto"),
        )
        table = widgets.VBox([self.header_row, self.rows_box],
                             layout=widgets.Layout(overflow="auto"))  # fmt: skip
        actions = widgets.HBox([self.overlay_button, self.open_button])
        return [widgets.HTML("<b>Results</b>"), filters, table, self.selection, actions,
                self.message, self.plot]  # fmt: skip

    @property
    def store(self) -> Any:
        """The results store (needs workbench.store)."""
        self._store = open_store(self._store, self._db_url)
        return self._store

    # --- data --------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the runs again and rebuild the filter options and the table."""
        try:
            self.runs = runs_frame(self.store)
        except MissingPackage as exc:
            self.message.value = html.escape(str(exc))
            return
        self._quiet = True
        try:
            keep = (self.task.value, self.function.value)
            self.task.options = (
                [ALL, *sorted(self.runs["task"].unique())] if len(self.runs) else [ALL]
            )
            fns = sorted(
                {f for s in self.runs.get("functions", []) for f in str(s).split("+") if f}
            )
            self.function.options = [ALL, *fns]
            self.task.value = keep[0] if keep[0] in self.task.options else ALL
            self.function.value = keep[1] if keep[1] in self.function.options else ALL
        finally:
            self._quiet = False
        self.update()

    def set_filters(
        self, task: str | None = None, function: str | None = None, status: str | None = None
    ) -> None:
        """Set the filters at once (None: all) and update the table once."""
        self._quiet = True
        try:
            for w, v in ((self.task, task), (self.function, function), (self.status, status)):
                w.value = v if v in w.options else ALL
        finally:
            self._quiet = False
        self.update()

    def sort(self, column: str, ascending: bool | None = None) -> None:
        """Sort the table by `column` (None: ascending if newly chosen, else reversed)."""
        if column not in self.headers:
            raise ValueError(f"cannot sort by {column!r}: not a table column")
        if ascending is None:
            ascending = not self.sort_ascending if column == self.sort_column else True
        self.sort_column, self.sort_ascending = column, bool(ascending)
        self.update()

    def _changed(self) -> None:
        if not self._quiet:
            self.update()

    def filtered(self) -> pd.DataFrame:
        """The runs that pass the filters, sorted by `sort_column`."""
        df = self.runs
        if df.empty:
            return df
        if self.task.value != ALL:
            df = df[df["task"] == self.task.value]
        if self.function.value != ALL:
            df = df[df["functions"].str.split("+").apply(lambda fs: self.function.value in fs)]
        if self.status.value != ALL:
            df = df[df["status"] == self.status.value]
        return sort_runs(df, self.sort_column, self.sort_ascending)

    def shown(self) -> pd.DataFrame:
        """The table on show: the filtered runs with the paper's metric columns."""
        return self.table.reindex(columns=[c for c in COLUMNS if c in self.table]).head(
            self.max_rows
        )

    def update(self) -> None:
        """Rebuild the header, the table and the selection list from the filters and sort."""
        self.table = self.filtered()
        for col, b in self.headers.items():
            mark = (UP if self.sort_ascending else DOWN) if col == self.sort_column else ""
            b.description = f"{col} {mark}" if mark else col
            b.style.font_weight = "bold" if mark else ""
        if self.table.empty:
            self.header_row.children = ()
            self.table_view.value = "<i>no stored runs match</i>" if len(self.runs) else (
                "<i>the store has no runs yet: train, verify or recommend first</i>"
            )  # fmt: skip
            self.table_view.layout.width = self.rows_box.layout.width = None
            self.selection.options = []
            return
        shown = self.shown().assign(run_id=lambda d: d["run_id"].str[:10])
        px = {c: _column_px(c, shown[c]) for c in shown.columns}
        for c, w in px.items():
            self.headers[c].layout.width = f"{w}px"
        self.header_row.children = tuple(self.headers[c] for c in shown.columns)
        total = sum(px.values())
        # The buttons are the header: the table keeps its rendering but loses its <thead>
        # and gets fixed column widths to match them.
        cols = "".join(f'<col style="width:{w}px">' for w in px.values())
        body = shown.to_html(index=False, header=False, float_format=lambda x: f"{x:.4g}",
                             na_rep="—", border=0)  # fmt: skip
        self.table_view.value = body.replace(
            "<table",
            f'<table style="table-layout:fixed;width:{total}px;border-collapse:collapse;'
            f'overflow-wrap:anywhere"',
            1,
        ).replace(">", f"><colgroup>{cols}</colgroup>", 1)
        self.table_view.layout.width = f"{total}px"
        self.rows_box.layout.width = f"{total + 16}px"  # room for the vertical scroll bar
        self.selection.options = [
            (f"{r['run_id'][:10]}  {r['task']}  {str(r['policy_text'])[:50]}  "
             f"{r['status']}  top-1 {r['final_top1']}", r["run_id"])
            for r in self.table.head(self.max_rows).to_dict("records")
        ]  # fmt: skip

    # --- actions -----------------------------------------------------------------------------

    def overlay(self, run_ids: list[str] | None = None) -> None:
        """Draw the curves of the selected runs (or of `run_ids`) on one figure."""
        ids = list(run_ids or self.selection.value)
        axes = _figure.clear(self._figure)
        if ids:
            curves = self.store.curves(ids)
            rows = self.runs.set_index("run_id").reindex(ids)
            labels = {r: f"{r[:8]} {str(rows.loc[r, 'policy_text'])[:30]}" for r in ids}
            targets = pd.to_numeric(rows.get("target"), errors="coerce").dropna().unique()
            target = float(targets[0]) if len(targets) == 1 else None
            draw_run_curves(axes, curves, labels=labels, target=target)
        self._figure.tight_layout()
        _figure.show(self.plot, self._figure)

    def open_in_composer(self, run_id: str | None = None) -> dict[str, Any]:
        """Load a run's policy (and budget) into the composer; returns the policy spec."""
        run_id = run_id or next(iter(self.selection.value), None)
        if run_id is None:
            raise ValueError("select a run first")
        if self.composer is None:
            raise ValueError("no composer: create the browser with composer=PolicyComposer()")
        run = self.store.run(run_id, points=False)
        self.composer.load(run["policy"], budget=int(run["budget"]))
        self.message.value = f"opened the policy of {html.escape(run_id[:10])} in the composer"
        return self.composer.spec

    def _try(self, action: Any) -> None:
        try:
            action()
        except (ValueError, MissingPackage) as exc:
            self.message.value = f'<span style="color:#b00020">{html.escape(str(exc))}</span>'
