"""`deploykit plan [MODEL]`: the best feasible settings for a model on this (or a simulated) box."""

from __future__ import annotations

from pathlib import Path

import typer

from deploykit.catalog.loader import get_profile, load_models, load_profiles
from deploykit.catalog.resolve import resolve_model
from deploykit.cli.complete import model_names, profile_names
from deploykit.cli.models import checked_filters, filter_models
from deploykit.cli.output import Col, Format, bullet, emit_json, hint, stderr, stdout, table, warn
from deploykit.cli.units import context_option
from deploykit.errors import DoesNotFitError, UsageError
from deploykit.cli.memory_size import parse_memory_size
from deploykit.planning.box import detected_box, simulated_box, with_host_memory
from deploykit.planning.planner import plan as make_plan
from deploykit.planning.policy import GGUF_LADDER, VLLM_LADDER
from deploykit.planning.ranking import rank
from deploykit.planning.types import Box, Plan, Policy, Workload

QUANTS = ["auto", *VLLM_LADDER, *GGUF_LADDER]
KV_TYPES = ["auto", "bf16", "fp16", "fp8", "q8_0", "q4_0"]
MIN_REQUEST_CONTEXT = 256  # a chat template, a short prompt and a reply; below this --context is a mistake


def plan(
    model: str = typer.Argument(None, help="Catalog name, Hugging Face repo id or local model dir; omit to rank "
                                           "every catalog model that fits.", autocompletion=model_names),
    profile: str = typer.Option(None, "--profile", "-p", help="Plan for a simulated box of this hardware profile.",
                                autocompletion=profile_names),
    gpus: int = typer.Option(1, "--gpus", min=1, max=64, help="GPUs per node of the simulated box."),
    nodes: int = typer.Option(1, "--nodes", min=1, max=64, help="Nodes of the simulated box."),
    context: int = context_option(),
    concurrency: int = typer.Option(None, "--concurrency", min=1, help="Full-length requests in flight to support."),
    input_tokens: int = typer.Option(None, "--input-tokens", min=1,
                                     help="Prompt tokens of a typical request, for the estimates (default 1024)."),
    output_tokens: int = typer.Option(None, "--output-tokens", min=1,
                                      help="Generated tokens of a typical request, for the estimates (default 256)."),
    host_memory: str = typer.Option(None, "--host-memory",
                                    help="RAM of the box (64G, 64GiB, 65536M): where layers left off the GPU live "
                                         "(default: detected, or the profile's typical figure)."),
    engine: str = typer.Option(None, "--engine", help="vllm, ollama or llamacpp (default: chosen by hardware)."),
    quant: str = typer.Option("auto", "--quant", help=f"Weight format: {', '.join(QUANTS)}."),
    kv_cache_dtype: str = typer.Option("auto", "--kv-cache-dtype", help=f"KV-cache format: {', '.join(KV_TYPES)}."),
    gpu_memory_utilization: float = typer.Option(None, "--gpu-memory-utilization", min=0.05, max=0.98,
                                                 help="vLLM's share of each GPU (default 0.90)."),
    license: str = typer.Option(None, "--license", help="Ranking: only these licence ids (apache-2.0,mit)."),
    exclude_origin: str = typer.Option(None, "--exclude-origin", help="Ranking: leave out these origins/countries."),
    use: str = typer.Option(None, "--use", help="Ranking: chat, code, reasoning, embeddings, rerank, vision."),
    no_gated: bool = typer.Option(False, "--no-gated", help="Ranking: leave out gated repositories."),
    mau: int = typer.Option(None, "--mau", min=0, help="Your monthly active users: flags (ranking: drops) models "
                                                       "whose licence caps them (Llama: 700M)."),
    from_recording: Path = typer.Option(None, "--from-recording", exists=True, dir_okay=False,
                                        help="Plan for the box in an NVML recording instead of this machine."),
    output: Path = typer.Option(None, "--output", "-o", dir_okay=False, help="Write the plan as a lock file (YAML)."),
    force: bool = typer.Option(False, "--force", help="Overwrite the -o file."),
    format: Format = typer.Option(Format.table, "--format", "-f", help="table for people, json for scripts."),
) -> None:
    """Plan a deployment: engine, weight and KV formats, parallelism, context, concurrency, with every number
    explained. Exits 3 when nothing fits (the plan's alternatives say what would)."""
    box, workload, policy = planning_inputs(profile, gpus, nodes, context, concurrency, engine, quant,
                                            kv_cache_dtype, gpu_memory_utilization, from_recording,
                                            host_memory=host_memory, input_tokens=input_tokens,
                                            output_tokens=output_tokens)
    if model is None:
        if output:
            raise UsageError("-o writes one model's plan", fix="name a MODEL to lock its plan")
        _rank(box, workload, policy, license, exclude_origin, use, no_gated, mau, format)
        return
    spec = resolve_model(model)
    result = make_plan(spec, box, workload, policy)
    if box.detected and result.fits:
        _add_observed(result)
    if mau and spec.license.mau_limit and mau > spec.license.mau_limit:
        result.warnings.insert(0, f"your {mau:,} monthly active users exceed the {spec.license.id} licence's "
                               f"{spec.license.mau_limit:,}: you need a separate licence from {spec.origin}")
    if output and result.fits:
        from deploykit.planning import lockfile
        inputs = {"model": model, "profile": profile, "gpus": gpus, "nodes": nodes, "context": context,
                  "concurrency": concurrency, "engine": engine, "quant": quant, "kv_cache_dtype": kv_cache_dtype}
        lockfile.write_lock(output, result, inputs, force=force)
        hint(f"plan locked to {output}")
    if format is Format.json:
        emit_json(result)
    else:
        print_plan(result)
        if result.fits:
            from deploykit.planning.cost import one_line_summary
            line = one_line_summary(result)
            if line:
                hint(line)
    if not result.fits:
        if output:
            warn(f"nothing fits, so {output} was not written")
        raise typer.Exit(3)


