"""deploykit.tools: one lookup for external programs, shared by the product and the tests."""

from __future__ import annotations

import re
import stat
from pathlib import Path

from deploykit import tools

TESTS = Path(__file__).resolve().parents[1]


def executable(path: Path, text: str = "#!/bin/sh\nexit 0\n") -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_the_variable_wins_over_path(tmp_path, monkeypatch) -> None:
    on_path = executable(tmp_path / "promtool")
    mine = executable(tmp_path / "my-promtool")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("DEPLOYKIT_PROMTOOL", raising=False)
    assert tools.find("promtool") == str(on_path)
    monkeypatch.setenv("DEPLOYKIT_PROMTOOL", str(mine))
    assert tools.find("promtool") == str(mine)


def test_a_tool_installed_only_in_the_cache_is_found_through_its_variable(tmp_path, monkeypatch) -> None:
    """The case that broke CI on a fresh machine: promtool extracted into the tools cache, not on PATH."""
    (tmp_path / "cache").mkdir()
    cached = executable(tmp_path / "cache" / "promtool")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("DEPLOYKIT_PROMTOOL", raising=False)
    assert tools.find("promtool") is None
    assert "DEPLOYKIT_PROMTOOL" in tools.missing_message("promtool")
    monkeypatch.setenv("DEPLOYKIT_PROMTOOL", str(cached))
    assert tools.find("promtool") == str(cached)


def test_a_vllm_script_is_turned_into_its_interpreter(tmp_path, monkeypatch) -> None:
    python = executable(tmp_path / "python3")
    executable(tmp_path / "vllm", f"#!{python}\nimport vllm\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("DEPLOYKIT_VLLM_PYTHON", raising=False)
    assert tools.find("vllm-python") == str(python)
    monkeypatch.setenv("DEPLOYKIT_VLLM_PYTHON", "/opt/venv/bin/python")
    assert tools.find("vllm-python") == "/opt/venv/bin/python"


def test_a_variable_naming_nothing_is_reported_not_replaced(tmp_path, monkeypatch) -> None:
    executable(tmp_path / "promtool")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("DEPLOYKIT_PROMTOOL", "/nonexistent/promtool")
    assert tools.find("promtool") == "/nonexistent/promtool"
    assert "DEPLOYKIT_PROMTOOL=/nonexistent/promtool" in tools.missing_message("promtool")


def test_llamacpp_python_comes_only_from_its_variable(tmp_path, monkeypatch) -> None:
    executable(tmp_path / "python")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("DEPLOYKIT_LLAMACPP_PYTHON", raising=False)
    assert tools.find("llamacpp-python") is None


def test_no_test_looks_for_a_program_on_path_by_itself() -> None:
    """Tests find tools through tests/needs.py (deploykit.tools), so a tool the test command installed into its
    cache is found in CI exactly as the product finds it."""
    offenders = [f"{p.relative_to(TESTS)}:{i}" for p in TESTS.rglob("*.py") if p.name != "test_tools.py"
                 for i, line in enumerate(p.read_text().splitlines(), 1) if re.search(r"shutil\.which\(", line)]
    assert offenders == []
