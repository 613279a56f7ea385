"""`deploykit up`, `ps`, `logs`, `down`: launch an engine, prove it serves, and manage what deploykit started."""

from __future__ import annotations

import glob
import os
import re
import signal
import time
from pathlib import Path

import typer
from rich.live import Live
from rich.markup import escape
from rich.text import Text

from deploykit.catalog.resolve import resolve_model
from deploykit.cli.complete import model_names
from deploykit.cli.output import Col, Format, duration, emit_json, hint, stderr, stdout, table, warn
from deploykit.cli.plan import fitting_plan, planning_inputs
from deploykit import validation
from deploykit.cli.units import context_option
from deploykit.errors import DeploykitError, EngineFailedError, PlanFileError, UnknownNameError, UsageError
from deploykit.planning import lockfile
from deploykit.planning.planner import plan as make_plan
from deploykit.planning.types import Plan, Workload
from deploykit.rendering import argv as A
from deploykit.rendering.context import API_KEY_ENV, LOOPBACK, plan_kind
from deploykit.rendering.quoting import dns_label, shell_argv
from deploykit.runtime import docker, engines, launch, ollama, process, state, weights
from deploykit.runtime import pull as pulling
from deploykit.suggest import did_you_mean


def up(
    model: str = typer.Argument(None, help="Catalog name, Hugging Face repo id, model directory or .gguf file.",
                                autocompletion=model_names),
    plan_file: Path = typer.Option(None, "--plan", help="Launch a plan lock file."),
    runtime: str = typer.Option(None, "--runtime", help="native (a local process), docker (a container) or ollama "
                                                        "(an Ollama server's API); default: ollama for Ollama "
                                                        "plans, else native."),
    image: str = typer.Option(None, "--image", help="docker: the engine image (default: the pinned vLLM / "
                                                    "llama.cpp server image)."),
    docker_network: str = typer.Option("bridge", "--docker-network", help="docker: bridge (publish the port on "
                                                                          "--host) or host."),
    engine: str = typer.Option(None, "--engine", help="vllm, llamacpp or ollama (default: chosen by hardware)."),
    ollama_host: str = typer.Option(None, "--ollama-host", help="Ollama server (default: OLLAMA_HOST, else "
                                                                "127.0.0.1:11434)."),
    engine_bin: str = typer.Option(None, "--engine-bin", envvar="DEPLOYKIT_ENGINE_BIN",
                                   help="The engine: llama-server, or the python of a vLLM / llama-cpp-python venv."),
    name: str = typer.Option(None, "--name", help="Deployment name (default: the model's name)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Bind address; anything but loopback requires an API key."),
    port: int = typer.Option(None, "--port", min=1, max=65535, help="Port (default: 8000 vLLM, 8080 llama.cpp)."),
    api_key_env: str = typer.Option(None, "--api-key-env", help="Environment variable holding the API key to "
                                                                "require (default when exposed: VLLM_API_KEY / "
                                                                "LLAMA_API_KEY)."),
    timeout: float = typer.Option(None, "--timeout", help="Seconds to wait for readiness, at least 1 (default: "
                                                          "from the plan's load-time estimate)."),
    force: bool = typer.Option(False, "--force", help="--plan: launch even when the lock was made for another "
                                                      "machine or engine version (never a lock that does not fit)."),
    detach: bool = typer.Option(False, "--detach", "-d", help="Return once ready and leave the engine running."),
    no_retry: bool = typer.Option(False, "--no-retry", help="Do not re-plan and retry once after out-of-memory or "
                                                            "context-too-long."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the argv and environment, start nothing."),
    context: int = context_option(),
    concurrency: int = typer.Option(None, "--concurrency", min=1, help="Full-length requests in flight."),
    quant: str = typer.Option("auto", "--quant", help="Weight format (see deploykit plan --help)."),
    kv_cache_dtype: str = typer.Option("auto", "--kv-cache-dtype", help="KV-cache format."),
    format: Format = typer.Option(Format.table, "--format", "-f", help="table for people, json for scripts."),
) -> None:
    """Launch MODEL, wait until it really answers (health, model list, a smoke completion with tokens), print the
    endpoint. Without --detach, Ctrl-C stops it; on any failure nothing is left running."""
    _stop_on_signals()
    if dry_run:  # a dry run touches no network: the hub client (imported later) then reads only its cache
        os.environ["HF_HUB_OFFLINE"] = "1"
    timeout = validation.seconds("--timeout", timeout, at_least=1)
    validation.host(host)
    if api_key_env is not None:
        validation.env_name("--api-key-env", api_key_env)
    if image is not None:
        validation.text("--image", image)
    if ollama_host is not None:
        validation.text("--ollama-host", ollama_host)
    if runtime not in (None, "native", "docker", "ollama"):
        raise UsageError(f"unknown runtime '{runtime}'", fix="use --runtime native, docker or ollama")
    if docker_network not in ("bridge", "host"):
        raise UsageError(f"--docker-network {docker_network}", fix="use bridge or host")
    if bool(model) == bool(plan_file):
        raise UsageError("name a MODEL or pass --plan FILE (one of the two)", fix="e.g. deploykit up gemma3-270m")
    local_gguf = Path(model).expanduser() if model and model.lower().endswith(".gguf") else None
    if local_gguf is not None and not local_gguf.is_file():
        raise UsageError(f"{local_gguf} does not exist", fix="pass the path of a .gguf file")
    plan, spec_family, workload, policy = _plan(model, plan_file, local_gguf, engine, context, concurrency, quant,
                                                kv_cache_dtype, force)
    name = dns_label(name or plan.model["name"], 40)
    runtime = runtime or ("ollama" if plan.engine == "ollama" else "native")
    if (runtime == "ollama") != (plan.engine == "ollama"):
        raise UsageError(f"--runtime {runtime} does not run {plan.engine} plans",
                         fix="use --runtime ollama with --engine ollama, or --runtime native with vllm/llamacpp")
    if runtime == "ollama":
        _up_ollama(name, model or str(plan_file), plan, ollama_host, timeout, detach, dry_run, format)
        return
    is_local = bool(model and Path(model).expanduser().exists())
    if plan.engine == "vllm" and not is_local and not dry_run:
        _fetch_vllm_weights(plan)
    if runtime == "docker":
        _up_docker(name, model or str(plan_file), model, plan, local_gguf, image, host, port, docker_network,
                   api_key_env, timeout, detach, dry_run, format)
        return
    api_env = api_key_env or (API_KEY_ENV.get(plan.engine) if host not in LOOPBACK else None)
    serve = A.Serve(host=host, port=port)
    cmd = _command(plan, model, local_gguf, serve, engine_bin, spec_family, download=not dry_run)
    if api_env:
        cmd.env[cmd.api_key_var] = f"${api_env}"  # shown as a reference; filled below
    if dry_run:
        if format is Format.json:
            emit_json({"argv": cmd.argv, "env": cmd.env, "plan": plan})
        else:
            for key, value in cmd.env.items():
                stdout.print(f"{key}={value}", highlight=False)
            stdout.print(shell_argv(cmd.argv), highlight=False)
        return
    if api_env:
        cmd.env[cmd.api_key_var] = os.environ.get(api_env, "")
    if "llama_cpp.server" in cmd.argv and plan.max_num_seqs > 1:
        warn(f"llama-cpp-python serves one request at a time: the plan's {plan.max_num_seqs} concurrent sequences "
             "will queue (llama.cpp's llama-server on PATH, or --engine-bin pointing at it, serves them in parallel)")
    attempts = 1 if no_retry else 2
    for attempt in range(attempts):
        the_launch = launch.Launch(name, model or str(plan_file), plan, cmd, host, serve.port_for(plan.engine),
                                   api_env, timeout or launch.default_timeout(plan))
        try:
            started = _start_with_progress(the_launch, cmd.description)
            break
        except EngineFailedError as exc:
            failure = getattr(exc, "failure", None)
            if attempt + 1 >= attempts or exc.kind not in launch.RETRIABLE or plan_file:
                raise
            plan = _replan(plan, failure, model, workload, policy)
            cmd = _command(plan, model, local_gguf, serve, engine_bin, spec_family)
            if api_env:
                cmd.env[cmd.api_key_var] = os.environ.get(api_env, "")
            warn(f"{exc.message}; retrying once with max_model_len {plan.max_model_len:,} "
                 f"(--no-retry turns this off)")
    _report(started, plan, format)
    if detach:
        return
    _foreground(started.deployment)


def _up_ollama(name: str, model: str, plan: Plan, host: str | None, timeout: float | None, detach: bool,
               dry_run: bool, format: Format) -> None:
    url = ollama.server_url(host)
    served = launch.ollama_model_name(plan, name)
    if dry_run:
        steps = {"server": url, "pull": A.ollama_tag(plan), "create": {"model": served, "from": A.ollama_tag(plan),
                                                                       "parameters": A.ollama_parameters(plan)},
                 "load": {"model": served, "keep_alive": -1}}
        emit_json(steps) if format is Format.json else stdout.print_json(data=steps)
        return
    if plan.max_num_seqs > 1:
        hint(f"the plan serves {plan.max_num_seqs} requests at once: the Ollama server needs OLLAMA_NUM_PARALLEL="
             f"{plan.max_num_seqs} in its environment (deploykit render {model} -t systemd writes the drop-in)")
    with Live(Text("contacting Ollama..."), console=stderr, refresh_per_second=4, transient=True) as live:
        def pulled(p: ollama.PullProgress) -> None:
            pct = f" {100 * p.completed / p.total:5.1f}% of {p.total / 1e9:.2f} GB" if p.total else ""
            live.update(Text(f"ollama pull {A.ollama_tag(plan)}: {p.status}{pct}"))

        def progress(r, _tail) -> None:
            live.update(Text(f"{name}: {r.stage} {r.detail}"))
        started = launch.start_ollama(name, model, plan, url, timeout or launch.default_timeout(plan),
                                      on_pull=pulled, on_progress=progress)
    _report(started, plan, format)
    if not detach:
        hint("the model stays loaded in Ollama; deploykit down stops it (there is no foreground process here)")


def _up_docker(name: str, label: str, model: str | None, plan: Plan, local_gguf: Path | None, image: str | None,
               host: str, port: int | None, network: str, api_key_env: str | None, timeout: float | None,
               detach: bool, dry_run: bool, format: Format) -> None:
    versions = lockfile.engine_versions()[plan.engine]
    kind = plan_kind(plan)
    image = image or (versions.get("image_cuda" if kind == "nvidia" else "image_cpu") if plan.engine == "llamacpp"
                      else versions["image"])
    if plan.engine == "llamacpp":
        model_path = weights.gguf_file(plan, local_gguf, download=not dry_run)
    else:
        local_dir = Path(model).expanduser() if model and Path(model).expanduser().is_dir() else None
        model_path = str(local_dir.resolve()) if local_dir else None
    port = port or A.DEFAULT_PORTS[plan.engine]
    api_env = api_key_env or (API_KEY_ENV.get(plan.engine) if host not in LOOPBACK else None)
    if dry_run:
        data = {"image": image, "model": model_path or A.vllm_model_ref(plan), "network": network,
                "port": f"{host}:{port}", "gpus": plan.gpus_used if kind == "nvidia" else 0}
        emit_json(data) if format is Format.json else stdout.print_json(data=data)
        return
    begun = time.monotonic()
    with Live(Text("contacting Docker..."), console=stderr, refresh_per_second=4, transient=True) as live:
        def progress(r, tail: list[str]) -> None:
            lines = [f"[bold]{escape(name)}[/bold] {time.monotonic() - begun:5.0f} s  stage: {r.stage}  "
                     f"{escape(r.detail)}"] + [f"  [dim]{escape(line[:160])}[/dim]" for line in tail]
            live.update(Text.from_markup("\n".join(lines)))
        started = launch.start_docker(name, label, plan, image, model_path=model_path, host=host, port=port,
                                      network_host=network == "host", api_key_env=api_env,
                                      timeout_s=timeout or launch.default_timeout(plan),
                                      on_pull=lambda msg: live.update(Text(msg)), on_progress=progress)
    _report(started, plan, format)
    if not detach:
        _foreground(started.deployment)


def _stop_on_signals() -> None:
    """SIGTERM and SIGHUP (a closed SSH session) stop what `up` started exactly as Ctrl-C does: each becomes a
    KeyboardInterrupt in the main thread, which every start path and the foreground loop clean up after. Once one
    arrived, the next ones are ignored so that the clean-up itself is not cut short."""
    def interrupt(signum: int, _frame: object) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        raise KeyboardInterrupt(signal.Signals(signum).name)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)


