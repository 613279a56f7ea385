"""Load generation against a running OpenAI-compatible endpoint (what `deploykit bench URL` measures).

The core is :mod:`deploykit.benchmark.loadgen`: pure asyncio + httpx, no printing; the CLI shows its progress."""

from deploykit.benchmark.loadgen import (
    BenchConfig,
    BenchResult,
    LevelResult,
    LevelSummary,
    Progress,
    Sample,
    csv_text,
    load_prompts,
    parse_concurrency,
    percentile,
    run,
    run_async,
    synthetic_prompt,
)

__all__ = ["BenchConfig", "BenchResult", "LevelResult", "LevelSummary", "Progress", "Sample", "csv_text",
           "load_prompts", "parse_concurrency", "percentile", "run", "run_async", "synthetic_prompt"]
