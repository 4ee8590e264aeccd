"""Reads behind the people pages (agent scorecards, league table, training list) and the
dashboard's quarterly NPS and channel-mix panels (docs/kpi-people.md).

Contact and survey figures come from the snapshots as the dashboard reads them: a past
month from its MONTH rows, the month in progress from its past days' DAY rows followed by
today computed live (`kpi_cells`, the snapshots' own SELECT). The rules themselves are in
kpi.domain.people; this module gathers counts and dresses the results for the templates.
Each function runs a constant number of queries whatever the number of agents, contacts
or reviews.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property

from django.core.cache import cache
from django.db.models import Avg, BooleanField, Case, Count, Q, Value, When
from django.db.models.functions import TruncMonth
from django.http import Http404
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import Role, User
from tickets.models import Channel, Contact, Survey

from ..domain import metrics, quality, targets
from ..domain import people as rules
from ..domain import snapshots as snap
from ..models import KpiSnapshot, QaReview, SnapshotDimension, SnapshotKind
from . import (
    DEFAULT_INTERVAL_MINUTES,
    NPS_DETRACTOR,
    NPS_PROMOTER,
    PARIS,
    STATUS_LABELS,
    STATUS_MARKS,
    Rated,
    _chain_rows,
    _kpi_targets,
    _percent_text,
    _seconds_text,
    _signed,
    _tile_label,
    kpi_cells,
    kpi_target_settings,
    qa_agents,
)

TREND_MONTHS = 12
NPS_QUARTERS_SHOWN = 5  # the current quarter and the four before it
OVERALL = SnapshotDimension.OVERALL
AGENT = SnapshotDimension.AGENT


# --- A figure against its target ---------------------------------------------------------


class Rating(Rated):
    """A figure with its target and verdict, shaped like the dashboard's tiles so the
    same partial (supervisor/dashboard/_tile.html) shows it."""

    def __init__(
        self, code: str, value: float | None, goal: targets.Target | None, *, detail: str = ""
    ):
        super().__init__(code, value, goal)
        self.detail = detail

    @property
    def missed(self) -> bool:
        return self.status in rules.MISSED

    @cached_property
    def display(self) -> str:
        if self.value is None:
            return "—"
        if self.code == "aht":
            return _seconds_text(self.value)
        if self.code == "routine":
            return _("%(n)s %%") % {"n": _signed(self.value)}
        return _percent_text(self.value)

    @cached_property
    def label(self) -> str:
        if self.code in {"aht", "fcr", "csat"}:
            return _tile_label(self.code)
        return {
            "qa": _("Score qualité (QA)"),
            "containment": _("Confinement du chatbot"),
            "routine": _("Évolution des appels courants sur un an"),
            "self_service": _("Part du libre-service"),
        }[self.code]


def _scorecard_goals(settings: dict[str, float]) -> dict[str, targets.Target]:
    """The agent dimension's AHT, FCR and CSAT targets of the dashboard, and QA's."""
    dashboard = _kpi_targets(settings, dimension=AGENT, key="")
    return {
        "aht": dashboard["aht"],
        "fcr": dashboard["fcr"],
        "csat": dashboard["csat"],
        "qa": rules.qa_target(),
    }


# --- Agent figures: snapshots, live today, QA reviews --------------------------------------


@dataclass(frozen=True)
class _Span:
    figures: dict[tuple[dt.date, int], snap.Figures]  # (month, agent id)
    built_months: set[dt.date]  # past months that have their MONTH snapshot
    built_days: int  # past days of the month in progress that have their DAY snapshot


def _agent_figures(
    *, now: dt.datetime, first: dt.date, last: dt.date, agent_id: int | None = None
) -> _Span:
    """Every agent's (or one agent's) snapshot figures for the months `first`..`last`, in
    one snapshot query plus, when the span holds the month in progress, the live cells of
    today (the dashboard's rule)."""
    today = metrics.local_day(now)
    this_month = today.replace(day=1)
    today_start, today_end = metrics.local_day_bounds(today)
    span_start = metrics.local_month_bounds(first)[0]
    span_end = metrics.local_month_bounds(last)[1]
    live = first <= this_month <= last
    past_end = metrics.local_month_bounds(this_month)[0] if live else span_end
    # The OVERALL rows say which periods were built: every built period has one.
    cells = Q(dimension=OVERALL) | Q(dimension=AGENT)
    if agent_id is not None:
        cells = Q(dimension=OVERALL) | Q(dimension=AGENT, key=str(agent_id))
    period = Q(kind=SnapshotKind.MONTH, period_start__gte=span_start, period_start__lt=past_end)
    if live:
        period |= Q(kind=SnapshotKind.DAY, period_start__gte=past_end, period_start__lt=today_start)
    fields = ["kind", "period_start", "dimension", "key", *snap.ADDITIVE]
    rows = list(KpiSnapshot.objects.filter(period & cells).values(*fields))
    built_months = {
        metrics.local_month(r["period_start"])
        for r in rows
        if r["kind"] == SnapshotKind.MONTH and r["dimension"] == OVERALL
    }
    built_days = sum(1 for r in rows if r["kind"] == SnapshotKind.DAY and r["dimension"] == OVERALL)
    if live:
        today_rows = kpi_cells(
            start=today_start,
            end=today_end,
            now=now,
            period_kind=SnapshotKind.DAY,
            interval_minutes=DEFAULT_INTERVAL_MINUTES,
        )
        rows += [
            r
            for r in today_rows
            if r["dimension"] == AGENT and (agent_id is None or r["key"] == str(agent_id))
        ]
    grouped: dict[tuple[dt.date, int], list[dict]] = defaultdict(list)
    for row in rows:
        if row["dimension"] == AGENT and row["key"].isdigit():
            grouped[(metrics.local_month(row["period_start"]), int(row["key"]))].append(row)
    return _Span(
        figures={cell: _chain_rows(found) for cell, found in grouped.items()},
        built_months=built_months,
        built_days=built_days,
    )


def _qa_months(
    *, first: dt.date, last: dt.date, agent_id: int | None = None
) -> dict[tuple[dt.date, int], dict]:
    """Per (Paris month, agent): reviews, average score and critical failures, as
    kpi.selectors.agent_quality counts them (calibration scorings left out)."""
    start = metrics.local_month_bounds(first)[0]
    end = metrics.local_month_bounds(last)[1]
    reviews = QaReview.objects.filter(
        calibration__isnull=True, created_at__gte=start, created_at__lt=end
    )
    if agent_id is not None:
        reviews = reviews.filter(agent_id=agent_id)
    grouped = (
        reviews.annotate(month=TruncMonth("created_at", tzinfo=PARIS))
        .values("month", "agent_id")
        .annotate(
            n=Count("pk"),
            average=Avg("score"),
            critical=Count("pk", filter=Q(critical_failed=True)),
        )
        .order_by()
    )
    return {(row["month"].astimezone(PARIS).date(), row["agent_id"]): row for row in grouped}


def _agent_month(agent_id: int, figures: snap.Figures | None, qa: dict | None) -> rules.AgentMonth:
    figures = figures or snap.EMPTY
    qa = qa or {}
    average = qa.get("average")
    return rules.AgentMonth(
        agent_id=agent_id,
        handled=figures.handled,
        handle_seconds_sum=figures.handle_seconds_sum,
        fcr_eligible=figures.fcr_eligible,
        fcr_resolved=figures.fcr_resolved,
        csat_answers=figures.csat_answers,
        csat_satisfied=figures.csat_satisfied,
        qa_reviews=qa.get("n", 0),
        qa_average=None if average is None else quality.round_score(average),
        critical_failures=qa.get("critical", 0),
    )


def _detail(code: str, month: rules.AgentMonth) -> str:
    if code == "aht":
        n = month.handled
        return ngettext("%(n)d contact traité", "%(n)d contacts traités", n) % {"n": n}
    if code == "fcr":
        n = month.fcr_eligible
        return ngettext("%(n)d premier contact jugé", "%(n)d premiers contacts jugés", n) % {"n": n}
    if code == "csat":
        n = month.csat_answers
        return ngettext("%(n)d réponse", "%(n)d réponses", n) % {"n": n}
    n = month.qa_reviews
    return ngettext("%(n)d évaluation", "%(n)d évaluations", n) % {"n": n}


@dataclass(frozen=True)
class Scorecard:
    agent: User
    month: dt.date
    figures: rules.AgentMonth
    ratings: dict[str, Rating]

    @property
    def name(self) -> str:
        return self.agent.get_full_name() or self.agent.email

    @property
    def handled(self) -> int:
        return self.figures.handled

    @property
    def rated(self) -> list[Rating]:
        return [self.ratings[code] for code in rules.RATED]

    @property
    def below(self) -> list[Rating]:
        return [r for r in self.rated if r.missed]


def _scorecard(agent: User, month: dt.date, figures: rules.AgentMonth, goals) -> Scorecard:
    ratings = {
        code: Rating(code, figures.value(code), goals[code], detail=_detail(code, figures))
        for code in rules.RATED
    }
    return Scorecard(agent=agent, month=month, figures=figures, ratings=ratings)


# --- The people page: every agent's month, the league and the training list -------------------


@dataclass(frozen=True)
class LeagueRow:
    entry: rules.LeagueEntry
    card: Scorecard

    @property
    def composite_text(self) -> str:
        return formats.number_format(round(self.entry.composite_float, 2), decimal_pos=2)


@dataclass(frozen=True)
class TrainingRow:
    need: rules.TrainingNeed
    card: Scorecard


@dataclass(frozen=True)
class PeopleMonth:
    month: dt.date
    is_live: bool
    scorecards: list[Scorecard]
    league: list[LeagueRow]
    eligible: int
    training: list[TrainingRow]
    has_snapshot: bool  # a past month: its MONTH snapshot exists
    missing_days: int  # the month in progress: past days without their DAY snapshot
    goals: list[Rating]  # each rated figure's target, for the captions
    min_handled: int = rules.LEAGUE_MIN_HANDLED
    league_size: int = rules.LEAGUE_SIZE
    qa_floor: float = rules.QA_FLOOR
    min_misses: int = rules.TRAINING_MIN_MISSES


def people_month(*, now: dt.datetime, month: dt.date) -> PeopleMonth:
    """Every agent's scorecard for `month` (Paris), the league's top five and the agents
    who need training: the snapshot rows (and today live for the month in progress), the
    month's QA reviews and the agents, whatever their numbers."""
    month = month.replace(day=1)
    today = metrics.local_day(now)
    is_live = month == today.replace(day=1)
    span = _agent_figures(now=now, first=month, last=month)
    qa = _qa_months(first=month, last=month)
    settings = kpi_target_settings()
    goals = _scorecard_goals(settings)
    cards: list[Scorecard] = []
    for agent in qa_agents():
        figures = _agent_month(
            agent.pk, span.figures.get((month, agent.pk)), qa.get((month, agent.pk))
        )
        if agent.is_active or not figures.is_empty:
            cards.append(_scorecard(agent, month, figures, goals))
    by_id = {card.agent.pk: card for card in cards}
    months = [card.figures for card in cards]
    top = rules.league(
        months,
        aht_low=settings["kpi_target_aht_min_seconds"],
        aht_high=settings["kpi_target_aht_max_seconds"],
    )
    training = []
    for card in cards:
        need = rules.training_need(card.figures, {c: r.status for c, r in card.ratings.items()})
        if need is not None:
            training.append(TrainingRow(need=need, card=card))
    # The most urgent first: critical failures, then the most figures below target.
    training.sort(
        key=lambda row: (
            -row.need.critical_failures,
            -len(row.need.below),
            row.card.name.lower(),
            row.card.agent.pk,
        )
    )
    return PeopleMonth(
        month=month,
        is_live=is_live,
        scorecards=cards,
        league=[LeagueRow(entry=e, card=by_id[e.agent_id]) for e in top],
        eligible=sum(1 for m in months if rules.league_eligible(m)),
        training=training,
        has_snapshot=is_live or month in span.built_months,
        missing_days=max(0, (today - month).days - span.built_days) if is_live else 0,
        goals=[Rating(code, None, goals[code]) for code in rules.RATED],
    )


# --- One agent: the month's scorecard and its 12-month trend -------------------------------------


@dataclass(frozen=True)
class TrendMonth:
    month: dt.date
    card: Scorecard
    live: bool
    built: bool  # its snapshot exists (the month in progress: always)


@dataclass(frozen=True)
class AgentPeople:
    agent: User
    month: dt.date
    card: Scorecard
    trend: list[TrendMonth]
    missing_days: int

    @property
    def name(self) -> str:
        return self.agent.get_full_name() or self.agent.email

    @property
    def built(self) -> bool:
        return self.trend[-1].built

    @property
    def chart(self) -> dict:
        def series(code: str) -> list:
            values = [row.card.figures.value(code) for row in self.trend]
            return [None if v is None else round(v, 2) for v in values]

        return {
            "labels": [formats.date_format(row.month, "M Y") for row in self.trend],
            "aht": series("aht"),
            "fcr": series("fcr"),
            "csat": series("csat"),
            "qa": series("qa"),
            "handled": [row.card.handled for row in self.trend],
            "names": {
                "aht": _("AHT (s)"),
                "fcr": _("FCR (%)"),
                "csat": _("CSAT (%)"),
                "qa": _("Score qualité (/100)"),
                "handled": _("Contacts traités"),
            },
        }


def _months_ending(last: dt.date, count: int) -> list[dt.date]:
    months = [last.replace(day=1)]
    for _n in range(count - 1):
        months.insert(0, (months[0] - dt.timedelta(days=1)).replace(day=1))
    return months


def agent_people(*, agent_id: int, now: dt.datetime, month: dt.date) -> AgentPeople:
    """One agent's scorecard for `month` and the 12 months ending with it; 404 unless the
    user is an agent. Four queries whatever the history (five in the month in progress)."""
    agent = User.objects.filter(pk=agent_id, role=Role.AGENT).first()
    if agent is None:
        raise Http404("No such agent.")
    months = _months_ending(month, TREND_MONTHS)
    today = metrics.local_day(now)
    this_month = today.replace(day=1)
    span = _agent_figures(now=now, first=months[0], last=months[-1], agent_id=agent.pk)
    qa = _qa_months(first=months[0], last=months[-1], agent_id=agent.pk)
    goals = _scorecard_goals(kpi_target_settings())
    trend = [
        TrendMonth(
            month=m,
            card=_scorecard(
                agent,
                m,
                _agent_month(agent.pk, span.figures.get((m, agent.pk)), qa.get((m, agent.pk))),
                goals,
            ),
            live=m == this_month,
            built=m == this_month or m in span.built_months,
        )
        for m in months
    ]
    live = months[-1] == this_month
    return AgentPeople(
        agent=agent,
        month=months[-1],
        card=trend[-1].card,
        trend=trend,
        missing_days=max(0, (today - this_month).days - span.built_days) if live else 0,
    )


# --- Dashboard panels: quarterly NPS and the channel mix ----------------------------------------


@dataclass(frozen=True)
class QuarterRow:
    quarter: rules.QuarterNps
    missing_months: int  # elapsed months of the quarter without their MONTH snapshot

    @property
    def display(self) -> str:
        value = self.quarter.nps
        return "—" if value is None else _signed(value)

    @property
    def target_display(self) -> str:
        return _signed(self.quarter.target)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.quarter.status]

    @property
    def mark(self) -> str:
        return STATUS_MARKS[self.quarter.status]

    @property
    def rated(self) -> bool:
        return self.quarter.status in {targets.GREEN, targets.AMBER, targets.RED}


