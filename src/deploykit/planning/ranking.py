"""`deploykit plan` without a model: every catalog model that fits the box, best first."""

from __future__ import annotations

from dataclasses import dataclass

from deploykit.catalog.loader import ModelSpec
from deploykit.catalog.schema import POOLING_USES
from deploykit.planning.planner import plan, quality_score
from deploykit.planning.types import Box, Plan, Policy, Workload


@dataclass(frozen=True)
class Ranked:
    spec: ModelSpec
    plan: Plan
    score: float


def rank(models: list[ModelSpec], box: Box, workload: Workload, policy: Policy) -> list[Ranked]:
    """Fitting plans, best first: plans that run whole on the accelerator before partial offloads, then output
    quality (size and format), then decode speed. Embedding models last."""
    fitting = []
    for spec in models:
        p = plan(spec, box, workload, policy, with_alternatives=False)
        if p.fits:
            fitting.append(Ranked(spec, p, quality_score(p, spec)))
    return sorted(fitting, key=lambda r: (bool(POOLING_USES & set(r.spec.uses)), _offloaded(r.plan), -r.score,
                                          -(r.plan.estimates.decode_tokens_per_s if r.plan.estimates else 0)))


def _offloaded(p: Plan) -> bool:
    return bool(p.gpu_layers is not None and p.total_layers and 0 < p.gpu_layers < p.total_layers)
