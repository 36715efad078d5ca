"""The LRBench recommender: baselines, LR range test, candidates, staged composition search,
recommendation from history.

    >>> from workbench.recommend import recommend
    >>> rec = recommend(run_spec, store=open_store())          # doctest: +SKIP
    >>> rec.policy, rec.explanation, rec.search_iterations      # doctest: +SKIP

Contracts: docs/contracts.md "Recommender".
"""

from workbench.recommend import defaults
from workbench.recommend.candidates import Candidate, from_range, generate, select, variants
from workbench.recommend.core import Recommendation, check_request, recommend
from workbench.recommend.defaults import default_policy, modern_baselines
from workbench.recommend.history import HistoryPick, HistoryReport, consult
from workbench.recommend.range_test import (
    RangeTestResult,
    lr_range_test,
    range_test,
    suggest_range,
)
from workbench.recommend.search import (
    SearchConfig,
    SearchResult,
    StagedSearch,
    fixed_boundaries,
    staged_search,
)

__all__ = [
    "Candidate",
    "HistoryPick",
    "HistoryReport",
    "RangeTestResult",
    "Recommendation",
    "SearchConfig",
    "SearchResult",
    "StagedSearch",
    "check_request",
    "consult",
    "default_policy",
    "defaults",
    "fixed_boundaries",
    "from_range",
    "generate",
    "lr_range_test",
    "modern_baselines",
    "range_test",
    "recommend",
    "select",
    "staged_search",
    "suggest_range",
    "variants",
]
