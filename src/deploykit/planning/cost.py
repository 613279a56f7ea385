"""What a plan costs to run, per million tokens, and the daily volume above which it beats a hosted API.

The arithmetic, all of it in ``cost()``:

* The GPUs are rented by the hour and paid for all day: ``hourly = GPU-hour price x devices``.
* Decoding is the bottleneck: the plan's ``aggregate_tokens_per_s`` (A) output tokens per second while busy.
  One output token takes 1/A seconds of the whole deployment.
* A prompt (input) token takes ``share``/A seconds: prefill is compute-bound and batches many prompt tokens per
  forward pass, so ``share`` = A / prefill tokens/s, with prefill estimated as dense peak x MFU / (2 x active
  parameters) (the plan's own compute assumption); where that cannot be estimated, ``share`` = 0.1.
* The deployment is busy ``utilization`` of the day; idle time is still paid for.
* Break-even against a hosted API: the GPUs' fixed cost per day divided by what the API charges for the same
  traffic (output tokens plus ``input_output_ratio`` input tokens each). Above that daily volume, and up to what
  the plan can serve, self-hosting is cheaper.

Every number used is listed in ``CostReport.assumptions``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from deploykit.errors import DataError, DeploykitError, DoesNotFitError, UsageError
from deploykit.paths import data_dir
from deploykit.planning.estimates import MFU_DECODE
from deploykit.planning.types import Plan
from deploykit.suggest import did_you_mean

SECONDS_PER_DAY = 86_400
DAYS_PER_MONTH = 30
DEFAULT_UTILIZATION = 0.5
# Input tokens per output token. Chat with history and RAG send more than they get back; 3:1 is also the mix
# Artificial Analysis uses for its blended API prices. An assumption: set --input-output-ratio.
DEFAULT_INPUT_OUTPUT_RATIO = 3.0
# A prompt token's GPU time as a share of an output token's, when prefill speed cannot be estimated
# (non-vLLM engines, models outside the catalog, profiles without a TFLOPS figure).
FALLBACK_INPUT_SHARE = 0.1
# Prefill runs at the same share of dense peak as the plan's aggregate decode estimate assumes.
MFU_PREFILL = MFU_DECODE
DATE = r"^\d{4}-\d{2}(-\d{2})?$"
PRICES_FILE = "api_prices.yaml"
ROW_FIX = ("each row needs provider, model, input_usd_per_mtok, output_usd_per_mtok, source (URL of the pricing "
           "page), read (YYYY-MM[-DD]) and comparable_to (catalog model names); see data/api_prices.yaml")


# ----------------------------------------------------------------------------------------------- price table
class APIPrice(BaseModel):
    """One hosted model's list price, USD per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str = Field(..., pattern=r"^[a-z0-9][a-z0-9.\-]*$", description="provider id (openai, groq, ...)")
    model: str = Field(..., min_length=1, description="the provider's model id")
    input_usd_per_mtok: float = Field(..., ge=0, description="USD per million input tokens")
    output_usd_per_mtok: float = Field(..., gt=0, description="USD per million output tokens")
    source: str = Field(..., pattern=r"^https?://\S+", description="the provider's pricing page")
    read: str = Field(..., pattern=DATE, description="when the figure was read (YYYY-MM[-DD])")
    via: str | None = Field(None, description="the copy actually read, where not the provider's page")
    note: str | None = Field(None, description="what the figure covers")
    comparable_to: list[str] = Field(default_factory=list, description="catalog models of a similar class")

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.model}"

    def blended_usd_per_m_output(self, ratio: float) -> float:
        """What the API charges per million output tokens together with their ``ratio`` input tokens each."""
        return self.output_usd_per_mtok + ratio * self.input_usd_per_mtok


