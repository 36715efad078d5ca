"""ResultsBrowser: filters, sorting, overlays and opening a run's policy."""

from __future__ import annotations

from workbench.widgets import PolicyComposer, ResultsBrowser


def test_lists_filters_and_sorts_runs(filled_store, db_url: str) -> None:
    store, ids = filled_store
    b = ResultsBrowser(db_url=db_url)
    assert set(b.runs["run_id"]) == set(ids)
    assert b.task.options == ("(all)", "mnist1d/cnn1d/momentum/32", "synthetic/mlp/momentum/32")
    assert b.function.options == ("(all)", "COS", "FIX", "TRI")
    # Sorted by final top-1, best first (the default).
    assert list(b.table["final_top1"]) == [0.9, 0.7, 0.6, 0.55]
    b.function.value = "FIX"
    assert sorted(b.table["final_top1"]) == [0.55, 0.7]
    b.set_filters(task="synthetic/mlp/momentum/32", status="stopped")
    assert list(b.table["policy_text"]) == ["COS(k0=0.0, k1=0.1, l=100)"]
    b.set_filters()
    b.headers["final_top1"].click()  # already the sorted column: reverses
    assert list(b.table["final_top1"]) == [0.55, 0.6, 0.7, 0.9]
    assert b.headers["final_top1"].description == "final_top1 ▲"
    # The paper's metrics are in the table, each under a header button.
    header = [h.description.split()[0] for h in b.header_row.children]
    for col in ("cvac", "confidence_mean", "val_top5", "robustness_gap", "iterations_to_target"):
        assert col in header and col in b.table
    assert header == list(b.shown().columns)


def test_overlay_and_open_in_composer(filled_store, db_url: str) -> None:
    store, ids = filled_store
    composer = PolicyComposer(budget=1000)
    b = ResultsBrowser(db_url=db_url, composer=composer)
    b.set_filters(function="TRI")
    b.selection.value = (b.selection.options[0][1],)
    assert b.plot.layout.display == "none"  # no empty (broken) picture before an overlay
    b.overlay_button.click()
    assert b.plot.value[:4] == b"\x89PNG" and b.plot.layout.display is None
    n = composer.redraws
    b.open_button.click()
    assert composer.spec == {"function": "TRI", "k0": 0.01, "k1": 0.1, "l": 25}
    assert composer.budget == 100 and composer.redraws == n + 1


def test_empty_store_says_so(db_url: str) -> None:
    b = ResultsBrowser(db_url=db_url)
    assert b.table.empty and "no runs" in b.table_view.value
    b.open_button.click()
    assert "select a run" in b.message.value
