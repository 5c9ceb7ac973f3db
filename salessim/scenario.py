"""The scenario language: YAML files validated into frozen, typed configuration.

A scenario describes a sales force and how it is run — the eight drivers as levers — and nothing
about how the simulation executes it. Every default here is the *baseline* ("a typical company
today") and carries its source, or is marked as an assumption; :func:`assumptions_register` lists
them all for reports.

Scenarios inherit with ``extends: baseline`` (a name in the same folder, or a path) and override only
what they write; mappings merge deeply, lists and scalars replace.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import math
import re
import reprlib
import types
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from salessim.resources import ROOT

__all__ = [
    "Scenario",
    "ScenarioError",
    "assumptions_register",
    "load_scenario",
    "load_yaml_text",
    "safe_repr",
    "scenario_hash",
]

SCENARIO_DIR = ROOT / "data" / "scenarios"


class ScenarioError(ValueError):
    """Bad scenario input: names the file, the field path, the bad value and what is allowed."""


class _Repr(reprlib.Repr):
    """reprlib with integers shortened without building their full decimal form."""

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() <= 200:
            return repr(x)
        digits = math.floor(x.bit_length() * math.log10(2)) + 1
        return f"<an integer of about {digits:,} digits>"

    def repr_date(self, x: dt.date, level: int) -> str:
        return x.isoformat()


_REPR = _Repr()
_REPR.maxlevel = 3
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlong = 60


def safe_repr(value: Any, limit: int = 100) -> str:
    """``repr(value)`` for messages, in at most ``limit`` characters.

    Never builds the full repr of a large value: containers show their first items and nesting
    levels only, strings their start, and integers too long to print their number of digits.

    Args:
        value: anything, e.g. a bad input value from a YAML document.
        limit: longest result.
    """
    try:
        shown = _REPR.repr(value)
    except Exception:  # a value whose own __repr__ fails must not hide the real problem
        shown = f"<{type(value).__name__}>"
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _meta(source: str | None = None, assumption: str | None = None) -> dict[str, Any]:
    if assumption is not None:
        return {"kind": "assumption", "source": assumption}
    return {"kind": "sourced", "source": source or ""}


def S(default: Any, source: str, **kw: Any) -> Any:
    """A field whose default comes from a published figure."""
    return Field(default, json_schema_extra=_meta(source=source), **kw)


def A(default: Any, note: str, **kw: Any) -> Any:
    """A field whose default is a modelling assumption (reports print these)."""
    return Field(default, json_schema_extra=_meta(assumption=note), **kw)


#: A real number: infinity and NaN are refused everywhere in the schema (a config of a
#: scenario also sets ``allow_inf_nan=False``, so a plain ``float`` field refuses them too).
Finite = Annotated[float, Field(allow_inf_nan=False)]
Prob = Annotated[Finite, Field(gt=0.0, lt=1.0)]
Share = Annotated[Finite, Field(ge=0.0, le=1.0)]
Positive = Annotated[Finite, Field(gt=0.0)]
NonNeg = Annotated[Finite, Field(ge=0.0)]

#: Sane bounds for money and time: a larger value is a typo, and would overflow the model's draws.
MAX_AMOUNT = 1e9
MAX_STAGE_DAYS = 3650.0
MAX_AMOUNT_FACTOR = 100.0
#: First and last ``start_date`` accepted.
DATE_RANGE = (dt.date(1990, 1, 1), dt.date(2100, 12, 31))
#: Most seats a sales force may have, planned hires included (managers × span at their bounds).
MAX_SEATS = 20_000


class FrozenDict(dict):
    """A read-only dict: mapping-valued config (products, segments) is as frozen as the rest."""

    def _readonly(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("scenario configuration is frozen; use Scenario.replace(...)")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _readonly  # type: ignore[assignment]
    __ior__ = _readonly  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))

    def __copy__(self) -> FrozenDict:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenDict:
        return self


def _freeze(v: dict[Any, Any]) -> FrozenDict:
    return FrozenDict(v)


def _kinds(annotation: Any) -> frozenset[Any]:
    """The plain types a field annotation allows, looking through unions and ``Annotated``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _kinds(get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return frozenset().union(*(_kinds(a) for a in get_args(annotation)))
    return frozenset({annotation})


@functools.cache
def _field_kind(model: type[BaseModel], name: str) -> str:
    kinds = _kinds(model.model_fields[name].annotation) - {type(None)}
    if kinds == {bool}:
        return "flag"
    if kinds & {int, float}:
        return "a whole number" if kinds & {int} and not kinds & {float} else "a number"
    if kinds == {dt.date}:
        return "date"
    if kinds == {str}:
        return "text" if name != "description" else "lines"
    return ""


#: Longest name (of a scenario, stage or product) and description.
MAX_NAME = 200
MAX_DESCRIPTION = 10_000
#: Characters refused in names: C0/C1 controls (terminal escapes, NUL), lone surrogates (which
#: cannot be printed) and bidirectional overrides (which make text display as something else).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
_UNPRINTABLE_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def _text_problem(text: str, lines: bool = False) -> str | None:
    """Why ``text`` cannot be a name (or, with ``lines``, a description), or None."""
    limit = MAX_DESCRIPTION if lines else MAX_NAME
    if len(text) > limit:
        return f"longer than {limit:,} characters"
    bad = (_UNPRINTABLE_LINES if lines else _UNPRINTABLE).search(text)
    if bad:
        return (
            f"holds the control character {bad.group()!r} at position {bad.start()}; "
            "only printable text is allowed"
        )
    return None


class Frozen(BaseModel):
    """Base for config sections: immutable, unknown keys rejected, numbers finite.

    Booleans are not numbers here (``warmup_days: true`` is refused, not read as 1), a flag is
    only ``true`` or ``false``, and a date is a date, not a count of seconds.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _strict_kinds(cls, v: Any, info: ValidationInfo) -> Any:
        kind = _field_kind(cls, info.field_name) if info.field_name else ""
        if kind in ("a number", "a whole number") and isinstance(v, bool):
            raise ValueError(f"expected {kind}, got a boolean (true/false)")
        if kind == "flag" and not isinstance(v, bool):
            raise ValueError("expected true or false")
        if kind == "date" and isinstance(v, int | float):
            raise ValueError("expected a date written YYYY-MM-DD")
        if kind in ("text", "lines") and isinstance(v, str):
            problem = _text_problem(v, lines=kind == "lines")
            if problem:
                raise ValueError(problem)
        return v


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


class Simulation(Frozen):
    """Clock: warm-up (excluded from results) and the reported horizon, in days, and the mode.

    A run starts at steady state (open pipelines at the plan's benchmark inventory, tenures from
    their stationary distribution). In ``transition`` mode the warm-up runs under the warm-up policy
    — the library baseline's driver sections (goals, prescription, metrics, crm_adoption, managers'
    training, unified_approach and promotion, coaching, reviews, culture) laid over this scenario, or
    the comparison's baseline in ``salessim compare`` — and this scenario's own levers take over when
    the reported horizon starts, so year 1 shows the change ramping in. In ``steady_state`` mode this
    scenario's levers apply from time 0, so the reported years show its steady state.
    """

    warmup_days: int = A(
        365,
        "a year under the warm-up policy: the run starts at steady state, and "
        "a year lets culture, coached skill and the review cycle settle",
        ge=0,
        le=1095,
    )
    mode: Literal["transition", "steady_state"] = A(
        "transition",
        "reports show year 1 after a change of policy (transition) unless they say "
        "they show the steady state",
    )
    horizon_days: int = A(
        365,
        "one fiscal year, reported in quarters. Up to 365 days is one (possibly short) year of "
        "four quarters; a longer horizon must be whole fiscal years of 365 days (730, 1095, 1460 or "
        "1825), each reported as four quarters and a year, so every year row is comparable",
        gt=0,
        le=1825,
    )

    @field_validator("horizon_days")
    @classmethod
    def _whole_years(cls, v: int) -> int:
        if v > 365 and v % 365:
            raise ValueError(
                f"a horizon longer than a year must be whole years of 365 days "
                f"(730, 1095, 1460 or 1825), got {v}"
            )
        return v


class Organisation(Frozen):
    """Size of the sales force and the annual quota per rep."""

    managers: int = A(10, "a mid-sized field sales force", ge=1, le=500)
    span: int = S(8, "Alexander Group avg 8.5 reps per first-line manager; Bridge Group 1:8.1", ge=1, le=40)
    quota: Positive = A(
        1_100_000.0,
        "annual quota per rep (assumption). Not independent of the "
        "share-at-quota validation row (RepVue ~43 %; Ebsta 2024 31 %): version 1 "
        "chose this value against it",
        le=MAX_AMOUNT,
    )


class Stage(Frozen):
    """One funnel stage: probability of advancing, and the gamma-distributed time spent in it."""

    name: str = Field(min_length=1, description="the stage's name, as in the CRM (unique)")
    conversion: Prob = Field(
        description="probability that a deal in this stage advances (for an "
        "average rep, before offsets); the last stage's advance is a win"
    )
    mean_days: Positive = Field(
        le=MAX_STAGE_DAYS, description="mean days a deal spends in the stage (gamma-distributed)"
    )
    cv: float = Field(
        0.7, gt=0.0, le=3.0, description="coefficient of variation of the stage's duration (sd ÷ mean)"
    )
    work_hours: float = Field(
        0.8,
        ge=0.0,
        le=40.0,
        description="rep hours a deal in this stage needs "
        "each week to move at its base pace (below that, it stretches and "
        "its odds fall)",
    )
    fast_share: float = A(
        0.0,
        "no fast lane: every deal's time in the stage is one gamma around mean_days. Above 0 "
        "(a calibration sets it when an export's cycles have a fast mode): the share of deals "
        "that move through the stage fast (quick buys), with mean fast_mean_days; the others' "
        "mean rises so the stage's mean stays mean_days; both gamma with the stage's cv; the "
        "same deals are the fast ones in every stage",
        ge=0.0,
        lt=1.0,
    )
    fast_mean_days: float = A(
        0.0,
        "mean days a fast deal spends in the stage (used when fast_share > 0; below mean_days)",
        ge=0.0,
        le=MAX_STAGE_DAYS,
    )

    @model_validator(mode="after")
    def _fast_lane(self) -> Stage:
        if self.fast_share > 0 and not 0 < self.fast_mean_days < self.mean_days:
            raise ValueError(
                f"fast_mean_days must be above 0 and below mean_days "
                f"({self.mean_days:g}) when fast_share is above 0, got "
                f"{self.fast_mean_days:g}"
            )
        return self

    def fast_lane(self) -> tuple[float, float, float]:
        """(share, fast mean, other deals' mean): the stage's two-lane duration mixture."""
        f = self.fast_share
        if f <= 0:
            return 0.0, self.mean_days, self.mean_days
        return f, self.fast_mean_days, (self.mean_days - f * self.fast_mean_days) / (1 - f)


def _default_stages() -> tuple[Stage, ...]:
    return (
        Stage(name="discovery", conversion=0.52, mean_days=20.0, cv=0.8, work_hours=0.5),
        Stage(name="proposal", conversion=0.56, mean_days=24.0, cv=0.7, work_hours=1.0),
        Stage(name="negotiation", conversion=0.74, mean_days=20.0, cv=0.6, work_hours=1.25),
    )


class Segment(Frozen):
    """A market segment: share of the natural mix, log-odds offset and deal-size factor."""

    share: Share = Field(description="share of new opportunities in this segment (natural mix)")
    logit_offset: float = Field(
        0.0, ge=-5, le=5, description="log-odds added to every stage's conversion for deals in this segment"
    )
    amount_factor: Positive = Field(
        1.0, le=MAX_AMOUNT_FACTOR, description="multiplies the product's deal size for deals in this segment"
    )


class Product(Frozen):
    """A product: share of the natural mix, log-odds offset and lognormal deal size."""

    share: Share = Field(description="share of new opportunities for this product (natural mix)")
    logit_offset: float = Field(
        0.0, ge=-5, le=5, description="log-odds added to every stage's conversion for deals of this product"
    )
    amount_median: Positive = Field(le=MAX_AMOUNT, description="median deal size (lognormal)")
    amount_sigma: float = Field(0.6, ge=0.0, le=3.0, description="sigma of the log deal size")


class Funnel(Frozen):
    """Stages, segments and products: where deals come from and how they move."""

    stages: tuple[Stage, ...] = S(
        _default_stages(),
        "stage conversions: early 40–60 %, late 60–80 % (practitioner glossaries); overall "
        "win rate ≈ 20 % (Ebsta×Pavilion 2025); cycle 60–72 days (Bridge Group 2017); weekly work "
        "per deal rising toward the close (assumption)",
        min_length=1,
        max_length=8,
    )
    segments: Annotated[dict[Literal["new_logo", "expansion"], Segment], AfterValidator(_freeze)] = A(
        {
            "new_logo": Segment(share=0.4, logit_offset=-0.25, amount_factor=1.25),
            "expansion": Segment(share=0.6, logit_offset=0.17, amount_factor=0.85),
        },
        "new logos convert worse but are larger than expansion deals",
    )
    products: Annotated[dict[str, Product], AfterValidator(_freeze)] = S(
        {
            "A": Product(share=0.7, amount_median=26_000.0, amount_sigma=0.6),
            "B": Product(share=0.3, logit_offset=-0.3, amount_median=20_000.0, amount_sigma=0.6),
        },
        "deal size ≈ $25K ACV (Bridge Group 2017); product B newer and harder to sell (assumption)",
    )

    @field_validator("stages")
    @classmethod
    def _stage_names(cls, v: tuple[Stage, ...]) -> tuple[Stage, ...]:
        names = [s.name for s in v]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"stage names must be unique, repeated: {', '.join(dupes)}")
        if "won" in names:
            raise ValueError("'won' is reserved for the outcome and cannot name a stage")
        return v

    @field_validator("segments")
    @classmethod
    def _segments_complete(cls, v: dict[str, Segment]) -> dict[str, Segment]:
        if set(v) != {"new_logo", "expansion"}:
            raise ValueError(f"must define both 'new_logo' and 'expansion', got {sorted(v)}")
        total = sum(s.share for s in v.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"segment shares must sum to 1, got {total:g}")
        return v

    @field_validator("products")
    @classmethod
    def _products_sum(cls, v: dict[str, Product]) -> dict[str, Product]:
        if not v:
            raise ValueError("at least one product is required")
        for name in v:
            problem = _text_problem(name)
            if problem:
                raise ValueError(f"product name {safe_repr(name)}: {problem}")
        total = sum(p.share for p in v.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"product shares must sum to 1, got {total:g}")
        return v


GoalMetric = Literal[
    "revenue",
    "new_logos",
    "new_logo_revenue",
    "expansion_revenue",
    "product_revenue",
    "avg_deal_size",
    "win_rate",
    "opportunities",
]


class Goal(Frozen):
    """One goal in the plan. ``target`` is per rep per year; omitted → what quota implies."""

    metric: GoalMetric = Field(description="what the goal measures")
    weight: float = Field(
        gt=0.0, le=1.0, description="the goal's weight in the composite score (weights sum to 1)"
    )
    target: Annotated[Positive, Field(le=1e12)] | None = Field(
        None, description="per rep per year; null: what quota implies at the natural mix"
    )
    product: str | None = Field(None, description="the product, for metric product_revenue only")

    @model_validator(mode="after")
    def _product_needed(self) -> Goal:
        if (self.metric == "product_revenue") != (self.product is not None):
            raise ValueError("'product' is required for metric product_revenue, and only for it")
        return self


def _default_goals() -> tuple[Goal, ...]:
    return (
        Goal(metric="revenue", weight=0.5),
        Goal(metric="new_logos", weight=0.2),
        Goal(metric="product_revenue", weight=0.2, product="B"),
        Goal(metric="avg_deal_size", weight=0.1),
    )


class Goals(Frozen):
    """Driver 1 — goal clarity: the goal plan and how goal count blurs focus."""

    items: tuple[Goal, ...] = S(
        _default_goals(),
        "classic strategy variables (revenue, account size, new vs current "
        "client) plus a product manager's wish — the source article",
        min_length=1,
        max_length=10,
    )
    interwoven: bool = A(False, "goals are independent by default (no gates or multipliers)")
    focus_penalty_per_goal: NonNeg = A(
        0.008,
        "log-odds lost per goal beyond the first (goal-overload research; Slocum, Cron & "
        "Brown 2002). Not independent of the 2-vs-4-goals validation row: version 1 chose this value "
        "against it, so that row is not evidence for the model until goal overload acts through "
        "rep time; sensitivity shown in reports",
        le=1.0,
    )
    interwoven_penalty: NonNeg = A(0.10, "extra log-odds lost when goals gate each other", le=2.0)
    effort_loss_per_goal: NonNeg = A(
        0.006, "share of selling effort lost per extra goal to context switching", le=0.3
    )
    perception_noise_per_goal: NonNeg = A(
        0.25, "sd of a rep's log-perceived goal weight, per extra goal", le=3.0
    )
    drop_probability: Share = S(
        0.35,
        "with ≥3 goals a rep may drop the lowest-weight goal (Slocum et al. 2002: partial "
        "abandonment under two hard goals; 4DX practice)",
    )
    mix_tilt: Share = A(0.35, "how far goal weights pull a rep's prospecting mix off the natural mix")
    composite_cap: float = A(2.0, "cap per goal on attainment in the composite score", ge=1.0, le=10.0)

    @field_validator("items")
    @classmethod
    def _weights(cls, v: tuple[Goal, ...]) -> tuple[Goal, ...]:
        total = sum(g.weight for g in v)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"goal weights must sum to 1, got {total:g}")
        keys = [(g.metric, g.product) for g in v]
        if len(set(keys)) != len(keys):
            raise ValueError("each goal metric may appear once")
        return v


class Prescription(Frozen):
    """Driver 2 — tactical prescription vs each rep planning for themselves."""

    enabled: bool = A(False, "baseline: reps self-plan (the article: 'the step most often omitted')")
    coverage_margin: float = A(0.10, "plan above the reverse funnel by this margin", ge=0.0, le=2.0)
    self_plan_median: Positive = A(
        1.0,
        "self-planned prospecting ÷ what the funnel needs, for the median rep (each rep's "
        "own bias is spread around it)",
        le=3.0,
    )
    self_plan_sigma: NonNeg = A(0.30, "spread (lognormal sigma) of self-planning bias", le=2.0)
    feast_or_famine: NonNeg = A(
        0.5, "self-planners cut prospecting by this elasticity when the pipeline is full", le=3.0
    )
    corrective_raise: Share = A(
        0.5, "a flagged rep's plan moves this share of the way to the prescribed rate"
    )


class Crm(Frozen):
    """Driver 4 — the CRM: which deals reps log, what logging costs them, what managers see.

    A rep logs a deal with a propensity that rises with its stage and size and with how closely
    the manager inspects the CRM; once logged it stays logged. Reviews, diagnosis, coaching
    targets and forecasts see only logged deals.
    """

    adoption: float = S(
        0.7,
        "share of deals a rep logs (a deal midway through the funnel, of median size, under "
        "a manager who does not inspect the CRM); typical adoption, an assumption for its size",
        gt=0.0,
        le=1.0,
    )
    minutes_per_update: NonNeg = A(
        6.0, "rep minutes to log one stage change of a deal kept in the CRM", le=120
    )
    stage_lift: NonNeg = A(
        1.0,
        "log-odds of logging gained from the first stage to the last: reps log a deal once it looks real",
        le=5,
    )
    size_lift: NonNeg = A(
        0.5, "log-odds of logging per unit of log(amount ÷ its product's median): big deals get logged", le=5
    )
    rep_sd: NonNeg = A(
        1.0,
        "spread (sd, log-odds) of reps' own logging habits: adoption is uneven, some reps log "
        "nearly everything and some little",
        le=5,
    )
    inspection_lift: NonNeg = A(
        1.0,
        "log-odds of logging gained once the manager inspects the CRM at every forecast call "
        "(pipeline or stage metrics)",
        le=5,
    )
    inspection_weeks: Positive = A(
        26.0, "weeks for a manager's habit of inspecting the CRM to build up or fade", le=260
    )
    forecast_bias_sd: NonNeg = A(
        0.15,
        "spread of reps' forecast calls: a rep calls each logged deal's value × "
        "exp(this × their optimism), sandbaggers below, optimists above",
        le=2,
    )


class Managers(Frozen):
    """Driver 5 — manager training, unified coaching approach, promotion, and the manager's week.

    Each manager's week (``hours_per_week``) is spent in order: admin and forecasting, reviews,
    hiring interviews for vacant seats, days away at training, then joint calls
    (``coaching.joint_call_hours_per_week``); what does not fit is not delivered.
    """

    training: Literal["none", "trained"] = S(
        "none",
        "few companies train the reps they promote (the source article); untrained promoted "
        "top reps cost their teams 7.5–10 % of sales (Benson, Li & Shue, QJE 2019)",
    )
    unified_approach: bool = A(False, "no common coaching method by default")
    hours_per_week: Positive = S(
        50.0,
        "a first-line manager's work week: 50 hours is more realistic than 40 (Alexander "
        "Group first-line manager time study)",
        le=100,
    )
    admin_hours_per_week: NonNeg = S(
        23.0,
        "fixed weekly hours for back-office work and admin (≈ 24 % of the week) and the "
        "manager's own selling (≈ 23 %) (Alexander Group first-line manager time study, "
        "2010–12; coaching ≈ 16 % of the week, best practice 28 %); taken first",
        le=100,
    )
    forecast_hours_per_week: NonNeg = A(
        4.0,
        "fixed weekly hours for the forecast call, pipeline roll-up and deal inspection; taken "
        "with admin, first",
        le=40,
    )
    review_hours_per_rep: NonNeg = A(
        1.0,
        "manager hours per rep per review (preparation, meeting, write-up), taken from the "
        "week's hours after admin and before hiring and coaching; a review that does not fit in "
        "the week waits for next week's hours",
        le=40,
    )
    interview_hours_per_vacancy: NonNeg = A(
        3.0,
        "manager hours per week per vacant seat in the team, from a leaver's exit to the "
        "backfill's start (screening, interviews, references: ≈ 20 h over a 45-day vacancy); "
        "taken after reviews, before training and coaching",
        le=40,
    )
    training_days: NonNeg = A(
        5.0,
        "working days a manager spends away at the leadership programme (`training: "
        "trained`), five a week, from the Monday after the decision: a new manager's first "
        "Monday; in a transition every manager's first Monday after the warm-up, coaching at "
        "`quality_untrained` until it ends (in a steady state the managers at the start were "
        "trained before it). A day away takes a fifth of `hours_per_week`, after admin, "
        "reviews and hiring",
        le=60,
    )
    quality_untrained: Share = A(0.3, "mean coaching quality of an untrained, promoted manager")
    quality_trained: Share = A(0.9, "mean coaching quality after leadership training")
    quality_sd: NonNeg = A(0.22, "spread of coaching quality between managers", le=1.0)
    unified_sd_factor: Share = A(0.5, "a unified approach multiplies the quality spread by this")
    turnover_annual: float = A(
        0.15,
        "share of first-line managers who leave the role each year; each is replaced at once, "
        "by promotion or by an outside hire (see `promotion`)",
        ge=0.0,
        le=0.9,
    )
    promotion: bool = A(
        True,
        "how a team gets a new manager when its manager leaves (`turnover_annual`): true — "
        "its top-skilled rep is promoted, vacating their seat (backfilled after the usual delay), "
        "and coaches at a quality drawn without regard to selling skill (the Peter principle, "
        "`promoted_skill_correlation`); false — an outside hire, no seat vacated. The managers in "
        "place at the start came the same way before the run (their old seats long since "
        "refilled), so over a horizon of any length promotion is a steady drain of about "
        "`turnover_annual` × managers top reps a year, not a one-off shock",
    )
    promoted_skill_correlation: float = A(
        -0.2,
        "correlation between a promoted rep's selling skill and their coaching quality (the "
        "Peter principle): the sign follows Benson, Li & Shue (QJE 2019), where the best sellers "
        "made worse managers; the size is an assumption",
        ge=-1.0,
        le=1.0,
    )

    @model_validator(mode="after")
    def _fixed_hours_fit(self) -> Managers:
        fixed = self.admin_hours_per_week + self.forecast_hours_per_week
        if fixed > self.hours_per_week:
            raise ValueError(
                f"admin_hours_per_week {self.admin_hours_per_week:g} + forecast_hours_per_week "
                f"{self.forecast_hours_per_week:g} = {fixed:g} exceed hours_per_week "
                f"{self.hours_per_week:g}"
            )
        return self


class Coaching(Frozen):
    """Driver 6 — joint calls: who gets the manager's field time, and what it does."""

    joint_call_hours_per_week: NonNeg = S(
        4.0,
        "the joint-call hours a manager promises each week, ≈2 h/rep/month (Alexander Group: "
        "≈16 % of a manager's time is coaching); the last claim on the manager's week "
        "(`managers.*`), so what does not fit is not delivered (`coaching_delivered_share`)",
        le=40,
    )
    targeting: Literal["none", "reactive", "round_robin", "gap_targeted", "top_performers"] = A(
        "reactive", "managers react to the biggest late-stage deals ('reacting versus leading')"
    )
    hours_per_call: Positive = A(2.0, "a joint call with preparation and debrief", le=8)
    deal_boost: NonNeg = S(
        0.15,
        "log-odds lift of a deal's current stage with the manager on the call, × quality "
        "(CSO Insights 2016: +28 % win rate on coached deals)",
        le=3.0,
    )
    skill_gain_per_hour: NonNeg = A(
        0.011, "skill (log-odds) gained per coaching hour at full quality and responsiveness", le=1.0
    )
    skill_ceiling: Positive = A(0.9, "most skill a rep can gain from coaching (diminishing returns)", le=5.0)
    skill_decay_per_week: Share = A(0.01, "coached skill fades without practice, per week")
    responsiveness_width: Positive = S(
        0.7,
        "bell-shaped responsiveness: middle 60 % gain most, top and bottom 20 % little "
        "(Sales Executive Council; Dixon & Adamson, HBR 2011)",
        le=5,
    )
    reactive_transfer: Share = A(
        0.75,
        "skill a rep takes from a reactive call, relative to a coaching call: the manager "
        "closes the deal instead of teaching",
    )
    stage_fix_per_hour: Share = A(
        0.03,
        "share of a rep's shortfall in a stage (below their own overall skill) that a "
        "coaching hour on a deal in that stage closes, at full quality and responsiveness",
    )


class Reviews(Frozen):
    """Driver 7 — the performance-management process."""

    cadence: Literal["annual", "semiannual", "quarterly", "monthly"] = S(
        "annual", "too many companies use annual evaluations (the source article)"
    )
    threshold: Share = A(0.85, "a rep is off track when the expected year falls below this × quota")
    involuntary_after_days: float = A(
        90.0,
        "the least time on a performance plan (flagged at every assessment since) before "
        "a formal review may let the rep go",
        ge=0,
        le=1095,
    )
    consecutive_flags: int = A(
        2,
        "flags in a row (formal reviews and forecast-call checks) that put a rep on a performance plan",
        ge=1,
        le=24,
    )
    plan_hours: NonNeg = A(
        1.0,
        "hours a new flag costs the manager and the rep each (the corrective-plan meeting); "
        "a false flag's are wasted",
        le=20,
    )
    involuntary_annual: Share = A(
        0.35,
        "yearly probability that a rep on a performance plan is let go (spread over the "
        "reviews of a year, so cadence changes when, not how often)",
    )


class Culture(Frozen):
    """Driver 8 — each team's culture, built from what its reps live through."""

    enabled: bool = A(
        True,
        "culture moves with what reps experience; false holds every team's "
        "culture where it starts (what is left of an effect without culture)",
    )
    initial: Share = A(
        0.5,
        "where a team's culture starts when the run has no settled sales force to start from "
        "(a hazard scale set by hand); 0.5 is neutral, the reference for effort and attrition. "
        "Otherwise each team starts where its reps' teams stood at the end of the settled pilot "
        "runs",
    )
    adjustment_per_week: Share = A(
        0.03, "how fast culture moves toward what reps experience (a gap halves in about 23 weeks)"
    )
    effort_sensitivity: NonNeg = A(
        0.2,
        "discretionary hours × (1 + this × (culture − 0.5)): the most engaged team works 10 % "
        "more extra hours than a neutral one",
        le=2,
    )
    attrition_sensitivity: NonNeg = A(
        1.0,
        "log voluntary hazard lost per unit of culture: a team one unit apart loses 63 % as "
        "many reps. Gallup's engagement meta-analysis (2020) puts top- against bottom-quartile "
        "teams at 18–43 % less turnover (0.2–0.56 in log), a smaller gap than the index's whole "
        "range",
        le=10,
    )


class Attrition(Frozen):
    """Leaving, reassignment, backfill and ramp."""

    voluntary_annual: Share = S(
        0.24,
        "realised voluntary leavers per head per year under the baseline policy: the model "
        "solves the hazard scale to it (calibrated: with involuntary exits, annual turnover "
        "22–38 %; HBR 27 %, industry surveys 35 %)",
        le=0.9,
    )
    attainment_sensitivity: NonNeg = A(
        0.5, "reps far below quota leave more often: hazard × exp(s·max(0, 1 − pace))", le=5
    )
    early_tenure_factor: float = A(
        1.5, "hazard × this in a rep's first two years (turnover is highest early)", ge=0, le=10
    )
    top_performer_factor: float = A(
        1.5, "hazard × this for reps at 150 % of pace or more: they get poached", ge=0, le=10
    )
    manager_sensitivity: NonNeg = A(
        1.0,
        "log hazard lost per unit of the manager's coaching quality above 0.5 (people leave managers)",
        le=10,
    )
    burnout_sensitivity: NonNeg = A(
        1.0, "log hazard added per unit of burnout (1 = the most extra hours, sustained)", le=10
    )
    reassignment_loss: Share = A(0.25, "share of a leaver's open deals lost in the handover")
    backfill_mean_days: Positive = S(45.0, "recruiting practice; RevSim 30 ± 7 days", le=365)
    backfill_cv: NonNeg = A(0.3, "spread of backfill time", le=2)
    ramp_days: int = S(150, "5 months to full productivity (Bridge Group 2024)", ge=0, le=720)
    ramp_start: Share = A(0.25, "prospecting capacity of a day-one hire, rising linearly")
    new_hire_skill_offset: float = A(-0.4, "skill deficit of a new hire, closing over the ramp", ge=-3, le=0)


class Opening(Frozen):
    """Planned new seats opened on one day of the reported horizon."""

    day: int = Field(
        ge=0,
        le=1824,
        description="day of the reported horizon the seats open on "
        "(0: its first day); recruiting starts then, like a backfill",
    )
    reps: int = Field(ge=0, le=MAX_SEATS, description="new seats opened that day")


class Hiring(Frozen):
    """Planned hires: new seats opened during the reported horizon (headcount growth).

    Each new seat is recruited like a backfill (``attrition.backfill_mean_days``), then its rep
    ramps (``attrition.ramp_days``); new seats join the teams in turn (team 1, 2, …), so spans
    grow. Leavers from new seats are backfilled like any other.
    """

    plan: tuple[Opening, ...] = A(
        (), "no planned hires: the sales force keeps its seats, leavers backfilled", max_length=1000
    )


class Reps(Frozen):
    """The reps: skill spread and the working week that bounds what they can sell."""

    skill_sd: NonNeg = A(
        0.45,
        "sd of latent skill (log-odds); gives the right-skewed attainment "
        "of Ebsta 2024 (top 17 % deliver most)",
        le=3,
    )
    stage_skill_sd: NonNeg = A(
        0.3,
        "sd of a rep's skill in each stage around their overall skill (log-odds): a rep "
        "strong at discovery may be weak at negotiation",
        le=3,
    )
    hours_per_week: Positive = A(45.0, "a full-time quota carrier's contracted week", le=80)
    non_selling_share: Share = S(
        0.6,
        "share of the contracted week lost to admin, internal meetings, travel and training "
        "(calibrated: share of time selling 30–45 %, CSO Insights 2011 41 %, Sales & Marketing "
        "Management 2006 38 %, a HubSpot survey 34 %)",
    )
    overload_penalty: NonNeg = A(
        0.5,
        "log-odds a deal loses per unit of −ln(attention) when its rep gives it less than "
        "its stage's work_hours",
        le=5,
    )
    deal_priority: Literal["late_and_big", "oldest_first", "biggest_first"] = A(
        "late_and_big", "reps give their hours to late-stage, big deals first"
    )
    max_extra_hours: NonNeg = A(
        8.0, "most unpaid hours a week a driven rep adds on top of the contracted week", le=40
    )
    burnout_weeks: Positive = A(12.0, "weeks over which sustained overtime builds up burnout", le=104)


class Territory(Frozen):
    """Where opportunities come from: a finite book of accounts per rep, and marketing's leads."""

    accounts: int = A(500, "accounts in a rep's book (mid-market territory)", ge=1, le=1_000_000)
    contacts_per_hour: Positive = A(2.0, "accounts a rep can research and reach per prospecting hour", le=100)
    opportunity_rate: Prob = A(0.2, "share of freshly contacted accounts that open an opportunity")
    requalify_days: Positive = A(
        90.0, "cool-down before a contacted account is worth contacting again", le=3650
    )
    inbound_per_week: NonNeg = A(
        1.5, "marketing-sourced opportunities handed to each rep per week (no prospecting time)", le=200
    )


class Motivation(Frozen):
    """How each rep reads their own chance of making quota, and what it does to their effort."""

    estimate_noise: NonNeg = A(
        0.5, "spread of reps' optimism about their own chance (z units, per person)", le=5
    )
    estimate_uncertainty: NonNeg = A(
        0.25,
        "a rep's doubt about their own odds and pace: sd of what is still to come, as a share of it",
        le=5,
    )
    give_up_below: Share = A(
        0.1,
        "a rep who sees less than this chance of making quota gives up: no extra hours and less prospecting",
    )
    give_up_cut: Share = A(0.3, "share of prospecting a rep who has given up stops doing")
    behind_share: Share = A(0.5, "a quarter below this share of quarterly quota is 'far behind'")
    behind_exit_factor: float = A(
        2.0, "voluntary-exit hazard × this after two consecutive quarters far behind", ge=1, le=20
    )


class Comp(Frozen):
    """The pay plan: commission, accelerator, cap, quarterly bonus — and the timing games it invites."""

    commission_rate: Share = A(
        0.10, "commission per unit of revenue up to quota (a 50/50 pay mix on a ~10 % cost of sale)"
    )
    accelerator: float = A(1.5, "commission multiplier above 100 % of quota (1: none)", ge=1.0, le=10.0)
    cap: Annotated[float, Field(ge=1.0, le=100.0)] | None = A(
        None, "attainment (multiple of quota) beyond which no commission is paid; none by default"
    )
    quarterly_bonus: NonNeg = A(
        5000.0, "bonus for making a quarter's quota (a quarter of the annual quota)", le=MAX_AMOUNT
    )
    pull_forward_discount: Share = A(
        0.10,
        "discount a customer gets to sign before a period ends (Larkin 2014: quarter-end "
        "deals carry deeper discounts)",
    )
    pull_forward_days: NonNeg = A(
        45.0, "a final-stage deal due this many days after a period ends can be pulled in", le=365
    )
    period_end_days: NonNeg = A(
        14.0, "the last days of a period, when reps pull deals in or push them out", le=91
    )


class Costs(Frozen):
    """What a year of running the sales force costs, priced from what the simulation records.

    Nothing here changes what is simulated: the costs of a year (:mod:`salessim.costs`) are priced
    afterwards from its ``periods`` rows — reps' pay while in seat, recruiting per hire, CRM
    licences, and manager hours on joint calls, reviews, hiring and training at an hourly rate —
    so that experiments can rank levers by what they return per dollar, not by effect alone.
    """

    manager_hour_rate: NonNeg = A(
        95.0,
        "fully loaded cost of a first-line manager's hour, USD (≈ 220,000 USD a year of pay, "
        "benefits and overhead over 46 weeks of 50 hours): what an hour on a joint call, a review, "
        "an interview or at training costs in the manager's other work",
        le=10_000,
    )
    training_per_manager: NonNeg = A(
        6_000.0,
        "fee of the leadership programme per manager who starts it (tuition, materials, "
        "travel), USD; the manager's days away are priced separately, as manager hours",
        le=MAX_AMOUNT,
    )
    crm_seat_per_year: NonNeg = A(
        1_800.0,
        "CRM licence per user and year, USD (a mid-tier sales CRM lists at about "
        "100–175 USD a user a month); every rep seat and every manager holds one, filled or not",
        le=MAX_AMOUNT,
    )
    rep_loaded_cost_per_year: NonNeg = A(
        145_000.0,
        "a rep's yearly base pay, benefits and overhead while in seat, USD, commission "
        "excluded (it comes out of `gross_margin`): the baseline's 50/50 pay mix on a 1.1 M USD "
        "quota at a 10 % cost of sale is ≈ 110,000 USD of base pay, × 1.3 for benefits and "
        "overhead",
        le=MAX_AMOUNT,
    )
    rep_working_weeks: Positive = A(
        46.0,
        "weeks a year a rep works after holidays and leave: a rep hour costs "
        "`rep_loaded_cost_per_year` ÷ (this × `reps.hours_per_week`), the price of CRM logging "
        "time",
        le=52,
    )
    hiring_per_hire: NonNeg = A(
        20_000.0,
        "recruiting cost per rep hired, USD: a recruiter's fee of ≈ 15–20 % of base pay "
        "and onboarding. The manager's interview hours are priced as manager hours, and the "
        "sales a ramping hire does not make are already in the simulated revenue",
        le=MAX_AMOUNT,
    )
    gross_margin: Share = A(
        0.65,
        "share of revenue kept after the cost of delivering what was sold and the "
        "commission paid on it (a software gross margin of ≈ 75 %, less ≈ 10 % commission): "
        "what a change in revenue is worth against a change in cost",
    )


class Scenario(Frozen):
    """A whole scenario: the sales force and the eight levers."""

    name: str = Field(
        "baseline", description="the scenario's name in tables and reports (default: the file name)"
    )
    description: str = Field("", description="what the scenario represents, in words")
    start_date: dt.date = A(
        dt.date(2026, 1, 1), "first day of the reported fiscal year", ge=DATE_RANGE[0], le=DATE_RANGE[1]
    )
    simulation: Simulation = Simulation()
    organisation: Organisation = Organisation()
    reps: Reps = Reps()
    funnel: Funnel = Funnel()
    goals: Goals = Goals()
    prescription: Prescription = Prescription()
    metrics: Literal["outcomes", "pipeline", "stage"] = S(
        "outcomes", "if metrics are poor you wait for outcomes (the source article)"
    )
    crm: Crm = Crm()
    managers: Managers = Managers()
    coaching: Coaching = Coaching()
    reviews: Reviews = Reviews()
    culture: Culture = Culture()
    attrition: Attrition = Attrition()
    territory: Territory = Territory()
    motivation: Motivation = Motivation()
    comp: Comp = Comp()
    costs: Costs = Costs()
    hiring: Hiring = Hiring()

    @field_validator("goals", mode="before")
    @classmethod
    def _goal_list(cls, v: Any) -> Any:
        return {"items": v} if isinstance(v, list | tuple) else v

    @field_validator("prescription", mode="before")
    @classmethod
    def _prescription_flag(cls, v: Any) -> Any:
        return {"enabled": v} if isinstance(v, bool) else v

    @model_validator(mode="after")
    def _cross_checks(self) -> Scenario:
        for i, g in enumerate(self.goals.items):
            if g.product is not None and g.product not in self.funnel.products:
                raise ValueError(
                    f"goals.items.{i}.product: {g.product!r} is not a product "
                    f"(products: {sorted(self.funnel.products)})"
                )
        _check_hiring(self)
        return self

    # convenience ----------------------------------------------------------------------------
    @property
    def n_reps(self) -> int:
        """Seats in the sales force (managers × span)."""
        return self.organisation.managers * self.organisation.span

    def to_dict(self) -> dict[str, Any]:
        """The scenario as plain data (JSON-compatible)."""
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        """The full resolved scenario as YAML."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def replace(self, **changes: Any) -> Scenario:
        """A copy with dotted-path overrides, validated (``replace(**{"reviews.cadence": "monthly"})``)."""
        data = self.to_dict()
        for path, value in changes.items():
            _set_path(data, path.split("."), value, f"<{self.name} with overrides>")
        return _validate(data, f"<{self.name} with overrides>")

    @property
    def hash(self) -> str:
        """Short content hash of the resolved scenario (name excluded)."""
        return scenario_hash(self)


def _check_hiring(sc: Scenario) -> None:
    """Planned openings fall within the reported horizon and keep the seats bounded."""
    horizon = sc.simulation.horizon_days
    for i, o in enumerate(sc.hiring.plan):
        if o.day >= horizon:
            raise ValueError(
                f"hiring.plan.{i}.day: {o.day} is beyond the reported horizon "
                f"(simulation.horizon_days {horizon}): seats open on day 0 … "
                f"{horizon - 1}"
            )
    planned = sum(o.reps for o in sc.hiring.plan)
    if sc.n_reps + planned > MAX_SEATS:
        raise ValueError(
            f"hiring.plan: {planned:,} planned seats on top of {sc.n_reps:,} make "
            f"more than {MAX_SEATS:,} seats; plan fewer hires"
        )


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _set_path(data: dict[str, Any], keys: list[str], value: Any, source: str) -> None:
    cur: Any = data
    try:
        for k in keys[:-1]:
            cur = cur[int(k)] if isinstance(cur, list | tuple) else cur.setdefault(k, {})
        last = keys[-1]
        if isinstance(cur, list):
            cur[int(last)] = value
        elif isinstance(cur, dict):
            cur[last] = value
        else:
            raise TypeError
    except (IndexError, ValueError, TypeError, AttributeError):
        raise ScenarioError(
            f"{source}: field `{'.'.join(keys)}`: no such field to set to {safe_repr(value)}"
        ) from None


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into ``base``: mappings merge recursively, everything else replaces."""
    out = dict(base)
    for k, v in override.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


#: Largest scenario (or parameter) document read, in bytes; a scenario is a few kilobytes.
MAX_YAML_BYTES = 1_000_000
#: Most values a YAML document may hold, as written and once every alias is expanded into a copy of
#: what it names (a full scenario written out has about 500).
MAX_YAML_NODES = 20_000
#: Deepest nesting of mappings and lists (values included), after alias expansion.
MAX_YAML_DEPTH = 64


class _Refused(Exception):
    """A YAML document refused before it is built, at a place in the text."""

    def __init__(self, problem: str, mark: yaml.Mark | None) -> None:
        super().__init__(problem)
        self.problem, self.mark = problem, mark


class _GuardedLoader(yaml.SafeLoader):
    """Safe YAML that refuses what ``yaml.safe_load`` lets through.

    It stops at the nesting limit, refuses duplicate keys, and turns a scalar that cannot be read
    (``2026-02-30``, a 5,000-digit integer) into an error with its line.
    """

    _depth = 0
    _nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        self._nodes += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _Refused(f"nested deeper than {MAX_YAML_DEPTH} levels", self.peek_event().start_mark)
            if self._nodes > MAX_YAML_NODES:
                raise _Refused(
                    f"holds more than {MAX_YAML_NODES:,} values; a scenario has a few hundred",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError, KeyError, TypeError) as e:
            # PyYAML's constructors fail like this on `2026-02-30`, `!!bool maybe`, 5,000 digits
            reason = str(e).split(";")[0] if not isinstance(e, KeyError) else "not a valid value"
            raise _Refused(f"cannot read {safe_repr(node.value, 60)}: {reason}", node.start_mark) from None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            first: dict[Any, yaml.Mark] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # keys merged in with `<<:` may be overridden
                key = self.construct_object(key_node, deep=True)
                try:
                    seen = key in first
                except TypeError:
                    continue  # an unhashable key: the base class says so, with its line
                if seen:
                    raise _Refused(
                        f"duplicate key {safe_repr(key, 60)} (first at line {first[key].line + 1})",
                        key_node.start_mark,
                    )
                first[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _check_expansion(root: yaml.Node) -> None:
    """Count the values and depth of ``root`` as if every alias were a copy, without copying.

    Aliases point at the node they name, so the graph is walked once, each node's expanded size
    and depth computed from its children's (iteratively: an alias chain can be long).
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    entered: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            entered.discard(key)
            if size[key] > MAX_YAML_NODES:
                raise _Refused(
                    f"aliases expand this to more than {MAX_YAML_NODES:,} values "
                    "(an alias bomb?); write the values out instead",
                    node.start_mark,
                )
            if depth[key] > MAX_YAML_DEPTH:
                raise _Refused(
                    f"aliases make this nested deeper than {MAX_YAML_DEPTH} levels", node.start_mark
                )
            continue
        if key in size:
            continue
        if key in entered:
            raise _Refused(
                "an alias refers to the value that contains it: a structure that contains itself",
                node.start_mark,
            )
        entered.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in _children(node) if id(k) not in size)


def load_yaml_text(text: str, source: str) -> Any:
    """Parse one YAML document safely, refusing hostile input before anything is built.

    Beyond ``yaml.safe_load``: the text is at most :data:`MAX_YAML_BYTES` characters; nesting
    is at most :data:`MAX_YAML_DEPTH` levels and the document at most :data:`MAX_YAML_NODES`
    values, both as written (checked while parsing) and with every alias expanded (counted on
    the parsed graph before anything is built, so an "alias bomb" is refused at once); an alias
    may not refer to the value containing it; a mapping may not repeat a key.

    Args:
        text: the document.
        source: what to call it in messages (a file name).

    Returns:
        The document's data; ``None`` for an empty document.

    Raises:
        ScenarioError: naming ``source``, the line and column, and the problem.
    """
    if len(text) > MAX_YAML_BYTES:
        raise ScenarioError(f"{source}: larger than {MAX_YAML_BYTES:,} characters; refusing to read it")
    try:
        loader = _GuardedLoader(text)
    except yaml.reader.ReaderError as e:  # control characters are refused before parsing starts
        line = text[: e.position].count("\n") + 1
        raise ScenarioError(
            f"{source}: not valid YAML at line {line}: character {safe_repr(chr(e.character))} is not allowed"
        ) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node)
        return loader.construct_document(node)
    except _Refused as e:
        where = f"line {e.mark.line + 1}, column {e.mark.column + 1}: " if e.mark else ""
        raise ScenarioError(f"{source}: {where}{e.problem}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ScenarioError(f"{source}: not valid YAML{where}: {problem}") from None
    finally:
        loader.dispose()


_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\xfe\xff", "utf-16"),
    (b"\xff\xfe", "utf-16"),
)


def _read_text(path: Path) -> str:
    """The text of a YAML file.

    It must be a regular file of at most :data:`MAX_YAML_BYTES`, in UTF-8 (with or without a
    byte-order mark) or in UTF-16/32 with one.
    """
    try:
        if not path.exists():
            raise ScenarioError(f"{path}: file not found")
        if path.is_dir():
            raise ScenarioError(f"{path}: is a directory, expected a scenario YAML file")
        if not path.is_file():
            raise ScenarioError(
                f"{path}: not a regular file (a pipe or a device?); expected a scenario YAML file"
            )
        with path.open("rb") as f:
            raw = f.read(MAX_YAML_BYTES + 1)
    except OSError as e:
        raise ScenarioError(f"{path}: cannot read it ({e.strerror or e})") from None
    if len(raw) > MAX_YAML_BYTES:
        raise ScenarioError(
            f"{path}: larger than {MAX_YAML_BYTES:,} bytes; a scenario is a few "
            "kilobytes, refusing to read it"
        )
    encoding = next((enc for bom, enc in _BOMS if raw.startswith(bom)), None)
    if encoding is None and b"\x00" in raw:
        raise ScenarioError(
            f"{path}: holds NUL bytes: a binary file, or UTF-16 without a "
            "byte-order mark; save the scenario as UTF-8 text"
        )
    try:
        return raw.decode(encoding or "utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ScenarioError(
            f"{path}: not UTF-8 text: byte 0x{raw[e.start]:02x} at line {line} ({e.reason}); "
            "save the scenario as UTF-8 (Latin-1 and other encodings are not read)"
        ) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    data = load_yaml_text(_read_text(path), str(path))
    if data is None:
        raise ScenarioError(
            f"{path}: the file is empty (no scenario fields); write `extends: baseline` to run the baseline"
        )
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a scenario must be a YAML mapping of fields, got {type(data).__name__}")
    return data


def _resolve(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        chain = " → ".join(p.name for p in (*seen, path))
        raise ScenarioError(f"{path}: field `extends` makes a cycle: {chain}")
    data = _read_yaml(path)
    data.setdefault("name", path.stem)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str) or not parent:
        raise ScenarioError(
            f"{path}: field `extends` = {safe_repr(parent)}: expected a scenario name or path"
        )
    ppath = _find_parent(parent, path.parent, path)
    if ppath is None:
        raise ScenarioError(
            f"{path}: field `extends` = {safe_repr(parent)}: no such scenario (looked for "
            f"{safe_repr(parent + '.yaml')} beside the file and in {SCENARIO_DIR})"
        )
    try:
        base = _full(_resolve(ppath, (*seen, path)), ppath)
    except ScenarioError as e:
        raise _parent_error(str(path), parent, e) from None
    return deep_merge(base, data)


def _parent_error(child: str, parent: str, e: ScenarioError) -> ScenarioError:
    """A child's error for its invalid parent: names the child file, then the parent's problem."""
    detail = str(e).replace("\n", "\n  ")
    return ScenarioError(
        f"{child}: field `extends` = {safe_repr(parent)}: the parent scenario is not valid:\n  {detail}"
    )


def _full(data: dict[str, Any], source: Path) -> dict[str, Any]:
    """A parent scenario with every default filled in.

    A child then overrides only what it writes: ``funnel: {products: {A: {amount_median: 30000}}}``
    keeps product B and A's share.
    """
    full = _validate(data, str(source)).to_dict()
    full.pop("name", None)
    full.pop("description", None)
    return full


def _find_parent(ref: str, here: Path, child: Path | None = None) -> Path | None:
    """The file ``extends: ref`` names: beside the child, else in the library.

    A file never extends itself: ``baseline.yaml`` in your folder with ``extends: baseline``
    (a calibrated company saved under the library's name) extends the library's baseline.
    """
    candidates = [here / ref, here / f"{ref}.yaml", here / f"{ref}.yml", SCENARIO_DIR / f"{ref}.yaml"]
    return next(
        (c for c in candidates if _is_file(c) and (child is None or c.resolve() != child.resolve())), None
    )


def _is_file(path: Path) -> bool:
    """``path.is_file()``, false for a name the file system cannot take (too long, a NUL byte)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _describe_allowed(err: Mapping[str, Any]) -> str:
    ctx = err.get("ctx") or {}
    if "expected" in ctx and str(ctx["expected"]) not in err["msg"]:
        return f" (allowed: {ctx['expected']})"
    return ""


_PATH_MSG = re.compile(r"^(?P<path>[A-Za-z_][\w]*(?:\.[\w]+)+): (?P<msg>.*)$", re.DOTALL)


def _clean_loc(err: Mapping[str, Any]) -> list[str]:
    loc = [str(x) for x in err["loc"] if not str(x).startswith(("function-", "literal["))]
    # union branches add type names to the path; drop them for readability
    return [x for x in loc if x not in {"float", "int", "str", "bool", "constrained-float"}]


#: A document with more problems than this shows the first ones and a count.
MAX_PROBLEMS_SHOWN = 20


#: keys of earlier versions → where they live now
MOVED = {"crm_adoption": "crm.adoption", "reps.crm_minutes_per_update": "crm.minutes_per_update"}
#: keys of earlier versions that no longer exist → what replaced them
REMOVED = {
    "coaching.gap_focus": "stage metrics now name a flagged rep's weakest stage and "
    "joint calls aimed there close it (`coaching.stage_fix_per_hour`)"
}


def _format_errors(e: ValidationError, source: str, data: Mapping[str, Any]) -> str:
    errors = e.errors()
    locs = [_clean_loc(err) for err in errors]
    # a collection whose items failed also reports "too short" (no valid items left): noise
    keep = [
        i
        for i, err in enumerate(errors)
        if not (
            err["type"] == "too_short"
            and any(len(o) > len(locs[i]) and o[: len(locs[i])] == locs[i] for o in locs)
        )
    ]
    lines = [f"{source}: invalid scenario ({len(keep)} problem{'s' if len(keep) != 1 else ''})"]
    if len(keep) > MAX_PROBLEMS_SHOWN:
        lines[0] += f"; the first {MAX_PROBLEMS_SHOWN}:"
    for i in keep[:MAX_PROBLEMS_SHOWN]:
        err, loc = errors[i], locs[i]
        path = ".".join(loc) or "(top level)"
        if not loc:  # cross-field checks name their own field: "goals.items.1.product: …"
            m = _PATH_MSG.match(err["msg"].removeprefix("Value error, "))
            if m:
                lines.append(f"  field `{m['path']}`: {m['msg']}")
                continue
        if err["type"] == "extra_forbidden" and path in MOVED:
            lines.append(f"  field `{path}` = {safe_repr(err.get('input'))}: has moved to `{MOVED[path]}`")
            continue
        if err["type"] == "extra_forbidden" and path in REMOVED:
            lines.append(
                f"  field `{path}` = {safe_repr(err.get('input'))}: no longer exists; {REMOVED[path]}"
            )
            continue
        if err["type"] == "extra_forbidden":
            parent = _lookup_model(loc[:-1])
            allowed = sorted(parent.model_fields) if parent is not None else []
            lines.append(
                f"  field `{path}`: unknown key"
                + (f" (allowed here: {', '.join(allowed)})" if allowed else "")
            )
            continue
        value = err.get("input")
        shown = safe_repr(value) if not isinstance(value, dict) else "{…}"
        if err["type"] == "missing":
            lines.append(f"  field `{path}`: required, but not given")
            continue
        msg = err["msg"].removeprefix("Value error, ")
        ctx = err.get("ctx") or {}
        if err["type"] in ("too_short", "too_long") and "actual_length" in ctx:
            bound = ctx.get("min_length") if err["type"] == "too_short" else ctx.get("max_length")
            msg = (
                f"needs {'at least' if err['type'] == 'too_short' else 'at most'} {bound} "
                f"item{'s' if bound != 1 else ''}, got {ctx['actual_length']}"
            )
        lines.append(f"  field `{path}` = {shown}: {msg}{_describe_allowed(err)}")
    if len(keep) > MAX_PROBLEMS_SHOWN:
        lines.append(f"  … and {len(keep) - MAX_PROBLEMS_SHOWN} more problems")
    return "\n".join(line if len(line) <= 400 else line[:399] + "…" for line in lines)


def _lookup_model(loc: list[str]) -> type[BaseModel] | None:
    """The config class at ``loc``, stepping through list items and mapping values."""
    model: Any = Scenario
    keys = list(loc)
    while keys:
        key = keys.pop(0)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(key)
        if field is None:
            return None
        ann = field.annotation
        origin, args = get_origin(ann), get_args(ann)
        if origin in (tuple, list) and args and isinstance(args[0], type):
            model = args[0]
            if keys:
                keys.pop(0)  # the item index
            else:
                return None
        elif origin is dict and len(args) == 2 and isinstance(args[1], type):
            model = args[1]
            if keys:
                keys.pop(0)  # the mapping key
            else:
                return None
        else:
            model = ann if isinstance(ann, type) else None
        if model is None:
            return None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _validate(data: dict[str, Any], source: str) -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as e:
        raise ScenarioError(_format_errors(e, source, data)) from None


def load_scenario(source: str | Path | Mapping[str, Any] | Scenario) -> Scenario:
    """Load and validate a scenario from a YAML path, a library name, or a mapping.

    Args:
        source: path to a YAML file; a name from the scenario library (``"baseline"``);
            a mapping with the same fields (``extends`` allowed); or a Scenario (returned as is).

    Raises:
        ScenarioError: naming the file, the field path, the bad value and what is allowed.
    """
    if isinstance(source, Scenario):
        return source
    if isinstance(source, Mapping):
        data = dict(source)
        parent = data.pop("extends", None)
        if parent is not None:
            ppath = _find_parent(str(parent), Path.cwd()) if isinstance(parent, str) else None
            if ppath is None:
                raise ScenarioError(f"<dict>: field `extends` = {safe_repr(parent)}: no such scenario")
            try:
                base = _full(_resolve(ppath), ppath)
            except ScenarioError as e:
                raise _parent_error("<dict>", parent, e) from None
            data = deep_merge(base, data)
        return _validate(data, "<dict>")
    path = Path(source)
    try:
        exists = path.exists()
    except (OSError, ValueError) as e:  # a name too long for the file system
        raise ScenarioError(
            f"{safe_repr(str(source))}: cannot be a scenario file name ({getattr(e, 'strerror', None) or e})"
        ) from None
    if not exists and not path.suffix:
        if _is_file(SCENARIO_DIR / f"{source}.yaml"):
            path = SCENARIO_DIR / f"{source}.yaml"
        else:
            library = ", ".join(sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml")))
            raise ScenarioError(f"{source}: file not found, and not a library scenario (library: {library})")
    data = _resolve(path)
    return _validate(data, str(source))


def scenario_hash(scenario: Scenario) -> str:
    """A short, stable content hash of the resolved scenario, excluding its name and description."""
    data = scenario.to_dict()
    data.pop("name", None)
    data.pop("description", None)
    blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _walk(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, Any]]:
    for name, field in model.model_fields.items():
        ann = field.annotation
        path = f"{prefix}{name}"
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            yield from _walk(ann, path + ".")
        else:
            yield path, field


def assumptions_register(scenario: Scenario | None = None) -> list[dict[str, Any]]:
    """Every parameter with its value, and its published source or the assumption it rests on.

    Args:
        scenario: values to show (defaults to the baseline defaults).

    Returns:
        One dict per parameter: ``parameter``, ``value``, ``kind`` (sourced / assumption), ``source``.
    """
    scenario = scenario or Scenario()
    data = scenario.to_dict()
    rows = []
    for path, field in _walk(Scenario, ""):
        extra = field.json_schema_extra
        if not isinstance(extra, dict):
            continue
        value: Any = data
        for key in path.split("."):
            value = value[key]
        if isinstance(value, list | dict):
            value = json.dumps(value, separators=(", ", ": "))
            if len(value) > 80:
                value = value[:77] + "…"
        rows.append({"parameter": path, "value": value, "kind": extra["kind"], "source": extra["source"]})
    return rows