class PriceTable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: str = Field(..., pattern=DATE, description="date of the table")
    prices: list[APIPrice] = Field(..., min_length=1)
    _file: str = PrivateAttr(default="")

    @model_validator(mode="after")
    def _unique(self) -> PriceTable:
        seen: set[str] = set()
        for row in self.prices:
            if row.key in seen:
                raise ValueError(f"{row.key} is listed twice")
            seen.add(row.key)
        return self

    @property
    def file(self) -> str:
        return self._file

    def comparable(self, model_name: str) -> list[APIPrice]:
        name = model_name.lower()
        return [row for row in self.prices if name in (c.lower() for c in row.comparable_to)]

    def find(self, name: str) -> APIPrice:
        """A row by ``model`` or ``provider/model`` (case-insensitive)."""
        key = name.strip().lower()
        hits = [r for r in self.prices if key in (r.key.lower(), r.model.lower())]
        if len(hits) == 1:
            return hits[0]
        if hits:
            raise UsageError(f"'{name}' is offered by several providers in the price table",
                             fix="name one as provider/model", suggestions=[r.key for r in hits])
        raise UsageError(f"no hosted API '{name}' in the price table {self.file or ''}".rstrip(),
                         fix="pick a model (or provider/model) listed there, or add a row with --prices FILE",
                         suggestions=did_you_mean(name, [r.model for r in self.prices] +
                                                  [r.key for r in self.prices]))


def default_prices_path() -> Path:
    return data_dir("data") / PRICES_FILE


def load_prices(path: Path | str | None = None) -> PriceTable:
    """The shipped price table, or a user's file (``--prices``) in the same format; read once per process."""
    user = path is not None
    p = Path(path).expanduser() if user else default_prices_path()
    try:
        mtime = p.stat().st_mtime_ns
    except OSError as exc:
        raise DataError(f"price table {p} cannot be read: {exc.strerror or exc}",
                        fix="check the path given to --prices" if user else
                        "reinstall deploykit (pip install --force-reinstall deploykit)") from exc
    return _load(str(p.resolve()), mtime, user)


@lru_cache(maxsize=8)
def _load(path: str, mtime: int, user: bool) -> PriceTable:
    if user:
        return _read(path, user)
    from deploykit.catalog import cache  # the shipped table, validated once and kept like the catalog

    return cache.cached("prices", [Path(path)], lambda: _read(path, user), code=(Path(__file__),))


def _read(path: str, user: bool) -> PriceTable:
    import yaml  # only when a table is read from its file

    label = path if user else f"data/{PRICES_FILE}"
    try:
        # libyaml's parser when PyYAML has it: the pure-Python one took ~0.1 s of every `plan`
        data = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"price table {label} cannot be read: {exc}",
                        fix="check the path given to --prices" if user else "reinstall deploykit") from exc
    except yaml.YAMLError as exc:
        raise DataError(f"{label}: not valid YAML: {exc}", fix="fix the YAML syntax at the line shown") from exc
    try:
        table = PriceTable.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
                             for err in exc.errors())
        raise DataError(f"{label}: {problems}", fix=ROW_FIX) from exc
    table._file = label
    return table


# ------------------------------------------------------------------------------------------------- the report
class GPUPrice(BaseModel):
    usd_per_device_hour: float
    devices: int
    unit: str = Field(..., description="GPU, or machine for Apple/CPU profiles")
    source: str


class Comparison(BaseModel):
    provider: str
    model: str
    input_usd_per_mtok: float
    output_usd_per_mtok: float
    read: str
    source: str
    hosted_usd_per_m_tokens: float = Field(..., description="blended over input and output at the ratio")
    self_hosted_usd_per_m_tokens: float = Field(..., description="blended likewise, at the stated utilization")
    savings_at_utilization: float = Field(..., description="1 - self-hosted / hosted (negative: self-hosting costs more)")
    break_even_output_tokens_per_day: float
    break_even_tokens_per_day: float = Field(..., description="input + output tokens a day at which costs are equal")
    break_even_utilization: float = Field(..., description="break-even volume / what the plan serves at 100%")
    self_hosting_wins_above_tokens_per_day: float | None = Field(
        ..., description="input + output tokens a day above which self-hosting is cheaper; None: never on this plan")


