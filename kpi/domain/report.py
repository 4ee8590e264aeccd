"""The monthly report (docs/kpi-report.md): the month's findings (each commitment with
its target and actual), the gap that calls for a root-cause analysis, the review's
OPEN ↔ CLOSED state machine, and the geometry of the PDF's trend sparklines.

Gaps are computed in exact arithmetic (`fractions.Fraction`): a gap of exactly 2 % must
not call for an analysis, and in floats (30.6 − 30) ÷ 30 × 100 is 2.000000000000005.

Standard library only (no Django): the module is checked by import-linter.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from fractions import Fraction

from . import snapshots as snap
from .targets import Target

# A finding needs a root-cause analysis when it misses its target by strictly more.
RCA_THRESHOLD_PERCENT = Fraction(2)
# RootCauseAnalysis.commitment holds the finding's code.
CODE_MAX_LENGTH = 60

# The service-level figures a month is judged on, in the report's order; each with the
# dashboard target it is rated against (kpi.selectors._kpi_targets).
OVERALL_METRICS = ("asa", "aht", "fcr", "csat", "nps", "sla")
# The billing queue has its own ASA and FCR targets.
BILLING_METRICS = ("asa", "fcr")
BILLING_QUEUE = "BILLING"
SLA = "sla"

Number = int | float | Fraction


def exact(value: Number | None) -> Fraction | None:
    """A float is read as the decimal it prints as (78.4 is 784/10, not the binary
    neighbour a float stores), so a target typed as 78.4 compares as 78.4."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return Fraction(repr(value))
    return Fraction(value)


def exact_figure(metric: str, figures: snap.Figures) -> Fraction | None:
    """A KPI of kpi.domain.snapshots, from its counts and without rounding: the same
    definition as the Figures property of the same name."""
    f = figures
    if metric == "asa":
        return Fraction(f.wait_us_sum, f.answered * snap.MICRO) if f.answered else None
    if metric == "aht":
        return Fraction(f.handle_seconds_sum, f.handled) if f.handled else None
    if metric == "fcr":
        return Fraction(100 * f.fcr_resolved, f.fcr_eligible) if f.fcr_eligible else None
    if metric == "csat":
        return Fraction(100 * f.csat_satisfied, f.csat_answers) if f.csat_answers else None
    if metric == "nps":
        if not f.nps_answers:
            return None
        return Fraction(100 * (f.promoters - f.detractors), f.nps_answers)
    if metric == SLA:
        return Fraction(100 * f.commitments_met, f.commitments_due) if f.commitments_due else None
    raise ValueError(f"No exact figure for {metric!r}.")


def _relative(shortfall: Fraction, bound: Fraction) -> Fraction | float:
    """The shortfall as a percentage of the bound. A bound of 0 has no relative scale:
    any miss is infinitely far from it (and so needs an analysis)."""
    if shortfall <= 0:
        return Fraction(0)
    if bound == 0:
        return math.inf
    return shortfall / abs(bound) * 100


def gap_percent(target: Target, actual: Number | None) -> Fraction | float | None:
    """How far `actual` misses `target`, as a percentage of the target; 0 when met or
    better, None when there is no figure.

    - at least L: (L − actual) ÷ L × 100;
    - below / at most H: (actual − H) ÷ H × 100;
    - between L and H: the distance to the nearest bound over that bound.
    """
    value = exact(actual)
    if value is None:
        return None
    low, high = exact(target.low), exact(target.high)
    if target.rule == "at_least":
        return _relative(low - value, low)
    if target.rule in {"below", "at_most"}:
        return _relative(value - high, high)
    if target.rule == "between":
        if value < low:
            return _relative(low - value, low)
        return _relative(value - high, high)
    raise ValueError(f"Unknown target rule {target.rule!r}.")


def needs_rca(gap: Fraction | float | None) -> bool:
    """Strictly more than 2 %: a figure missed by exactly 2 % needs no analysis, nor
    one without data."""
    return gap is not None and gap > RCA_THRESHOLD_PERCENT


def missed_bound(target: Target, actual: Number | None) -> Fraction | None:
    """The bound the figure is compared with: for a range, the one nearest the figure
    (what the analysis records as its target)."""
    low, high = exact(target.low), exact(target.high)
    if target.rule == "at_least":
        return low
    if target.rule in {"below", "at_most"}:
        return high
    value = exact(actual)
    if value is not None and value < low:
        return low
    return high


def finding_code(metric: str, scope: str = "") -> str:
    """Stable codes: "asa", "asa:BILLING", "sla:TICKET|BILLING|Réponse 48 h". A code
    longer than the analysis column keeps its start and a hash of the whole."""
    code = f"{metric}:{scope}" if scope else metric
    if len(code) <= CODE_MAX_LENGTH:
        return code
    digest = hashlib.sha1(code.encode()).hexdigest()[:10]  # noqa: S324 (a name, not security)
    return f"{code[: CODE_MAX_LENGTH - 11]}~{digest}"


@dataclass(frozen=True)
class Finding:
    """One commitment of the month: a figure (metric) of a scope ("" for the whole
    centre, a queue code, or a commitment key) against its target."""

    code: str
    metric: str
    scope_kind: str  # "OVERALL", "QUEUE" or "COMMITMENT"
    scope: str
    target: Target
    actual: Fraction | None
    gap: Fraction | float | None

    @property
    def needs_rca(self) -> bool:
        return needs_rca(self.gap)

    @property
    def has_data(self) -> bool:
        return self.actual is not None

    @property
    def bound(self) -> Fraction | None:
        return missed_bound(self.target, self.actual)

    @property
    def gap_float(self) -> float | None:
        return None if self.gap is None else float(self.gap)

    @property
    def actual_float(self) -> float | None:
        return None if self.actual is None else float(self.actual)


