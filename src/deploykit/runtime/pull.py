"""`deploykit pull`: exactly the files a plan needs (the chosen format's safetensors and the small config and
tokenizer files beside them, or the one GGUF), with a disk-space check first and the hub's published sizes and
sha256 checked after. Downloads resume: huggingface_hub keeps partial files and continues them."""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from deploykit.catalog import hub
from deploykit.catalog.gguf import gguf_shards
from deploykit.errors import DiskSpaceError, ModelConfigError, NetworkError
from deploykit.planning.types import Plan

KEEP = ("*.safetensors", "*.json", "tokenizer.model", "*.tiktoken", "merges.txt", "vocab.txt", "*.jinja")
SKIP = ("original/*", "consolidated*", "*.bin", "*.pt", "*.pth", "*.gguf", "*.onnx", "*.msgpack", "*.h5")
HEADROOM = 1.05  # keep 5% spare beyond the files' sizes


@dataclass
class PullReport:
    repo: str
    revision: str
    folder: str = ""
    files: list[str] = field(default_factory=list)
    bytes_total: int = 0
    bytes_downloaded: int = 0
    verified: list[str] = field(default_factory=list)  # what was checked: "size" / "sha256" per file
    offline: bool = False


def source(plan: Plan) -> tuple[str, list[str] | None]:
    """(repo, exact files) for GGUF plans; (repo, None) when the repo's file list decides (safetensors)."""
    w = plan.weights
    if w.get("gguf_file"):  # a split GGUF needs every shard beside the first
        return str(w["hf_repo"]), gguf_shards(str(w["gguf_file"]))
    if plan.engine == "ollama":
        raise ModelConfigError("Ollama pulls its own weights (ollama pull TAG)",
                               fix="deploykit up --engine ollama pulls through the Ollama server")
    repo = str(w["artifact"])
    if repo.startswith("local/") or Path(repo).exists():
        raise ModelConfigError(f"{repo} is a local model: there is nothing to pull", fix="deploykit up PATH")
    return repo, None


def select(files: list[hub.RepoFile]) -> list[hub.RepoFile]:
    chosen = [f for f in files if any(fnmatch.fnmatch(f.name, k) for k in KEEP)
              and not any(fnmatch.fnmatch(f.name, s) for s in SKIP)]
    if not any(f.name.endswith(".safetensors") for f in chosen):
        raise ModelConfigError("the repo has no safetensors weights", fix="pick a checkpoint published as "
                                                                          "safetensors (deploykit models show NAME)")
    return chosen


def _present(folder_files: dict[str, Path], f: hub.RepoFile) -> bool:
    path = folder_files.get(f.name)
    return bool(path and path.exists() and (f.size is None or path.stat().st_size == f.size))


def check_space(where: Path, needed: int) -> None:
    probe = where
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if needed * HEADROOM > free:
        raise DiskSpaceError(f"{needed / 1e9:.1f} GB to download but only {free / 1e9:.1f} GB free on {probe}",
                             fix=f"free {needed * HEADROOM / 1e9 - free / 1e9:.1f} GB, or download elsewhere with "
                                 "--local-dir (or HF_HOME) on a larger disk")


def sha256(path: Path, chunk: int = 8 * 1024 * 1024) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _complete_offline(folder: Path, exact: list[str] | None) -> None:
    """Offline there is no file list from the hub: the safetensors index names the shards, and they must be here."""
    if exact:
        return
    index = folder / "model.safetensors.index.json"
    if index.exists():
        import json
        shards = set(json.loads(index.read_text()).get("weight_map", {}).values())
        lost = sorted(s for s in shards if not (folder / s).exists())
        if lost:
            raise ModelConfigError(f"{len(lost)} shard(s) missing offline, e.g. {lost[0]}",
                                   fix="pull again where the hub is reachable")
    elif not list(folder.glob("*.safetensors")):
        raise ModelConfigError(f"no safetensors in {folder}", fix="pull again where the hub is reachable")


def pull(plan: Plan, *, local_dir: Path | None = None, verify_hashes: bool = True, on_step=None) -> PullReport:
    repo, exact = source(plan)
    revision = plan.model.get("revision") or "main"
    report = PullReport(repo, revision)
    if hub.offline():  # the air-gapped side: only what is already here counts
        folder = hub.cached_snapshot(repo, exact or list(KEEP), revision=revision, local_dir=local_dir,
                                     required=exact or ["config.json"])
        if folder is None:
            raise NetworkError(f"cannot reach the hub for {repo}: HF_HUB_OFFLINE=1 (offline), and it is not "
                               "(completely) in the cache",
                                   fix="pull it where the hub is reachable (deploykit pull --local-dir DIR), carry "
                                       "DIR or the HF cache over, and point HF_HOME / the path at it")
        _complete_offline(folder, exact)
        report.offline, report.folder = True, str(folder)
        report.files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()
                              and not p.name.startswith("."))
        return report
    listed = hub.list_repo_files(repo, revision)
    wanted = [f for f in listed if f.name in exact] if exact else select(listed)
    if exact and len(wanted) != len(exact):
        raise ModelConfigError(f"{repo} has no {exact[0]}", fix="the catalog may be out of date: pass the .gguf path")
    target = local_dir or Path(os.environ.get("HF_HUB_CACHE") or Path(os.environ.get("HF_HOME") or Path.home() /
                                                                       ".cache" / "huggingface") / "hub")
    cached = hub.cached_snapshot(repo, [f.name for f in wanted], revision=revision, local_dir=local_dir)
    have = {f.name: cached / f.name for f in wanted} if cached else {}
    missing = [f for f in wanted if not _present(have, f)]
    report.bytes_total = sum(f.size or 0 for f in wanted)
    report.bytes_downloaded = sum(f.size or 0 for f in missing)
    check_space(target, report.bytes_downloaded)
    if on_step:
        on_step(f"downloading {len(missing)} of {len(wanted)} files ({report.bytes_downloaded / 1e9:.2f} GB)")
    folder = hub.download(repo, [f.name for f in wanted], revision=revision, local_dir=local_dir)
    report.folder, report.files = str(folder), [f.name for f in wanted]
    for f in wanted:
        path = folder / f.name
        if f.size is not None and path.stat().st_size != f.size:
            raise ModelConfigError(f"{f.name}: {path.stat().st_size:,} bytes on disk, the hub lists {f.size:,}",
                                   fix="delete the file and pull again")
        report.verified.append(f"{f.name}: size")
        if verify_hashes and f.sha256:
            if on_step:
                on_step(f"checking sha256 of {f.name}")
            digest = sha256(path)
            if digest != f.sha256:
                raise ModelConfigError(f"{f.name}: sha256 {digest[:12]}... differs from the hub's {f.sha256[:12]}...",
                                       fix="delete the file and pull again")
            report.verified[-1] += " + sha256"
    return report