class CostReport(BaseModel):
    model: str
    engine: str
    hardware: str = Field(..., description="devices x profile")
    gpu_price: GPUPrice
    hourly_usd: float = Field(..., description="all devices, per hour")
    daily_usd: float
    monthly_usd: float = Field(..., description=f"{DAYS_PER_MONTH} days")
    utilization: float
    input_output_ratio: float
    aggregate_tokens_per_s: float = Field(..., description="the plan's decode estimate, all replicas")
    prefill_tokens_per_s: float | None
    input_token_share: float = Field(..., description="a prompt token's GPU time / an output token's")
    output_tokens_per_day: float = Field(..., description="served at the stated utilization")
    input_tokens_per_day: float
    capacity_output_tokens_per_day: float = Field(..., description="served at 100% utilization")
    usd_per_m_output_tokens: float
    usd_per_m_input_tokens: float
    usd_per_m_tokens: float = Field(..., description="blended over input and output at the ratio")
    prices_as_of: str
    prices_file: str
    comparisons: list[Comparison]
    assumptions: list[str]


# -------------------------------------------------------------------------------------------------- arithmetic
def gpu_hour_price(plan: Plan, override: float | None = None) -> GPUPrice:
    """Per device-hour: ``override`` (--gpu-hour-price), else the hardware profile's published price."""
    from deploykit.catalog.loader import get_profile

    name = plan.hardware.get("profile", "")
    profile = get_profile(name)
    unit = "GPU" if profile.kind == "nvidia" else "machine"
    devices = max(1, plan.gpus_used)
    if override is not None:
        if override <= 0:
            raise UsageError(f"--gpu-hour-price must be above 0 (got {override:g})",
                             fix=f"pass what one {unit}-hour costs you in USD")
        return GPUPrice(usd_per_device_hour=override, devices=devices, unit=unit, source="--gpu-hour-price")
    if profile.price is None:
        raise UsageError(f"no price for hardware profile '{name}' ({profile.display_name}): "
                         f"hardware_profiles/{profile.variant_of or name}.yaml publishes none",
                         fix=f"pass --gpu-hour-price USD: what one {unit}-hour costs you (cloud rate, or the "
                             "hardware and power amortised over its hours)")
    p = profile.price
    return GPUPrice(usd_per_device_hour=p.usd_per_hour, devices=devices, unit=unit,
                    source=f"hardware_profiles/{profile.variant_of or name}.yaml: {p.source}, as of {p.as_of}")


def prefill_tokens_per_s(plan: Plan) -> float | None:
    """Compute-bound prefill: dense peak x MFU / (2 x active parameters), for vLLM plans of catalog models."""
    from deploykit.catalog.loader import find_model, get_profile

    if plan.engine != "vllm":
        return None
    spec = find_model(str(plan.model.get("name", "")))
    profile = get_profile(plan.hardware.get("profile", ""))
    fp8 = plan.weights.get("dtype") == "fp8" and profile.fp8_tflops
    peak = profile.fp8_tflops if fp8 else profile.bf16_tflops
    if spec is None or not peak:
        return None
    return max(1, plan.gpus_used) * peak * 1e12 * MFU_PREFILL / (2 * spec.params_active_b * 1e9)


