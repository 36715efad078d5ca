"""LR policies: LRBench's functions, composition, presets, canonical specs, torch adapter.

    >>> from workbench.policies import from_spec
    >>> p = from_spec({"function": "TRI", "k0": 0.001, "k1": 0.01, "l": 2000})
    >>> p(0), p(2000)
    (0.001, 0.01)

Depends on numpy only; torch is imported by `PolicyScheduler`, matplotlib by the plots.
"""

from workbench.policies.catalog import catalog, example_spec, family_of
from workbench.policies.functions import FAMILIES, REGISTRY, LRFunction, Param, by_family
from workbench.policies.policy import (
    SCHEMA_VERSION,
    Composite,
    Policy,
    PolicyError,
    Single,
    Stage,
    canonical_spec,
    compose,
    from_spec,
    spec_hash,
)
from workbench.policies.presets import PRESETS, one_cycle, preset, sgdr, warmup_cosine, wsd
from workbench.policies.retarget import retarget
from workbench.policies.text import from_text, parse_text, to_text


def __getattr__(name: str):
    # The torch adapter loads torch; import it only when asked for.
    if name == "PolicyScheduler":
        from workbench.policies.scheduler import PolicyScheduler

        return PolicyScheduler
    raise AttributeError(name)


__all__ = [
    "FAMILIES",
    "PRESETS",
    "REGISTRY",
    "SCHEMA_VERSION",
    "Composite",
    "LRFunction",
    "Param",
    "Policy",
    "PolicyError",
    "PolicyScheduler",
    "Single",
    "Stage",
    "by_family",
    "canonical_spec",
    "catalog",
    "compose",
    "example_spec",
    "family_of",
    "from_spec",
    "from_text",
    "one_cycle",
    "parse_text",
    "preset",
    "retarget",
    "sgdr",
    "spec_hash",
    "to_text",
    "warmup_cosine",
    "wsd",
]
