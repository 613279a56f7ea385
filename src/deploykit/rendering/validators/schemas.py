"""JSON-schema validators, in process: the compose-spec schema that check-jsonschema ships, the Kubernetes schemas
that kubernetes-validate ships (strict: unknown fields are errors), and the LeaderWorkerSet CRD schema in
data/schemas (made strict by scripts/lws_schema.py). Schemas load once; identical documents validate once."""

from __future__ import annotations

import json
import re
import time
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

import yaml

from deploykit.paths import data_dir
from deploykit.rendering.validators import yamldocs

if TYPE_CHECKING:
    from deploykit.rendering.check import Item, Problem, ValidatorRun

# The oldest Kubernetes minor still supported upstream when this was written (1.35-1.37): manifests must apply there.
K8S_VERSION = "1.35"
INSTALL_FIX = "install the validators: pip install 'deploykit[check]'"


def _missing(name: str, exc: Exception) -> ValidatorRun:
    from deploykit.rendering.check import ValidatorRun
    return ValidatorRun(name, "missing", detail=f"{exc}; {INSTALL_FIX}")


@lru_cache(maxsize=1)
def compose_validator():
    import jsonschema
    text = (resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json").read_text()
    return jsonschema.Draft202012Validator(json.loads(text))


def compose(items: list[Item], problems: list[Problem]) -> list[ValidatorRun]:
    from deploykit.rendering.check import ValidatorRun
    name = "compose-spec (check-jsonschema's vendor.compose-spec)"
    if not items:
        return []
    started = time.perf_counter()
    try:
        validator = compose_validator()
    except (ImportError, FileNotFoundError, ModuleNotFoundError) as exc:
        return [_missing(name, exc)]
    seen: dict[str, list[str]] = {}
    for item in items:
        text = item.file.content
        if text not in seen:
            seen[text] = _errors(validator, _load_one(text))
        problems += [item.problem(name, m) for m in seen[text]]
    return [ValidatorRun(name, "ran", len(items), time.perf_counter() - started)]


def _load_one(text: str) -> object:
    try:
        return yamldocs.one(text)
    except yaml.YAMLError as exc:
        return {"__yaml_error__": str(exc)}


def _errors(validator, doc: object) -> list[str]:
    if isinstance(doc, dict) and "__yaml_error__" in doc:
        return [f"not YAML: {doc['__yaml_error__']}"]
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    real = [e for e in errors if e.validator != "unevaluatedProperties"]
    # unevaluatedProperties lists every valid sibling key once another error exists at that path: keep it only
    # when it is the sole complaint (then it names the misspelled key).
    shown = real or errors
    return [f"{'.'.join(map(str, e.absolute_path)) or '$'}: {e.message}" for e in shown]


@lru_cache(maxsize=None)
def _k8s_registry(schema_dir: str):
    from referencing import Registry, Resource
    base = resources.files("kubernetes_validate") / "kubernetes-json-schema" / schema_dir
    return Resource.from_contents(json.loads((base / "_definitions.json").read_text())) @ Registry()


@lru_cache(maxsize=None)
def k8s_validator(kind: str, api_version: str, version: str):
    """kubernetes-validate's strict schema for kind/apiVersion at a Kubernetes version, or None (no such kind)."""
    import jsonschema
    from referencing import Resource
    schema_dir = f"v{version}.0-local-strict"
    base = resources.files("kubernetes_validate") / "kubernetes-json-schema"
    if not (base / schema_dir).is_dir():
        raise FileNotFoundError(f"kubernetes-validate has no schemas for Kubernetes {version}")
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = base / schema_dir / f"{kind.lower()}-{group_version}.json"
    if not path.is_file():
        return None
    schema = json.loads(path.read_text())
    return jsonschema.Draft202012Validator(schema, registry=Resource.from_contents(schema) @ _k8s_registry(schema_dir))


@lru_cache(maxsize=1)
def lws_validator():
    import jsonschema
    return jsonschema.Draft7Validator(json.loads((data_dir("data") / "schemas" /
                                                  "leaderworkerset-v1.schema.json").read_text()))


def kubernetes(items: list[Item], problems: list[Problem], version: str) -> list[ValidatorRun]:
    from deploykit.rendering.check import ValidatorRun
    core = f"kubernetes-validate (Kubernetes {version}, strict)"
    lws = "LeaderWorkerSet CRD schema (lws v0.10.0, strict)"
    if not items:
        return []
    started = time.perf_counter()
    counts = {core: 0, lws: 0}
    for item in items:
        try:
            docs = yamldocs.docs(item.file.content)
        except yaml.YAMLError as exc:
            problems.append(item.problem(core, f"not YAML: {exc}"))
            continue
        for doc in docs:
            kind, api = doc.get("kind"), doc.get("apiVersion")
            if kind == "LeaderWorkerSet":
                counts[lws] += 1
                problems += [item.problem(lws, f"{kind}: {m}") for m in _errors(lws_validator(), doc)]
                continue
            try:
                validator = k8s_validator(str(kind), str(api), version)
            except (ImportError, ModuleNotFoundError, FileNotFoundError) as exc:
                return [_missing(core, exc)]
            counts[core] += 1
            if validator is None:
                problems.append(item.problem(core, f"no schema for kind {kind} ({api}) in Kubernetes {version}"))
                continue
            problems += [item.problem(core, f"{kind}: {m}") for m in _errors(validator, doc)]
    seconds = time.perf_counter() - started
    return [ValidatorRun(core, "ran", counts[core], seconds, "documents"),
            *([ValidatorRun(lws, "ran", counts[lws], 0.0, "documents")] if counts[lws] else [])]
