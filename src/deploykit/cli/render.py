"""`deploykit render`: a plan into ready-to-run files; `render --all --check`: every catalog plan, every target,
through the official validators."""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path

import typer

from deploykit.catalog.loader import get_model, get_profile
from deploykit.catalog.resolve import resolve_model
from deploykit.cli.complete import model_names, profile_names
from deploykit.cli.output import Format, emit_json, hint, stderr, stdout, table, warn
from deploykit.cli.plan import fitting_plan, planning_inputs
from deploykit.cli.units import context_option
from deploykit.errors import UsageError
from deploykit.planning import lockfile
from deploykit.planning.types import Plan
from deploykit.rendering import check as checking
from deploykit.rendering import context as C
from deploykit.rendering import sweep
from deploykit.rendering.render import RenderedFile, resolve_targets, write_files
from deploykit.rendering.render import render as render_files
from deploykit.rendering.targets import TARGETS
from deploykit.rendering.validators import external
from deploykit.rendering.validators.schemas import K8S_VERSION
from deploykit.suggest import did_you_mean

# What people call the targets: -t k8s is --target kubernetes.
TARGET_ALIASES = {"k8s": "kubernetes", "kube": "kubernetes", "lws": "kubernetes", "docker-compose": "compose",
                  "docker": "compose", "unit": "systemd", "service": "systemd", "gateway": "litellm",
                  "prom": "prometheus", "metrics": "prometheus", "sh": "command", "script": "command",
                  "modelfile": "command"}


