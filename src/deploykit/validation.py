"""Values that cross a border (flags, lock files, registries) and later reach an argv, a shell, YAML or a URL are
checked here first: no control characters, nothing that an engine could read as a flag (a leading '-'), and the
shape each kind of value must have. Each check returns the value or raises UsageError naming the fix."""

from __future__ import annotations

import ipaddress
import math
import re
from urllib.parse import urlsplit, urlunsplit

from deploykit.errors import UsageError

CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# Hugging Face repo ids: owner/name (letters, digits, '-', '_', '.'); deploykit's own local/<slug> for directories
REPO_ID = re.compile(r"[A-Za-z0-9][\w.\-]{0,95}/[\w.\-]{1,96}")
OLLAMA_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:+\-]{0,199}")
GGUF_FILE = re.compile(r"[A-Za-z0-9_][\w.+\-]*(?:/[\w.+\-]+)*\.gguf", re.IGNORECASE)
REVISION = re.compile(r"[A-Za-z0-9][\w.\-/]{0,99}")
SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,99}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def text(what: str, value: str, *, max_len: int = 256) -> str:
    """Free text that may reach an argv as a value: one line, bounded, and never taken for a flag."""
    if not isinstance(value, str):
        raise UsageError(f"{what} must be text, not {type(value).__name__}", fix=f"give {what} as a string")
    if CONTROL.search(value):
        raise UsageError(f"{what} {value!r} holds a control character (newline, tab, escape...)",
                         fix=f"give {what} on one line, without control characters")
    if value.startswith("-"):
        raise UsageError(f"{what} {value!r} starts with '-', which a program would read as a flag",
                         fix=f"give the real {what}")
    if not value or len(value) > max_len:
        raise UsageError(f"{what} must be 1 to {max_len} characters", fix=f"give a shorter {what}")
    return value


def _shaped(what: str, value: str, pattern: re.Pattern[str], example: str) -> str:
    text(what, value)
    if not pattern.fullmatch(value) or ".." in value.split("/"):
        raise UsageError(f"{what} {value!r} is not a valid {what}", fix=f"e.g. {example}")
    return value


def host(value: str) -> str:
    """A bind or server address: an IPv4/IPv6 address or a DNS host name."""
    text("--host", value)
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    name = value[:-1] if value.endswith(".") else value
    if len(name) <= 253 and name and all(_HOST_LABEL.fullmatch(label) for label in name.split(".")):
        return value
    raise UsageError(f"--host {value!r} is not an IP address or a host name",
                     fix="e.g. --host 127.0.0.1 (this machine only), --host 0.0.0.0 (every interface) or a host name")


def repo_id(value: str, what: str = "repository id") -> str:
    return _shaped(what, value, REPO_ID, "meta-llama/Llama-3.1-8B-Instruct")


def artifact(value: str) -> str:
    """A checkpoint: a hub repo id, an Ollama tag, or an absolute path to a local model (directory or file)."""
    if isinstance(value, str) and value.startswith("/"):
        return text("weights artifact", value, max_len=4096)
    return _shaped("weights artifact", value, OLLAMA_TAG, "meta-llama/Llama-3.1-8B-Instruct")


def ollama_tag(value: str) -> str:
    return _shaped("Ollama tag", value, OLLAMA_TAG, "qwen2.5:7b-instruct-q4_K_M")


def gguf_file(value: str) -> str:
    return _shaped("GGUF file name", value, GGUF_FILE, "Llama-3.1-8B-Instruct-Q4_K_M.gguf")


def revision(value: str) -> str:
    return _shaped("revision", value, REVISION, "main, a tag or a commit hash")


def slug(what: str, value: str) -> str:
    return _shaped(what, value, SLUG, "llama-3.1-8b")


def env_name(what: str, value: str) -> str:
    if not isinstance(value, str) or not ENV_NAME.fullmatch(value):
        raise UsageError(f"{what} {value!r} is not an environment variable name", fix="e.g. VLLM_API_KEY")
    return value


def http_url(what: str, value: str) -> str:
    """An http(s) URL with a host, on one line (messages show it with any credentials redacted)."""
    shown = redact_url(value) if isinstance(value, str) else repr(value)
    if not isinstance(value, str) or CONTROL.search(value) or any(c.isspace() for c in value) or len(value) > 2048:
        raise UsageError(f"{what} {shown!r} is not a one-line URL", fix="e.g. http://127.0.0.1:8000/v1")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        raise UsageError(f"{what} {shown!r} is not a valid URL (host or port)",
                         fix="e.g. http://127.0.0.1:8000/v1") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{what} {shown!r} is not an http(s) URL", fix="e.g. http://127.0.0.1:8000/v1")
    return value


def has_credentials(url: str) -> bool:
    parts = urlsplit(url)
    return bool(parts.username or parts.password)


def redact_url(url: str) -> str:
    """The URL with any user:password@ replaced by ***@ (for output, JSON and error messages)."""
    try:
        parts = urlsplit(url)
        if not (parts.username or parts.password):
            return url
    except ValueError:
        return url.rpartition("@")[2] if "@" in url else url
    netloc = "***@" + parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def redact(text_: str, url: str) -> str:
    """``text_`` with the credentials of ``url`` (its user:password@ part, and the bare password) removed."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return text_
    if parts.password:
        text_ = text_.replace(parts.password, "***")
    if parts.username:
        text_ = text_.replace(f"{parts.username}:***@", "***@").replace(f"{parts.username}@", "***@")
    return text_


def seconds(what: str, value: float | None, *, at_least: float = 0.0, maximum: float = 7 * 24 * 3600.0
            ) -> float | None:
    """A duration: a finite number of seconds above 0 and at least ``at_least`` (nan, inf, zero and negatives are
    refused)."""
    if value is None:
        return None
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0 or value < at_least \
            or value > maximum:
        floor = f"of at least {at_least:g}" if at_least > 0 else "above 0"
        raise UsageError(f"{what} {value} is not a usable number of seconds",
                         fix=f"give a finite number of seconds {floor} (at most {maximum:g})")
    return float(value)
