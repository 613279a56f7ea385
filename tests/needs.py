"""What a test needs from outside the package, found exactly the way deploykit finds it (deploykit.tools), never by
what happens to be on PATH. Under CI=true a missing need fails the test (scripts/test.sh installs everything);
elsewhere it skips loudly with the way to provide it."""

from __future__ import annotations

import os

import pytest

from deploykit import tools

CI = os.environ.get("CI") == "true"


def unavailable(why: str) -> None:
    if CI:
        pytest.fail(f"{why} (scripts/test.sh provides it)")
    pytest.skip(why)


def need_tool(key: str) -> str:
    """The path of deploykit tool KEY (see deploykit.tools.TOOLS) that runs here."""
    path = tools.find(key)
    if not path or not os.access(path, os.X_OK):
        unavailable(tools.missing_message(key))
    return path


def need_env(var: str, how: str) -> str:
    """The value of VAR, which scripts/test.sh sets after HOW."""
    value = os.environ.get(var)
    if not value:
        unavailable(f"{var} is not set: {how}")
    return value