def render(
    model: str = typer.Argument(None, help="Catalog name, Hugging Face repo id or local model dir.",
                                autocompletion=model_names),
    plan_file: Path = typer.Option(None, "--plan",
                                   help="Render a plan lock file (deploykit plan MODEL -o FILE) instead of planning."),
    target: list[str] = typer.Option(None, "--target", "-t", help=f"One of {', '.join(TARGETS)} (repeatable or "
                                                                  "comma-separated; k8s = kubernetes); default: every "
                                                                  "target that applies."),
    output: Path = typer.Option(None, "--output", "-o", file_okay=False,
                                help="Write the files into this directory (default: print them)."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing files in -o."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the engine's argv and the files, write nothing."),
    all_: bool = typer.Option(False, "--all", help="Every catalog model on every base profile where it fits."),
    check: bool = typer.Option(False, "--check", help="Validate each file with the official validators."),
    models: str = typer.Option(None, "--models", help="--all: only these models (comma-separated)."),
    profiles: str = typer.Option(None, "--profiles", help="--all: only these profiles (comma-separated)."),
    vllm_python: Path = typer.Option(None, "--vllm-python", envvar="DEPLOYKIT_VLLM_PYTHON",
                                     help="Python of a vLLM install whose argument parser checks vLLM flags "
                                          "(default: found on PATH; without one that check is skipped, loudly)."),
    require_vllm: bool = typer.Option(False, "--require-vllm", help="Fail when no vLLM install is found."),
    k8s_version: str = typer.Option(K8S_VERSION, "--k8s-version",
                                    help="Kubernetes version the manifests are validated against (1.25-1.37)."),
    require_all: bool = typer.Option(False, "--require-all-validators",
                                     help="Fail when any validator is missing (vLLM, promtool): for CI."),
    profile: str = typer.Option(None, "--profile", "-p", help="Plan for a simulated box of this hardware profile.",
                                autocompletion=profile_names),
    gpus: int = typer.Option(1, "--gpus", min=1, max=64, help="GPUs per node of the simulated box."),
    nodes: int = typer.Option(1, "--nodes", min=1, max=64, help="Nodes of the simulated box."),
    context: int = context_option(),
    concurrency: int = typer.Option(None, "--concurrency", min=1, help="Full-length requests in flight."),
    engine: str = typer.Option(None, "--engine", help="vllm, ollama or llamacpp (default: chosen by hardware)."),
    quant: str = typer.Option("auto", "--quant", help="Weight format (see deploykit plan --help)."),
    kv_cache_dtype: str = typer.Option("auto", "--kv-cache-dtype", help="KV-cache format."),
    name: str = typer.Option(None, "--name", help="Deployment name (default: the model's name)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; anything but loopback requires an API "
                                                         "key, read from the environment."),
    port: int = typer.Option(None, "--port", min=1, max=65535, help="Port (default: the engine's usual one)."),
    api_key: bool = typer.Option(False, "--api-key", help="Require an API key even on loopback."),
    expose_ollama_unauthenticated: bool = typer.Option(
        False, "--expose-ollama-unauthenticated",
        help="Ollama has no API key: bind it beyond loopback anyway (its whole API is then open to the network). "
             "Prefer the LiteLLM gateway (--target litellm) in front of a loopback Ollama."),
    fallback: list[str] = typer.Option(None, "--fallback", help="LiteLLM fallback: provider/model or a URL "
                                                                "(repeatable)."),
    gpu_ids: str = typer.Option(None, "--gpu-ids", help="compose: pin these GPU ids (e.g. 0,1) instead of a count."),
    namespace: str = typer.Option("default", "--namespace", help="Kubernetes namespace."),
    storage_class: str = typer.Option(None, "--storage-class", help="Kubernetes storage class of the cache volume."),
    format: Format = typer.Option(Format.table, "--format", "-f", help="table for people, json for scripts."),
) -> None:
    """Turn a plan into files: vLLM/llama.cpp argv and config, compose, systemd, Kubernetes (LeaderWorkerSet when
    a replica spans nodes), Ollama Modelfile, LiteLLM gateway, Prometheus scrape config."""
    if not re.fullmatch(r"1\.(2[5-9]|3[0-7])", k8s_version):
        raise UsageError(f"--k8s-version {k8s_version}: kubernetes-validate has schemas for 1.25 to 1.37",
                         fix="pass a minor version such as 1.35")
    target = targets_named(target)
    opts = C.RenderOptions(name=name, host=host, port=port, api_key=api_key, fallbacks=tuple(fallback or ()),
                           gpu_ids=_ids(gpu_ids), namespace=namespace, storage_class=storage_class,
                           expose_ollama_unauthenticated=expose_ollama_unauthenticated)
    if all_:
        if model or plan_file:
            raise UsageError("--all renders the whole catalog", fix="drop MODEL/--plan, or drop --all")
        _render_all(target, opts, output, force, check, _models_named(models), _profiles_named(profiles),
                    vllm_python, require_vllm, require_all, k8s_version, format)
        return
    if bool(model) == bool(plan_file):
        raise UsageError("name a MODEL or pass --plan FILE (one of the two)",
                         fix="e.g. deploykit render llama-3.1-8b -p h100-sxm -o deploy/")
    plan = _load_or_plan(model, plan_file, profile, gpus, nodes, context, concurrency, engine, quant, kv_cache_dtype)
    kind = get_profile(plan.hardware["profile"]).kind
    targets = resolve_targets(target, plan, kind)
    opts = dataclasses.replace(opts, rerender=C.rerender_command(plan, opts, _planning_flags(
        plan, model, plan_file, profile, gpus, nodes, context, concurrency, engine, quant, kv_cache_dtype)))
    ctx = C.build(plan, opts)
    _warn_exposure(ctx)
    files = render_files(plan, targets, opts, ctx)
    if dry_run:
        _dry_run(ctx, files, output, format)
        return
    report = None
    if check:
        report = checking.check([checking.Rendered(_case_label(plan), plan.model["name"], plan.hardware["profile"],
                                                   plan.engine, files)], vllm_python=vllm_python,
                                require_vllm=require_vllm, require_all=require_all, k8s_version=k8s_version)
    if output:
        if report and report.problems:
            _print_report(report, format)
            warn(f"nothing was written to {output}: fix the problems above first")
            raise typer.Exit(1)
        paths = write_files(files, output, force=force)
        if format is Format.json:
            emit_json({"written": [str(p) for p in paths], "check": report.to_data() if report else None})
        else:
            for p in paths:
                stdout.print(str(p), highlight=False)
            hint(f"{len(paths)} file(s) for {plan.model['name']} ({', '.join(t.name for t in targets)})")
    elif format is Format.json:
        emit_json({"files": [{"target": f.target, "path": f.path, "content": f.content} for f in files],
                   "check": report.to_data() if report else None})
    else:
        for f in files:
            if len(files) > 1:
                stdout.print(f"[bold]==> {f.path} ({f.target}) <==[/bold]", highlight=False)
            stdout.out(f.content, end="", highlight=False)
    if report:
        if format is not Format.json:
            _print_report(report, format)
        if report.failed:
            raise typer.Exit(1)


