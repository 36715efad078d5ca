"""PolicyComposer: controls → spec, inline validation, one redraw per change."""

from __future__ import annotations

import html

import pytest

from workbench.policies import from_spec, from_text, one_cycle
from workbench.widgets import PolicyComposer


def _stage(c: PolicyComposer, i: int = 0):
    return c.stage_editors[i]


def test_default_is_valid_and_drawn_once() -> None:
    c = PolicyComposer(budget=800)
    assert c.spec == {"function": "TRI", "k0": 0.001, "k1": 0.01, "l": 100}
    assert c.redraws == 1
    assert c.error is None
    assert c.plot.value[:4] == b"\x89PNG"
    assert c.policy.short_hash in c.hash_view.value


def test_lr_slider_sets_spec_exactly_with_one_redraw() -> None:
    c = PolicyComposer({"function": "COS", "k0": 0.0, "k1": 0.1, "l": 500}, budget=500)
    before_png, before_hash, n = c.plot.value, c.hash, c.redraws
    _stage(c).controls["k1"].slider.value = 0.05
    assert c.spec == {"function": "COS", "k0": 0.0, "k1": 0.05, "l": 500}
    assert c.redraws == n + 1
    assert c.hash != before_hash and c.hash == from_spec(c.spec).hash
    assert c.plot.value != before_png
    assert '"k1": 0.05' in c.spec_view.value


def test_zero_box_gives_a_zero_learning_rate() -> None:
    c = PolicyComposer({"function": "LINEAR", "k0": 0.01, "k1": 0.1, "l": 100}, budget=100)
    control = _stage(c).controls["k0"]
    control.zero.value = True
    assert c.spec["k0"] == 0.0
    assert control.slider.disabled


def test_integer_and_list_fields() -> None:
    c = PolicyComposer({"function": "NSTEP", "k0": 0.1, "gamma": 0.1, "l": [50, 75]}, budget=100)
    _stage(c).controls["l"].value = "30, 60,90"
    assert c.spec == {"function": "NSTEP", "k0": 0.1, "gamma": 0.1, "l": [30, 60, 90]}
    _stage(c).controls["gamma"].value = 0.5
    assert c.spec["gamma"] == 0.5
    assert c.redraws == 3


@pytest.mark.parametrize(
    ("spec", "param", "bad", "words"),
    [
        ({"function": "TRI", "k0": 0.001, "k1": 0.01, "l": 100}, "l", 0, "period must be positive"),
        ({"function": "NSTEP", "k0": 0.1, "gamma": 0.1, "l": [5, 8]}, "l", "8, 5", "increasing"),
        ({"function": "NSTEP", "k0": 0.1, "gamma": 0.1, "l": [5, 8]}, "l", "5, x", "'x'"),
        ({"function": "STEP", "k0": 0.1, "gamma": 0.1, "l": 10}, "gamma", -1.0, "must be > 0"),
    ],
)
def test_invalid_value_shows_inline_message_and_keeps_last_policy(
    spec: dict, param: str, bad: object, words: str
) -> None:
    c = PolicyComposer(spec, budget=100)
    good, png, n = c.spec, c.plot.value, c.redraws
    _stage(c).controls[param].value = bad
    assert c.error is not None and words in c.error
    assert words in html.unescape(_stage(c).message.value)  # inline, at the stage
    assert c.spec == good and c.policy == from_spec(good)
    assert c.plot.value == png and c.redraws == n  # nothing redrawn for an invalid state
    assert good["function"] in c.message.value or c.policy.short_hash in c.message.value


def test_fixing_an_invalid_value_clears_the_message() -> None:
    c = PolicyComposer({"function": "TRI", "k0": 0.001, "k1": 0.01, "l": 100}, budget=100)
    _stage(c).controls["l"].value = -3
    assert c.error
    _stage(c).controls["l"].value = 40
    assert c.error is None and _stage(c).message.value == ""
    assert c.spec["l"] == 40


