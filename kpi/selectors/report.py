"""Reads of the monthly report (docs/kpi-report.md): a finished Paris month's figures from
its MONTH snapshots, its findings against the dashboard's targets, the root-cause
analyses recorded, the review's status and history, and the 12 months ending with it.
Every page runs a constant number of queries whatever the months and commitments."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

from django.db.models import Prefetch, Q
from django.http import Http404
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Role, User
from tickets.models import Queue

from ..domain import metrics, targets
from ..domain import report as rules
from ..domain import snapshots as snap
from ..models import (
    KpiSnapshot,
    MonthlyReview,
    MonthlyReviewEvent,
    MonthStatus,
    RootCauseAnalysis,
    SnapshotDimension,
    SnapshotKind,
)
from . import (
    Cell,
    Tile,
    TrendRow,
    _chain_rows,
    _commitment_label,
    _kpi_targets,
    _label,
    _number,
    _percent_text,
    _rows_by_cell,
    _seconds_text,
    _signed,
    _snapshot_rows,
    _target_text,
    _tile_label,
    _tiles,
    kpi_target_settings,
)

LIST_MONTHS = 13
TREND_MONTHS = 12
# The month's breakdowns in the report (the agent scorecards have their own pages).
REPORT_DIMENSIONS = (
    SnapshotDimension.OVERALL,
    SnapshotDimension.QUEUE,
    SnapshotDimension.CHANNEL,
    SnapshotDimension.COMMITMENT,
)
# The month's tiles, as on the dashboard's overall view.
REPORT_TILES = (
    "asa", "aht", "fcr", "csat", "nps", "abandonment", "service_level", "sla", "backlog", "mttr",
)  # fmt: skip
# The trend lines drawn in the PDF and on the page (with their target).
SPARK_METRICS = ("asa", "aht", "fcr", "csat", "nps", "sla")
# Who may own an analysis's actions (docs/kpi-report.md): the supervisors and admins.
RCA_OWNER_ROLES = (Role.SUPERVISOR, Role.ADMIN)

# A finding's state on the page.
RCA_NEEDED, RCA_RECORDED, WITHIN, MET, NO_DATA = (
    "RCA_NEEDED",
    "RCA_RECORDED",
    "WITHIN",
    "MET",
    "NO_DATA",
)
FINDING_STATES = {
    RCA_NEEDED: gettext_lazy("Analyse de cause requise"),
    RCA_RECORDED: gettext_lazy("Analyse enregistrée"),
    WITHIN: gettext_lazy("Manqué de 2 % au plus : pas d'analyse"),
    MET: gettext_lazy("Objectif atteint"),
    NO_DATA: gettext_lazy("Pas de données"),
}
FINDING_MARKS = {RCA_NEEDED: "✗", RCA_RECORDED: "✓", WITHIN: "!", MET: "✓", NO_DATA: "–"}


# --- Months ------------------------------------------------------------------------------


def months_ending(month: dt.date, count: int) -> list[dt.date]:
    """`count` months ending with `month`, oldest first."""
    months = [month.replace(day=1)]
    while len(months) < count:
        months.insert(0, (months[0] - dt.timedelta(days=1)).replace(day=1))
    return months


def report_month_check(*, month: dt.date, now: dt.datetime) -> None:
    """404 for a month that has not begun (the URL converter already refuses one that
    cannot be read)."""
    if month.replace(day=1) > metrics.local_month(now):
        raise Http404("That month has not begun.")


def month_is_over(month: dt.date, now: dt.datetime) -> bool:
    return now >= metrics.local_month_bounds(month)[1]


# --- Findings ----------------------------------------------------------------------------


def _goals(settings: dict[str, float]) -> tuple[dict, dict]:
    overall = _kpi_targets(settings, dimension=SnapshotDimension.OVERALL, key="")
    billing = _kpi_targets(settings, dimension=SnapshotDimension.QUEUE, key=Queue.BILLING)
    return overall, billing


def _findings(cells: dict[tuple[str, str], snap.Figures], settings) -> list[rules.Finding]:
    overall_goals, billing_goals = _goals(settings)
    return rules.month_findings(
        overall=cells.get((SnapshotDimension.OVERALL, ""), snap.EMPTY),
        overall_targets=overall_goals,
        billing=cells.get((SnapshotDimension.QUEUE, Queue.BILLING)),
        billing_targets=billing_goals,
        commitments={
            key: figures
            for (dimension, key), figures in cells.items()
            if dimension == SnapshotDimension.COMMITMENT
        },
    )


def _finding_cells_query(start: dt.datetime, end: dt.datetime) -> Q:
    """The MONTH rows the findings are computed from, for months starting in [start, end)."""
    return Q(kind=SnapshotKind.MONTH, period_start__gte=start, period_start__lt=end) & (
        Q(dimension__in=[SnapshotDimension.OVERALL, SnapshotDimension.COMMITMENT])
        | Q(dimension=SnapshotDimension.QUEUE, key=Queue.BILLING)
    )


@dataclass(frozen=True)
class MonthFindings:
    month: dt.date
    has_snapshot: bool
    findings: list[rules.Finding]

    @property
    def needing(self) -> list[rules.Finding]:
        return [f for f in self.findings if f.needs_rca]


def report_findings(*, month: dt.date) -> MonthFindings:
    """The findings of a month from its MONTH snapshot (one query): what the close gate
    checks. A month without snapshot has no findings (and cannot be closed)."""
    start, end = metrics.local_month_bounds(month)
    rows = _snapshot_rows(KpiSnapshot.objects.filter(_finding_cells_query(start, end)))
    cells = {cell: _chain_rows(r) for cell, r in _rows_by_cell(rows).items()}
    return MonthFindings(
        month=month,
        has_snapshot=(SnapshotDimension.OVERALL, "") in cells,
        findings=_findings(cells, kpi_target_settings()),
    )


def _value_text(metric: str, value: float | None) -> str:
    if value is None:
        return "—"
    if metric in {"asa", "aht"}:
        return _seconds_text(value)
    if metric == "nps":
        return _signed(value)
    return _percent_text(value)


def _gap_text(gap) -> str:
    if gap is None:
        return "—"
    if gap == float("inf"):
        return "∞"
    return _("%(n)s %%") % {"n": _number(float(gap), 2)}


def finding_label(finding: rules.Finding) -> str:
    if finding.scope_kind == SnapshotDimension.COMMITMENT:
        return _("Engagement : %(name)s") % {"name": _commitment_label(finding.scope)}
    label = _tile_label(finding.metric)
    if finding.scope_kind == SnapshotDimension.QUEUE:
        return _("%(figure)s — file %(queue)s") % {
            "figure": label,
            "queue": _label(SnapshotDimension.QUEUE, finding.scope, {}),
        }
    return label


@dataclass
class FindingLine:
    finding: rules.Finding
    analysis: RootCauseAnalysis | None

    @property
    def code(self) -> str:
        return self.finding.code

    @property
    def state(self) -> str:
        f = self.finding
        if not f.has_data:
            return NO_DATA
        if f.needs_rca:
            return RCA_RECORDED if self.analysis is not None else RCA_NEEDED
        return MET if f.gap == 0 and f.target.status(f.actual_float) == targets.GREEN else WITHIN

    @property
    def state_label(self) -> str:
        return FINDING_STATES[self.state]

    @property
    def mark(self) -> str:
        return FINDING_MARKS[self.state]

    @cached_property
    def label(self) -> str:
        return finding_label(self.finding)

    @property
    def actual_text(self) -> str:
        return _value_text(self.finding.metric, self.finding.actual_float)

    @property
    def target_text(self) -> str:
        return _target_text(self.finding.metric, self.finding.target)

    @property
    def gap_text(self) -> str:
        return _gap_text(self.finding.gap)

    @property
    def form_id(self) -> str:
        return self.form_id_of(self.code)

    @staticmethod
    def form_id_of(code: str) -> str:
        """A distinct prefix for the ids of a finding's form fields (HTML ids)."""
        slug = "".join(c if c.isascii() and c.isalnum() else "-" for c in code.lower())
        return f"rca-{slug}"