def _warn_exposure(ctx: dict) -> None:
    """Loudly: what the rendered files expose, and the key they will refuse to start without."""
    import os
    if ctx.get("ollama_unauthenticated"):
        warn(f"--expose-ollama-unauthenticated: Ollama will listen on {ctx['host']}:{ctx['port']} WITHOUT any "
             "authentication; anyone who reaches it can pull, create and delete models")
    key = ctx.get("api_key_env")
    if key and not ctx.get("ollama_unauthenticated") and not os.environ.get(key):
        warn(f"the files bind {ctx['host']} and require {key}, which is not set here: they refuse to start until "
             f"it is (export {key}=<a long random key> where they run)")


def _planning_flags(plan: Plan, model, plan_file, profile, gpus, nodes, context, concurrency, engine, quant,
                    kv) -> list[str]:
    """The planning flags as given, so a file's header re-renders it exactly. Planned for this machine (no
    --profile), the detected profile and GPU count are written out: re-rendering elsewhere plans for the same box."""
    if plan_file:
        return ["--plan", str(plan_file)]
    hw = plan.hardware
    flags = [model, "--profile", profile or hw["profile"], "--gpus", str(gpus if profile else hw.get("gpus", 1))]
    for flag, value, default in (("--nodes", nodes, 1), ("--engine", engine, None), ("--quant", quant, "auto"),
                                 ("--context", context, None), ("--concurrency", concurrency, None),
                                 ("--kv-cache-dtype", kv, "auto")):  # the order of C.rerender_command
        if value != default:
            flags += [flag, str(value)]
    return flags


def _load_or_plan(model, plan_file, profile, gpus, nodes, context, concurrency, engine, quant, kv) -> Plan:
    if plan_file:
        if any(v is not None for v in (profile, context, concurrency, engine)) or quant != "auto" or kv != "auto":
            raise UsageError("--plan FILE already holds every planning choice",
                             fix="drop --profile/--context/--engine/... or re-plan with deploykit plan -o")
        _, plan = lockfile.read_lock(plan_file)
        return plan
    box, workload, policy = planning_inputs(profile, gpus, nodes, context, concurrency, engine, quant, kv, None, None)
    return fitting_plan(resolve_model(model), box, workload, policy)


def _dry_run(ctx: dict, files: list[RenderedFile], output: Path | None, format: Format) -> None:
    argv = ctx.get("argv")
    where = output or Path(".")
    if format is Format.json:
        emit_json({"argv": argv, "files": [str(where / f.path) for f in files]})
        return
    if argv:
        from deploykit.rendering.quoting import shell_argv
        stdout.print(shell_argv(argv), highlight=False, soft_wrap=True)
    for f in files:
        hint(f"would write {where / f.path} ({f.target})")


