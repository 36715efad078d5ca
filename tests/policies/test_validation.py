"""Every bad spec raises PolicyError naming the field and value — never another exception."""

from __future__ import annotations

import math

import pytest

from workbench.errors import BadInput
from workbench.policies import PolicyError, from_spec

TRI = {"function": "TRI", "k0": 0.001, "k1": 0.01, "l": 100}


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        ({"function": "NOPE", "k0": 1}, "function", "unknown LR function"),
        ({"k0": 1}, "function", "missing"),
        ({"function": "TRI", "k0": 0.1, "l": 10}, "k1", "missing"),
        ({**TRI, "gamma": 0.1}, "gamma", "not a parameter of TRI"),
        ({**TRI, "k0": "0.1"}, "k0", "must be a number"),
        ({**TRI, "k0": True}, "k0", "must be a number"),
        ({**TRI, "k0": math.nan}, "k0", "finite"),
        ({**TRI, "k1": math.inf}, "k1", "finite"),
        ({**TRI, "k0": -0.1}, "k0", "negative"),
        ({**TRI, "l": 0}, "l", "period must be positive"),
        ({**TRI, "l": -5}, "l", "period must be positive"),
        ({**TRI, "l": 10.5}, "l", "whole number"),
        ({"function": "NSTEP", "k0": 0.1, "gamma": 0.1, "l": [200, 100]}, "l", "increasing"),
        ({"function": "NSTEP", "k0": 0.1, "gamma": 0.1, "l": []}, "l", "non-empty"),
        ({"function": "NSTEP", "k0": 0.1, "gamma": 0.1, "l": 100}, "l", "list"),
        ({"function": "EXP", "k0": 0.1, "gamma": 0.0}, "gamma", "> 0"),
        ({"function": "POLY", "k0": 0.0, "k1": 0.1, "p": 0.0, "l": 10}, "p", "> 0"),
        ({"function": "INV", "k0": 0.1, "gamma": 0.1, "p": -1.0}, "p", ">= 0"),
        ({"stages": []}, "stages", "non-empty"),
        ({"stages": [{"policy": TRI, "until": 10}]}, "stages[0].until", "last stage"),
        ({"stages": [{"policy": TRI}, {"policy": TRI}]}, "stages[0].until", "missing"),
        (
            {"stages": [{"policy": TRI, "until": 20}, {"policy": TRI, "until": 10},
                        {"policy": TRI}]},
            "stages[1].until",
            "strictly increasing",
        ),
        ({"stages": [{"policy": TRI, "until": 0}, {"policy": TRI}]}, "stages[0].until",
         "strictly increasing"),
        ({"stages": [{"policy": {"stages": [{"policy": TRI}]}}]}, "stages[0].policy", "nested"),
        ({"stages": [{"policy": {**TRI, "k0": -1}, "until": 5}, {"policy": TRI}]},
         "stages[0].policy.k0", "negative"),
        ({"stages": [{"policy": TRI}], "extra": 1}, "extra", "only 'stages'"),
        ("TRI", "policy", "JSON object"),
    ],
)  # fmt: skip
def test_bad_specs_name_field_and_value(spec, field, words):
    with pytest.raises(PolicyError) as info:
        from_spec(spec)
    err = info.value
    assert err.field == field
    assert words in str(err)
    assert str(err).startswith(field)
    assert isinstance(err, BadInput) and isinstance(err, ValueError)
