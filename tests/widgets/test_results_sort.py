"""ResultsBrowser: sorting by clicking the table's header buttons."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from tests.widgets.fakes import fake_result
from workbench.widgets import ResultsBrowser
from workbench.widgets.browser import DOWN, UP, sort_runs

SYN, MNIST = "synthetic/mlp/momentum/32", "mnist1d/cnn1d/momentum/32"


@pytest.fixture
def sort_store(db_url: str) -> dict[str, str]:
    """Six runs by name: a tie at 0.7 (a, d), a NaN (b) and an inf (e) top-1, two tasks."""
    store_mod = pytest.importorskip("workbench.store")
    store = store_mod.open_store(db_url)
    results = {
        "a": fake_result({"function": "FIX", "k0": 0.01}, final=0.7),
        "b": fake_result({"function": "TRI", "k0": 0.01, "k1": 0.1, "l": 25},
                         final=math.nan, status="diverged"),
        "c": fake_result({"function": "COS", "k0": 0.0, "k1": 0.1, "l": 100}, final=0.9),
        "d": fake_result({"function": "FIX", "k0": 0.02}, final=0.7),
        "e": fake_result({"function": "FIX", "k0": 0.5}, final=math.inf, status="diverged"),
        "f": fake_result({"function": "FIX", "k0": 0.03}, model="cnn1d", dataset="mnist1d",
                         final=0.8),
    }  # fmt: skip
    return {name: store.record_run(r) for name, r in results.items()}


def rendered_ids(b: ResultsBrowser) -> list[str]:
    """The run ids (shortened) of the rows of the rendered HTML table, top to bottom."""
    return re.findall(r"<tr>\s*<td>([^<]*)</td>", b.table_view.value)


def names(b: ResultsBrowser, ids: dict[str, str]) -> list[str]:
    """The table's rows as run names, checked against the rendered table and selection."""
    by_id = {v: k for k, v in ids.items()}
    order = [by_id[r] for r in b.table["run_id"]]
    assert rendered_ids(b) == [ids[n][:10] for n in order]
    assert [v for _, v in b.selection.options] == list(b.table["run_id"])
    return order


def read_order(b: ResultsBrowser, ids: dict[str, str], *group: str) -> list[str]:
    """`group`'s runs in the order the store returned them (what a stable sort keeps)."""
    by_id = {v: k for k, v in ids.items()}
    return [by_id[r] for r in b.runs["run_id"] if by_id[r] in group]


def marked(b: ResultsBrowser) -> dict[str, str]:
    """The header buttons that carry a sort indicator."""
    return {c: h.description for c, h in b.headers.items() if UP in h.description or DOWN in
            h.description}  # fmt: skip


def test_header_click_sorts_and_reverses_with_non_finite_last(
    sort_store: dict[str, str], db_url: str
) -> None:
    ids = sort_store
    b = ResultsBrowser(db_url=db_url)
    tie, bad = read_order(b, ids, "a", "d"), read_order(b, ids, "b", "e")
    # Default: final top-1, best first; NaN and inf after every finite value.
    assert names(b, ids) == ["c", "f", *tie, *bad]
    assert marked(b) == {"final_top1": f"final_top1 {DOWN}"}
    b.headers["final_top1"].click()
    assert (b.sort_column, b.sort_ascending) == ("final_top1", True)
    assert names(b, ids) == [*tie, "f", "c", *bad]
    assert marked(b) == {"final_top1": f"final_top1 {UP}"}
    b.headers["final_top1"].click()
    assert names(b, ids) == ["c", "f", *tie, *bad]
    assert marked(b) == {"final_top1": f"final_top1 {DOWN}"}