# --- The month list ------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthRow:
    month: dt.date
    status: str
    is_over: bool
    is_current: bool
    has_snapshot: bool
    needing: int
    recorded: int  # analyses recorded for the findings that need one

    @property
    def status_label(self) -> str:
        return MonthStatus(self.status).label

    @property
    def missing(self) -> int:
        return self.needing - self.recorded


def report_months(*, now: dt.datetime) -> list[MonthRow]:
    """The current Paris month and the 12 before it, newest first, each with its
    review status and how many findings need an analysis and have one: three queries
    (the snapshots, the reviews, the analyses) whatever the data."""
    this_month = metrics.local_month(now)
    months = months_ending(this_month, LIST_MONTHS)
    start = metrics.local_month_bounds(months[0])[0]
    end = metrics.local_month_bounds(this_month)[1]
    rows = _snapshot_rows(KpiSnapshot.objects.filter(_finding_cells_query(start, end)))
    by_month: dict[dt.date, list[dict]] = {m: [] for m in months}
    for row in rows:
        by_month.setdefault(metrics.local_month(row["period_start"]), []).append(row)
    statuses = dict(MonthlyReview.objects.filter(month__in=months).values_list("month", "status"))
    recorded: dict[dt.date, set[str]] = {m: set() for m in months}
    for month, code in RootCauseAnalysis.objects.filter(review__month__in=months).values_list(
        "review__month", "commitment"
    ):
        recorded[month].add(code)
    settings = kpi_target_settings()
    listed = []
    for month in reversed(months):
        cells = {cell: _chain_rows(r) for cell, r in _rows_by_cell(by_month[month]).items()}
        needing = [f.code for f in _findings(cells, settings) if f.needs_rca]
        listed.append(
            MonthRow(
                month=month,
                status=statuses.get(month, MonthStatus.OPEN),
                is_over=month_is_over(month, now),
                is_current=month == this_month,
                has_snapshot=(SnapshotDimension.OVERALL, "") in cells,
                needing=len(needing),
                recorded=sum(1 for code in needing if code in recorded[month]),
            )
        )
    return listed


