"""``render --all``: every catalog model on every base hardware profile where it fits, at the smallest box."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from deploykit.catalog.loader import ModelSpec, load_models, load_profiles
from deploykit.catalog.schema import HardwareProfile
from deploykit.planning.box import simulated_box
from deploykit.planning.planner import plan as make_plan
from deploykit.planning.types import Plan, Policy, Workload

# NVIDIA boxes tried in order: one GPU, a full node of 2/4/8, then two 8-GPU nodes (the multi-node case).
NVIDIA_SHAPES = ((1, 1), (2, 1), (4, 1), (8, 1), (8, 2))


@dataclass(frozen=True)
class Case:
    model: str
    profile: str
    kind: str
    gpus: int
    nodes: int
    plan: Plan

    @property
    def label(self) -> str:
        box = self.profile if self.kind != "nvidia" else f"{self.gpus}x{self.profile}"
        return f"{self.model}@{box}" + (f"x{self.nodes}n" if self.nodes > 1 else "")


def first_fit(spec: ModelSpec, profile: HardwareProfile) -> Case | None:
    shapes = NVIDIA_SHAPES if profile.kind == "nvidia" else ((1, 1),)
    for gpus, nodes in shapes:
        result = make_plan(spec, simulated_box(profile, gpus, nodes), Workload(), Policy())
        if result.fits:
            return Case(spec.name, profile.name, profile.kind, gpus, nodes, result)
    return None


def cases(models: list[str] | None = None, profiles: list[str] | None = None) -> Iterator[Case]:
    specs = load_models()
    chosen_profiles = [p for p in load_profiles().values() if p.variant_of is None
                       and (not profiles or p.name in profiles)]
    for name, spec in specs.items():
        if models and name not in models:
            continue
        for profile in chosen_profiles:
            case = first_fit(spec, profile)
            if case is not None:
                yield case
