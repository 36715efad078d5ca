"""Auto-verification: does a policy reach the target within the budget? Stop doomed runs.

    verdict = verify(run_spec)            # meets | fails | rejected | diverged | interrupted
    verdict.to_dict()["compute_fraction"]

Stop rules are one-method objects (`should_stop(context) -> Decision | None`) over a
`VerifyContext`; `Monitor` serves them to any training loop (report/ask), and
`VerifierCallback` to the workbench's own.
"""

from workbench.verify.callback import VerifierCallback
from workbench.verify.context import Schedule, VerifyContext
from workbench.verify.core import check_spec, check_target, verify
from workbench.verify.monitor import Monitor
from workbench.verify.predictor import Prediction, UnreachableTarget, predict
from workbench.verify.rules import (
    Decision,
    Divergence,
    NeverStop,
    Plateau,
    StopRule,
    StuckAtChance,
    default_rules,
)
from workbench.verify.verdict import VERDICTS, Verdict, verdict_from_result

__all__ = [
    "VERDICTS",
    "Decision",
    "Divergence",
    "Monitor",
    "NeverStop",
    "Plateau",
    "Prediction",
    "Schedule",
    "StopRule",
    "StuckAtChance",
    "UnreachableTarget",
    "VerifierCallback",
    "VerifyContext",
    "Verdict",
    "check_spec",
    "check_target",
    "default_rules",
    "predict",
    "verdict_from_result",
    "verify",
]