# --- One month -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Spark:
    code: str
    label: str
    line: rules.Sparkline
    first: str
    last: str
    months: list[str]
    values: list[str]

    @property
    def description(self) -> str:
        """The line in words, for screen readers: each month and its figure."""
        pairs = "; ".join(f"{m} : {v}" for m, v in zip(self.months, self.values, strict=True))
        return f"{self.label} — {pairs}"


@dataclass
class MonthReport:
    month: dt.date
    start: dt.datetime
    end: dt.datetime
    now: dt.datetime
    review: MonthlyReview | None
    has_snapshot: bool
    built_at: dt.datetime | None
    figures: snap.Figures
    tiles: list[Tile]
    queues: list[Cell]
    channels: list[Cell]
    commitments: list[Cell]
    trend: list[TrendRow]
    sparks: list[Spark]
    lines: list[FindingLine]
    analyses: list[RootCauseAnalysis]
    events: list[MonthlyReviewEvent]
    owners: list[User]

    @property
    def status(self) -> str:
        return self.review.status if self.review else MonthStatus.OPEN

    @property
    def status_label(self) -> str:
        return MonthStatus(self.status).label

    @property
    def is_closed(self) -> bool:
        return self.status == MonthStatus.CLOSED

    @property
    def is_over(self) -> bool:
        return self.now >= self.end

    @property
    def label(self) -> str:
        return formats.date_format(self.month, "F Y")

    @property
    def findings(self) -> list[rules.Finding]:
        return [line.finding for line in self.lines]

    @property
    def needing(self) -> list[FindingLine]:
        return [line for line in self.lines if line.finding.needs_rca]

    @property
    def missing(self) -> list[FindingLine]:
        return [line for line in self.needing if line.analysis is None]

    @property
    def may_record(self) -> bool:
        """Analyses are written once the month is over, until it is closed."""
        return self.is_over and not self.is_closed and self.has_snapshot

    @property
    def may_close(self) -> bool:
        return self.is_over and not self.is_closed and self.has_snapshot

    @property
    def may_reopen(self) -> bool:
        return self.is_closed

    @property
    def other_analyses(self) -> list[RootCauseAnalysis]:
        """Analyses of findings that no longer need one (the snapshot was rebuilt since)."""
        needing = {line.code for line in self.needing}
        return [a for a in self.analyses if a.commitment not in needing]