def test_bad_budget_keeps_last_policy() -> None:
    c = PolicyComposer(budget=100)
    c.budget_box.value = 1
    assert "budget" in c.error and c.budget == 100
    c.budget_box.value = 300
    assert c.error is None and c.budget == 300


def test_function_change_keeps_shared_lrs_and_redraws_once() -> None:
    c = PolicyComposer({"function": "TRI", "k0": 0.002, "k1": 0.02, "l": 100}, budget=1000)
    n = c.redraws
    _stage(c).function.value = "COS"
    assert c.spec == {"function": "COS", "k0": 0.002, "k1": 0.02, "l": 100}
    assert c.redraws == n + 1
    assert "cos" in _stage(c).formula.value
    _stage(c).function.value = "EXP"
    assert set(c.spec) == {"function", "k0", "gamma"} and c.spec["k0"] == 0.002
    assert c.redraws == n + 2


def test_function_picker_is_grouped_by_family() -> None:
    labels = [label for label, _ in PolicyComposer().stage_editors[0].function.options]
    families = [label.split(" · ")[0] for label in labels]
    assert families[0] == "fixed" and families[-1] == "restart"
    assert families == sorted(families, key=["fixed", "decaying", "cyclic", "restart"].index)


def test_stages_boundaries_and_fractions() -> None:
    c = PolicyComposer({"function": "FIX", "k0": 0.1}, budget=1000)
    n = c.redraws
    c.add_stage({"function": "FIX", "k0": 0.01})
    assert c.redraws == n + 1
    assert c.spec == {
        "stages": [
            {"policy": {"function": "FIX", "k0": 0.1}, "until": 500},
            {"policy": {"function": "FIX", "k0": 0.01}},
        ]
    }
    _stage(c).fraction.value = 0.25
    assert c.spec["stages"][0]["until"] == 250 and c.redraws == n + 2
    _stage(c).until.value = 600
    assert _stage(c).fraction.value == 0.6 and c.redraws == n + 3
    c.budget_box.value = 2000  # boundaries are absolute; fractions follow the budget
    assert c.spec["stages"][0]["until"] == 600 and _stage(c).fraction.value == 0.3
    assert c.redraws == n + 4


def test_move_and_remove_stages() -> None:
    c = PolicyComposer("FIX(k0=0.1) until 100 | FIX(k0=0.01) until 200 | FIX(k0=0.001)", budget=300)
    n = c.redraws
    c.move_stage(2, -1)  # functions move, boundaries stay
    assert c.policy == from_text("FIX(k0=0.1) until 100 | FIX(k0=0.001) until 200 | FIX(k0=0.01)")
    c.remove_stage(0)
    assert c.policy == from_text("FIX(k0=0.001) until 200 | FIX(k0=0.01)")
    c.remove_stage(0)
    assert c.spec == {"function": "FIX", "k0": 0.01}
    c.remove_stage(0)  # the only stage stays
    assert c.spec == {"function": "FIX", "k0": 0.01}
    assert c.redraws == n + 3


def test_invalid_boundary_is_reported_at_its_stage() -> None:
    c = PolicyComposer("FIX(k0=0.1) until 100 | FIX(k0=0.01) until 200 | FIX(k0=0.001)")
    good = c.spec
    _stage(c, 1).until.value = 50
    assert "strictly increasing" in _stage(c, 1).message.value
    assert _stage(c, 0).message.value == "" and c.spec == good


def test_log_scale_and_overlays_redraw_once_each() -> None:
    c = PolicyComposer(budget=500)
    n, png = c.redraws, c.plot.value
    c.log_scale.value = True
    assert c.redraws == n + 1 and c.plot.value != png
    c.overlay_select.value = ("preset: one-cycle", "preset: wsd")
    assert c.redraws == n + 2
    c.add_overlay(one_cycle(peak=0.05, budget=500), "mine")
    assert "mine" in c.overlay_select.value and c.redraws == n + 3
    assert c.spec == {"function": "TRI", "k0": 0.001, "k1": 0.01, "l": 62}