@dataclass(frozen=True)
class ChannelRow:
    channel: str
    label: str
    contacts: int
    percent_text: str


@dataclass(frozen=True)
class DashboardPeople:
    month: dt.date
    mix_is_partial: bool  # the month is in progress: compared with the same days last year
    quarters: list[QuarterRow]
    mix: rules.ChannelMix
    channels: list[ChannelRow]
    containment: Rating
    routine: Rating
    self_service: Rating
    before_start: dt.datetime  # last year's span, Paris time
    before_end: dt.datetime

    @property
    def current(self) -> QuarterRow:
        return self.quarters[-1]


def _nps_counts(
    *, now: dt.datetime, first: dt.date, last: dt.date
) -> tuple[dict[dt.date, rules.NpsCounts], set[dt.date]]:
    """NPS answers, promoters and detractors per quarter from `first`'s to `last`'s:
    MONTH snapshots, and for the month in progress its DAY snapshots plus today's surveys
    (two queries). Also the months that have their MONTH snapshot."""
    today = metrics.local_day(now)
    this_month = today.replace(day=1)
    today_start, today_end = metrics.local_day_bounds(today)
    span_start = metrics.local_month_bounds(first)[0]
    span_end = metrics.local_month_bounds(rules.quarter_months(last)[-1])[1]
    this_start = metrics.local_month_bounds(this_month)[0]
    live = span_start <= this_start < span_end
    period = Q(
        kind=SnapshotKind.MONTH,
        period_start__gte=span_start,
        period_start__lt=min(span_end, this_start),
    )
    if live:
        period |= Q(
            kind=SnapshotKind.DAY, period_start__gte=this_start, period_start__lt=today_start
        )
    rows = KpiSnapshot.objects.filter(period, dimension=OVERALL).values(
        "kind", "period_start", "nps_answers", "promoters", "detractors"
    )
    counts: dict[dt.date, rules.NpsCounts] = defaultdict(rules.NpsCounts)
    built: set[dt.date] = set()
    for row in rows:
        month = metrics.local_month(row["period_start"])
        if row["kind"] == SnapshotKind.MONTH:
            built.add(month)
        quarter = rules.quarter_start(month)
        counts[quarter] = counts[quarter].plus(
            rules.NpsCounts(row["nps_answers"], row["promoters"], row["detractors"])
        )
    if live:
        # Today, live: the thresholds of the snapshots' survey measures.
        found = Survey.objects.filter(
            answered_at__gte=today_start, answered_at__lt=today_end
        ).aggregate(
            answers=Count("nps"),
            promoters=Count("pk", filter=Q(nps__gte=NPS_PROMOTER)),
            detractors=Count("pk", filter=Q(nps__lte=NPS_DETRACTOR)),
        )
        quarter = rules.quarter_start(this_month)
        counts[quarter] = counts[quarter].plus(rules.NpsCounts(**found))
    return dict(counts), built