def rca_owners() -> list[User]:
    """Who may own an analysis: the active supervisors and admins."""
    return list(
        User.objects.filter(role__in=RCA_OWNER_ROLES, is_active=True)
        .only("pk", "first_name", "last_name", "email", "role")
        .order_by("last_name", "first_name", "pk")
    )


def _cells(rows: list[dict]) -> dict[tuple[str, str], snap.Figures]:
    return {cell: _chain_rows(r) for cell, r in _rows_by_cell(rows).items()}


def _listed(cells, wanted: str, settings) -> list[Cell]:
    found = [
        Cell(d, k, _label(d, k, {}), figures, _tiles(figures, _kpi_targets(settings, dimension=d, key=k)))
        for (d, k), figures in cells.items()
        if d == wanted
    ]  # fmt: skip
    return sorted(found, key=lambda c: str(c.label).lower())


def _sparks(trend: list[TrendRow], goals: dict) -> list[Spark]:
    sparks = []
    for code in SPARK_METRICS:
        goal = goals[code]
        bounds = tuple(b for b in (goal.low, goal.high) if b is not None)
        values = [row.tiles[code].value for row in trend]
        shown = [row.tiles[code].display for row in trend]
        defined = [s for s, v in zip(shown, values, strict=True) if v is not None]
        sparks.append(
            Spark(
                code=code,
                label=_tile_label(code),
                line=rules.sparkline(values, target_bounds=bounds),
                first=defined[0] if defined else "—",
                last=shown[-1],
                months=[formats.date_format(row.month, "M Y") for row in trend],
                values=shown,
            )
        )
    return sparks


def report_month(*, month: dt.date, now: dt.datetime) -> MonthReport:
    """The report of a month: its figures against their targets, per queue, channel and
    commitment, its findings with their analyses, the review and its history, and the
    12 months ending with it. 404 for a month that has not begun. Constant queries: the
    snapshot rows (one), the review with its events and analyses (three), the owners."""
    month = month.replace(day=1)
    report_month_check(month=month, now=now)
    start, end = metrics.local_month_bounds(month)
    months = months_ending(month, TREND_MONTHS)
    trend_start = metrics.local_month_bounds(months[0])[0]
    rows = _snapshot_rows(
        KpiSnapshot.objects.filter(
            Q(kind=SnapshotKind.MONTH)
            & (
                Q(period_start=start, dimension__in=REPORT_DIMENSIONS)
                | Q(
                    dimension=SnapshotDimension.OVERALL,
                    period_start__gte=trend_start,
                    period_start__lt=end,
                )
            )
        )
    )
    in_month = [r for r in rows if r["period_start"] == start]
    cells = _cells(in_month)
    settings = kpi_target_settings()
    goals = _kpi_targets(settings, dimension=SnapshotDimension.OVERALL, key="")

    overall_by_month: dict[dt.date, list[dict]] = {}
    for row in rows:
        if row["dimension"] == SnapshotDimension.OVERALL:
            overall_by_month.setdefault(metrics.local_month(row["period_start"]), []).append(row)
    trend = []
    for first_day in months:
        figures = _chain_rows(overall_by_month.get(first_day, []))
        trend.append(
            TrendRow(month=first_day, figures=figures, tiles=_tiles(figures, goals), live=False)
        )

    review = (
        MonthlyReview.objects.filter(month=month)
        .select_related("closed_by")
        .prefetch_related(
            Prefetch(
                "events",
                queryset=MonthlyReviewEvent.objects.select_related("actor").order_by("at", "pk"),
            ),
            Prefetch(
                "analyses",
                queryset=RootCauseAnalysis.objects.select_related("owner", "author").order_by(
                    "commitment"
                ),
            ),
        )
        .first()
    )
    analyses = list(review.analyses.all()) if review else []
    by_code = {a.commitment: a for a in analyses}
    lines = [FindingLine(f, by_code.get(f.code)) for f in _findings(cells, settings)]
    labels = {line.code: line.label for line in lines}
    for analysis in analyses:
        # An analysis whose finding left the month (snapshot rebuilt) keeps its code.
        analysis.finding_label = labels.get(analysis.commitment, analysis.commitment)

    figures = cells.get((SnapshotDimension.OVERALL, ""), snap.EMPTY)
    overall_tiles = _tiles(figures, goals)
    built = [r["built_at"] for r in in_month if r.get("built_at")]
    return MonthReport(
        month=month,
        start=start,
        end=end,
        now=now,
        review=review,
        has_snapshot=(SnapshotDimension.OVERALL, "") in cells,
        built_at=max(built) if built else None,
        figures=figures,
        tiles=[overall_tiles[code] for code in REPORT_TILES],
        queues=_listed(cells, SnapshotDimension.QUEUE, settings),
        channels=_listed(cells, SnapshotDimension.CHANNEL, settings),
        commitments=_listed(cells, SnapshotDimension.COMMITMENT, settings),
        trend=trend,
        sparks=_sparks(trend, goals),
        lines=lines,
        analyses=analyses,
        events=list(review.events.all()) if review else [],
        owners=rca_owners(),
    )


