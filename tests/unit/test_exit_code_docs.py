"""The README's exit-code list (section "Errors") names every code the error table returns, and the fuzz suite's
idea of a documented code (tests/unit/test_fuzz_inputs.py) is the same set."""

from __future__ import annotations

import re
from pathlib import Path

from test_fuzz_inputs import DOCUMENTED

from deploykit.errors import ERROR_TABLE, UNEXPECTED

README = Path(__file__).resolve().parents[2] / "README.md"


def errors_section() -> str:
    text = README.read_text()
    start = text.index("### Errors")
    end = text.find("\n## ", start)
    return text[start:end if end > 0 else None]


def test_every_exit_code_of_the_error_table_is_in_the_readme() -> None:
    section = errors_section()
    codes = {kind.exit_code for _, kind in ERROR_TABLE} - {1, 130}  # 1: any other error; 130: interrupted
    missing = sorted(c for c in codes | {UNEXPECTED.exit_code} if not re.search(rf"(?<![\d.]){c}(?![\d.])", section))
    assert not missing, f"exit codes missing from the README's Errors section: {missing}"


def test_the_fuzz_suite_accepts_exactly_the_documented_codes() -> None:
    assert DOCUMENTED == {0, 1} | {kind.exit_code for _, kind in ERROR_TABLE} - {130}