# A finished month's mix only changes if old call records are imported again: reading it
# from the cache spares the dashboard a scan of the month's contacts (docs/kpi-people.md).
MIX_CACHE_SECONDS = 15 * 60


def _channel_mix(*, now: dt.datetime, month: dt.date) -> tuple[rules.ChannelMix, tuple]:
    """The month's inbound contacts per channel and its routine phone calls, with the
    routine calls of the same span a year before, in one query over the contacts; a
    finished month's from the cache."""
    if month >= metrics.local_month(now):
        return _channel_mix_counted(now=now, month=month)
    key = f"kpi:channel-mix:{month:%Y-%m}"
    cached = cache.get(key)
    if cached is None:
        cached = _channel_mix_counted(now=now, month=month)
        cache.set(key, cached, MIX_CACHE_SECONDS)
    return cached


def _channel_mix_counted(*, now: dt.datetime, month: dt.date) -> tuple[rules.ChannelMix, tuple]:
    (start, end), (before_start, before_end) = rules.mix_windows(month, now=now)
    current = Q(offered_at__gte=start, offered_at__lt=end)
    before = Q(
        offered_at__gte=before_start, offered_at__lt=before_end, channel=rules.ROUTINE_CHANNEL
    )
    unknown_issue = Q(issue_key="") | Q(issue_key__startswith="queue:")
    rows = (
        Contact.objects.filter(inbound=True, outcome=metrics.REACHED_QUEUE)
        .filter(current | before)
        .annotate(
            is_current=Case(
                When(current, then=Value(True)), default=Value(False), output_field=BooleanField()
            )
        )
        .values("is_current", "channel")
        .annotate(
            n=Count("pk"),
            routine=Count("pk", filter=Q(issue_key__in=rules.ROUTINE_ISSUES)),
            unknown=Count("pk", filter=unknown_issue),
            abandoned=Count("pk", filter=Q(abandoned=True)),
        )
        .order_by()
    )
    counts: dict[str, int] = {}
    routine = before_routine = without_issue = chatbot_abandoned = 0
    for row in rows:
        phone = row["channel"] == rules.ROUTINE_CHANNEL
        if row["is_current"]:
            counts[row["channel"]] = row["n"]
            if row["channel"] == rules.CONTAINED_CHANNEL:
                chatbot_abandoned = row["abandoned"]
            if phone:
                routine, without_issue = row["routine"], row["unknown"]
        elif phone:
            before_routine = row["routine"]
    mix = rules.ChannelMix(
        counts=counts,
        chatbot_abandoned=chatbot_abandoned,
        routine_calls=routine,
        routine_calls_before=before_routine,
        calls_without_issue=without_issue,
    )
    return mix, (before_start, before_end)


