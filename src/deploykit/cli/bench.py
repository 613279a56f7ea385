"""`deploykit bench URL`: load an OpenAI-compatible endpoint at one or more concurrency levels and report TTFT, ITL,
end-to-end latency and throughput; optionally the per-request samples as CSV and a comparison with a locked plan."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from deploykit.cli.output import Format, emit_json, hint, stderr, stdout, table, warn
from deploykit.errors import NotReadyError, OutputExistsError

CPU_BOUND_SHARE = 0.9


class Endpoint(str, Enum):
    auto = "auto"
    chat = "chat"
    completions = "completions"
    embeddings = "embeddings"


def bench(
    url: str = typer.Argument(..., help="The endpoint's OpenAI API base, e.g. http://127.0.0.1:8000/v1."),
    requests: int = typer.Option(None, "--requests", "-n", min=1,
                                 help="Requests per concurrency level (default without --seconds: 8 per worker, "
                                      "at least 32)."),
    seconds: float = typer.Option(None, "--seconds", "-s", min=0.001,
                                  help="Duration of each level; no request starts after it (with --requests: "
                                       "whichever comes first)."),
    concurrency: str = typer.Option("1", "--concurrency", "-c",
                                    help="Concurrency levels, a comma list (e.g. 1,4,16): N workers, each sending "
                                         "its next request when the last one ends."),
    prompt_tokens: int = typer.Option(256, "--prompt-tokens", min=1,
                                      help="Length of the synthetic prompt, in tokens (about 4 characters each)."),
    prompts_file: Path = typer.Option(None, "--prompts-file", exists=True, dir_okay=False,
                                      help='Prompts instead: JSONL lines {"prompt": "..."} or plain text lines, '
                                           "used in turn."),
    max_tokens: int = typer.Option(128, "--max-tokens", min=1,
                                   help="max_tokens of each request (the model may stop earlier; the real count "
                                        "is reported)."),
    endpoint: Endpoint = typer.Option(Endpoint.auto, "--endpoint",
                                      help="chat (/v1/chat/completions), completions (/v1/completions), embeddings "
                                           "(/v1/embeddings, for embedding models) or auto: embeddings when the "
                                           "--plan is an embedding model's, else chat unless a 1-token chat probe is "
                                           "refused while /v1/embeddings answers."),
    model: str = typer.Option(None, "--model", "-m", help="Model name to request (default: the first id of "
                                                          "/v1/models)."),
    api_key: str = typer.Option(None, "--api-key", envvar="DEPLOYKIT_API_KEY", show_default=False,
                                help="Sent as Authorization: Bearer KEY."),
    timeout: float = typer.Option(300.0, "--timeout", min=0.001, help="Seconds one request may take in all."),
    csv_file: Path = typer.Option(None, "--csv", dir_okay=False,
                                  help="Write one row per request (level, index, start_s, ttft_ms, e2e_ms, "
                                       "itl_ms_mean, prompt_tokens, completion_tokens, ok, error)."),
    force: bool = typer.Option(False, "--force", help="Overwrite the --csv file."),
    plan_file: Path = typer.Option(None, "--plan",
                                   help="A plan lock (deploykit plan -o): compare the measured decode speed at "
                                        "concurrency 1 with the plan's estimate."),
    format: Format = typer.Option(Format.table, "--format", "-f", help="table for people, json for scripts."),
) -> None:
    """Benchmark a running OpenAI-compatible endpoint: time to first token, inter-token latency, end-to-end latency
    (p50/p95/p99), output tokens/s and requests/s at each concurrency level. Progress on stderr; exits 10 when
    nothing answers or no request succeeds."""
    from deploykit import atomic
    from deploykit.benchmark import loadgen

    from deploykit import validation

    timeout = validation.seconds("--timeout", timeout)
    seconds = validation.seconds("--seconds", seconds)
    levels = loadgen.parse_concurrency(concurrency)
    if csv_file is not None and csv_file.exists() and not force:
        raise OutputExistsError(f"{csv_file} exists", fix="pass --force to overwrite it, or choose another --csv path")
    plan = None
    if plan_file is not None:
        from deploykit.planning.lockfile import read_lock
        _, plan = read_lock(plan_file)
        if endpoint is Endpoint.auto:
            endpoint = Endpoint.embeddings if plan.task == "embed" else Endpoint.chat
        if plan.task == "embed":
            if endpoint is not Endpoint.embeddings:
                warn(f"{plan_file} plans an embedding model: --endpoint embeddings measures what it serves")
        elif plan.estimates is None:
            warn(f"{plan_file} has no decode estimate to compare with (the plan does not fit)")
        elif 1 not in levels:
            warn("--plan compares the decode speed at concurrency 1: add 1 to --concurrency")
    prompts = loadgen.load_prompts(prompts_file) if prompts_file is not None else None
    if requests is None and seconds is None:
        requests = max(32, 8 * max(levels))
    cfg = loadgen.BenchConfig(
        base_url=url, concurrency=levels, requests=requests, seconds=seconds, endpoint=endpoint.value, model=model,
        prompt_tokens=prompt_tokens, prompts=prompts, max_tokens=max_tokens, api_key=api_key or None,
        timeout_s=timeout)
    cfg.validate()

    result = _run_with_progress(cfg, loadgen)
    if endpoint is Endpoint.auto and result.endpoint == "embeddings":
        hint(f"{result.model} refuses completions and answers /v1/embeddings: measured as an embedding model")
    for lv in result.levels:
        if lv.summary.generator_cpu_share >= CPU_BOUND_SHARE:
            warn(f"concurrency {lv.summary.concurrency}: the load generator itself used "
                 f"{100 * lv.summary.generator_cpu_share:.0f} % of a CPU core: its own queueing is in these latencies "
                 f"and the endpoint may serve more than measured (fewer --concurrency, or run on a faster machine)")

    if csv_file is not None:
        atomic.write_text(csv_file, loadgen.csv_text(result))
    comparison = _compare(result, plan) if plan is not None and plan.task != "embed" else None
    if format is Format.json:
        emit_json({**result.as_dict(), "plan": comparison, "csv": str(csv_file) if csv_file else None})
    else:
        _print_table(result, comparison)
        if csv_file is not None:
            hint(f"per-request samples written to {csv_file}")
    ok = sum(lv.summary.requests_ok for lv in result.levels)
    if ok == 0:
        errors: dict[str, int] = {}
        for lv in result.levels:
            for kind, count in lv.summary.errors.items():
                errors[kind] = errors.get(kind, 0) + count
        raise NotReadyError(f"no request to {result.base_url} succeeded ({_errors_text(errors)})",
                            fix=_fix_for(errors, result.endpoint))


def _run_with_progress(cfg, loadgen):
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[status]}"),
                   TimeElapsedColumn(), console=stderr, transient=True)
    tasks: dict[int, object] = {}

    def on_progress(p) -> None:
        total = p.requests if p.requests is not None else p.seconds
        if p.level not in tasks:
            tasks[p.level] = bar.add_task(f"concurrency {p.concurrency} ({p.level + 1}/{p.levels})", total=total,
                                          status="")
        if p.requests is not None and p.seconds is not None:
            completed = max(p.done, p.elapsed_s / p.seconds * p.requests)
        else:
            completed = p.done if p.requests is not None else min(p.elapsed_s, p.seconds)
        if p.finished:
            completed = total
        bar.update(tasks[p.level], completed=completed,
                   status=f"{p.done} done, {p.errors} failed, {p.elapsed_s:5.1f} s")
        if p.finished:
            hint(f"concurrency {p.concurrency}: {p.done - p.errors} ok, {p.errors} failed in {p.elapsed_s:.1f} s")

    with bar:
        return loadgen.run(cfg, on_progress)


def _compare(result, plan) -> dict | None:
    if plan.estimates is None:
        return None
    planned = plan.estimates.decode_tokens_per_s
    level = result.level(1)
    measured = level.decode_tokens_per_s_mean if level is not None else None
    served = result.model.lower()
    names = [str(plan.model.get(k) or "").lower() for k in ("name", "hf_repo")]
    if not any(n and (n in served or served in n) for n in names):
        hint(f"the plan is for {plan.model.get('name')}; the endpoint serves {result.model}")
    return {"model": plan.model.get("name"), "planned_decode_tokens_per_s": planned,
            "measured_decode_tokens_per_s": measured,
            "ratio": round(measured / planned, 3) if measured is not None and planned else None}


def _ms(stats: dict | None) -> str:
    if not stats:
        return "-"
    return f"{stats['p50']:.1f} / {stats['p95']:.1f} / {stats['p99']:.1f}"


def _print_embeddings_table(result) -> None:
    rows = []
    for lv in result.levels:
        s = lv.summary
        rows.append([s.concurrency, s.requests_ok, s.requests_failed, f"{s.requests_per_s:.2f}",
                     f"{s.input_tokens_per_s:.1f}", s.embedding_dim or "-", _ms(s.e2e_ms)])
    prompt = (f"~{result.prompt_tokens_target} input tokens" if result.prompt_tokens_target
              else f"inputs from a {result.prompt_source}")
    stdout.print(table("deploykit bench", ["concurrency", "ok", "failed", "req/s", "input tok/s", "dimension",
                                           "latency ms"], rows,
                       caption=f"{result.model} at {result.base_url}/embeddings, {prompt} per request; latency in "
                               "ms as p50 / p95 / p99"))
    for lv in result.levels:
        s = lv.summary
        for kind, count in s.errors.items():
            warn(f"concurrency {s.concurrency}: {count} x {kind}: {s.error_examples.get(kind, '')}")


def _print_table(result, comparison: dict | None) -> None:
    if result.endpoint == "embeddings":
        _print_embeddings_table(result)
        return
    rows = []
    for lv in result.levels:
        s = lv.summary
        rows.append([s.concurrency, s.requests_ok, s.requests_failed, f"{s.requests_per_s:.2f}",
                     f"{s.output_tokens_per_s:.1f}",
                     "-" if s.decode_tokens_per_s_mean is None else f"{s.decode_tokens_per_s_mean:.1f}",
                     _ms(s.ttft_ms), _ms(s.itl_ms), _ms(s.e2e_ms)])
    prompt = (f"~{result.prompt_tokens_target} prompt tokens" if result.prompt_tokens_target
              else f"prompts from a {result.prompt_source}")
    route = "chat/completions" if result.endpoint == "chat" else "completions"
    caption = (f"{result.model} at {result.base_url}/{route}, {prompt}, max_tokens {result.max_tokens}; "
               f"latencies in ms as p50 / p95 / p99")
    stdout.print(table("deploykit bench", ["concurrency", "ok", "failed", "req/s", "output tok/s",
                                           "decode tok/s per request", "TTFT ms", "ITL ms", "E2E ms"],
                       rows, caption=caption))
    for lv in result.levels:
        s = lv.summary
        for kind, count in s.errors.items():
            warn(f"concurrency {s.concurrency}: {count} x {kind}: {s.error_examples.get(kind, '')}")
    if comparison is not None:
        if comparison["ratio"] is None:
            hint(f"plan estimate {comparison['planned_decode_tokens_per_s']:.1f} tokens/s per request; no "
                 f"successful request at concurrency 1 to compare with")
        else:
            stdout.print(f"decode at concurrency 1: measured {comparison['measured_decode_tokens_per_s']:.1f} "
                         f"tokens/s, plan estimate {comparison['planned_decode_tokens_per_s']:.1f} tokens/s "
                         f"(ratio {comparison['ratio']:.2f})", highlight=False)


def _errors_text(errors: dict[str, int]) -> str:
    return ", ".join(f"{count} x {kind}" for kind, count in errors.items()) or "no request was sent"


def _fix_for(errors: dict[str, int], endpoint: str = "chat") -> str:
    kinds = set(errors)
    if endpoint == "embeddings" and kinds & {"http 400", "http 404", "http 501"}:
        return ("the server refused /v1/embeddings: a generative model needs --endpoint chat (or completions); an "
                "embedding model, --prompt-tokens below its context length")
    if kinds & {"http 401", "http 403"}:
        return "pass --api-key KEY or set DEPLOYKIT_API_KEY"
    if "http 404" in kinds:
        return ("check --model against GET /v1/models and the URL's /v1 base; a model without a chat template "
                "needs --endpoint completions")
    if kinds & {"http 400", "http 422"}:
        return "the server refused the request: lower --max-tokens / --prompt-tokens below its context length"
    if kinds & {"connect error", "connection closed", "read error"}:
        return "the engine stopped answering: check it (deploykit ps, deploykit logs NAME)"
    if "timeout" in kinds:
        return "raise --timeout, or lower --max-tokens or --concurrency"
    return "write the samples with --csv FILE to see each request's error"