def cost(plan: Plan, gpu_hour_usd: float | None = None, utilization: float = DEFAULT_UTILIZATION,
         input_output_ratio: float = DEFAULT_INPUT_OUTPUT_RATIO, prices: PriceTable | None = None, *,
         compare: list[str] | None = None) -> CostReport:
    """Self-hosted cost of ``plan`` and its break-even against hosted APIs: the rows comparable to the plan's
    model, or those named in ``compare`` (``["all"]``: every row)."""
    name = str(plan.model.get("name", "?"))
    if not plan.fits or plan.estimates is None:
        raise DoesNotFitError(f"{name} does not fit {plan.hardware.get('profile')}: no throughput to cost",
                              fix=f"run deploykit plan {name} to see what would fit", plan=plan)
    if not 0 < utilization <= 1:
        raise UsageError(f"utilization must be in (0, 1] (got {utilization:g})",
                         fix="pass --utilization 0.5 for a deployment busy half the day")
    if input_output_ratio < 0:
        raise UsageError(f"the input:output ratio cannot be negative (got {input_output_ratio:g})",
                         fix="pass --input-output-ratio 3 for three prompt tokens per generated token")
    agg = plan.estimates.aggregate_tokens_per_s
    if agg <= 0:
        raise UsageError(f"the plan for {name} estimates no throughput", fix="re-plan with deploykit plan")
    price = gpu_hour_price(plan, gpu_hour_usd)
    table = prices if prices is not None else load_prices()
    rows = _rows(table, name, compare)
    r, u = input_output_ratio, utilization

    prefill = prefill_tokens_per_s(plan)
    share = agg / prefill if prefill else FALLBACK_INPUT_SHARE
    hourly = price.usd_per_device_hour * price.devices
    daily = hourly * 24
    wl = plan.workload or {}
    planned = bool(wl.get("input_tokens") and wl.get("output_tokens"))
    if planned:
        # The plan's aggregate already pays for its workload's prompts (input_tokens per output_tokens); only
        # prompt tokens beyond that ratio cost extra prefill time.
        plan_ratio = wl["input_tokens"] / wl["output_tokens"]
        agg_eff = agg / (1 + max(0.0, r - plan_ratio) * share)
        capacity_out = SECONDS_PER_DAY * agg_eff
        per_out_with_prompts = hourly / (agg_eff * 3600 * u) * 1e6
        per_m_out = per_out_with_prompts / (1 + r * share)  # split the time between output and prompt tokens
    else:
        capacity_out = SECONDS_PER_DAY * agg / (1 + r * share)  # output tokens a day, prompts included, 100% busy
        per_m_out = hourly / (agg * 3600 * u) * 1e6
    out_day = u * capacity_out
    per_m_in = share * per_m_out
    per_m_blend = (per_m_out + r * per_m_in) / (1 + r)

    comparisons = []
    for row in rows:
        hosted_per_out = row.blended_usd_per_m_output(r)  # per 1M output tokens with their prompts
        even_out = daily / hosted_per_out * 1e6
        hosted_blend = hosted_per_out / (1 + r)
        comparisons.append(Comparison(
            provider=row.provider, model=row.model, input_usd_per_mtok=row.input_usd_per_mtok,
            output_usd_per_mtok=row.output_usd_per_mtok, read=row.read, source=row.source,
            hosted_usd_per_m_tokens=round(hosted_blend, 4), self_hosted_usd_per_m_tokens=round(per_m_blend, 4),
            savings_at_utilization=round(1 - per_m_blend / hosted_blend, 4),
            break_even_output_tokens_per_day=round(even_out), break_even_tokens_per_day=round(even_out * (1 + r)),
            break_even_utilization=round(even_out / capacity_out, 4),
            self_hosting_wins_above_tokens_per_day=round(even_out * (1 + r)) if even_out <= capacity_out else None))
    comparisons.sort(key=lambda c: c.hosted_usd_per_m_tokens)

    e = plan.estimates
    unit = price.unit
    assumptions = [
        (f"{unit} price: ${price.usd_per_device_hour:.2f}/{unit}-hour x {price.devices} = ${hourly:.2f}/hour "
         f"({price.source})"),
        (f"paid 24 h a day, {DAYS_PER_MONTH} days a month: ${daily:,.2f}/day, ${daily * DAYS_PER_MONTH:,.0f}/month "
         "(on-demand rate; no reserved discount, power, storage, network or staff costs)"),
        f"busy {u:.0%} of the day (set --utilization); idle time is paid for",
        (f"throughput: the plan's estimate of {agg:,.0f} output tokens/s ({e.planned_concurrency} requests in flight "
         "per replica" + (f", {wl['input_tokens']:,}-token prompts and {wl['output_tokens']:,}-token replies, "
                          "prefill included" if planned else "") + "), not a measurement: see "
         "benchmarks/bench_speed.py for how the estimator compares with published measurements"),
        (f"prefill: 2 x active parameters FLOPs per prompt token at {MFU_PREFILL:.0%} of dense peak over "
         f"{price.devices} {unit}(s) = {prefill:,.0f} tokens/s, so a prompt token costs {share:.1%} of an output "
         "token's GPU time" if prefill else
         f"a prompt token costs {share:.0%} of an output token's GPU time (prefill is compute-bound and batches "
         "many tokens per pass; no prefill estimate for this plan)"),
        f"traffic: {r:g} input tokens per output token (set --input-output-ratio)",
        (f"hosted prices: list prices, standard tier, no batch or prompt-cache discount ({table.file or 'table'}, "
         f"as of {table.as_of}; each row's read date is shown)"),
        ("break-even: the GPUs' fixed cost a day / the hosted bill for the same traffic; self-hosting wins above it "
         f"up to the plan's capacity ({_human(capacity_out)} output tokens/day at 100%); add replicas beyond that at "
         "the same cost per token"),
    ]
    return CostReport(
        model=name, engine=plan.engine, hardware=f"{price.devices} x {plan.hardware.get('profile')}",
        gpu_price=price, hourly_usd=round(hourly, 4), daily_usd=round(daily, 2),
        monthly_usd=round(daily * DAYS_PER_MONTH, 2), utilization=u, input_output_ratio=r,
        aggregate_tokens_per_s=agg, prefill_tokens_per_s=round(prefill, 1) if prefill else None,
        input_token_share=round(share, 5), output_tokens_per_day=round(out_day),
        input_tokens_per_day=round(out_day * r), capacity_output_tokens_per_day=round(capacity_out),
        usd_per_m_output_tokens=round(per_m_out, 4), usd_per_m_input_tokens=round(per_m_in, 4),
        usd_per_m_tokens=round(per_m_blend, 4), prices_as_of=table.as_of, prices_file=table.file,
        comparisons=comparisons, assumptions=assumptions)