def _render_all(targets: list[str] | None, opts: C.RenderOptions, output: Path | None, force: bool, check: bool,
                models: list[str] | None, profiles: list[str] | None, vllm_python: Path | None,
                require_vllm: bool, require_all: bool, k8s_version: str, format: Format) -> None:
    if targets and "all" in targets:
        targets = None
    for t in targets or []:
        if t not in TARGETS:
            raise UsageError(f"unknown target '{t}'", fix=f"use one of: {', '.join(TARGETS)}")
    started = time.perf_counter()
    early = external.VllmParserProcess.start(vllm_python) if check else None
    rendered: list[checking.Rendered] = []
    with stderr.status("planning and rendering the catalog...") as status:
        for case in sweep.cases(models, profiles):
            status.update(f"rendering {case.label}")
            chosen = [TARGETS[t] for t in targets if TARGETS[t].unavailable(case.plan, case.kind) is None] \
                if targets else None
            exact = [case.model, "--profile", case.profile, "--gpus", str(case.gpus)] + (
                ["--nodes", str(case.nodes)] if case.nodes > 1 else [])
            files = render_files(case.plan, chosen if chosen is not None else resolve_targets(None, case.plan,
                                                                                               case.kind),
                                 dataclasses.replace(opts, rerender=C.rerender_command(case.plan, opts, exact)))
            rendered.append(checking.Rendered(case.label, case.model, case.profile, case.plan.engine, files))
    if not rendered:
        if isinstance(early, external.VllmParserProcess):
            early.close()
        raise UsageError("no model fits any chosen profile", fix="check --models/--profiles")
    render_s = time.perf_counter() - started
    report = checking.check(rendered, vllm_python=vllm_python, require_vllm=require_vllm,
                            require_all=require_all, k8s_version=k8s_version,
                            vllm_started=early if isinstance(early, external.VllmParserProcess) else None
                            ) if check else None
    if output:
        for r in rendered:
            write_files(r.files, output / r.label.replace("@", "/"), force=force)
    n_files = sum(len(r.files) for r in rendered)
    if format is Format.json:
        emit_json({"cases": len(rendered), "files": n_files, "render_seconds": round(render_s, 2),
                   "check": report.to_data() if report else None})
    else:
        hint(f"rendered {n_files} files for {len(rendered)} model/profile plans in {render_s:.1f} s")
        if report:
            _print_report(report, format)
    if report and report.failed:
        raise typer.Exit(1)


def _print_report(report: checking.Report, format: Format) -> None:
    if format is Format.json:
        emit_json(report.to_data())
        return
    rows = [[v.name, v.status, v.files, v.seconds and f"{v.seconds:.1f}", v.detail] for v in report.validators]
    stdout.print(table("validators", ["validator", "status", "files", "seconds", "detail"], rows))
    if report.problems:
        stdout.print(table(f"{len(report.problems)} problem(s)", ["model", "profile", "target", "file", "validator",
                                                                  "message"],
                           [[p.model, p.profile, p.target, p.file, p.validator, p.message] for p in report.problems]))
    verdict = "[bold red]FAILED[/bold red]" if report.failed else "[bold green]all valid[/bold green]"
    stdout.print(f"{verdict}: {report.files_checked} files checked in {report.seconds:.1f} s")


def _case_label(plan: Plan) -> str:
    hw = plan.hardware
    return f"{plan.model['name']}@{hw['gpus']}x{hw['profile']}" + (f"x{hw['nodes']}n" if hw.get("nodes", 1) > 1
                                                                   else "")


def _csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def targets_named(values: list[str] | None) -> list[str] | None:
    """--target values (repeated or comma-separated, aliases resolved); unknown ones are an error with
    did-you-mean."""
    if not values:
        return values
    out = []
    for value in values:
        for name in _csv(value) or []:
            key = TARGET_ALIASES.get(name.lower(), name.lower())
            if key != "all" and key not in TARGETS:
                raise UsageError(f"unknown target '{name}'", fix=f"use one of: {', '.join(TARGETS)}, all",
                                 suggestions=did_you_mean(name, [*TARGETS, *TARGET_ALIASES]))
            out.append(key)
    return list(dict.fromkeys(out))


def _models_named(value: str | None) -> list[str] | None:
    """--models: catalog names (aliases and repo ids accepted); an unknown one is an error, not an empty sweep."""
    names = _csv(value)
    return [get_model(n).name for n in names] if names else None


def _profiles_named(value: str | None) -> list[str] | None:
    names = _csv(value)
    if not names:
        return None
    out = []
    for n in names:
        p = get_profile(n)
        if p.variant_of:
            raise UsageError(f"render --all plans each base profile: '{n}' is a memory size of {p.variant_of}",
                             fix=f"use --profiles {p.variant_of}, or render one plan: deploykit render MODEL -p {n}")
        out.append(p.name)
    return out


def _ids(value: str | None) -> tuple[int, ...]:
    if not value:
        return ()
    try:
        return tuple(int(v) for v in value.split(","))
    except ValueError:
        raise UsageError(f"--gpu-ids '{value}' is not a list of integers", fix="e.g. --gpu-ids 0,1") from None
