"""Staged composition search: LRBench's "dynamic tuning".

The budget is cut into stages (a fixed split, or an adaptive one that ends a stage when its
policy plateaus). At each stage K candidate continuations are forked from the current
checkpoint (`Trainer.restore(state, spec=…)` with the candidate composed after the stages
committed so far), the verifier's rules prune the hopeless ones, successive halving spends
the rest of the stage on the most promising, and the best by progress toward the target is
committed. The search ends when the committed path reaches the target or the budget.

Because every probe replays the exact composite it names, a fresh run of the result from
scratch reproduces the committed trajectory point for point (same seed, deterministic CPU).
"""

from __future__ import annotations

import contextlib
import math
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from workbench.errors import BadInput
from workbench.policies import compose, from_spec
from workbench.recommend.candidates import Candidate, generate, select
from workbench.recommend.defaults import optimizer_name

SPLITS = ("fixed", "adaptive")


@dataclass
class SearchConfig:
    """How the search spends its iterations (defaults tuned for ≤ 3 plain runs)."""

    stages: int | None = None  # None: `auto_stages` (2–4 by the budget in epochs)
    k: int = 6  # candidates forked per stage
    split: str = "fixed"  # "fixed" | "adaptive"
    rung: float = 0.35  # successive halving: all K run this fraction of a stage …
    survivors: int = 2  # … then this many run the rest of it
    patience: int = 3  # adaptive: points without a gain of min_gain end a stage
    min_gain: float = 0.005
    prune: bool = True  # the verifier's rules stop hopeless probes
    keep_checkpoints: bool = False

    def check(self) -> None:
        """BadInput unless the settings make sense."""
        if self.split not in SPLITS:
            raise BadInput(f"split: must be one of {', '.join(SPLITS)} (got {self.split!r})")
        if (self.stages is not None and self.stages < 1) or self.k < 1 or self.survivors < 1:
            raise BadInput("stages, k and survivors must be >= 1")
        if not 0 < self.rung <= 1:
            raise BadInput(f"rung: must be a fraction in (0, 1] (got {self.rung!r})")


@dataclass
class Probe:
    """One candidate continuation: where it started, how far it ran, how it scored."""

    stage: int
    candidate: Candidate
    run_id: str
    start: int
    end: int = 0
    status: str = "running"
    stop_reason: str | None = None
    reached: int | None = None
    val_top1: float = math.nan
    val_loss: float = math.nan
    seconds: float = 0.0
    spent: int = 0
    committed: bool = False
    closed: str | None = None  # why the search stopped running it, if it did
    trainer: Any = field(default=None, repr=False)
    result: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def pruned(self) -> bool:
        """Stopped by a rule or diverged: out of the ranking."""
        return self.status == "diverged" or (
            self.status == "stopped" and self.stop_reason not in (None, "target_reached")
        )

    def score(self) -> tuple[float, ...]:
        """Progress toward the target: reached first (earlier better), then accuracy, loss."""
        acc = self.val_top1 if math.isfinite(self.val_top1) else -math.inf
        loss = -self.val_loss if math.isfinite(self.val_loss) else -math.inf
        if self.pruned:  # below every live probe; among themselves, the best found first
            return (-2.0 if self.status == "diverged" else -1.0, 0.0, acc, loss)
        reached = self.reached is not None
        return (1.0 if reached else 0.0, -(self.reached or 0), acc, loss)

    def to_dict(self) -> dict[str, Any]:
        """A lineage entry (with `optimizer` when the candidate changes it)."""
        out = {
            "stage": self.stage, "label": self.candidate.label, "family": self.candidate.family,
            "origin": self.candidate.origin, "spec": self.candidate.spec, "run_id": self.run_id,
            "start": self.start, "end": self.end, "iterations": self.spent,
            "status": self.status, "stop_reason": self.stop_reason, "pruned": self.pruned,
            "reached_target_at": self.reached, "val_top1": self.val_top1,
            "val_loss": self.val_loss, "committed": self.committed, "closed": self.closed,
        }  # fmt: skip
        if self.candidate.optimizer is not None:
            out["optimizer"] = self.candidate.optimizer
        return out