def _rows(table: PriceTable, model: str, compare: list[str] | None) -> list[APIPrice]:
    if not compare:
        return table.comparable(model)
    if [c.lower() for c in compare] == ["all"]:
        return list(table.prices)
    rows: list[APIPrice] = []
    for name in compare:
        row = table.find(name)
        if row not in rows:
            rows.append(row)
    return rows


def one_line_summary(plan: Plan) -> str | None:
    """The cost line `deploykit plan` prints under a plan that fits; None when no price is known (or on any
    error: the plan's own output must not fail because of the price table)."""
    try:
        report = cost(plan)
    except DeploykitError:
        return None
    g = report.gpu_price
    line = (f"cost: ${report.usd_per_m_output_tokens:.2f} per million output tokens at {report.utilization:.0%} "
            f"utilization on {report.hardware} at ${g.usd_per_device_hour:.2f}/{g.unit}-hour")
    if not report.comparisons:
        return line
    cheapest = report.comparisons[0]  # the hardest to beat
    if cheapest.self_hosting_wins_above_tokens_per_day is not None:
        return (f"{line}; beats {cheapest.model} above {_human(cheapest.self_hosting_wins_above_tokens_per_day)} "
                f"tokens/day (input + output at {report.input_output_ratio:g}:1)")
    return (f"{line}; never beats {cheapest.model} (${cheapest.hosted_usd_per_m_tokens:.2f}/M tokens) on this "
            "plan: see deploykit cost")


def _human(n: float) -> str:
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= size:
            value = n / size
            return f"{value:.1f}{suffix}" if value < 100 else f"{value:.0f}{suffix}"
    return f"{n:.0f}"


def human_tokens(n: float) -> str:
    """1234567 -> '1.2M' (for tables)."""
    return _human(n)
