"""``render(plan, targets, options)`` -> files in memory; ``write_files`` puts them on disk atomically."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2

from deploykit.atomic import write_error
from deploykit.errors import DataError, OutputExistsError, OutputWriteError, UsageError
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
    """All or nothing. Before anything is touched: refuse existing files (unless ``force``) and any target that is
    a directory. Then every file is written into a staging folder beside the targets and swapped into place; if
    one swap fails, the ones already made are rolled back (the old contents restored, new files removed), so the
    folder holds the old set or the new one. Write errors are deploykit errors (atomic.write_error)."""
    out_dir = Path(out_dir)
    targets = [out_dir / f.path for f in files]
    for p in targets:
        if p.is_dir():
            raise OutputWriteError(f"cannot write {p}: it is a directory", fix="remove or rename that directory, "
                                   "or choose another -o directory; nothing was written")
    existing = [p for p in targets if p.exists() or p.is_symlink()]
    if existing and not force:
        raise OutputExistsError(f"{len(existing)} file(s) exist, e.g. {existing[0]}",
                                fix="pass --force to overwrite them, or choose another -o directory")
    made_dirs: list[Path] = []
    staging: Path | None = None
    done: list[tuple[Path, Path | None]] = []  # (target, backup of what it held, or None when it was new)
    try:
        _mkdirs(out_dir, made_dirs)
        staging = Path(tempfile.mkdtemp(prefix=".deploykit-render-", dir=out_dir))
        for i, f in enumerate(files):
            tmp = staging / "new" / str(i)
            tmp.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(f.content)
            if f.path.endswith(".sh"):
                tmp.chmod(0o755)
        for i, (f, dest) in enumerate(zip(files, targets)):
            _mkdirs(dest.parent, made_dirs)
            backup = None
            if dest.exists() or dest.is_symlink():
                backup = staging / "old" / str(i)
                backup.parent.mkdir(parents=True, exist_ok=True)
                _backup(dest, backup)
            os.replace(staging / "new" / str(i), dest)
            done.append((dest, backup))
    except OSError as exc:
        _roll_back(done, made_dirs, staging)
        raise write_error(exc, exc.filename or out_dir) from exc
    except BaseException:
        _roll_back(done, made_dirs, staging)
        raise
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return targets


def _mkdirs(folder: Path, made: list[Path]) -> None:
    """mkdir -p, remembering each folder it created (so that a roll-back can remove them again)."""
    missing = []
    probe = folder
    while not probe.exists() and not probe.is_symlink() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for d in reversed(missing):
        d.mkdir()
        made.append(d)
    if not folder.is_dir():
        raise FileExistsError(errno.EEXIST, "Not a directory", str(folder))


def _backup(dest: Path, backup: Path) -> None:
    """Keep what ``dest`` holds (a hard link, else a copy; a link stays a link) until the swap is complete."""
    if dest.is_symlink():
        os.symlink(os.readlink(dest), backup)
        return
    try:
        os.link(dest, backup)
    except OSError:
        shutil.copy2(dest, backup)


def _roll_back(done: list[tuple[Path, Path | None]], made_dirs: list[Path], staging: Path | None) -> None:
    for dest, backup in reversed(done):
        try:
            if backup is None:
                dest.unlink()
            else:
                os.replace(backup, dest)
        except OSError:
            pass
    if staging is not None:
        shutil.rmtree(staging, ignore_errors=True)
    for d in reversed(made_dirs):
        try:
            d.rmdir()
        except OSError:
            pass
