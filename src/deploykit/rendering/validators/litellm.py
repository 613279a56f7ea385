"""A LiteLLM proxy config checker following docs.litellm.ai (proxy/configs, routing, reliability): known top-level
sections, every model_list entry with model_name and litellm_params.model (provider/model), secrets only as
``os.environ/NAME`` references, fallbacks naming configured models."""

from __future__ import annotations

import re

import yaml

from deploykit.rendering.validators import yamldocs

SECTIONS = {"model_list", "litellm_settings", "router_settings", "general_settings", "environment_variables"}
SECRET_KEYS = {"api_key", "master_key", "aws_secret_access_key", "vertex_credentials"}
ENV_REF = re.compile(r"os\.environ/[A-Za-z_][A-Za-z0-9_]*")


def check(text: str) -> list[str]:
    try:
        data = yamldocs.one(text)
    except yaml.YAMLError as exc:
        return [f"not YAML: {exc}"]
    if not isinstance(data, dict):
        return ["the config must be a mapping"]
    problems = [f"unknown section '{k}'" for k in data if k not in SECTIONS]
    entries = data.get("model_list")
    if not isinstance(entries, list) or not entries:
        return problems + ["model_list must be a non-empty list"]
    names = set()
    for i, entry in enumerate(entries):
        where = f"model_list[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("model_name"), str):
            problems.append(f"{where}: needs a model_name string")
            continue
        names.add(entry["model_name"])
        params = entry.get("litellm_params")
        if not isinstance(params, dict) or not isinstance(params.get("model"), str) or "/" not in params["model"]:
            problems.append(f"{where}: litellm_params.model must be 'provider/model'")
            continue
        base = params.get("api_base")
        if base is not None and not re.match(r"https?://[^\s/]+", str(base)):
            problems.append(f"{where}: api_base '{base}' is not an http(s) URL")
    problems += _secrets(data, "")
    for section in ("router_settings", "litellm_settings"):
        for rule in (data.get(section) or {}).get("fallbacks") or []:
            if not isinstance(rule, dict) or len(rule) != 1:
                problems.append(f"{section}.fallbacks: each rule is one {{model_name: [fallbacks]}} mapping")
                continue
            (primary, fallbacks), = rule.items()
            for name in [primary, *(fallbacks or [])]:
                if name not in names:
                    problems.append(f"{section}.fallbacks: '{name}' is not a model_name in model_list")
    return problems


def _secrets(node: object, path: str) -> list[str]:
    """A literal secret in a config file is a leak; only os.environ/ references (or "none") are allowed."""
    out = []
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            if key in SECRET_KEYS and isinstance(value, str) and value != "none" and not ENV_REF.fullmatch(value):
                out.append(f"{here}: a literal secret; use os.environ/NAME")
            else:
                out += _secrets(value, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _secrets(value, f"{path}[{i}]")
    return out