def finding(
    metric: str, figures: snap.Figures, target: Target, *, scope_kind: str, scope: str = ""
) -> Finding:
    actual = exact_figure(metric, figures)
    return Finding(
        code=finding_code(metric, scope),
        metric=metric,
        scope_kind=scope_kind,
        scope=scope,
        target=target,
        actual=actual,
        gap=gap_percent(target, actual),
    )


def month_findings(
    *,
    overall: snap.Figures,
    overall_targets: dict[str, Target],
    billing: snap.Figures | None,
    billing_targets: dict[str, Target],
    commitments: dict[str, snap.Figures],
) -> list[Finding]:
    """Every finding of a month: the centre's service-level figures, the billing
    queue's own ASA and FCR, and each customer-facing commitment's SLA attainment
    against the SLA target. A figure without data is listed and needs nothing."""
    found = [
        finding(metric, overall, overall_targets[metric], scope_kind="OVERALL")
        for metric in OVERALL_METRICS
    ]
    billing_figures = billing if billing is not None else snap.EMPTY
    for metric in BILLING_METRICS:
        found.append(
            finding(
                metric,
                billing_figures,
                billing_targets[metric],
                scope_kind="QUEUE",
                scope=BILLING_QUEUE,
            )
        )
    for key in sorted(commitments):
        found.append(
            finding(SLA, commitments[key], overall_targets[SLA], scope_kind="COMMITMENT", scope=key)
        )
    order = {metric: n for n, metric in enumerate(OVERALL_METRICS)}
    # The centre's figure, then the same figure for the billing queue, then commitments.
    return sorted(
        found,
        key=lambda f: (f.scope_kind == "COMMITMENT", order[f.metric], f.scope_kind, f.scope),
    )


def missing_analyses(findings: list[Finding], recorded: set[str]) -> list[Finding]:
    """The findings that block closing the month: needing an analysis, without one."""
    return [f for f in findings if f.needs_rca and f.code not in recorded]


# --- The review's state machine -------------------------------------------------------

OPEN = "OPEN"
CLOSED = "CLOSED"
CLOSE = "close"
REOPEN = "reopen"
TRANSITIONS: dict[tuple[str, str], str] = {
    (OPEN, CLOSE): CLOSED,
    (CLOSED, REOPEN): OPEN,
}


class IllegalTransition(ValueError):
    """The action is not allowed from the review's current status."""

    def __init__(self, status: str, action: str):
        super().__init__(f"Cannot {action} a month that is {status}.")
        self.status = status
        self.action = action


def transition(status: str, action: str) -> str:
    """The status after `action`; anything outside the table raises."""
    try:
        return TRANSITIONS[(status, action)]
    except KeyError:
        raise IllegalTransition(status, action) from None


def allowed_actions(status: str) -> list[str]:
    return [action for (source, action) in TRANSITIONS if source == status]


# --- Trend sparklines for the PDF -------------------------------------------------------
# WeasyPrint runs no script (no Chart.js): the trends are drawn as inline SVG from this.


@dataclass(frozen=True)
class Sparkline:
    width: float
    height: float
    # One "M x y L x y …" path per run of consecutive months with a figure.
    paths: tuple[str, ...]
    # (x, y) of each month, None where it has no figure.
    points: tuple[tuple[float, float] | None, ...]
    # Horizontal lines of the target's bounds (one, or two for a range).
    target_ys: tuple[float, ...]
    low: float
    high: float


def _round(value: float) -> float:
    return round(value, 2)


def sparkline(
    values: list[float | None],
    *,
    width: float = 160.0,
    height: float = 40.0,
    pad: float = 4.0,
    target_bounds: tuple[float, ...] = (),
) -> Sparkline:
    """The geometry of a line through `values` (oldest first) in a width × height box
    with `pad` inside each edge; y grows downwards as in SVG. The scale covers the
    figures and the target's bounds, so the target line is always inside the box; a
    flat series is centred."""
    defined = [float(v) for v in values if v is not None]
    scale = defined + [float(b) for b in target_bounds]
    low, high = (min(scale), max(scale)) if scale else (0.0, 1.0)
    if high == low:
        low, high = low - 1, high + 1
    inner_w, inner_h = width - 2 * pad, height - 2 * pad
    step = inner_w / (len(values) - 1) if len(values) > 1 else 0.0

    def y_of(value: float) -> float:
        return _round(pad + (high - value) / (high - low) * inner_h)

    points: list[tuple[float, float] | None] = []
    for index, value in enumerate(values):
        x = _round(pad + index * step if len(values) > 1 else width / 2)
        points.append(None if value is None else (x, y_of(float(value))))
    paths, run = [], []
    for point in [*points, None]:
        if point is None:
            if run:
                head, *tail = run
                paths.append(
                    f"M {head[0]:g} {head[1]:g}" + "".join(f" L {x:g} {y:g}" for x, y in tail)
                )
            run = []
        else:
            run.append(point)
    return Sparkline(
        width=width,
        height=height,
        paths=tuple(paths),
        points=tuple(points),
        target_ys=tuple(y_of(float(b)) for b in target_bounds),
        low=low,
        high=high,
    )