def _add_observed(p: Plan) -> None:
    """On this machine, what the engine itself reported at the last launch of the same model and settings."""
    from deploykit.runtime.state import kv_observations
    same = [o for o in kv_observations(p.model["name"], p.engine, p.hardware["profile"])
            if o.get("max_model_len") == p.max_model_len and o.get("kv_cache_dtype") == p.kv_cache_dtype]
    if not same:
        return
    last = same[-1]
    reported, planned = last["reported_kv_tokens"], last["planned_kv_tokens"]
    p.reasons.append(f"last launch here: the engine reported {reported:,} KV-cache tokens against deploykit's "
                     f"{planned:,} (kv_observations.jsonl in deploykit's state directory)")
    if planned and reported < 0.9 * planned:
        p.warnings.append(f"the engine held {reported / planned:.0%} of the predicted KV cache at the last launch "
                          "here: expect fewer concurrent sequences than planned")


def fitting_plan(spec, box: Box, workload: Workload, policy: Policy) -> Plan:
    """The plan for commands that need one that fits (render, up, pull): otherwise DoesNotFitError (exit 3) naming
    the nearest plans that do."""
    result = make_plan(spec, box, workload, policy)
    if not result.fits:
        hw = result.hardware
        where = f"{hw['gpus']} x {hw['profile']}" + (f" x {hw['nodes']} nodes" if hw.get("nodes", 1) > 1 else "")
        nearest = "; ".join(a.change for a in result.alternatives[:3])
        raise DoesNotFitError(f"{result.model['name']} does not fit {where}",
                              fix="see deploykit plan for why" + (f"; nearest that fit: {nearest}" if nearest else ""),
                              plan=result)
    return result


