"""`verify(run_spec)`: train with the stop rules on and turn the run into a verdict."""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from workbench.errors import BadInput
from workbench.verify.callback import VerifierCallback
from workbench.verify.rules import default_rules
from workbench.verify.verdict import Verdict, verdict_from_result

# Below this many evaluation points the rules act late or not at all.
WARN_POINTS = 10


def _as_mapping(run_spec: Any) -> dict[str, Any]:
    if hasattr(run_spec, "to_dict"):
        return dict(run_spec.to_dict())
    if isinstance(run_spec, Mapping):
        return dict(run_spec)
    if isinstance(run_spec, str | Path):
        text = str(run_spec)
        if not text.lstrip().startswith("{"):
            path = Path(text)
            if not path.is_file():
                raise BadInput(f"run spec file not found: {path}")
            text = path.read_text()
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadInput(f"run spec: not valid JSON ({exc})") from None
        if isinstance(obj, dict):
            return obj
    raise BadInput(f"run spec: expected an object, got {type(run_spec).__name__}")


def check_target(target: Any) -> float:
    """The target as a fraction in (0, 1]; `BadInput` (suggesting 85 → 0.85) otherwise."""
    if target is None:
        raise BadInput("verification needs a target accuracy: set target, e.g. 0.9")
    if isinstance(target, bool) or not isinstance(target, int | float):
        raise BadInput(f"target: expected a fraction in (0, 1], got {target!r}")
    if not 0 < target <= 1:
        hint = f"; did you mean {target / 100:g}?" if 1 < target <= 100 else ""
        raise BadInput(f"target: accuracies are fractions in (0, 1], got {target:g}{hint}")
    return float(target)


def min_points(rules: Sequence[Any]) -> int:
    """The most trained points any rule needs before it can act."""
    return max([int(getattr(r, "min_points", 0)) for r in rules] + [0])


def check_spec(run_spec: Any, rules: Sequence[Any] | None = None) -> dict[str, Any]:
    """The run spec as a dict, with the target, budget and evaluation interval checked."""
    spec = _as_mapping(run_spec)
    spec["target"] = check_target(spec.get("target"))
    budget, every = spec.get("budget"), spec.get("eval_every")
    if isinstance(budget, int) and isinstance(every, int) and every > 0 and budget > 0:
        if budget < every:
            raise BadInput(
                f"budget ({budget}) is smaller than one evaluation interval (eval_every "
                f"{every}): no point would be evaluated; use eval_every ≤ {budget // 10 or 1}"
            )
        points = budget // every
        need = min_points(default_rules() if rules is None else rules)
        if points < need:
            raise BadInput(
                f"eval_every {every} gives {points} evaluation points over budget {budget}; "
                f"the stop rules need at least {need}: use eval_every ≤ {budget // need}"
            )
        if need and points < WARN_POINTS:
            warnings.warn(
                f"eval_every {every} gives only {points} evaluation points over budget "
                f"{budget}; the stop rules will act late (use eval_every ≤ "
                f"{max(1, budget // 20)} for ≈ 20 points)",
                UserWarning,
                stacklevel=3,
            )
    return spec


def _recorder(store: Any, callbacks: Sequence[Any]) -> list[Any]:
    """A Recorder for a workbench `Store` unless the caller already passes one.

    Other objects with a `record_verdict` method get only the verdict (duck typing).
    """
    if store is None:
        return []
    try:
        from workbench.store import Recorder, Store
    except ImportError:
        return []
    if not isinstance(store, Store) or any(isinstance(cb, Recorder) for cb in callbacks):
        return []
    return [Recorder(store)]


def verify(
    run_spec: Any,
    rules: Sequence[Any] | None = None,
    store: Any = None,
    shadow: bool = False,
    callbacks: Sequence[Any] = (),
    *,
    progress: bool = False,
    prior_curves: list[dict[str, Any]] | None = None,
) -> Verdict:
    """Train `run_spec` under the stop rules and return the verdict (stored when `store`)."""
    from workbench.train import RunSpec, train

    spec = check_spec(run_spec, rules)
    # Shadow runs the whole budget so that every rule's would-be decision can be scored.
    spec["stop_at_target"] = not shadow
    if spec.get("kind", "train") == "train":
        spec["kind"] = "verify"
    parsed = RunSpec.parse(spec)
    rule_list = list(default_rules() if rules is None else rules)
    verifier = VerifierCallback(rule_list, shadow=shadow, store=store, prior_curves=prior_curves)
    cbs = [verifier, *_recorder(store, callbacks), *callbacks]
    try:
        result = train(parsed, callbacks=cbs, progress=progress)
    except KeyboardInterrupt:
        # The engine marks the run interrupted and re-raises; keep the verdict with it.
        if store is not None and hasattr(store, "record_verdict") and verifier.run_id:
            done = verifier.monitor.context.iteration if verifier.monitor else 0
            store.record_verdict(
                verifier.run_id,
                Verdict(
                    "interrupted", done, done / parsed.budget, shadow=shadow,
                    target=parsed.target, budget=parsed.budget, run_id=verifier.run_id,
                    evidence={"status": "interrupted", "stop_reason": "keyboard_interrupt"},
                ).to_dict(with_run=False),
            )  # fmt: skip
        raise
    res = result.to_dict() if hasattr(result, "to_dict") else dict(result)
    mon = verifier.monitor
    verdict = verdict_from_result(
        res,
        parsed.budget,
        parsed.target,
        decision=mon.decision if mon else None,
        decisions=mon.decisions if mon else [],
        shadow=shadow,
    )
    if store is not None and hasattr(store, "record_verdict") and verdict.run_id:
        store.record_verdict(verdict.run_id, verdict.to_dict(with_run=False))
    return verdict