def _plan(model, plan_file, local_gguf, engine, context, concurrency, quant, kv, force=False):
    if plan_file:
        data, plan = lockfile.read_lock(plan_file)
        if not plan.fits:
            raise PlanFileError(f"{plan_file} holds a plan that does not fit (fits: false): there is nothing to "
                                "launch", fix="re-plan with deploykit plan MODEL -o FILE and lock one that fits")
        diffs = _lock_differences(data, plan)
        if diffs and not force:
            raise PlanFileError(f"{plan_file} was made for another machine or engine: " + "; ".join(diffs),
                                fix="re-plan here (deploykit plan MODEL -o FILE), or pass --force to launch it "
                                    "anyway")
        for d in diffs:
            warn(f"--force: launching despite {d}")
        return plan, None, None, None
    box, workload, policy = planning_inputs(None, 1, 1, context, concurrency, engine, quant, kv, None, None)
    spec = resolve_model(model)
    if local_gguf is not None:
        policy = policy.model_copy(update={"engine": policy.engine or "llamacpp"})
    return fitting_plan(spec, box, workload, policy), spec.family, workload, policy


def _lock_differences(data: dict, locked: Plan) -> list[str]:
    """lockfile.differences between the lock and a plan made now, on this machine, from the lock's own inputs;
    when the model cannot be planned here (e.g. its config is not reachable), the machine alone is compared."""
    inputs = data.get("inputs") or {}
    box, workload, policy = planning_inputs(None, 1, 1, inputs.get("context"), inputs.get("concurrency"),
                                            locked.engine, "auto", "auto", None, None)
    try:
        spec = resolve_model(inputs.get("model") or locked.model["name"])
        current = make_plan(spec, box, workload, policy)
    except DeploykitError:
        current = None
    if current is None:
        here = _hardware_here(box)
        return lockfile.machine_differences(data, here)
    return lockfile.differences(data, current)


