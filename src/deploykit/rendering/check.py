"""``render --check``: run every rendered file through the validator for its kind and collect the problems.

Subprocess validators (systemd-analyze, promtool, sh, vLLM's parser) start first and run while the in-process ones
(compose-spec and Kubernetes JSON schemas, the Modelfile and LiteLLM checkers) work, so the whole catalog checks in
seconds. A validator that cannot run is reported as missing (a failure) or, for vLLM and promtool when not
required, as skipped with the reason: never silently."""

from __future__ import annotations

import shlex
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from deploykit.rendering.render import RenderedFile
from deploykit.rendering.validators import (
    external,
    litellm,
    modelfile,
    schemas,
    yamldocs,
)


@dataclass(frozen=True)
class Rendered:
    label: str
    model: str
    profile: str
    engine: str
    files: list[RenderedFile]


@dataclass(frozen=True)
class Problem:
    model: str
    profile: str
    target: str
    file: str
    validator: str
    message: str


@dataclass
class ValidatorRun:
    name: str
    status: str  # ran | skipped | missing
    files: int = 0
    seconds: float = 0.0
    detail: str = ""
    setup_seconds: float = 0.0  # spent starting up (vLLM's import and parser build), not checking
    parse_seconds: float | None = None  # vLLM: time spent parsing the command lines themselves


@dataclass
class Report:
    validators: list[ValidatorRun] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files_checked: int = 0
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return bool(self.problems) or any(v.status == "missing" for v in self.validators)

    def to_data(self) -> dict:
        return {"ok": not self.failed, "files_checked": self.files_checked, "seconds": round(self.seconds, 2),
                "validators": [asdict(v) for v in self.validators],
                "problems": [asdict(p) for p in self.problems]}


@dataclass(frozen=True)
class Item:
    """One file of one case; ``key`` names it in the report."""

    case: Rendered
    file: RenderedFile

    def problem(self, validator: str, message: str) -> Problem:
        return Problem(self.case.model, self.case.profile, self.file.target, f"{self.case.label}/{self.file.path}",
                       validator, message)


def check(rendered: list[Rendered], *, vllm_python: Path | None = None, require_vllm: bool = False,
          require_all: bool = False, k8s_version: str = schemas.K8S_VERSION,
          vllm_started: external.VllmParserProcess | None = None) -> Report:
    started = time.perf_counter()
    items = [Item(r, f) for r in rendered for f in r.files]
    report = Report(files_checked=len(items))
    with tempfile.TemporaryDirectory(prefix="deploykit-check-") as tmp:
        root = Path(tmp)
        by_kind = _classify(items)
        pending = [
            external.systemd(by_kind["systemd"], root / "systemd", require=True),
            external.shell_syntax(by_kind["shell"], root / "sh"),
            external.promtool(by_kind["prometheus"], root / "prometheus", require=require_all),
            external.vllm_parser(list(_vllm_argvs(items, report)), root / "vllm", vllm_python,
                                 require=require_vllm or require_all, started=vllm_started),
        ]
        report.validators += schemas.compose(by_kind["compose"], report.problems)
        report.validators += schemas.kubernetes(by_kind["kubernetes"], report.problems, k8s_version)
        report.validators.append(_own("modelfile (Ollama parser rules)", by_kind["modelfile"], modelfile.check,
                                      report.problems))
        report.validators.append(_own("litellm config (documented schema)", by_kind["litellm"], litellm.check,
                                      report.problems))
        for job in pending:
            run, problems = job.result()
            report.validators.append(run)
            report.problems += problems
    yamldocs.docs.cache_clear()
    report.seconds = time.perf_counter() - started
    return report


def _classify(items: list[Item]) -> dict[str, list[Item]]:
    kinds: dict[str, list[Item]] = {k: [] for k in ("compose", "kubernetes", "systemd", "shell", "prometheus",
                                                    "modelfile", "litellm", "vllm-config")}
    for item in items:
        path = item.file.path
        if path == "compose.yaml":
            kinds["compose"].append(item)
        elif path == "kubernetes.yaml":
            kinds["kubernetes"].append(item)
        elif path.endswith((".service", ".conf")):
            kinds["systemd"].append(item)
        elif path.endswith(".sh"):
            kinds["shell"].append(item)
        elif path == "prometheus.yml":
            kinds["prometheus"].append(item)
        elif path == "Modelfile":
            kinds["modelfile"].append(item)
        elif path == "litellm-config.yaml":
            kinds["litellm"].append(item)
        elif path == "vllm-config.yaml":
            kinds["vllm-config"].append(item)
        else:
            raise ValueError(f"no validator for rendered file {path}")
    return kinds


def _own(name: str, items: list[Item], checker, problems: list[Problem]) -> ValidatorRun:
    started = time.perf_counter()
    for item in items:
        problems += [item.problem(name, msg) for msg in checker(item.file.content)]
    return ValidatorRun(name, "ran", len(items), time.perf_counter() - started)


def _vllm_argvs(items: list[Item], report: Report) -> Iterator[tuple[Item, list[str], str | None]]:
    """Every place a vLLM command line lands, as the argv vLLM would receive after ``vllm serve``: the script's
    exec line, the --config YAML, the compose command, the Kubernetes container command or leader script."""
    for item in items:
        if item.case.engine != "vllm":
            continue
        path, text = item.file.path, item.file.content
        try:
            if path == "serve.sh":
                yield item, _after_vllm_serve(_exec_line(text)), None
            elif path == "vllm-config.yaml":
                yield item, ["deploykit-check-model", "--config", "vllm-config.yaml"], text
            elif path == "compose.yaml":
                for svc in yamldocs.one(text)["services"].values():
                    yield item, [str(a).replace("$$", "$") for a in svc["command"]], None
            elif path == "kubernetes.yaml":
                for doc in yamldocs.docs(text):
                    for argv in _k8s_vllm_commands(doc):
                        yield item, argv, None
        except (ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
            report.problems.append(item.problem("vllm argv extraction", f"cannot find the vLLM command: {exc}"))


def _exec_line(script: str) -> list[str]:
    """The argv of the script's final ``exec`` (a quoted argument may span lines)."""
    start = script.find("\nexec ")
    if start < 0:
        raise ValueError("no exec line")
    return shlex.split(script[start + 1:])[1:]


def _after_vllm_serve(argv: list[str]) -> list[str]:
    for i in range(len(argv) - 1):
        if argv[i].endswith("vllm") and argv[i + 1] == "serve":
            return argv[i + 2:]
    raise ValueError(f"no 'vllm serve' in {argv[:3]}")


def _k8s_vllm_commands(doc: dict | None) -> Iterator[list[str]]:
    if not doc or doc.get("kind") not in ("Deployment", "LeaderWorkerSet"):
        return
    spec = doc["spec"]
    pods = [spec["template"]["spec"]] if doc["kind"] == "Deployment" else [
        spec["leaderWorkerTemplate"]["leaderTemplate"]["spec"]]
    for pod in pods:
        for c in pod["containers"]:
            command = [str(a).replace("$$(", "$(") for a in c.get("command", []) + c.get("args", [])]
            if command[:2] == ["vllm", "serve"]:
                yield command[2:]
            elif command[:2] == ["/bin/sh", "-c"]:
                script = command[2]
                yield _after_vllm_serve(shlex.split(script[script.index("exec "):])[1:])
