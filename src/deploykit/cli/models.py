"""`deploykit models` and `deploykit models show NAME`."""

from __future__ import annotations

import typer

from deploykit.catalog.loader import ModelSpec, load_models
from deploykit.catalog.resolve import resolve_model
from deploykit.cli import names
from deploykit.cli.complete import model_names
from deploykit.cli.names import split_csv
from deploykit.cli.output import Col, Format, emit_json, stdout, table

app = typer.Typer(help="The model catalog: what deploykit knows how to serve.", no_args_is_help=False,
                  rich_markup_mode=None)


def checked_filters(models: list[ModelSpec], license: str | None = None, origin: str | None = None,
                    exclude_origin: str | None = None, use: str | None = None) -> dict[str, list[str]]:
    """The filter flags as lists, each value checked against what the catalog holds (exit 2 with did-you-mean)."""
    return {"licenses": names.check("--license", split_csv(license), names.licences(models)),
            "origins": names.check("--origin", split_csv(origin), names.origins(models)),
            "exclude_origins": names.check("--exclude-origin", split_csv(exclude_origin), names.origins(models)),
            "uses": names.check("--use", split_csv(use), names.USES)}


def filter_models(models: list[ModelSpec], *, licenses: list[str] = (), origins: list[str] = (),
                  exclude_origins: list[str] = (), uses: list[str] = (), allow_gated: bool = True) -> list[ModelSpec]:
    def origin_hit(m: ModelSpec, wanted: list[str]) -> bool:
        return m.origin.lower() in wanted or m.origin_country.lower() in wanted

    out = []
    for m in models:
        if licenses and m.license.id.lower() not in licenses:
            continue
        if origins and not origin_hit(m, origins):
            continue
        if exclude_origins and origin_hit(m, exclude_origins):
            continue
        if uses and not set(uses) & set(m.uses):
            continue
        if not allow_gated and m.gated:
            continue
        out.append(m)
    return out


@app.callback(invoke_without_command=True)
def models(
    ctx: typer.Context,
    license: str = typer.Option(None, "--license", help="Only these licence ids, comma-separated (apache-2.0,mit)."),
    origin: str = typer.Option(None, "--origin", help="Only these origins (organisation or country code), comma-separated."),
    use: str = typer.Option(None, "--use", help="Only models for these uses: chat, code, reasoning, embeddings, rerank, vision."),
    format: Format = typer.Option(Format.table, "--format", "-f", help="table for people, json for scripts."),
) -> None:
    """List the catalog models."""
    if ctx.invoked_subcommand:
        return
    every = list(load_models().values())
    chosen = filter_models(every, **checked_filters(every, license=license, origin=origin, use=use))
    if format is Format.json:
        emit_json(chosen)
        return
    rows = []
    for m in chosen:
        a = m.architecture
        params = f"{m.params_total_b:g}B" + (f" ({m.params_active_b:g}B act)" if a.moe else "")
        rows.append([m.name, params, f"{a.max_context:,}", a.attention.kind, m.license.id,
                     f"{m.origin} ({m.origin_country})", "yes" if m.gated else "", ",".join(m.uses)])
    stdout.print(table(f"{len(rows)} models", [
        "name", "parameters", "context", Col("attention", drop=4), "licence", Col("origin", drop=3),
        Col("gated", drop=5), Col("uses", drop=2)], rows))


@app.command("show")
def show(
    name: str = typer.Argument(..., help="Catalog name, Hugging Face repo id, or local model directory.",
                               autocompletion=model_names),
    format: Format = typer.Option(Format.table, "--format", "-f", help="table for people, json for scripts."),
) -> None:
    """Everything deploykit knows about one model, with the source of each figure."""
    m = resolve_model(name)
    if format is Format.json:
        emit_json(m)
        return
    a = m.architecture
    stdout.print(f"[bold]{m.display_name}[/bold]  ({m.name}, {m.hf_repo}@{m.revision}, from {m.provenance})")
    rows = [["parameters", f"{m.params_total_b:g}B total, {m.params_active_b:g}B active"
             + (f", {m.vision_params_b:g}B vision" if m.vision_params_b else ""), m.params_source],
            ["layers / hidden / FFN", f"{a.num_layers} / {a.hidden_size} / {a.intermediate_size}", a.source],
            ["heads / KV heads / head dim", f"{a.num_attention_heads} / {a.num_kv_heads} / {a.head_dim}", a.source],
            ["vocabulary", f"{a.vocab_size:,}", a.source],
            ["max context", f"{a.max_context:,} (default working context {m.default_context or 'n/a'})", a.source],
            ["attention", _attention(m), a.source]]
    if a.moe:
        e = a.moe
        rows.append(["experts", f"{e.num_experts} routed (top-{e.experts_per_token}), {e.shared_experts} shared, "
                     f"expert FFN {e.expert_intermediate_size}, {e.moe_layers} MoE layers", a.source])
    lic = m.license
    rows.append(["licence", f"{lic.name} ({lic.id})" + (f", MAU limit {lic.mau_limit:,}" if lic.mau_limit else ""),
                 lic.url])
    rows.append(["origin / gated", f"{m.origin} ({m.origin_country}) / {'gated' if m.gated else 'open'}", ""])
    stdout.print(table("facts", ["what", "value", "source"], rows))
    for g in lic.gotchas:
        stdout.print(f"  [yellow]licence:[/yellow] {g}", highlight=False)
    if m.artifacts:
        rows = [[x.format, x.hf_repo or "", x.gguf_file or "", x.ollama_tag or "",
                 f"{x.size_gb:g} GB" if x.size_gb else "", "official" if x.official else "", x.source]
                for x in m.artifacts]
        stdout.print(table("artifacts", ["format", "hf repo", "file", "ollama", "size", "", "source"], rows))


def _attention(m: ModelSpec) -> str:
    at = m.architecture.attention
    if at.kind == "sliding":
        pattern = f", every {at.global_every}th layer global" if at.global_every else ", all layers"
        return f"sliding window {at.window}{pattern}"
    if at.kind == "chunked":
        return f"chunked ({at.chunk} tokens), every {at.global_every}th layer global"
    if at.kind == "mla":
        return f"MLA: kv_lora_rank {at.kv_lora_rank}, rope dim {at.qk_rope_head_dim}"
    return "full"
