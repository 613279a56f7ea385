"""The Python snippet `deploykit up` prints runs as pasted: it is run, with the official `openai` package, against
the OpenAI stand-in, with and without an API key."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from openai_standin import Behaviour, OpenAIStandIn

from deploykit.cli.snippet import SNIPPET_MAX_TOKENS, openai_snippet

pytest.importorskip("openai")


def _run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={k: v for k, v in {**os.environ, **env}.items() if not k.startswith("OPENAI_")})


def test_snippet_without_a_key_runs_as_pasted():
    with OpenAIStandIn(Behaviour(tokens=5)) as server:
        code = openai_snippet(server.url, "standin/tiny-model", None)
        r = _run(code, {})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "tok0 tok1 tok2 tok3 tok4"
    body = server.bodies[-1]
    assert body["max_tokens"] == SNIPPET_MAX_TOKENS and body["model"] == "standin/tiny-model"
    assert body["messages"] == [{"role": "user", "content": "Hello"}]


def test_snippet_reads_the_key_from_the_environment():
    with OpenAIStandIn(Behaviour(tokens=3, api_key="s3cret-key")) as server:
        code = openai_snippet(server.url, "standin/tiny-model", "VLLM_API_KEY")
        assert "s3cret-key" not in code and "import os" in code
        ok = _run(code, {"VLLM_API_KEY": "s3cret-key"})
        wrong = _run(code, {"VLLM_API_KEY": "nope"})
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "tok0 tok1 tok2"
    assert wrong.returncode != 0 and "401" in wrong.stderr
