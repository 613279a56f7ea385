"""A Modelfile checker that follows Ollama's parser (ollama/ollama parser/parser.go and docs/modelfile.mdx at
v0.33.0-rc2): case-insensitive instructions, ``#`` comments at line start, "..." and \"\"\"...\"\"\" values without
escapes, FROM required, PARAMETER names from api.Options/api.Runner with their types."""

from __future__ import annotations

import re

INSTRUCTIONS = {"from", "license", "template", "system", "adapter", "draft", "renderer", "parser", "parameter",
                "message", "requires"}
INT_PARAMS = {"num_keep", "seed", "num_predict", "top_k", "repeat_last_n", "num_ctx", "num_batch", "num_gpu",
              "num_thread", "draft_num_predict", "main_gpu"}
FLOAT_PARAMS = {"top_p", "min_p", "typical_p", "temperature", "repeat_penalty", "presence_penalty",
                "frequency_penalty"}
BOOL_PARAMS = {"use_mmap"}
LIST_PARAMS = {"stop"}
MESSAGE_ROLES = {"system", "user", "assistant"}


def parse(text: str) -> list[tuple[str, str]]:
    """(instruction, argument) pairs; raises ValueError with a line number on a syntax error."""
    commands: list[tuple[str, str]] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        i += 1
        if not stripped or stripped.startswith("#"):
            continue
        m = re.match(r"(\S+)\s+(.*)$", stripped, re.S)
        if not m:
            raise ValueError(f"line {i}: instruction '{stripped}' has no argument")
        word, rest = m.group(1).lower(), m.group(2)
        if word not in INSTRUCTIONS:
            raise ValueError(f"line {i}: unknown instruction '{m.group(1)}'")
        for quote in ('"""', '"'):
            if rest.startswith(quote):
                body = rest[len(quote):]
                while quote not in body:  # an open quote keeps reading lines, as Ollama's parser does
                    if i >= len(lines):
                        raise ValueError(f"line {i}: unterminated {quote} string")
                    body += "\n" + lines[i]
                    i += 1
                end = body.index(quote)
                if body[end + len(quote):].strip():
                    raise ValueError(f"line {i}: text after the closing {quote}")
                rest = body[:end]
                break
        commands.append((word, rest))
    return commands


def check(text: str) -> list[str]:
    try:
        commands = parse(text)
    except ValueError as exc:
        return [str(exc)]
    problems = []
    if not any(c == "from" for c, _ in commands):
        problems.append("no FROM line")
    for word, arg in commands:
        if word == "parameter":
            problems += _parameter(arg)
        elif word == "message":
            role = arg.split(None, 1)[0].lower() if arg.strip() else ""
            if role not in MESSAGE_ROLES:
                problems.append(f"MESSAGE role '{role}' is not one of {sorted(MESSAGE_ROLES)}")
        elif word == "requires" and not re.fullmatch(r"v?\d+\.\d+\.\d+", arg.strip()):
            problems.append(f"REQUIRES '{arg}' is not a version such as 0.14.0")
        elif not arg.strip():
            problems.append(f"{word.upper()} has an empty argument")
    return problems


def _parameter(arg: str) -> list[str]:
    parts = arg.split(None, 1)
    if len(parts) != 2:
        return [f"PARAMETER '{arg}' needs a name and a value"]
    name, value = parts[0], parts[1].strip()
    if name in INT_PARAMS:
        ok = re.fullmatch(r"-?\d+", value) is not None
    elif name in FLOAT_PARAMS:
        ok = re.fullmatch(r"-?(\d+\.?\d*|\.\d+)([eE]-?\d+)?", value) is not None
    elif name in BOOL_PARAMS:
        ok = value.lower() in ("true", "false", "1", "0")
    elif name in LIST_PARAMS:
        ok = bool(value)
    else:
        return [f"unknown parameter '{name}'"]
    return [] if ok else [f"PARAMETER {name}: '{value}' is not a valid value"]
