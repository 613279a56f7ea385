"""The Python client snippet `deploykit up` prints: it runs as pasted (a test runs it against an OpenAI stand-in)."""

from __future__ import annotations

SNIPPET_MAX_TOKENS = 128


def openai_snippet(base_url: str, served_name: str, api_key_env: str | None) -> str:
    """A streaming chat completion with the official `openai` package; the API key, when the endpoint needs one,
    is read from the environment variable that holds it (never written out)."""
    imports = "import os\n\n" if api_key_env else ""
    key = f"os.environ[{api_key_env!r}]" if api_key_env else '"none"'
    return f"""{imports}from openai import OpenAI

client = OpenAI(base_url={base_url!r}, api_key={key})
stream = client.chat.completions.create(
    model={served_name!r},
    messages=[{{"role": "user", "content": "Hello"}}],
    max_tokens={SNIPPET_MAX_TOKENS},
    stream=True,
)
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        print(chunk.choices[0].delta.content, end="", flush=True)
print()
"""
