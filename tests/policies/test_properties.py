"""Property-based: valid specs round-trip through JSON and text with an equal hash;
random invalid specs raise PolicyError and nothing else."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from workbench import jsonio
from workbench.policies import REGISTRY, PolicyError, from_spec, from_text

LR = st.floats(min_value=0.0, max_value=10.0, allow_nan=False)
KIND = {
    "lr": LR,
    "factor": st.floats(min_value=1e-3, max_value=2.0),
    "decay": st.floats(min_value=0.9, max_value=1.0, exclude_min=True),
    "period": st.integers(min_value=1, max_value=5000),
    "center": st.integers(min_value=0, max_value=5000),
    "steps": st.lists(st.integers(1, 10_000), min_size=1, max_size=5, unique=True).map(sorted),
}


def _param(fn_name: str, p) -> st.SearchStrategy:
    if p.kind == "rate":
        low = 0.0 if fn_name == "INV" else -1.0
        return st.floats(min_value=low, max_value=1.0)
    if p.kind == "power":
        return st.floats(min_value=0.01 if p.positive else 0.0, max_value=4.0)
    return KIND[p.kind]


@st.composite
def single_specs(draw):
    fn = REGISTRY[draw(st.sampled_from(sorted(REGISTRY)))]
    return {"function": fn.name, **{p.name: draw(_param(fn.name, p)) for p in fn.params}}


@st.composite
def specs(draw):
    n = draw(st.integers(1, 4))
    if n == 1:
        return draw(single_specs())
    untils = sorted(draw(st.lists(st.integers(1, 50_000), min_size=n - 1, max_size=n - 1,
                                  unique=True)))  # fmt: skip
    stages = [{"policy": draw(single_specs()), "until": u} for u in untils]
    return {"stages": [*stages, {"policy": draw(single_specs())}]}


@settings(max_examples=300, deadline=None)
@given(specs())
def test_valid_specs_round_trip_through_json_and_text(spec):
    p = from_spec(spec)
    via_json = from_spec(json.loads(jsonio.dumps(p.to_spec())))
    via_text = from_text(p.text)
    assert via_json.hash == p.hash == via_text.hash
    assert from_spec(spec).hash == p.hash  # deterministic
    for t in (0, 1, 99, 12_345):
        assert via_text(t) == p(t) >= 0


JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(),
    st.text(max_size=8), st.lists(st.integers(-5, 5), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)  # fmt: skip


@st.composite
def corrupted_specs(draw):
    spec = draw(specs())
    target = spec if "function" in spec else draw(st.sampled_from(spec["stages"]))
    if "stages" in spec and draw(st.booleans()):
        key = draw(st.sampled_from(["until", "policy", "bogus"]))
    else:
        target = target.get("policy", target)
        key = draw(st.sampled_from([*target.keys(), "bogus"]))
    target[key] = draw(JUNK)
    return spec


@settings(max_examples=500, deadline=None)
@given(st.one_of(corrupted_specs(), JUNK))
def test_invalid_specs_raise_only_policy_error(spec):
    try:
        p = from_spec(spec)
    except PolicyError:
        return
    # Some corruptions stay valid (e.g. an int replaced by another valid int): then the
    # policy must work like any other.
    assert from_text(p.text).hash == p.hash
    assert p(0) >= 0