@dataclass
class SearchResult:
    """A composite policy, how it was found, and what finding it cost."""

    search_id: str
    policy: dict[str, Any]
    stages: list[dict[str, Any]]
    lineage: list[dict[str, Any]]
    ledger: list[dict[str, Any]]
    trajectory: list[dict[str, Any]]
    budget: int
    target: float | None
    reached_at: int | None
    best_top1: float
    checkpoint_dir: str | None = None
    # The optimizer the policy was found with: the task's, unless a candidate that changes
    # it (the Schedule-Free opt-in) was committed.
    optimizer: dict[str, Any] | None = None
    optimizer_changed: bool = False

    @property
    def meets_target(self) -> bool | None:
        """Whether the committed path reached the target (None without a target)."""
        return None if self.target is None else self.reached_at is not None

    @property
    def search_iterations(self) -> int:
        """Iterations spent on probes (sum of the ledger)."""
        return sum(int(e["iterations"]) for e in self.ledger)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (lineage, ledger and trajectory included)."""
        return {
            "search_id": self.search_id, "policy": self.policy, "stages": self.stages,
            "lineage": self.lineage, "ledger": self.ledger, "trajectory": self.trajectory,
            "budget": self.budget, "target": self.target, "reached_at": self.reached_at,
            "meets_target": self.meets_target, "best_top1": self.best_top1,
            "search_iterations": self.search_iterations,
            "plain_run_equivalents": self.search_iterations / self.budget,
            "checkpoint_dir": self.checkpoint_dir, "optimizer": self.optimizer,
            "optimizer_changed": self.optimizer_changed,
        }  # fmt: skip


def _round_to(x: float, step: int) -> int:
    return max(step, int(round(x / step)) * step)


def fixed_boundaries(budget: int, stages: int, eval_every: int) -> list[int]:
    """Stage ends (the last is the budget), on evaluation points so a replay sees the same
    points; BadInput when the budget cannot hold `stages` stages of two evaluations each."""
    if budget < stages * 2 * eval_every:
        raise BadInput(
            f"budget: {budget} iterations cannot hold {stages} stages of at least two "
            f"evaluation intervals ({eval_every} iterations) each; use fewer stages, a "
            f"smaller eval_every or a budget of at least {stages * 2 * eval_every}"
        )
    ends = [_round_to(budget * i / stages, eval_every) for i in range(1, stages)]
    return [*ends, budget]


# A stage shorter than this many epochs can hardly tell its candidates apart (on a
# 13-epoch digits budget, 4 stages of 3 epochs committed a constant LR after one epoch of
# evidence; 2 stages found a 2× faster policy). Never more than MAX_STAGES.
MIN_STAGE_EPOCHS = 5.0
MAX_STAGES = 4


def auto_stages(budget: int, epochs_per_iteration: float, eval_every: int) -> int:
    """Stages for a budget: one per MIN_STAGE_EPOCHS epochs, between 2 and MAX_STAGES, and
    no more than the budget holds at two evaluations per stage (at least 1)."""
    n = max(2, min(MAX_STAGES, int(budget * epochs_per_iteration // MIN_STAGE_EPOCHS)))
    while n > 1 and budget < n * 2 * eval_every:
        n -= 1
    return n


def resolve_stages(spec: Any, config: SearchConfig) -> SearchConfig:
    """`config` with `stages` fixed: as given, else `auto_stages` from the training split's
    size (the dataset is loaded, as the search will anyway)."""
    if config.stages is not None:
        return config
    from workbench.train import RunSpec, prepare_data

    parsed = RunSpec.parse(spec)
    n_train = len(prepare_data(parsed, "cpu").train)
    stages = auto_stages(parsed.budget, parsed.batch_size / max(1, n_train), parsed.eval_every)
    return replace(config, stages=stages)


Progress = Callable[[str], None]


class StagedSearch:
    """One search over a run spec; `run()` returns a SearchResult."""

    def __init__(
        self,
        spec: dict[str, Any],
        low: float,
        high: float,
        config: SearchConfig | None = None,
        *,
        store: Any = None,
        warm: Sequence[Candidate] = (),
        search_id: str | None = None,
        progress: Progress | None = None,
        initial_spent: Sequence[dict[str, Any]] = (),
        banned: frozenset[str] | set[str] = frozenset(),
        extra: Sequence[Candidate] = (),
    ):
        """`extra`: stage-1 candidates tried on top of the K selected ones (the
        Schedule-Free opt-in: candidates that carry their own optimizer)."""
        from workbench.train import RunSpec

        self.config = resolve_stages(spec, config or SearchConfig())
        self.config.check()
        self.spec = RunSpec.parse(spec).to_dict()
        self.budget = int(self.spec["budget"])
        self.eval_every = int(self.spec["eval_every"])
        self.target = self.spec.get("target")
        self.low, self.high = low, high
        self.store = store
        self.warm = list(warm)
        self.banned = frozenset(banned)  # policy hashes never to recommend on this task
        self.search_id = search_id or uuid.uuid4().hex
        self.say = progress or (lambda msg: None)
        self.optimizer = optimizer_name(self.spec)
        self.extra = list(extra)
        self.optimizer_changed = False
        self.lineage: list[Probe] = []
        self.ledger: list[dict[str, Any]] = list(initial_spent)
        self.committed: list[tuple[dict[str, Any], int]] = []
        self.trajectory: list[dict[str, Any]] = []
        self.ckpt_dir: Path | None = None
        if self.config.split == "fixed":
            self.ends = fixed_boundaries(self.budget, self.config.stages, self.eval_every)
        else:
            fixed_boundaries(self.budget, self.config.stages, self.eval_every)  # the same check
            self.ends = []

    # --- probes ---------------------------------------------------------------------------

    def _probe_policy(self, cand: Candidate) -> dict[str, Any]:
        """The whole policy a probe runs: the committed stages, then `cand` to the end (so
        also what the search recommends if it commits `cand` last)."""
        parts: list[tuple[Any, int | None]] = [*self.committed, (cand.spec, None)]
        return compose(parts).to_spec() if self.committed else from_spec(cand.spec).to_spec()

    def _probe_spec(self, cand: Candidate, run_id: str) -> dict[str, Any]:
        policy = self._probe_policy(cand)
        spec = dict(self.spec)
        if cand.optimizer is not None:
            spec["optimizer"] = cand.optimizer
        spec.update(
            policy=policy,
            run_id=run_id,
            kind="probe",
            search_id=self.search_id,
            stop_at_target=self.target is not None,
            job_id=None,
        )
        spec["tags"] = {
            **(self.spec.get("tags") or {}),
            "search_stage": len(self.committed),
            "candidate": cand.label,
        }
        return spec

    def _callbacks(self) -> list[Any]:
        cbs: list[Any] = []
        if self.config.prune:
            from workbench.verify import VerifierCallback, default_rules

            cbs.append(VerifierCallback(default_rules(), store=self.store))
        if self.store is not None:
            from workbench.store import Recorder

            cbs.append(Recorder(self.store))
        return cbs

    def _start(self, stage: int, cand: Candidate, state: Any, start: int) -> Probe:
        from workbench.train import Trainer

        run_id = uuid.uuid4().hex
        spec = self._probe_spec(cand, run_id)
        if state is None:
            trainer = Trainer(spec, callbacks=self._callbacks(), progress=False)
        else:
            trainer = Trainer.restore(state, spec=spec, callbacks=self._callbacks())
        probe = Probe(stage, cand, run_id, start, end=start, trainer=trainer)
        self.lineage.append(probe)
        return probe

    def _advance(self, probe: Probe, until: int) -> None:
        """Run a probe on to `until` (unless it already stopped) and read its score."""
        if probe.status != "running" or probe.end >= until:
            return
        t0 = time.perf_counter()
        result = probe.trainer.run(until=until)
        probe.seconds += time.perf_counter() - t0
        res = result.to_dict() if hasattr(result, "to_dict") else dict(result)
        probe.result = res
        probe.end = int(res["iterations"])
        probe.spent = probe.end - probe.start
        if res["status"] != "running" or probe.end < until:
            probe.status = res["status"] if res["status"] != "running" else "stopped"
            probe.stop_reason = res.get("stop_reason")
        points = [p for p in res.get("history") or [] if p["iteration"] <= probe.end]
        if points:
            probe.val_top1 = float(points[-1]["val_top1"])
            probe.val_loss = float(points[-1]["val_loss"])
        itt = res.get("iterations_to_target")
        if self.target is not None and itt is not None and itt > probe.start:
            probe.reached = int(itt)

    def _finish(self, probe: Probe) -> None:
        """Close a probe's books: its ledger entry, its store record; release its trainer."""
        self.ledger.append({
            "stage": probe.stage, "item": f"probe:{probe.candidate.label}",
            "run_id": probe.run_id, "iterations": probe.spent, "seconds": probe.seconds,
            "status": probe.status,
        })  # fmt: skip
        if probe.trainer is not None and probe.status == "running":
            self._end_run(probe, "search:committed" if probe.committed else "search:dropped")
        probe.trainer = None

    @staticmethod
    def _end_run(probe: Probe, reason: str) -> None:
        # A paused probe never reaches the loop's own end: end its run for the callbacks
        # (the store's recorder) so it is not left `running` forever.
        trainer = probe.trainer
        result = trainer.result().to_dict()
        result.update(status="stopped", stop_reason=reason)
        for cb in trainer.callbacks:
            end = getattr(cb, "on_run_end", None)
            if end is not None:
                with contextlib.suppress(Exception):  # bookkeeping must never break a search
                    end(trainer.context, result)
        probe.closed = reason

    # --- stages ---------------------------------------------------------------------------

    def _candidates(self, stage: int, start: int, horizon: int) -> list[Candidate]:
        current = self.committed[-1][0] if self.committed else None
        prev_len = None
        if self.committed:
            prev_start = self.committed[-2][1] if len(self.committed) > 1 else 0
            prev_len = self.committed[-1][1] - prev_start
        cands = generate(
            self.low,
            self.high,
            horizon,
            optimizer=self.optimizer,
            current=current,
            previous_length=prev_len,
        )
        if stage == 0 and self.warm:
            cands = self.warm + cands
        extra = self.extra if stage == 0 else []
        if self.banned:  # a banned policy could end up recommended: never try it
            cands = [c for c in cands if from_spec(self._probe_policy(c)).hash not in self.banned]
            extra = [c for c in extra if from_spec(self._probe_policy(c)).hash not in self.banned]
        # The extras come on top of the K (and last, so that a tie in the ranking goes to
        # the task's own optimizer): the K candidates are those of a search without them.
        return select(cands, self.config.k) + list(extra)

    def _rank(self, probes: Sequence[Probe]) -> list[Probe]:
        return sorted(probes, key=lambda p: p.score(), reverse=True)

    def _fork(self, stage: int, start: int, horizon: int, state: Any, rung_end: int) -> list[Probe]:
        cands = self._candidates(stage, start, horizon)
        self.say(
            f"stage {stage + 1}: {len(cands)} candidates from iteration {start}: "
            + ", ".join(c.label for c in cands)
        )
        probes = []
        for cand in cands:
            probe = self._start(stage, cand, state, start)
            self._advance(probe, rung_end)
            probes.append(probe)
        return probes

    def _fixed_stage(self, stage: int, start: int, end: int, state: Any) -> Probe:
        rung_end = min(end, start + _round_to(self.config.rung * (end - start), self.eval_every))
        probes = self._fork(stage, start, end - start, state, rung_end)
        ranked = self._rank(probes)
        if ranked[0].reached is None:
            alive = [p for p in ranked if not p.pruned][: self.config.survivors]
            for p in alive:
                self._advance(p, end)
            # Only probes that ran the whole stage (or stopped on their own) compare: one
            # dropped at the rung was scored earlier in the stage.
            ranked = self._rank(alive) if alive else ranked
        return ranked[0]

    def _adaptive_stage(self, stage: int, start: int, state: Any) -> Probe:
        remaining = self.budget - start
        low_len = _round_to(self.budget / (2 * self.config.stages), self.eval_every)
        high_len = _round_to(2 * self.budget / self.config.stages, self.eval_every)
        horizon = min(remaining, high_len)
        first = min(self.budget, start + low_len)
        probes = self._fork(stage, start, horizon, state, first)
        best = self._rank(probes)[0]
        if best.reached is None and not best.pruned:
            self._extend_until_plateau(best, min(self.budget, start + horizon))
        return best

    def _extend_until_plateau(self, probe: Probe, limit: int) -> None:
        history = [probe.val_top1]
        while probe.end < limit and probe.status == "running" and probe.reached is None:
            self._advance(probe, min(limit, probe.end + self.eval_every))
            history.append(probe.val_top1)
            window = history[-(self.config.patience + 1) :]
            if (
                len(window) > self.config.patience
                and max(window[1:]) < window[0] + self.config.min_gain
            ):
                break

    def _commit(self, probe: Probe, state_holder: dict[str, Any]) -> None:
        probe.committed = True
        start = probe.start
        points = [
            p
            for p in probe.result.get("history") or []
            if start < p["iteration"] <= probe.end or (not self.trajectory and p["iteration"] == 0)
        ]
        self.trajectory += [_point(p) for p in points]
        last = probe.end >= self.budget or probe.reached is not None or probe.status != "running"
        if not last:
            state_holder["state"] = probe.trainer.state()
            if self.ckpt_dir is not None:
                probe.trainer.save(self.ckpt_dir / f"stage-{probe.stage}.pt")
        self.committed.append((probe.candidate.spec, probe.end))
        if probe.candidate.optimizer is not None:
            # A stage-1 candidate with another optimizer (Schedule-Free) won: the path now
            # trains with that optimizer, and later stages compose on it like any other
            # stage (forks restore its state, iterate averages included). Composed rather
            # than a whole-budget candidate because the continuation Schedule-Free would
            # take alone (its constant LR) is always among the next stage's candidates (the
            # "same" variant of its FIX stage), so by the search's own per-stage scoring
            # composing never does worse than it, while a lower LR late (the ×0.5, ×0.1
            # variants) may still help; and one mechanism serves both optimizers.
            self.spec = dict(self.spec, optimizer=probe.candidate.optimizer)
            self.optimizer = optimizer_name(self.spec)
            self.optimizer_changed = True
        self.say(
            f"stage {probe.stage + 1}: committed {probe.candidate.label} "
            f"(iterations {start}–{probe.end}, val top-1 {probe.val_top1:.3f}"
            + (f", target reached at {probe.reached}" if probe.reached else "")
            + ")"
        )

    # --- the search -----------------------------------------------------------------------

    def run(self) -> SearchResult:
        """Search stage by stage until the target is reached or the budget is spent."""
        from workbench.paths import store_path

        if self.config.keep_checkpoints or self.store is not None:
            self.ckpt_dir = store_path("checkpoints", f"search-{self.search_id}", "x").parent
        holder: dict[str, Any] = {"state": None}
        start, stage = 0, 0
        try:
            while start < self.budget and (self.config.split != "fixed" or stage < len(self.ends)):
                if self.config.split == "fixed":
                    best = self._fixed_stage(stage, start, self.ends[stage], holder["state"])
                else:
                    best = self._adaptive_stage(stage, start, holder["state"])
                self._commit(best, holder)
                for p in self.lineage:
                    if p.stage == stage:
                        self._finish(p)
                if best.reached is not None or best.status != "running" or best.end <= start:
                    break
                start, stage = best.end, stage + 1
        finally:
            for p in self.lineage:
                p.trainer = None
            if self.ckpt_dir is not None and not self.config.keep_checkpoints:
                shutil.rmtree(self.ckpt_dir, ignore_errors=True)
        return self._result()

    def _result(self) -> SearchResult:
        parts: list[tuple[Any, int | None]] = list(self.committed)
        parts[-1] = (parts[-1][0], None)
        policy = compose(parts).to_spec() if len(parts) > 1 else from_spec(parts[0][0]).to_spec()
        committed = [p for p in self.lineage if p.committed]
        stages = [
            {
                "stage": p.stage,
                "start": p.start,
                "end": p.end,
                "label": p.candidate.label,
                "family": p.candidate.family,
                "spec": p.candidate.spec,
                "val_top1": p.val_top1,
                "reached_target_at": p.reached,
                **({"optimizer": p.candidate.optimizer} if p.candidate.optimizer else {}),
            }
            for p in committed
        ]
        reached = next((p.reached for p in committed if p.reached is not None), None)
        accs = [pt["val_top1"] for pt in self.trajectory if math.isfinite(pt["val_top1"])]
        return SearchResult(
            search_id=self.search_id, policy=policy, stages=stages,
            lineage=[p.to_dict() for p in self.lineage], ledger=self.ledger,
            trajectory=self.trajectory, budget=self.budget, target=self.target,
            reached_at=reached, best_top1=max(accs, default=math.nan),
            checkpoint_dir=str(self.ckpt_dir) if self.config.keep_checkpoints else None,
            optimizer=dict(self.spec["optimizer"]), optimizer_changed=self.optimizer_changed,
        )  # fmt: skip


_POINT_KEYS = ("iteration", "lr", "train_loss", "val_loss", "val_top1", "test_top1")


def _point(p: dict[str, Any]) -> dict[str, Any]:
    return {k: p.get(k) for k in _POINT_KEYS}


def staged_search(
    spec: dict[str, Any], low: float, high: float, config: SearchConfig | None = None, **kw: Any
) -> SearchResult:
    """Run a staged composition search on `spec` (its policy is ignored) within [low, high]."""
    return StagedSearch(spec, low, high, config, **kw).run()