def test_load_spec_text_and_preset() -> None:
    c = PolicyComposer(budget=1000)
    n = c.redraws
    c.load('{"function": "POLY", "k0": 0, "k1": 0.1, "p": 2, "l": 1000}')
    assert c.spec == {"function": "POLY", "k0": 0.0, "k1": 0.1, "p": 2.0, "l": 1000}
    assert c.redraws == n + 1
    c.load_preset("one-cycle", peak=0.2)
    assert c.policy == one_cycle(peak=0.2, budget=1000) and c.redraws == n + 2
    c.load("LINEAR(k0=0.0, k1=0.1, l=100) until 100 | COS(k0=0.0, k1=0.1, l=900)", budget=2000)
    assert c.budget == 2000 and len(c.stage_editors) == 2 and c.redraws == n + 3
    c.source.value = "NOPE(k0=1)"
    c.load_button.click()
    assert "NOPE" in c.store_status.value and c.spec["stages"][1]["policy"]["function"] == "COS"


def test_python_code_rebuilds_the_policy() -> None:
    c = PolicyComposer("NSTEP(k0=0.1, gamma=0.1, l=[30, 60]) until 80 | FIX(k0=0.001)")
    scope: dict = {}
    exec(c.python_code(), scope)
    assert scope["policy"] == c.policy
    assert c.copy_code() == c.code_view.value


def test_save_refresh_and_load_stored_policies(db_url: str) -> None:
    pytest.importorskip("workbench.store")
    c = PolicyComposer("LINEAR(k0=0.0, k1=0.1, l=100) until 100 | COS(k0=0.0, k1=0.1, l=900)",
                       budget=1000, db_url=db_url)  # fmt: skip
    saved = c.spec
    c.save_label.value = "warm cos"
    c.save_button.click()
    assert "saved" in c.store_status.value
    assert c.store.policy("warm cos")["spec"] == saved
    c.load({"function": "FIX", "k0": 0.1})
    c.refresh_stored_button.click()
    assert len(c.stored.options) == 1
    key = [k for k in c.overlay_select.options if k.startswith("stored: warm cos")]
    assert key, c.overlay_select.options  # stored policies can be overlaid too
    n = c.redraws
    c.stored_button.click()  # the picker's value: the stored canonical spec
    assert c.spec == saved and c.redraws == n + 1
    c.load({"function": "FIX", "k0": 0.1})
    assert c.load_stored("warm cos") == c.policy and c.spec == saved
    c.load({"function": "FIX", "k0": 0.1})
    c.load_stored(from_text("LINEAR(k0=0.0, k1=0.1, l=100) until 100 | "
                            "COS(k0=0.0, k1=0.1, l=900)").short_hash)  # fmt: skip
    assert c.spec == saved


def test_store_errors_are_shown_inline(db_url: str) -> None:
    pytest.importorskip("workbench.store")
    c = PolicyComposer(db_url=db_url)
    c.stored_button.click()
    assert "pick a stored policy" in c.store_status.value
    c.stored.options = [("nothing", "no-such-policy")]
    c.stored.value = "no-such-policy"
    c.stored_button.click()
    assert "no-such-policy" in html.unescape(c.store_status.value)


@pytest.mark.parametrize("lr", [1e-9, 25.0, 3.3e-4])
def test_learning_rates_outside_the_slider_range_are_kept(lr: float) -> None:
    c = PolicyComposer({"function": "FIX", "k0": lr}, budget=100)
    assert c.spec == {"function": "FIX", "k0": lr}
    c.load({"function": "FIX", "k0": 0.01})
    c.load({"function": "FIX", "k0": lr})
    assert c.spec == {"function": "FIX", "k0": lr}
