"""Candidate generation: every family, valid specs, variants of the current policy."""

from __future__ import annotations

import pytest

from workbench.errors import BadInput
from workbench.policies import FAMILIES, family_of, from_spec
from workbench.recommend.candidates import HOT, from_range, generate, select, variants


def test_every_family_is_covered_with_valid_policies_inside_the_range():
    cands = generate(0.01, 0.3, 600, optimizer="momentum")
    assert {c.family for c in cands} == set(FAMILIES)
    for c in cands:
        p = from_spec(c.spec)
        assert family_of(p.functions[0]) == c.family
        lrs = p.values(600)
        assert lrs.min() >= 0 and lrs.max() <= HOT * 0.3 * (1 + 1e-9)


def test_same_function_new_parameters_variants():
    current = {"function": "TRI", "k0": 0.01, "k1": 0.1, "l": 100}
    vs = variants(current, length=400, previous_length=200, max_lr=0.15)
    assert vs and all(v.origin == "variant" and v.spec["function"] == "TRI" for v in vs)
    assert {v.spec["l"] for v in vs} == {200}  # periods stretched with the stage
    assert {v.spec["k1"] for v in vs} == {0.1, 0.05, 0.1 * 0.1}  # ×2 exceeds max_lr: dropped


def test_select_spans_families_with_few_slots():
    cands = generate(0.01, 0.3, 600, current={"function": "FIX", "k0": 0.05})
    chosen = select(cands, 7)
    assert len(chosen) == 7
    assert {c.family for c in chosen if c.origin == "range"} == set(FAMILIES)
    assert len({from_spec(c.spec).hash for c in chosen}) == 7


def test_schedule_free_puts_constant_shapes_first():
    cands = generate(0.01, 0.3, 600, optimizer="schedulefree-sgd")
    assert cands[0].family == "fixed" and cands[-1].family == "decaying"


@pytest.mark.parametrize(
    ("low", "high", "n"),
    [(0.0, 0.1, 100), (0.2, 0.1, 100), (0.01, float("inf"), 100), (0.01, 0.1, 1)],
)
def test_bad_ranges(low, high, n):
    with pytest.raises(BadInput):
        from_range(low, high, n)
