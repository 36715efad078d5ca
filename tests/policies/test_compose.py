"""Composition (piecewise semantics), presets, re-targeting, canonical form and hash."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.policies import (
    Composite,
    PolicyError,
    compose,
    from_spec,
    from_text,
    one_cycle,
    preset,
    sgdr,
    spec_hash,
    warmup_cosine,
    wsd,
)

TRI = {"function": "TRI", "k0": 0.001, "k1": 0.01, "l": 100}
EXP = {"function": "EXP", "k0": 0.05, "gamma": 0.99}


def test_stage_clocks_restart_at_exclusive_boundaries():
    p = from_spec({"stages": [{"policy": TRI, "until": 150}, {"policy": EXP}]})
    tri, exp = from_spec(TRI), from_spec(EXP)
    assert p(149) == tri(149)
    assert p(150) == exp(0)  # until is exclusive; the clock restarts
    assert p(151) == exp(1)
    np.testing.assert_array_equal(p.values(400)[150:], exp.values(250))
    assert isinstance(p, Composite) and p.boundaries == [150]
    assert p.stage_at(149) == 0 and p.stage_at(150) == 1


def test_same_function_with_new_parameters():
    a = {"function": "FIX", "k0": 0.1}
    b = {"function": "FIX", "k0": 0.01}
    p = compose([(a, 10), (b, 20), (a, None)])
    assert [p(t) for t in (0, 9, 10, 19, 20)] == [0.1, 0.1, 0.01, 0.01, 0.1]
    assert p.functions == ("FIX", "FIX", "FIX")


def test_values_window_matches_scalar_calls():
    p = from_spec({"stages": [{"policy": TRI, "until": 50}, {"policy": EXP, "until": 70},
                              {"policy": TRI}]})  # fmt: skip
    window = p.values(100, start=30)
    assert window.tolist() == pytest.approx([p(t) for t in range(30, 130)], rel=1e-12)


def test_compose_flattens_composites_and_cuts_at_until():
    inner = warmup_cosine(0.1, 100)  # LINEAR until 5 | COS
    p = compose([(inner, 60), (EXP, None)])
    assert p.boundaries == [5, 60]
    assert p(59) == inner(59) and p(60) == from_spec(EXP)(0)


def test_one_stage_composite_is_its_inner_policy():
    assert from_spec({"stages": [{"policy": TRI}]}) == from_spec(TRI)
    assert spec_hash({"stages": [{"policy": TRI}]}) == spec_hash(TRI)


def test_hash_is_canonical():
    assert spec_hash({"function": "FIX", "k0": 1}) == spec_hash({"k0": 1.0, "function": "FIX"})
    assert spec_hash({"function": "FIX", "k0": 0.1, "schema": 1}) == spec_hash(
        {"function": "FIX", "k0": 0.1}
    )
    assert spec_hash({**TRI, "l": 100.0}) == spec_hash(TRI)
    assert spec_hash(TRI) != spec_hash({**TRI, "k1": 0.02})
    p = from_spec(TRI)
    assert len(p.hash) == 64 and p.short_hash == p.hash[:16]
    assert p.canonical_json == '{"function":"TRI","k0":0.001,"k1":0.01,"l":100}'


def test_newer_schema_is_refused():
    with pytest.raises(PolicyError, match="newer workbench"):
        from_spec({**TRI, "schema": 2})


def test_presets_expand_to_flat_composites():
    budget = 1000
    wc = warmup_cosine(0.1, budget, warmup=0.1)
    assert wc.functions == ("LINEAR", "COS") and wc.boundaries == [100]
    assert wc(0) == 0.0 and wc(100) == pytest.approx(0.1) and wc(budget - 1) < 1e-5
    oc = one_cycle(0.1, budget)
    assert oc(0) == pytest.approx(0.004) and oc(300) == pytest.approx(0.1)
    assert oc(budget - 1) < 1e-5
    w = wsd(0.1, budget)
    assert w(500) == 0.1 and w(budget - 1) == pytest.approx(0.1 / 200)
    s = sgdr(0.1, budget, period=100)
    assert s.boundaries == [100, 300, 700]
    assert s(100) == s(300) == s(0) == 0.1
    assert preset("one-cycle", peak=0.1, budget=budget) == oc
    with pytest.raises(PolicyError, match="unknown preset"):
        preset("nope")
    # a preset's canonical spec is its expansion
    assert from_spec(oc.to_spec()) == oc


@pytest.mark.parametrize(
    "spec",
    [
        {"function": "EXP", "k0": 0.1, "gamma": 0.999},
        {"function": "STEP", "k0": 0.1, "gamma": 0.5, "l": 100},
        {"function": "NSTEP", "k0": 0.1, "gamma": 0.1, "l": [400, 600]},
        {"function": "INV", "k0": 0.01, "gamma": 1e-3, "p": 0.75},
        {"function": "SIG", "k0": 0.1, "gamma": 0.05, "l": 400},
        {"function": "TRIEXP", "k0": 0.001, "k1": 0.01, "gamma": 0.999, "l": 100},
        {"function": "POLY", "k0": 0.0, "k1": 0.1, "p": 2.0, "l": 800},
    ],
)
def test_retarget_keeps_the_shape(spec):
    old, new = 1000, 3000
    p, q = from_spec(spec), from_spec(spec).retarget(old, new)
    for t in (0, 100, 200, 500, 700, 999):
        assert q(3 * t) == pytest.approx(p(t), rel=1e-9)


def test_retarget_scales_stage_boundaries():
    p = compose([(TRI, 300), (EXP, None)]).retarget(1000, 500)
    assert p.boundaries == [150]
    assert p.stages[0].policy.params["l"] == 50
    assert p(150) == pytest.approx(0.05)


def test_text_form_round_trips():
    p = from_spec({"stages": [{"policy": TRI, "until": 150}, {"policy": EXP}]})
    assert p.text == ("TRI(k0=0.001, k1=0.01, l=100) until 150 | EXP(k0=0.05, gamma=0.99)")
    assert from_text(p.text) == p
    assert from_text("nstep(k0=1e-1, gamma=.1, l=[10,20])") == from_spec(
        {"function": "NSTEP", "k0": 0.1, "gamma": 0.1, "l": [10, 20]}
    )


@pytest.mark.parametrize(
    "text",
    ["", "FIX", "FIX(k0=0.1", "FIX(k0=0.1) until", "FIX(k0=__import__('os'))",
     "FIX(k0=0.1); import os", "FIX(k0=0.1, k0=0.2)", "FIX(k0=0.1) | "],
)  # fmt: skip
def test_bad_text_is_a_policy_error(text):
    with pytest.raises(PolicyError):
        from_text(text)
