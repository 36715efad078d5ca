"""Golden values of the LRBench functions, numpy/scalar agreement, fine print of DESIGN.md."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from workbench.policies import FAMILIES, REGISTRY, by_family, example_spec, from_spec

GOLDEN = Path(__file__).resolve().parents[3] / "shared" / "reference" / "lrbench_functions.json"
CASES = json.loads(GOLDEN.read_text())["cases"]
LRBENCH_NAMES = [
    "FIX", "STEP", "NSTEP", "EXP", "INV", "POLY", "SIG", "TRI", "TRI2", "TRIEXP", "DTRI",
    "DTRI2", "DTRIEXP", "SIN", "SIN2", "SINEXP", "DSIN", "DSIN2", "DSINEXP", "COS", "COS2",
    "COSEXP", "UPCOS", "UPCOS2", "UPCOSEXP", "RSW", "RSW2", "RSWEXP", "SINRSW", "SINRSW2",
    "SINRSWEXP", "COSRSW", "COSRSW2", "COSRSWEXP",
]  # fmt: skip


def test_golden_file_covers_every_lrbench_function():
    assert sorted(c["function"] for c in CASES) == sorted(LRBENCH_NAMES)
    assert set(REGISTRY) == set(LRBENCH_NAMES) | {"LINEAR"}


@pytest.mark.parametrize("case", CASES, ids=[c["function"] for c in CASES])
def test_golden_values(case):
    policy = from_spec({"function": case["function"], **case["params"]})
    array = policy.values(max(case["t"]) + 1)
    for t, expected in zip(case["t"], case["lr"], strict=True):
        assert policy(t) == pytest.approx(expected, rel=1e-9, abs=0)
        assert array[t] == pytest.approx(expected, rel=1e-9, abs=0)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_scalar_and_vector_paths_agree(name):
    policy = from_spec(example_spec(name, 997))
    values = policy.values(3000)
    scalar = np.array([policy(t) for t in range(3000)])
    np.testing.assert_allclose(values, scalar, rtol=1e-12, atol=0)
    assert (values >= 0).all() and np.isfinite(values).all()


def test_families_partition_the_registry():
    groups = by_family()
    assert list(groups) == list(FAMILIES)
    assert sorted(n for names in groups.values() for n in names) == sorted(REGISTRY)
    assert groups["fixed"] == ["FIX"]
    assert set(groups["decaying"]) == {"STEP", "NSTEP", "EXP", "INV", "POLY", "SIG", "LINEAR"}
    assert set(groups["restart"]) == {n for n in REGISTRY if "RSW" in n}


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_formula_and_family_available_at_run_time(name):
    fn = REGISTRY[name]
    assert fn.formula and fn.family in FAMILIES
    assert fn.formula in fn.fn.__doc__ and fn.name in fn.doc
    assert all(p.doc for p in fn.params)


def test_poly_holds_k0_after_l_and_may_reach_zero():
    p = from_spec({"function": "POLY", "k0": 0.0, "k1": 0.1, "p": 2.0, "l": 100})
    assert p(100) == 0.0 and p(5000) == 0.0
    assert p(50) == pytest.approx(0.1 * 0.25)
    assert (p.values(300)[100:] == 0.0).all()


def test_linear_warms_up_then_holds():
    p = from_spec({"function": "LINEAR", "k0": 0.0, "k1": 0.1, "l": 10})
    assert [p(t) for t in (0, 5, 10, 11, 10_000)] == pytest.approx([0.0, 0.05, 0.1, 0.1, 0.1])


def test_nstep_is_pure_in_t():
    # LRBench's NSTEP kept a global step counter; ours answers any t in any order.
    p = from_spec({"function": "NSTEP", "k0": 1.0, "gamma": 0.5, "l": [10, 20]})
    order = [25, 0, 15, 9, 10, 19, 20, 0]
    assert [p(t) for t in order] == [0.25, 1.0, 0.5, 1.0, 0.5, 0.5, 0.25, 1.0]


def test_extreme_iterations_do_not_overflow():
    tri2 = from_spec({"function": "TRI2", "k0": 0.001, "k1": 0.01, "l": 1})
    assert tri2(10**6) == pytest.approx(0.001)
    grow = from_spec({"function": "EXP", "k0": 1.0, "gamma": 1.5})
    assert grow(10**6) == math.inf and grow.values(10**4)[-1] == math.inf
    sig = from_spec({"function": "SIG", "k0": 0.1, "gamma": 50.0, "l": 10**6})
    assert sig(0) == 0.0 and sig(2 * 10**6) == 0.1


def test_t_must_be_a_non_negative_integer():
    p = from_spec({"function": "FIX", "k0": 0.1})
    with pytest.raises(ValueError):
        p(-1)
    with pytest.raises(TypeError):
        p(1.5)