def planning_inputs(profile: str | None, gpus: int, nodes: int, context: int | None, concurrency: int | None,
                    engine: str | None, quant: str, kv_cache_dtype: str, gpu_memory_utilization: float | None,
                    from_recording: Path | None, *, host_memory: str | None = None, input_tokens: int | None = None,
                    output_tokens: int | None = None) -> tuple[Box, Workload, Policy]:
    """Validate the planning flags shared by plan, render and up, and build the planner's inputs. ``gpus`` above 1
    is an explicit request: a plan that leaves some of them idle is refused (exit 3) with the nearest counts."""
    if context is not None and context < MIN_REQUEST_CONTEXT:
        raise UsageError(f"--context {context} is too short for a chat request (prompt, template and reply)",
                         fix=f"pass at least --context {MIN_REQUEST_CONTEXT}, or leave it out for the model's working "
                             "default")
    if engine and engine not in ("vllm", "ollama", "llamacpp"):
        raise UsageError(f"unknown engine '{engine}'", fix="use --engine vllm, ollama or llamacpp")
    if quant not in QUANTS:
        raise UsageError(f"unknown --quant '{quant}'", fix=f"use one of: {', '.join(QUANTS)}")
    if kv_cache_dtype not in KV_TYPES:
        raise UsageError(f"unknown --kv-cache-dtype '{kv_cache_dtype}'", fix=f"use one of: {', '.join(KV_TYPES)}")
    if (gpus > 1 or nodes > 1) and not profile:
        raise UsageError("--gpus/--nodes describe a simulated box", fix="add --profile NAME (see deploykit profiles)")
    box = with_host_memory(_box(profile, gpus, nodes, from_recording),
                           parse_memory_size(host_memory) if host_memory is not None else None)
    sizes = {k: v for k, v in (("input_tokens", input_tokens), ("output_tokens", output_tokens)) if v is not None}
    return box, Workload(context=context, concurrency=concurrency, **sizes), Policy(
        engine=engine, quant=quant, kv_cache_dtype=kv_cache_dtype, gpu_memory_utilization=gpu_memory_utilization,
        use_all_gpus=gpus > 1)


def _box(profile: str | None, gpus: int, nodes: int, recording: Path | None) -> Box:
    if profile:
        return simulated_box(get_profile(profile), gpus, nodes)
    from deploykit.hardware import inventory, nvml
    lib = nvml.Replay.from_file(recording) if recording else None
    inv = inventory.detect(load_profiles(), nvml_lib=lib)
    box = detected_box(inv)
    hint(f"planning for this machine: {box.gpus_per_node} x {box.profile.display_name}"
         if box.profile.kind == "nvidia" else f"planning for this machine: {box.profile.display_name}, "
         f"{box.memory_total_bytes / 1024**3:.0f} GiB")
    return box


def _rank(box: Box, workload: Workload, policy: Policy, license: str | None, exclude_origin: str | None,
          use: str | None, no_gated: bool, mau: int | None, format: Format) -> None:
    every = list(load_models().values())
    models = filter_models(every, **checked_filters(every, license=license, exclude_origin=exclude_origin, use=use),
                           allow_gated=not no_gated)
    if mau:
        models = [m for m in models if not (m.license.mau_limit and mau > m.license.mau_limit)]
    with stderr.status(f"planning {len(models)} models..."):
        ranked = rank(models, box, workload, policy)
    if format is Format.json:
        emit_json([{"rank": i + 1, "model": r.spec.name, "score": round(r.score, 4), "plan": r.plan}
                   for i, r in enumerate(ranked)])
        return
    rows = [[i + 1, r.spec.name, r.plan.engine, r.plan.weights["dtype"], _layout(r.plan),
             f"{r.plan.max_model_len:,}", f"{r.plan.max_concurrency_at_max_len:g}",
             f"{r.plan.estimates.decode_tokens_per_s:,.0f}", r.spec.license.id + (" (MAU cap)" if
                                                                                 r.spec.license.mau_limit else "")]
            for i, r in enumerate(ranked)]
    where = f"{box.gpus_per_node * box.nodes} x {box.profile.name}" if box.profile.kind == "nvidia" else box.profile.name
    stdout.print(table(f"{len(ranked)} of {len(models)} models fit {where}", [
        "#", "model", "engine", "weights", Col("layout", drop=2), "context", Col("seqs@ctx", drop=1),
        "tok/s", Col("licence", drop=3)], rows,
        caption="Best first: larger models in better formats, then speed. seqs@ctx: full-length sequences at once; "
                "tok/s: decode speed of one sequence. deploykit plan MODEL explains one."))