def dashboard_people(*, now: dt.datetime, month: dt.date) -> DashboardPeople:
    """The dashboard's two panels for the month it shows: the NPS of its quarter and the
    four before, each against its quarterly target; the month's channel mix, chatbot
    containment and routine calls against last year. Three queries (two for a past
    quarter), the targets being cached parameters."""
    month = month.replace(day=1)
    today = metrics.local_day(now)
    last = rules.quarter_start(month)
    # One more quarter than shown: its actual sets the first shown quarter's target.
    first = rules.quarter_shift(last, -NPS_QUARTERS_SHOWN)
    counts, built = _nps_counts(now=now, first=first, last=last)
    configured = kpi_target_settings()["kpi_target_nps"]
    quarters = rules.nps_quarters(
        counts,
        last=last,
        shown=NPS_QUARTERS_SHOWN,
        configured=configured,
        today=today,
        band=targets.AMBER_BANDS["nps"],
    )
    this_month = today.replace(day=1)
    rows = [
        QuarterRow(
            quarter=q,
            missing_months=sum(
                1 for m in rules.quarter_months(q.quarter) if m < this_month and m not in built
            ),
        )
        for q in quarters
    ]
    mix, (before_start, before_end) = _channel_mix(now=now, month=month)
    channels = [
        ChannelRow(
            channel=share.channel,
            label=Channel(share.channel).label
            if share.channel in Channel.values
            else share.channel,
            contacts=share.contacts,
            percent_text=_percent_text(share.percent),
        )
        for share in mix.shares
    ]
    sessions = mix.chatbot_sessions
    return DashboardPeople(
        month=month,
        mix_is_partial=month == this_month,
        quarters=rows,
        mix=mix,
        channels=channels,
        containment=Rating(
            "containment",
            mix.containment_percent,
            rules.containment_target(),
            detail=ngettext("%(n)d session de chatbot", "%(n)d sessions de chatbot", sessions)
            % {"n": sessions},
        ),
        routine=Rating(
            "routine",
            mix.routine_change_percent,
            rules.routine_change_target(),
            detail=_("%(now)d appels courants, contre %(before)d un an avant")
            % {"now": mix.routine_calls, "before": mix.routine_calls_before},
        ),
        self_service=Rating(
            "self_service",
            mix.self_service_percent,
            None,
            detail=ngettext("%(n)d contact entrant", "%(n)d contacts entrants", mix.total)
            % {"n": mix.total},
        ),
        before_start=before_start.astimezone(PARIS),
        before_end=before_end.astimezone(PARIS),
    )
