"""``render(plan, targets, options)`` -> files in memory; ``write_files`` puts them on disk atomically."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2

from deploykit.errors import DataError, OutputExistsError, UsageError
from deploykit.paths import data_dir
from deploykit.planning.types import Plan
from deploykit.rendering import context as C
from deploykit.rendering.quoting import FILTERS
from deploykit.rendering.targets import TARGETS, Target, applicable
from deploykit.suggest import did_you_mean


@dataclass(frozen=True)
class RenderedFile:
    target: str
    path: str  # relative to the output directory
    content: str


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
                             undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(FILTERS)
    return env


def resolve_targets(names: list[str] | None, plan: Plan, kind: str) -> list[Target]:
    """The named targets (each must apply to the plan), or every target that applies."""
    if not names or names == ["all"]:
        return applicable(plan, kind)
    out = []
    for name in names:
        if name not in TARGETS:
            raise UsageError(f"unknown target '{name}'", fix=f"use one of: {', '.join(TARGETS)}, all",
                             suggestions=did_you_mean(name, list(TARGETS)))
        why = TARGETS[name].unavailable(plan, kind)
        if why:
            raise UsageError(why, fix="choose another --target, or plan with a different --engine/--profile")
        out.append(TARGETS[name])
    return out


def render(plan: Plan, targets: list[Target], opts: C.RenderOptions, ctx: dict | None = None) -> list[RenderedFile]:
    ctx = ctx or C.build(plan, opts)
    files: dict[str, RenderedFile] = {}
    done: dict[str, str] = {}  # template -> text: a file two targets share (Ollama's Modelfile) renders once
    for target in targets:
        for template, out in target.files[plan.engine]:
            path = out.format(name=ctx["name"])
            try:
                text = done.get(template) or _tidy(path, environment().get_template(template).render(
                    ctx, target=target.name))
                done[template] = text
            except jinja2.TemplateNotFound as exc:
                raise DataError(f"template {template} is missing", fix="reinstall deploykit") from exc
            except jinja2.UndefinedError as exc:  # a template bug, never the user's: fail loudly
                raise DataError(f"template {template}: {exc.message}", fix="report this as a deploykit bug") from exc
            if path in files and files[path].content != text:
                raise DataError(f"targets disagree on {path}", fix="report this as a deploykit bug")
            files.setdefault(path, RenderedFile(target.name, path, text))
    return list(files.values())


def _tidy(path: str, text: str) -> str:
    """Blank lines left by template control blocks carry no meaning in YAML (no block scalars are rendered)."""
    if path.endswith((".yaml", ".yml")):
        text = "\n".join(line for line in text.split("\n") if line.strip()) + "\n"
    return text


def write_files(files: list[RenderedFile], out_dir: Path, *, force: bool = False) -> list[Path]:
    """All or nothing: refuse before writing anything if a file exists (unless ``force``); write everything into a
    temporary folder beside the target, then rename each file into place."""
    out_dir = Path(out_dir)
    targets = [out_dir / f.path for f in files]
    existing = [p for p in targets if p.exists()]
    if existing and not force:
        raise OutputExistsError(f"{len(existing)} file(s) exist, e.g. {existing[0]}",
                                fix="pass --force to overwrite them, or choose another -o directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".deploykit-render-", dir=out_dir))
    try:
        for f in files:
            tmp = staging / f.path
            tmp.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(f.content)
            if f.path.endswith(".sh"):
                tmp.chmod(0o755)
        for f, dest in zip(files, targets):
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / f.path, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return targets