def _layout(p: Plan) -> str:
    if p.engine != "vllm":
        return f"{p.gpu_layers}/{p.total_layers} layers on GPU" if p.gpu_layers else "CPU"
    parts = [f"TP{p.tensor_parallel_size}"]
    if p.pipeline_parallel_size > 1:
        parts.append(f"PP{p.pipeline_parallel_size}")
    if p.data_parallel_size > 1:
        parts.append(f"DP{p.data_parallel_size}")
    if p.expert_parallel:
        parts.append("EP")
    return " ".join(parts)


def print_plan(p: Plan) -> None:
    hw = p.hardware
    where = f"{hw['gpus']} x {hw['profile']}" + (f" x {hw['nodes']} nodes" if hw["nodes"] > 1 else "")
    status = "[bold green]fits[/bold green]" if p.fits else "[bold red]does not fit[/bold red]"
    stdout.print(f"[bold]{p.model['name']}[/bold] on {where}: {status}")
    if p.fits:
        rows = [["engine", p.engine], ["weights", f"{p.weights['dtype']}, {p.weights['size_gib']} GiB (checkpoint "
                                                  "below)"],
                ["KV cache", p.kv_cache_dtype], ["layout", _layout(p)], ["GPUs used", p.gpus_used],
                ["max_model_len", f"{p.max_model_len:,}"], ["max_num_seqs", p.max_num_seqs],
                ["full-length sequences at once", f"{p.max_concurrency_at_max_len:g}"],
                ["KV cache tokens", f"{p.kv_cache_tokens:,}"]]
        if p.gpu_memory_utilization is not None:
            rows.append(["gpu_memory_utilization", p.gpu_memory_utilization])
        e = p.estimates
        rows += [["decode tokens/s (one sequence)", f"{e.decode_tokens_per_s:,.1f}"],
                 [f"tokens/s (all, {e.planned_concurrency} seqs/replica)", f"{e.aggregate_tokens_per_s:,.0f}"],
                 ["time to load", f"{e.time_to_load_s:,.0f} s"]]
        stdout.print(table("settings", ["", "value"], rows))
        stdout.print(f"checkpoint: {p.weights['artifact']}", highlight=False, soft_wrap=True)
        m = p.memory.per_gpu
        stdout.print(table("memory per GPU (GiB)" if p.engine == "vllm" else "memory (GiB)",
                           ["weights", "KV cache", "activations/graph", "overhead", "budget", "capacity"],
                           [[f"{m.weights_gib:.2f}", f"{m.kv_cache_gib:.2f}", f"{m.activation_gib:.2f}",
                             f"{m.overhead_gib:.2f}", f"{m.budget_gib:.2f}", f"{m.capacity_gib:.2f}"]]))
    stdout.print("[bold]why[/bold]")
    for r in p.reasons:
        bullet(r)
    for w in p.warnings:
        bullet(w, "  [yellow]warning:[/yellow] ")
    if p.alternatives:
        rows = [[a.change, a.model, a.weights, f"TP{a.tensor_parallel_size} PP{a.pipeline_parallel_size}",
                 a.gpus_used, f"{a.max_model_len:,}", a.kv_cache_dtype, f"{a.max_concurrency_at_max_len:g}"]
                for a in p.alternatives]
        stdout.print(table("nearest plans that fit", ["change", "model", "weights", "layout", "GPUs", "context",
                                                      "KV", "seqs@ctx"], rows))
    if p.fits and p.estimates:
        for a in p.estimates.assumptions:
            hint(f"assumption: {a}")
