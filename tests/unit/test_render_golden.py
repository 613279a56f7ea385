"""Golden files for every target on representative plans. DEPLOYKIT_UPDATE_GOLDEN=1 rewrites them; review the diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from render_cases import CASES, case_plan

from deploykit.rendering.render import render, resolve_targets
from deploykit.rendering.targets import TARGETS

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
UPDATE = os.environ.get("DEPLOYKIT_UPDATE_GOLDEN") == "1"


def rendered(case: str) -> dict[str, str]:
    plan, kind, opts = case_plan(case)
    return {f.path: f.content for f in render(plan, resolve_targets(None, plan, kind), opts)}


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_files(case: str) -> None:
    files = rendered(case)
    folder = GOLDEN / case
    if UPDATE:
        for old in folder.rglob("*"):
            if old.is_file():
                old.unlink()
        for path, text in files.items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_text(text)
    on_disk = {str(p.relative_to(folder)): p.read_text() for p in folder.rglob("*") if p.is_file()}
    assert sorted(on_disk) == sorted(files), "files rendered differ from the golden set"
    for path, text in files.items():
        assert text == on_disk[path], f"{case}/{path} differs from its golden file (DEPLOYKIT_UPDATE_GOLDEN=1)"


def test_every_target_and_engine_has_a_golden_file() -> None:
    seen = set()
    for case in CASES:
        plan, kind, _ = case_plan(case)
        seen |= {(t.name, plan.engine) for t in resolve_targets(None, plan, kind)}
    wanted = {(t.name, engine) for t in TARGETS.values() for engine in t.files}
    assert wanted == seen, f"targets without a golden file: {sorted(wanted - seen)}"