def _hardware_here(box) -> dict:
    return {"profile": box.profile.name, "gpus": box.gpus_per_node, "nodes": box.nodes,
            "gpu_memory_gib": round(box.memory_total_bytes / 1024**3, 2)}


def _fetch_vllm_weights(plan: Plan) -> None:
    """Pull the checkpoint first (disk check, progress, hashes) so vLLM starts from the cache instead of
    downloading inside its own start-up, where a full disk or a gated repo is harder to tell."""
    with stderr.status(f"fetching {A.vllm_model_ref(plan)}...") as status:
        report = pulling.pull(plan, on_step=lambda msg: status.update(msg))
    hint(f"weights ready in {report.folder}" + (" (offline cache)" if report.offline else ""))


def _command(plan: Plan, model: str | None, local_gguf: Path | None, serve: A.Serve, engine_bin: str | None,
             family: str | None, download: bool = True) -> engines.NativeCommand:
    if plan.engine == "vllm":
        local_dir = Path(model).expanduser() if model and Path(model).expanduser().is_dir() else None
        ref = str(local_dir.resolve()) if local_dir else A.vllm_model_ref(plan)
        return engines.vllm_command(plan, ref, serve, engine_bin=engine_bin,
                                    cpu=plan_kind(plan) != "nvidia")
    if plan.engine == "llamacpp":
        return engines.llamacpp_command(plan, weights.gguf_file(plan, local_gguf, download=download), serve,
                                        engine_bin=engine_bin, family=family)
    raise UsageError(f"up does not launch {plan.engine} yet", fix="use --engine vllm or llamacpp")