# --- CSV -------------------------------------------------------------------------------------

CSV_HEADER = (
    "section",
    "month",
    "dimension",
    "key",
    "label",
    "offered",
    "answered",
    "handled",
    "asa_seconds",
    "aht_seconds",
    "fcr_percent",
    "csat_percent",
    "nps",
    "abandonment_percent",
    "service_level_percent",
    "sla_percent",
    "commitments_due",
    "commitments_met",
    "backlog",
)
_CSV_RATIOS = {
    "asa_seconds": "asa_seconds",
    "aht_seconds": "aht_seconds",
    "fcr_percent": "fcr_percent",
    "csat_percent": "csat_percent",
    "nps": "nps",
    "abandonment_percent": "abandonment_percent",
    "service_level_percent": "service_level_percent",
    "sla_percent": "sla_percent",
}


def csv_number(value: float | None) -> str:
    """Two decimals with a dot (a file for spreadsheets and BI tools, not for reading);
    empty when undefined, never 0."""
    return "" if value is None else f"{value:.2f}"


def _csv_row(section: str, month: dt.date, dimension: str, key: str, label: str, f) -> list:
    row = {
        "section": section,
        "month": f"{month:%Y-%m}",
        "dimension": dimension,
        "key": key,
        "label": str(label),
        "offered": f.offered,
        "answered": f.answered,
        "handled": f.handled,
        "commitments_due": f.commitments_due,
        "commitments_met": f.commitments_met,
        "backlog": f.backlog,
    }
    for column, attribute in _CSV_RATIOS.items():
        row[column] = csv_number(getattr(f, attribute))
    return [row[name] for name in CSV_HEADER]


def report_month_csv(*, month: dt.date, now: dt.datetime) -> list[list]:
    """The month's figures per dimension ("month" rows: overall, queues, channels,
    commitments) then the 12 months ending with it ("trend" rows, overall), under one
    header line."""
    page = report_month(month=month, now=now)
    rows: list[list] = [list(CSV_HEADER)]
    overall = SnapshotDimension.OVERALL
    if page.has_snapshot:
        rows.append(
            _csv_row("month", page.month, overall, "", _label(overall, "", {}), page.figures)
        )
    for cells in (page.queues, page.channels, page.commitments):
        rows += [
            _csv_row("month", page.month, c.dimension, c.key, c.label, c.figures) for c in cells
        ]
    for t in page.trend:
        rows.append(_csv_row("trend", t.month, overall, "", _label(overall, "", {}), t.figures))
    return rows
