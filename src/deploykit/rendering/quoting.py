"""Escaping for every syntax a rendered value can land in. Templates never paste a value: they pipe it through one
of these filters, so a model name such as ``x"; rm -rf / #`` stays one inert string in every target."""

from __future__ import annotations

import json
import re
import shlex

_SYSTEMD_SPECIAL = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t"})


def shell(value: object) -> str:
    """POSIX shell word (single-quoted unless it is plainly safe)."""
    return shlex.quote(str(value))


def shell_argv(argv: list[str]) -> str:
    return " ".join(shell(a) for a in argv)


def yaml_str(value: object) -> str:
    """A YAML scalar that is always a string: JSON's double-quoted string is valid YAML 1.2 and 1.1."""
    return json.dumps(str(value))


def yaml_value(value: object) -> str:
    """Numbers and booleans stay typed; everything else becomes a quoted string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return yaml_str(value)


def compose_str(value: object) -> str:
    """Compose interpolates ``$``: a literal dollar must be ``$$`` before YAML quoting."""
    return yaml_str(str(value).replace("$", "$$"))


def systemd_word(value: object) -> str:
    """One argument in ExecStart=: double-quoted with C escapes; ``%`` is a specifier and ``$`` an environment
    expansion in systemd, so both are doubled."""
    text = str(value).translate(_SYSTEMD_SPECIAL).replace("%", "%%").replace("$", "$$")
    return f'"{text}"'


def systemd_argv(argv: list[str]) -> str:
    return " ".join(systemd_word(a) for a in argv)


def systemd_env(name: str, value: object) -> str:
    """An Environment= assignment: the whole NAME=value is one double-quoted word. Environment= expands ``%``
    specifiers but not ``$``, so only ``%`` is doubled."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"invalid environment variable name {name!r}")
    text = f"{name}={value}".translate(_SYSTEMD_SPECIAL).replace("%", "%%")
    return f'"{text}"'


def modelfile_str(value: object) -> str:
    """A Modelfile argument: triple-quoted when it holds quotes, newlines or spaces (Ollama's parser reads
    ``\"\"\"...\"\"\"`` verbatim), otherwise bare. A value that contains a triple quote cannot be represented."""
    text = str(value)
    if '"""' in text:
        raise ValueError(f"a Modelfile value cannot contain a triple quote: {text!r}")
    if re.fullmatch(r"[A-Za-z0-9_./:@+-]+", text):
        return text
    return f'"""{text}"""'


def dns_label(value: object, max_len: int = 63) -> str:
    """A Kubernetes / compose resource name: lowercase alphanumerics and '-', starting with a letter."""
    text = re.sub(r"[^a-z0-9-]+", "-", str(value).lower()).strip("-")
    text = re.sub(r"-{2,}", "-", text)
    if not text or not text[0].isalpha():
        text = f"m-{text}".rstrip("-")
    return text[:max_len].rstrip("-")


def comment(value: object) -> str:
    """Text for a ``#`` comment line: control characters (newlines above all) become spaces."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", str(value))


def systemd_text(value: object) -> str:
    """Free text in a unit setting (Description=): one line, ``%`` doubled (specifier)."""
    return comment(value).replace("%", "%%")


def k8s_str(value: object) -> str:
    """A container command/args item: Kubernetes expands ``$(VAR)`` there, and ``$$(`` is its escape."""
    return yaml_str(str(value).replace("$(", "$$("))


FILTERS = {
    "k8s_str": k8s_str,
    "systemd_text": systemd_text,
    "comment": comment,
    "shell": shell, "shell_argv": shell_argv, "yaml_str": yaml_str, "yaml_value": yaml_value,
    "compose_str": compose_str, "systemd_word": systemd_word, "systemd_argv": systemd_argv,
    "modelfile_str": modelfile_str, "systemd_env": systemd_env, "dns_label": dns_label,
}