def _replan(plan: Plan, failure, model, workload: Workload, policy) -> Plan:
    """Plan again with the engine's own figure: its estimated maximum model length, or half the context after an
    out-of-memory; the new plan must still fit."""
    if failure is not None and failure.estimated_max_len:
        new_len = max(256, failure.estimated_max_len // 256 * 256)
    else:
        new_len = max(512, plan.max_model_len // 2)
    if new_len >= plan.max_model_len:
        new_len = plan.max_model_len // 2
    spec = resolve_model(model)
    box, _, _ = planning_inputs(None, 1, 1, None, None, policy.engine, policy.quant, policy.kv_cache_dtype, None,
                                None)
    again = make_plan(spec, box, workload.model_copy(update={"context": new_len}), policy)
    if not again.fits:
        raise EngineFailedError(f"re-planning with max_model_len {new_len} does not fit either", kind="oom",
                                fix="plan with a smaller model or more memory (deploykit plan shows alternatives)")
    return again


def _start_with_progress(the_launch: launch.Launch, description: str) -> launch.Started:
    begun = time.monotonic()
    hint(f"starting {description}")
    with Live(Text("starting..."), console=stderr, refresh_per_second=4, transient=True) as live:
        def progress(r, tail: list[str]) -> None:
            lines = [f"[bold]{escape(the_launch.name)}[/bold] {time.monotonic() - begun:5.0f} s  stage: {r.stage}"
                     f"  {escape(r.detail)}"] + [f"  [dim]{escape(line[:160])}[/dim]" for line in tail]
            live.update(Text.from_markup("\n".join(lines)))
        return launch.start_native(the_launch, on_progress=progress)


def _report(started: launch.Started, plan: Plan, format: Format) -> None:
    d, r, kv = started.deployment, started.readiness, started.kv
    if format is Format.json:
        emit_json({"name": d.name, "base_url": d.base_url, "served_model": d.served_name, "pid": d.pid,
                   "ready_seconds": d.ready_seconds, "log": d.log_path, "completion_tokens": r.completion_tokens,
                   "kv_cache_tokens_reported": kv.tokens, "kv_cache_tokens_planned": d.kv_cache_tokens_planned,
                   "max_concurrency_reported": kv.max_concurrency, "api_key_env": d.api_key_env})
        return
    stdout.print(f"[bold green]ready[/bold green] in {d.ready_seconds:.0f} s: {d.base_url}  (model "
                 f"[bold]{escape(d.served_name)}[/bold], smoke completion: {r.completion_tokens} tokens)",
                 highlight=False)
    if kv.tokens is not None:
        stdout.print(f"KV cache: the engine reports {kv.tokens:,} tokens; deploykit predicted "
                     f"{d.kv_cache_tokens_planned:,}", highlight=False)
    from deploykit.cli.snippet import openai_snippet
    stdout.print("\n" + openai_snippet(d.base_url, d.served_name, d.api_key_env), highlight=False, markup=False,
                 soft_wrap=True)
    hint(f"logs: deploykit logs {d.name} -f    stop: deploykit down {d.name}")


def _foreground(d: state.Deployment) -> None:
    hint("serving in the foreground: Ctrl-C stops it (use --detach to leave it running)")
    try:
        while launch.is_running(d):
            time.sleep(1)
    except KeyboardInterrupt:  # Ctrl-C, SIGTERM or SIGHUP (see _stop_on_signals)
        launch.stop(d)
        try:
            hint(f"stopped {d.name}")
        except OSError:  # the terminal went away with the SSH session: nothing left to tell
            pass
        raise typer.Exit(0) from None
    tail = _log_lines(d, 15)
    launch.stop(d)
    raise EngineFailedError(f"{d.name} exited on its own", kind="crash", log_tail=tail,
                            fix=f"read the log: {d.log_path or 'docker logs ' + str(d.container_id)}")


def _log_lines(d: state.Deployment, lines: int) -> list[str]:
    if d.runtime == "docker":
        try:
            return docker.log_text(docker.client(), d.container_id or "", lines).splitlines()
        except DeploykitError:
            return []
    return process.tail(d.log_path, lines)


def ps(format: Format = typer.Option(Format.table, "--format", "-f", help="table or json.")) -> None:
    """List the deployments deploykit started, with whether each is really still running."""
    rows = []
    for d in state.load().values():
        running = launch.is_running(d)
        rows.append({"name": d.name, "status": d.status if running else "dead", "runtime": d.runtime,
                     "engine": d.engine, "model": d.served_name, "base_url": d.base_url, "pid": d.pid,
                     "ready_seconds": d.ready_seconds, "uptime_s": round(time.time() - d.created),
                     "kv_cache_tokens_reported": d.kv_cache_tokens_reported,
                     "kv_cache_tokens_planned": d.kv_cache_tokens_planned, "log": d.log_path})
    if format is Format.json:
        emit_json(rows)
        return
    if not rows:
        hint("nothing is running (deploykit up MODEL starts something)")
        return
    stdout.print(table("deployments", ["name", "status", Col("engine", drop=2), Col("model", drop=1), "endpoint",
                                       Col("pid", drop=3), "up", Col("KV tokens (engine / plan)", drop=4)],
                       [[r["name"], r["status"], r["engine"], r["model"], r["base_url"], r["pid"],
                         duration(r["uptime_s"]), f"{r['kv_cache_tokens_reported'] or '-'} / "
                                               f"{r['kv_cache_tokens_planned'] or '-'}"] for r in rows]))


def _known(name: str) -> state.Deployment:
    d = state.get(name)
    if d is None:
        raise UnknownNameError("deployment", name, did_you_mean(name, [*state.load(), *_logged_names()]),
                               "deploykit ps")
    return d


_LOG_NAME = re.compile(r"(?P<name>.+)-(?P<time>\d+)\.log")


def _logged_names() -> list[str]:
    """Names with a native engine log in the state directory (deployments that ran, failed or were stopped)."""
    folder = state.logs_dir()
    found = [m.group("name") for p in folder.glob("*.log") if (m := _LOG_NAME.fullmatch(p.name))] \
        if folder.is_dir() else []
    return sorted(set(found))


def last_log(name: str) -> Path | None:
    """The newest engine log of deployment ``name``, whether or not it is still registered: a failed `up` leaves
    no registry entry, but its log stays for `deploykit logs NAME`."""
    folder = state.logs_dir()
    if not folder.is_dir():
        return None
    logs = [(int(m.group("time")), p) for p in folder.glob(f"{glob.escape(name)}-*.log")
            if (m := _LOG_NAME.fullmatch(p.name)) and m.group("name") == name]
    return max(logs)[1] if logs else None


def logs(name: str = typer.Argument(..., help="Deployment name (deploykit ps)."),
         follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing as the engine writes."),
         lines: int = typer.Option(50, "--lines", "-n", min=1, help="How many last lines to start with.")) -> None:
    """Print a deployment's engine log."""
    d = state.get(name)
    if d is None:
        path = last_log(name)
        if path is None:
            _known(name)  # raises: unknown name, with did-you-mean
        hint(f"{name} is not running (its last start failed, or it was stopped); its last log is {path}")
        for line in process.tail(str(path), lines):
            stdout.out(line, highlight=False)
        return
    if d.runtime == "docker":
        c = docker.client()
        if not follow:
            for line in docker.log_text(c, d.container_id or "", lines).splitlines():
                stdout.out(line, highlight=False)
            return
        try:
            for chunk in c.containers.get(d.container_id).logs(stream=True, follow=True, tail=lines):
                stdout.out(chunk.decode("utf-8", errors="replace").rstrip("\n"), highlight=False)
        except KeyboardInterrupt:
            pass
        return
    if not d.log_path:
        hint(f"{name} runs inside the Ollama server at {d.host}: its log is the server's (journalctl -u ollama, "
             "or ~/.ollama/logs/server.log on a Mac)")
        return
    for line in process.tail(d.log_path, lines):
        stdout.out(line, highlight=False)
    if not follow:
        return
    with open(d.log_path, errors="replace") as fh:
        fh.seek(0, os.SEEK_END)
        try:
            while True:
                line = fh.readline()
                if line:
                    stdout.out(line.rstrip("\n"), highlight=False)
                    continue
                if not launch.is_running(d):
                    hint(f"{name} is no longer running")
                    return
                time.sleep(0.3)
        except KeyboardInterrupt:
            return


def down(name: str = typer.Argument(None, help="Deployment name (deploykit ps)."),
         all_: bool = typer.Option(False, "--all", help="Stop every deployment deploykit started.")) -> None:
    """Stop a deployment (SIGTERM, then SIGKILL after a grace period) and forget it."""
    if bool(name) == all_:
        raise UsageError("name one deployment or pass --all", fix="deploykit ps lists them")
    targets = list(state.load().values()) if all_ else [_known(name)]
    for d in targets:
        stopped = launch.stop(d)
        hint(f"{d.name}: {'stopped' if stopped else 'was not running'}; removed")