def test_indicator_moves_to_the_clicked_column(sort_store: dict[str, str], db_url: str) -> None:
    ids = sort_store
    b = ResultsBrowser(db_url=db_url)
    b.headers["policy_text"].click()  # a new column sorts ascending first
    assert marked(b) == {"policy_text": f"policy_text {UP}"}
    assert b.headers["final_top1"].description == "final_top1"
    # COS(…) < FIX(k0=0.01) < FIX(k0=0.02) < FIX(k0=0.03) < FIX(k0=0.5) < TRI(…)
    assert names(b, ids) == ["c", "a", "d", "f", "e", "b"]
    b.headers["policy_text"].click()
    assert marked(b) == {"policy_text": f"policy_text {DOWN}"}
    assert names(b, ids) == ["b", "e", "f", "d", "a", "c"]
    b.headers["status"].click()  # ties keep the store's order
    assert marked(b) == {"status": f"status {UP}"}
    done = read_order(b, ids, "a", "c", "d", "f")
    assert names(b, ids) == [*done, *read_order(b, ids, "b", "e")]


def test_filters_still_apply_after_sorting(sort_store: dict[str, str], db_url: str) -> None:
    ids = sort_store
    b = ResultsBrowser(db_url=db_url)
    b.headers["final_top1"].click()  # ascending
    b.function.value = "FIX"
    tie = read_order(b, ids, "a", "d")
    assert names(b, ids) == [*tie, "f", "e"]
    b.task.value = SYN
    assert names(b, ids) == [*tie, "e"]
    b.headers["final_top1"].click()  # descending, filters kept
    assert (b.task.value, b.function.value) == (SYN, "FIX")
    assert names(b, ids) == [*tie, "e"]
    b.set_filters(status="diverged")
    assert names(b, ids) == read_order(b, ids, "b", "e")
    b.set_filters(task=MNIST)
    assert names(b, ids) == ["f"]
    assert marked(b) == {"final_top1": f"final_top1 {DOWN}"}
    b.refresh()  # re-reading the store keeps the sort and the filters
    assert names(b, ids) == ["f"] and b.task.value == MNIST
    assert marked(b) == {"final_top1": f"final_top1 {DOWN}"}


def test_header_lines_up_with_the_table(sort_store: dict[str, str], db_url: str) -> None:
    b = ResultsBrowser(db_url=db_url)
    html = b.table_view.value
    assert "<thead" not in html  # the buttons are the header
    cols = [int(w) for w in re.findall(r'<col style="width:(\d+)px">', html)]
    assert cols == [int(h.layout.width.removesuffix("px")) for h in b.header_row.children]
    assert [h.description.split()[0] for h in b.header_row.children] == list(b.shown().columns)
    row = re.search(r"<tr>(.*?)</tr>", html, re.S)
    assert row is not None and row.group(1).count("<td") == len(cols)
    assert f"width:{sum(cols)}px" in html


def test_sort_method_and_unknown_column(sort_store: dict[str, str], db_url: str) -> None:
    ids = sort_store
    b = ResultsBrowser(db_url=db_url)
    b.sort("best_top1", ascending=False)
    assert marked(b) == {"best_top1": f"best_top1 {DOWN}"}
    assert names(b, ids)[:2] == ["c", "f"]
    with pytest.raises(ValueError, match="nope"):
        b.sort("nope")
    assert b.sort_column == "best_top1"


def test_empty_store_has_no_header(db_url: str) -> None:
    b = ResultsBrowser(db_url=db_url)
    b.headers["final_top1"].click()
    assert b.table.empty and b.header_row.children == ()
    assert "no runs" in b.table_view.value


def test_sort_runs_non_finite_last_both_ways_and_stable() -> None:
    df = pd.DataFrame({
        "x": [0.5, np.nan, -np.inf, 0.1, 0.5, np.inf, 0.3],
        "s": ["b", None, "a", "b", "c", "a", None],
    })  # fmt: skip
    assert list(sort_runs(df, "x", True).index) == [3, 6, 0, 4, 1, 2, 5]
    assert list(sort_runs(df, "x", False).index) == [0, 4, 6, 3, 1, 2, 5]
    assert list(sort_runs(df, "s", True).index) == [2, 5, 0, 3, 4, 1, 6]
    assert list(sort_runs(df, "s", False).index) == [4, 0, 3, 2, 5, 1, 6]
    assert sort_runs(df, "absent", True) is df
