"""Reads of the kpi app: it only reads and aggregates what the other apps write."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from functools import cached_property
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import (
    Avg,
    BigIntegerField,
    Count,
    DateTimeField,
    Exists,
    F,
    FloatField,
    Func,
    Min,
    OuterRef,
    Prefetch,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Floor
from django.http import Http404
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.models import Role, User
from accounts.selectors import parameter_get
from billing.models import Dispute
from outages.models import Incident
from tickets.models import (
    Channel,
    ClockDefinition,
    ClockInstance,
    ClockStatus,
    Complaint,
    Contact,
    Message,
    Queue,
    SlaPolicy,
    Survey,
    Ticket,
    TicketEvent,
)

from ..domain import erlang, metrics, quality, targets
from ..domain import snapshots as snap
from ..models import (
    AlertMetric,
    CalibrationSession,
    CoachingNote,
    KpiAlert,
    KpiSnapshot,
    QaAnswer,
    QaAnswerChoice,
    QaChecklist,
    QaChecklistItem,
    QaReview,
    SnapshotDimension,
    SnapshotKind,
    TrainingKind,
    TrainingRecord,
)

# --- Staffing planner ---------------------------------------------------------------

PARIS = ZoneInfo("Europe/Paris")
SHORT_ABANDON = dt.timedelta(seconds=metrics.SHORT_ABANDON_SECONDS)


class _EpochSeconds(Func):
    template = "EXTRACT(EPOCH FROM %(expressions)s)"
    output_field = FloatField()


def contacts_offered_per_interval(
    *, day: dt.date, interval_minutes: int, queue: str = "", channel: str = ""
) -> list[int]:
    """Contacts offered on `day` (Paris), counted per interval of elapsed time from
    local midnight, in one query. A day of clock change has 23 or 25
    hours, hence 92 or 100 quarter-hours."""
    # In UTC: two datetimes sharing a tzinfo subtract as wall clocks, ignoring the change.
    start = dt.datetime.combine(day, dt.time(0), tzinfo=PARIS).astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=PARIS).astimezone(
        dt.UTC
    )
    seconds = interval_minutes * 60
    count = int((end - start).total_seconds()) // seconds
    # "Offered" as docs/kpi.md defines it (metrics.is_offered): inbound, real-time channel,
    # reached a queue, not a short abandon (its queue wait known and under 5 s).
    quick = F("offered_at") + SHORT_ABANDON
    short_abandon = Q(abandoned=True) & (
        Q(answered_at__isnull=False, answered_at__lt=quick)
        | Q(answered_at__isnull=True, ended_at__isnull=False, ended_at__lt=quick)
    )
    rows = Contact.objects.filter(
        offered_at__gte=start,
        offered_at__lt=end,
        inbound=True,
        channel__in=metrics.REAL_TIME_CHANNELS,
        outcome=metrics.REACHED_QUEUE,
    ).exclude(short_abandon)
    if queue:
        rows = rows.filter(queue=queue)
    if channel:
        rows = rows.filter(channel=channel)
    since_midnight = F("offered_at") - Value(start, output_field=DateTimeField())
    buckets = (
        rows.annotate(bucket=Floor(_EpochSeconds(since_midnight) / seconds))
        .values("bucket")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = [0] * count
    for row in buckets:
        counts[int(row["bucket"])] += row["n"]
    return counts


@dataclass(frozen=True)
class StaffingRow:
    starts: dt.time
    ends: dt.time
    contacts: Fraction
    staffing: erlang.Staffing
    is_peak: bool

    @property
    def service_level_percent(self) -> float | None:
        level = self.staffing.service_level
        return None if level is None else level * 100

    @property
    def occupancy_percent(self) -> float | None:
        share = self.staffing.occupancy
        return None if share is None else float(share * 100)

    @property
    def probability_of_waiting_percent(self) -> float | None:
        chance = self.staffing.probability_of_waiting
        return None if chance is None else chance * 100


@dataclass(frozen=True)
class StaffingReport:
    plan: erlang.DayPlan
    rows: list[StaffingRow]
    history_day: dt.date | None
    queue: str
    channel: str
    inputs: dict

    @property
    def peak(self) -> StaffingRow | None:
        index = self.plan.peak_index
        return None if index is None else self.rows[index]

    @property
    def queue_label(self) -> str:
        return Queue(self.queue).label if self.queue else _("toutes")

    @property
    def channel_label(self) -> str:
        return (
            Channel(self.channel).label
            if self.channel
            else _("tous ceux traités par un conseiller")
        )

    @property
    def chart(self) -> dict:
        return {
            "labels": [f"{r.starts:%H:%M}" for r in self.rows],
            "agents": [r.staffing.agents for r in self.rows],
            "fte": [r.staffing.fte for r in self.rows],
            "label": _("Conseillers nécessaires"),
        }


def _trim(counts: list[int]) -> tuple[int, list[int]]:
    """The span from the first to the last interval with a contact, and where it starts."""
    busy = [i for i, n in enumerate(counts) if n]
    if not busy:
        return 0, []
    return busy[0], counts[busy[0] : busy[-1] + 1]


def staffing_plan(
    *,
    interval_minutes: int,
    aht_seconds: int,
    target_service_level: Fraction,
    target_answer_seconds: int,
    shrinkage: Fraction,
    max_occupancy: Fraction | None = None,
    contacts: list[Decimal] | None = None,
    start: dt.time | None = None,
    history_day: dt.date | None = None,
    queue: str = "",
    channel: str = "",
) -> StaffingReport:
    """The Erlang C plan of a day, from the volumes given (starting at `start`) or from
    the contacts offered on `history_day`. Raises erlang.StaffingError when there is no
    answer (empty day, unreachable target)."""
    step = dt.timedelta(minutes=interval_minutes)
    if history_day is not None:
        first, volumes = _trim(
            contacts_offered_per_interval(
                day=history_day, interval_minutes=interval_minutes, queue=queue, channel=channel
            )
        )
        # Elapsed time in UTC, then the Paris wall clock: right across a change of time
        # (an aware datetime plus a timedelta would move the wall clock instead).
        midnight = dt.datetime.combine(history_day, dt.time(0), tzinfo=PARIS).astimezone(dt.UTC)
        bounds = [
            (midnight + (first + i) * step).astimezone(PARIS).time()
            for i in range(len(volumes) + 1)
        ]
    else:
        volumes = list(contacts or [])
        opening = dt.datetime.combine(dt.date(2000, 1, 1), start or dt.time(0))
        bounds = [(opening + i * step).time() for i in range(len(volumes) + 1)]
    plan = erlang.staffing_plan(
        contacts_per_interval=volumes,
        interval_minutes=interval_minutes,
        aht_seconds=aht_seconds,
        target_service_level=target_service_level,
        target_answer_seconds=target_answer_seconds,
        shrinkage=shrinkage,
        max_occupancy=max_occupancy,
    )
    rows = [
        StaffingRow(
            starts=bounds[index],
            ends=bounds[index + 1],
            contacts=Fraction(volume),
            staffing=staffing,
            is_peak=index == plan.peak_index,
        )
        for index, (volume, staffing) in enumerate(zip(volumes, plan.intervals, strict=True))
    ]
    return StaffingReport(
        plan=plan,
        rows=rows,
        history_day=history_day,
        queue=queue,
        channel=channel,
        inputs={
            "interval_minutes": interval_minutes,
            "interval_seconds": interval_minutes * 60,
            "aht_seconds": aht_seconds,
            "target_service_level_percent": float(target_service_level * 100),
            "target_answer_seconds": target_answer_seconds,
            "shrinkage_percent": float(shrinkage * 100),
            "max_occupancy_percent": None if max_occupancy is None else float(max_occupancy * 100),
        },
    )


# --- Quality and people -------------------------------------------------------------
# QA reviews, calibration, coaching and training are kpi's own records (kpi.models).

QA_LIST_LIMIT = 100
QA_CONTACT_MATCHES = 20
AGENT_NOTES_LIMIT = 50
AGENT_TRAINING_LIMIT = 50
# Reviews a coaching note may point at: the agent's latest ones.
COACHING_REVIEW_CHOICES = 30


def paris_month_bounds(month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The instants where a Paris calendar month starts and the next one starts."""
    first = month.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return (
        dt.datetime.combine(first, dt.time(0), tzinfo=PARIS),
        dt.datetime.combine(following, dt.time(0), tzinfo=PARIS),
    )


def _in_month(rows, month: dt.date | None):
    if month is None:
        return rows
    start, end = paris_month_bounds(month)
    return rows.filter(created_at__gte=start, created_at__lt=end)


def qa_agents() -> list[User]:
    """The agents a review, a note or a training record can be about."""
    return list(
        User.objects.filter(role=Role.AGENT)
        .only("pk", "first_name", "last_name", "email", "is_active")
        .order_by("last_name", "first_name", "email")
    )


def qa_reviews_recent(
    *, agent_id: int | None = None, month: dt.date | None = None, limit: int = QA_LIST_LIMIT
) -> list[QaReview]:
    """The latest QA reviews (calibration scorings left out), newest first, with what
    the list shows joined in one query."""
    rows = QaReview.objects.filter(calibration__isnull=True)
    if agent_id is not None:
        rows = rows.filter(agent_id=agent_id)
    rows = _in_month(rows, month)
    return list(
        rows.select_related(
            "contact", "contact__ticket", "agent", "reviewer", "checklist"
        ).order_by("-created_at", "-pk")[:limit]
    )


@dataclass(frozen=True)
class ReviewList:
    agents: list[User]
    reviews: list[QaReview]


def qa_review_list(*, agent_id: int | None = None, month: dt.date | None = None) -> ReviewList:
    """The review list page: the agents to filter on and the matching reviews."""
    return ReviewList(agents=qa_agents(), reviews=qa_reviews_recent(agent_id=agent_id, month=month))


def qa_checklist_active() -> QaChecklist | None:
    """The checklist new reviews and sessions use: the newest active version."""
    return (
        QaChecklist.objects.filter(active=True)
        .prefetch_related(Prefetch("items", queryset=QaChecklistItem.objects.order_by("position")))
        .order_by("-created_at", "-pk")
        .first()
    )


def qa_contact_find(*, query: str) -> list[Contact]:
    """Contacts by number (`1234` or `#1234`) or by ticket reference (PN-2026-000123),
    with their ticket and agent."""
    text = query.strip().lstrip("#")
    rows = Contact.objects.select_related("ticket", "agent")
    if text.isdigit():
        rows = rows.filter(pk=int(text))
    else:
        rows = rows.filter(ticket__reference__iexact=text)
    return list(rows.order_by("-offered_at", "-pk")[:QA_CONTACT_MATCHES])


@dataclass(frozen=True)
class ContactForReview:
    contact: Contact
    messages: list[Message]
    checklist: QaChecklist | None
    reviews: list[QaReview]
    own_review: QaReview | None


def qa_contact_for_review(*, contact_id: int, viewer: User) -> ContactForReview:
    """A contact's facts, its ticket's messages (read-only), the checklist to score it
    against and the reviews it already has; 404 if there is no such contact."""
    contact = (
        Contact.objects.select_related("ticket", "ticket__account", "agent", "account")
        .filter(pk=contact_id)
        .first()
    )
    if contact is None:
        raise Http404("No such contact.")
    messages = (
        list(
            Message.objects.filter(ticket_id=contact.ticket_id)
            .select_related("author")
            .order_by("created_at", "pk")
        )
        if contact.ticket_id
        else []
    )
    reviews = list(
        QaReview.objects.filter(contact=contact, calibration__isnull=True)
        .select_related("reviewer")
        .order_by("-created_at")
    )
    own = next((r for r in reviews if r.reviewer_id == viewer.pk), None)
    return ContactForReview(
        contact=contact,
        messages=messages,
        checklist=qa_checklist_active(),
        reviews=reviews,
        own_review=own,
    )


@dataclass(frozen=True)
class AnsweredItem:
    item: QaChecklistItem
    answer: str
    answer_label: str


def _answered_items(review: QaReview) -> list[AnsweredItem]:
    labels = dict(QaAnswerChoice.choices)
    return [
        AnsweredItem(item=a.item, answer=a.answer, answer_label=labels[a.answer])
        for a in sorted(review.answers.all(), key=lambda a: a.item.position)
    ]


@dataclass(frozen=True)
class ReviewDetail:
    review: QaReview
    answers: list[AnsweredItem]
    coaching_notes: list[CoachingNote]


def qa_review_detail(*, review_id: int) -> ReviewDetail:
    review = (
        QaReview.objects.select_related(
            "contact", "contact__ticket", "agent", "reviewer", "checklist", "calibration"
        )
        .prefetch_related(
            Prefetch("answers", queryset=QaAnswer.objects.select_related("item")),
            Prefetch(
                "coaching_notes",
                queryset=CoachingNote.objects.select_related("author").order_by("-on"),
            ),
        )
        .filter(pk=review_id)
        .first()
    )
    if review is None:
        raise Http404("No such review.")
    return ReviewDetail(
        review=review,
        answers=_answered_items(review),
        coaching_notes=list(review.coaching_notes.all()),
    )


def calibration_sessions(*, limit: int = QA_LIST_LIMIT) -> list[CalibrationSession]:
    """Sessions, open ones first then the latest months, with their number of scores."""
    return list(
        CalibrationSession.objects.select_related(
            "contact", "contact__ticket", "contact__agent", "checklist", "opened_by", "closed_by"
        )
        .annotate(score_count=Count("reviews"))
        .order_by(F("closed_at").desc(nulls_first=True), "-month", "-opened_at")[:limit]
    )


@dataclass(frozen=True)
class CalibrationRow:
    item: QaChecklistItem
    answers: list[str]
    disagreement: bool


@dataclass(frozen=True)
class CalibrationView:
    session: CalibrationSession
    items: list[QaChecklistItem]
    reviews: list[QaReview]
    rows: list[CalibrationRow]
    spread: Decimal | None
    # While a session is open, a supervisor sees the others' answers only after
    # scoring, so that no one anchors on a colleague's score.
    visible: bool
    viewer_has_scored: bool
    messages: list[Message]

    @property
    def can_close(self) -> bool:
        return self.session.is_open and self.visible and len(self.reviews) >= 2

    @property
    def disagreement_count(self) -> int:
        return sum(1 for row in self.rows if row.disagreement)


def calibration_detail(*, session_id: int, viewer: User) -> CalibrationView:
    """A session with each supervisor's answers per item, the spread of their scores and
    the items they disagree on; 404 if there is no such session."""
    session = (
        CalibrationSession.objects.select_related(
            "contact",
            "contact__ticket",
            "contact__agent",
            "checklist",
            "opened_by",
            "closed_by",
        )
        .filter(pk=session_id)
        .first()
    )
    if session is None:
        raise Http404("No such calibration session.")
    items = list(QaChecklistItem.objects.filter(checklist_id=session.checklist_id))
    items.sort(key=lambda item: item.position)
    reviews = list(
        QaReview.objects.filter(calibration=session)
        .select_related("reviewer")
        .prefetch_related("answers")
        .order_by("created_at", "pk")
    )
    by_reviewer = [{a.item_id: a.answer for a in r.answers.all()} for r in reviews]
    disagreeing = quality.disagreements(by_reviewer)
    rows = [
        CalibrationRow(
            item=item,
            answers=[answers.get(item.pk, "") for answers in by_reviewer],
            disagreement=item.pk in disagreeing,
        )
        for item in items
    ]
    scored = any(r.reviewer_id == viewer.pk for r in reviews)
    messages = (
        list(
            Message.objects.filter(ticket_id=session.contact.ticket_id)
            .select_related("author")
            .order_by("created_at", "pk")
        )
        if session.contact.ticket_id
        else []
    )
    return CalibrationView(
        session=session,
        items=items,
        reviews=reviews,
        rows=rows,
        spread=quality.score_spread(r.score for r in reviews),
        visible=scored or not session.is_open,
        viewer_has_scored=scored,
        messages=messages,
    )


@dataclass(frozen=True)
class TrainingSummary:
    onboarding_hours: Decimal
    refresher_hours: Decimal
    mentored_weeks: int
    mentored_calls: int
    records: list[TrainingRecord]


def training_summary(*, agent_id: int) -> TrainingSummary:
    """An agent's training totals over every record, plus the latest records: onboarding
    hours, refresher hours, distinct ISO weeks with mentored calls and those calls."""
    records = list(
        TrainingRecord.objects.filter(agent_id=agent_id)
        .select_related("recorded_by")
        .order_by("-on", "-created_at")
    )
    total = {kind: Decimal(0) for kind in TrainingKind.values}
    for record in records:
        total[record.kind] += record.quantity
    mentored = [r.on for r in records if r.kind == TrainingKind.MENTORED_CALLS_WEEK]
    return TrainingSummary(
        onboarding_hours=total[TrainingKind.ONBOARDING_HOURS],
        refresher_hours=total[TrainingKind.REFRESHER_HOURS],
        mentored_weeks=quality.mentored_weeks(mentored),
        mentored_calls=int(total[TrainingKind.MENTORED_CALLS_WEEK]),
        records=records[:AGENT_TRAINING_LIMIT],
    )


@dataclass(frozen=True)
class AgentQuality:
    agent: User
    month: dt.date
    reviews: list[QaReview]
    qa_average: Decimal | None
    critical_failures: int
    notes: list[CoachingNote]
    training: TrainingSummary
    review_choices: list[QaReview]


def qa_reviews_for_coaching(*, agent_id: int) -> list[QaReview]:
    """The reviews a coaching note on this agent may point at: the latest ones."""
    return list(
        QaReview.objects.filter(agent_id=agent_id, calibration__isnull=True).order_by(
            "-created_at", "-pk"
        )[:COACHING_REVIEW_CHOICES]
    )


def agent_quality(*, agent_id: int, month: dt.date) -> AgentQuality:
    """An agent's QA reviews and average for `month` (Paris), coaching notes and
    training summary; 404 unless the user is an agent."""
    agent = User.objects.filter(pk=agent_id, role=Role.AGENT).first()
    if agent is None:
        raise Http404("No such agent.")
    reviews = qa_reviews_recent(agent_id=agent.pk, month=month, limit=QA_LIST_LIMIT)
    notes = list(
        CoachingNote.objects.filter(agent=agent)
        .select_related("author", "review")
        .order_by("-on", "-created_at")[:AGENT_NOTES_LIMIT]
    )
    choices = qa_reviews_for_coaching(agent_id=agent.pk)
    # The month's average is over every review of the month, not only the listed ones.
    month_reviews = _in_month(QaReview.objects.filter(agent=agent, calibration__isnull=True), month)
    figures = month_reviews.aggregate(
        average=Avg("score"), critical=Count("pk", filter=Q(critical_failed=True))
    )
    average = figures["average"]
    return AgentQuality(
        agent=agent,
        month=month,
        reviews=reviews,
        qa_average=None if average is None else quality.round_score(average),
        critical_failures=figures["critical"],
        notes=notes,
        training=training_summary(agent_id=agent.pk),
        review_choices=choices,
    )


@dataclass(frozen=True)
class AgentOverview:
    agent: User
    reviews: int
    qa_average: Decimal | None
    critical_failures: int


def agents_quality_overview(*, month: dt.date) -> list[AgentOverview]:
    """Every agent with the month's review count, QA average and critical failures, in
    two queries whatever the number of agents and reviews."""
    figures = {
        row["agent_id"]: row
        for row in _in_month(QaReview.objects.filter(calibration__isnull=True), month)
        .values("agent_id")
        .annotate(
            n=Count("pk"),
            average=Avg("score"),
            critical=Count("pk", filter=Q(critical_failed=True)),
        )
        .order_by()
    }
    overview = []
    for agent in qa_agents():
        row = figures.get(agent.pk, {})
        average = row.get("average")
        overview.append(
            AgentOverview(
                agent=agent,
                reviews=row.get("n", 0),
                qa_average=None if average is None else quality.round_score(average),
                critical_failures=row.get("critical", 0),
            )
        )
    return overview


# --- Dashboard and snapshots --------------------------------------------------------
# One set-based aggregate gives every KPI cell of a period (docs/kpi.md, "Snapshots and
# dashboard"): kpi.services.snapshots writes its rows as KpiSnapshot, and the dashboard
# runs the very same SELECT for today, so a live figure and a snapshot cannot disagree.
# The predicates are those of kpi.domain.metrics (offered, answered, handled, short
# abandon, repeat, commitment verdict…), checked against it in tests/test_kpi_snapshots.py.

SNAPSHOT_TABLE = KpiSnapshot._meta.db_table
_TABLES = {
    "contact": Contact._meta.db_table,
    "survey": Survey._meta.db_table,
    "ticket": Ticket._meta.db_table,
    "event": TicketEvent._meta.db_table,
    "clock": ClockInstance._meta.db_table,
    "definition": ClockDefinition._meta.db_table,
    "policy": SlaPolicy._meta.db_table,
    "complaint": Complaint._meta.db_table,
    "dispute": Dispute._meta.db_table,
    "incident": Incident._meta.db_table,
}
# Thresholds of metrics.csat_percent and metrics.nps.
CSAT_SATISFIED = 4
NPS_PROMOTER = 9
NPS_DETRACTOR = 6
# metrics.is_open_at: a ticket is out of the backlog while RESOLVED or CLOSED.
CLOSED_STATES = ("RESOLVED", "CLOSED")
# metrics.mttr_seconds: restored incidents.
RESTORED_STATES = ("RESTORED", "CLOSED")
# The 72-hour inactivity clock is an internal trigger, not a promise (docs/kpi.md).
NOT_COMMITMENTS = ("ACTIVITY",)
DEFAULT_INTERVAL_MINUTES = 30
AGE_COLUMNS = tuple(f"age{n}" for n in range(len(metrics.AGEING_BUCKETS)))


def _sql_list(values) -> str:
    """Constants of this module and of metrics only: never user input."""
    return ", ".join(f"'{v}'" for v in sorted(values))


def _us(end: str, start: str) -> str:
    """Elapsed microseconds between two timestamptz columns, as an exact integer."""
    return f"round((extract(epoch FROM {end}) - extract(epoch FROM {start})) * 1000000)::bigint"


def _bucket(column: str) -> str:
    """The interval of the day an instant falls in: real elapsed time from local midnight."""
    return f"floor((extract(epoch FROM {column}) - %(epoch0)s) / %(step)s)::int"


_CONTACTS_SQL = """
SELECT {b} AS b, queue AS q, channel AS ch, coalesce(agent_id::text, 'none') AS ag,
       wait_us, handle, first_contact, resolved_first_contact,
       live AND NOT short AS offered,
       live AND has_answer AND NOT abandoned AS answered,
       live AND short AS short_abandon,
       live AND NOT short AND abandoned AS abandoned_offered,
       rt AND has_answer AND NOT abandoned AS handled,
       inbound AND rt AND outcome IN ({attempts}) AS attempt,
       live AS reached,
       repeat_eligible,
       CASE WHEN repeat_eligible THEN EXISTS (
           SELECT 1 FROM {contact} p
           WHERE p.customer_key = x.customer_key AND p.customer_key <> ''
             AND p.issue_key = x.issue_key
             AND p.inbound AND p.outcome = '{reached}' AND NOT p.abandoned
             AND p.offered_at < x.offered_at
             AND p.offered_at >= x.offered_at - make_interval(secs => %(window_s)s)
       ) ELSE false END AS is_repeat
FROM (
    SELECT c.offered_at, c.queue, c.channel, c.agent_id, c.inbound, c.abandoned, c.outcome,
           c.first_contact, c.resolved_first_contact, c.customer_key, c.issue_key,
           c.answered_at IS NOT NULL AS has_answer,
           c.channel IN ({rt}) AS rt,
           c.inbound AND c.channel IN ({rt}) AND c.outcome = '{reached}' AS live,
           c.talk_seconds + c.hold_seconds + c.wrap_seconds AS handle,
           w.wait_us,
           c.abandoned AND w.wait_us IS NOT NULL AND w.wait_us < %(short_us)s AS short,
           c.inbound AND c.outcome = '{reached}' AND NOT c.abandoned
               AND c.customer_key <> '' AND c.issue_key <> '' AS repeat_eligible
    FROM {contact} c
    CROSS JOIN LATERAL (SELECT CASE
        WHEN c.answered_at IS NOT NULL THEN {wait_answered}
        WHEN c.abandoned AND c.ended_at IS NOT NULL THEN {wait_abandoned}
    END AS wait_us) w
    WHERE c.offered_at >= %(start)s AND c.offered_at < %(end)s
) x
"""
_CONTACT_MEASURES = {
    "contacts": "count(*)",
    "offered": "count(*) FILTER (WHERE offered)",
    "answered": "count(*) FILTER (WHERE answered)",
    "answered_within_target": "count(*) FILTER (WHERE answered AND wait_us <= %(target_us)s)",
    "abandoned": "count(*) FILTER (WHERE abandoned_offered)",
    "short_abandons": "count(*) FILTER (WHERE short_abandon)",
    "wait_us_sum": "coalesce(sum(wait_us) FILTER (WHERE answered), 0)",
    "handled": "count(*) FILTER (WHERE handled)",
    "handle_seconds_sum": "coalesce(sum(handle) FILTER (WHERE handled), 0)",
    "fcr_eligible": "count(*) FILTER (WHERE first_contact AND resolved_first_contact IS NOT NULL)",
    "fcr_resolved": "count(*) FILTER (WHERE first_contact AND resolved_first_contact)",
    "attempts": "count(*) FILTER (WHERE attempt)",
    "reached_queue": "count(*) FILTER (WHERE attempt AND reached)",
    "repeat_eligible": "count(*) FILTER (WHERE repeat_eligible)",
    "repeats": "count(*) FILTER (WHERE is_repeat)",
}

# A survey takes its ticket's queue, channel and assignee: it needs no contact record.
_SURVEYS_SQL = """
SELECT {b} AS b, t.queue AS q, t.channel AS ch, coalesce(t.assignee_id::text, 'none') AS ag,
       s.csat, s.nps
FROM {survey} s JOIN {ticket} t ON t.id = s.ticket_id
WHERE s.answered_at >= %(start)s AND s.answered_at < %(end)s
"""
_SURVEY_MEASURES = {
    "csat_answers": "count(csat)",
    "csat_satisfied": f"count(*) FILTER (WHERE csat >= {CSAT_SATISFIED})",
    "nps_answers": "count(nps)",
    "promoters": f"count(*) FILTER (WHERE nps >= {NPS_PROMOTER})",
    "detractors": f"count(*) FILTER (WHERE nps <= {NPS_DETRACTOR})",
}

# Every customer-facing commitment, in the period of its due time, labelled
# "<KIND>|…": ticket clocks by policy and clock name, dispute clocks, the clocks of an
# incident's command ticket, and the complaint deadlines.
_COMMITMENTS_SQL = """
SELECT * FROM (
    SELECT {b_clock} AS b, t.queue AS q, t.channel AS ch,
           CASE WHEN EXISTS (SELECT 1 FROM {dispute} x WHERE x.ticket_id = t.id)
                    THEN 'DISPUTE|' || k.name
                WHEN EXISTS (SELECT 1 FROM {incident} i WHERE i.ticket_id = t.id)
                    THEN 'OUTAGE|' || k.name
                ELSE 'TICKET|' || p.code || '|' || k.name END AS cm,
           k.status, k.met_at, k.due_at
    FROM {clock} k
    JOIN {ticket} t ON t.id = k.ticket_id
    JOIN {definition} d ON d.id = k.definition_id
    JOIN {policy} p ON p.id = d.policy_id
    WHERE k.due_at >= %(start)s AND k.due_at < %(end)s AND k.stop_event NOT IN ({skip})
    UNION ALL
    SELECT {b_deadline}, t.queue, t.channel, 'COMPLAINT|response',
           CASE WHEN t.resolved_at IS NULL THEN 'RUNNING' ELSE 'MET' END,
           t.resolved_at, m.deadline_at
    FROM {complaint} m JOIN {ticket} t ON t.id = m.ticket_id
    WHERE m.deadline_at >= %(start)s AND m.deadline_at < %(end)s
    UNION ALL
    SELECT {b_remedy}, t.queue, t.channel, 'COMPLAINT|remedy',
           CASE WHEN m.remedy_done_at IS NULL THEN 'RUNNING' ELSE 'MET' END,
           m.remedy_done_at, m.remedy_due_at
    FROM {complaint} m JOIN {ticket} t ON t.id = m.ticket_id
    WHERE m.remedy_due_at >= %(start)s AND m.remedy_due_at < %(end)s
) u
"""
# metrics.commitment_verdict: met when done by the due time; missed when breached, done
# late, or still running past it; paused and cancelled ones are not decided.
_COMMITMENT_MEASURES = {
    "commitments_met": "count(*) FILTER (WHERE status = 'MET' AND met_at IS NOT NULL"
    " AND met_at <= due_at)",
    "commitments_due": "count(*) FILTER (WHERE status IN ('MET', 'BREACHED')"
    " OR (status = 'RUNNING' AND due_at < %(now)s))",
}

_INCIDENTS_SQL = """
SELECT {b} AS b, i.klass AS kl,
       NOT i.planned AND i.status IN ({restored}) AND i.ended_at IS NOT NULL AS restored,
       {restore_us} AS restore_us
FROM {incident} i
WHERE i.started_at >= %(start)s AND i.started_at < %(end)s
"""
_INCIDENT_MEASURES = {
    "restored_incidents": "count(*) FILTER (WHERE restored)",
    "restore_us_sum": "coalesce(sum(restore_us) FILTER (WHERE restored), 0)",
}

# The backlog at each instant of `ends` (b = the interval it closes, -1 for the period).
# Candidates: a ticket RESOLVED or CLOSED since before the first instant (its last status
# change, whose time its resolved_at or closed_at keeps) cannot be open at any of them;
# for the others, the STATUS events say whether it was resolved at the instant.
_BACKLOG_CTES = """
cand AS (
    SELECT t.id, t.queue, t.channel, t.assignee_id, t.created_at
    FROM {ticket} t
    WHERE t.created_at <= %(last_at)s AND t.merged_into_id IS NULL
      AND t.channel NOT IN ({not_backlog})
      AND NOT ((t.status = 'CLOSED' AND t.closed_at <= %(first_at)s)
               OR (t.status = 'RESOLVED' AND t.resolved_at <= %(first_at)s))
),
shut AS (
    SELECT * FROM (
        SELECT e.ticket_id, e.at AS since, e.to_value,
               lead(e.at) OVER (PARTITION BY e.ticket_id ORDER BY e.at, e.id) AS until
        FROM {event} e
        WHERE e.kind = 'STATUS' AND e.ticket_id IN (SELECT id FROM cand)
    ) w
    WHERE to_value IN ({closed})
)
"""
_BACKLOG_SQL = """
SELECT e.b, c.queue AS q, c.channel AS ch, coalesce(c.assignee_id::text, 'none') AS ag,
       extract(epoch FROM e.at) - extract(epoch FROM c.created_at) AS age_s
FROM unnest(%(end_b)s::int[], %(end_at)s::timestamptz[]) AS e(b, at)
JOIN cand c ON c.created_at <= e.at
WHERE NOT EXISTS (
    SELECT 1 FROM shut s
    WHERE s.ticket_id = c.id AND s.since <= e.at AND (s.until IS NULL OR e.at < s.until)
)
"""

_ENDS_SQL = "SELECT e.b FROM unnest(%(end_b)s::int[]) AS e(b)"


def _age_measure(lower: int, upper: int | None) -> str:
    condition = f"age_s >= {lower * 86400}"
    if upper is not None:
        condition += f" AND age_s < {upper * 86400}"
    return f"count(*) FILTER (WHERE {condition})"


_BACKLOG_MEASURES = {"backlog": "count(*)"} | {
    column: _age_measure(lower, upper)
    for column, (_name, lower, upper) in zip(AGE_COLUMNS, metrics.AGEING_BUCKETS, strict=True)
}
_OUTPUT = (*snap.ADDITIVE, "backlog", *AGE_COLUMNS)
_INTERVAL_START = "to_timestamp((%(epoch0)s + b * %(step)s)::float8)"


def _grouped(
    inner: str, dims: list[tuple[str, str]], measures: dict, *, mode: str, overall: bool = True
) -> str:
    """One source aggregated into cells. `mode`: "intervals" (interval and period cells),
    "period" (period cells) or "ends" (the backlog, where b says which instant).
    Without `overall`, only the cells of `dims` (another part gives the overall ones)."""
    columns = [column for _, column in dims]
    if mode == "period":
        sets = ["()", *(f"({c})" for c in columns)]
        kind, start = "%(period_kind)s", "%(start)s"
    elif mode == "intervals":
        sets = ["(b)", *(f"(b, {c})" for c in columns), "()", *(f"({c})" for c in columns)]
        kind = "CASE WHEN GROUPING(b) = 0 THEN 'INTERVAL' ELSE %(period_kind)s END"
        start = f"CASE WHEN GROUPING(b) = 0 THEN {_INTERVAL_START} ELSE %(start)s END"
    else:
        sets = ["(b)", *(f"(b, {c})" for c in columns)]
        kind = "CASE WHEN b < 0 THEN %(period_kind)s ELSE 'INTERVAL' END"
        start = f"CASE WHEN b < 0 THEN %(start)s ELSE {_INTERVAL_START} END"
    if not overall:
        sets = [s for s in sets if s not in {"()", "(b)"}]
    dimension = "CASE {} ELSE 'OVERALL' END".format(
        " ".join(f"WHEN GROUPING({c}) = 0 THEN '{name}'" for name, c in dims)
    )
    key = "CASE {} ELSE '' END".format(
        " ".join(f"WHEN GROUPING({c}) = 0 THEN {c}" for _, c in dims)
    )
    if not dims:
        dimension, key = "'OVERALL'", "''"
    values = ",\n       ".join(f"{measures.get(name, '0')} AS {name}" for name in _OUTPUT)
    return f"""
SELECT {kind} AS kind, {start} AS period_start,
       {dimension} AS dimension,
       {key} AS key,
       {values}
FROM ({inner}) src
GROUP BY GROUPING SETS ({", ".join(sets)})"""  # noqa: S608 (constants only; values are bound)


def kpi_cells_sql(*, intervals: bool) -> str:
    """The SELECT of every cell of one period: overall and per queue, channel, agent,
    commitment and incident class; with `intervals`, the period's intervals as well."""
    mode = "intervals" if intervals else "period"
    b = _bucket if intervals else (lambda _column: "-1")
    names = {**_TABLES, "rt": _sql_list(metrics.REAL_TIME_CHANNELS)}
    contacts = _CONTACTS_SQL.format(
        b=b("x.offered_at"),
        attempts=_sql_list({metrics.REACHED_QUEUE, *metrics.FAILED_ATTEMPTS}),
        reached=metrics.REACHED_QUEUE,
        wait_answered=_us("c.answered_at", "c.offered_at"),
        wait_abandoned=_us("c.ended_at", "c.offered_at"),
        **names,
    )
    surveys = _SURVEYS_SQL.format(b=b("s.answered_at"), **names)
    commitments = _COMMITMENTS_SQL.format(
        b_clock=b("k.due_at"),
        b_deadline=b("m.deadline_at"),
        b_remedy=b("m.remedy_due_at"),
        skip=_sql_list(NOT_COMMITMENTS),
        **names,
    )
    incidents = _INCIDENTS_SQL.format(
        b=b("i.started_at"),
        restored=_sql_list(RESTORED_STATES),
        restore_us=_us("i.ended_at", "i.started_at"),
        **names,
    )
    people = [("QUEUE", "q"), ("CHANNEL", "ch"), ("AGENT", "ag")]
    parts = [
        _grouped(contacts, people, _CONTACT_MEASURES, mode=mode),
        _grouped(surveys, people, _SURVEY_MEASURES, mode=mode),
        _grouped(
            commitments,
            [("QUEUE", "q"), ("CHANNEL", "ch"), ("COMMITMENT", "cm")],
            _COMMITMENT_MEASURES,
            mode=mode,
        ),
        _grouped(incidents, [("INCIDENT_CLASS", "kl")], _INCIDENT_MEASURES, mode=mode),
        # The backlog at every interval's end, per queue and channel; per agent (the
        # assignee) only at the period's end: an agent's stock moves by the day.
        _grouped(_BACKLOG_SQL, people[:2], _BACKLOG_MEASURES, mode="ends"),
        _grouped(
            _BACKLOG_SQL + " AND e.b < 0",
            people[2:],
            _BACKLOG_MEASURES,
            mode="ends",
            overall=False,
        ),
        # Every elapsed interval and the period have an overall row, even without records.
        _grouped(_ENDS_SQL, [], {}, mode="ends"),
    ]
    ctes = _BACKLOG_CTES.format(
        not_backlog=_sql_list(metrics.NOT_BACKLOG_CHANNELS),
        closed=_sql_list(CLOSED_STATES),
        **names,
    )
    sums = ",\n       ".join(f"sum({name})::bigint AS {name}" for name in snap.ADDITIVE)
    ageing = ", ".join(
        f"'{name}', sum({column})::bigint"
        for column, (name, _, _) in zip(AGE_COLUMNS, metrics.AGEING_BUCKETS, strict=True)
    )
    union = "\nUNION ALL\n".join(parts)
    return f"""
WITH {ctes}
SELECT kind, period_start,
       CASE WHEN kind = 'INTERVAL' THEN period_start + make_interval(secs => %(step)s)
            ELSE %(end)s END AS period_end,
       dimension, key, %(target_s)s AS answer_target_seconds,
       {sums},
       sum(backlog)::bigint AS backlog,
       jsonb_build_object({ageing}) AS backlog_ageing
FROM ({union}) parts
GROUP BY kind, period_start, dimension, key"""  # noqa: S608 (constants only; values are bound)


_CELLS_SQL = {True: kpi_cells_sql(intervals=True), False: kpi_cells_sql(intervals=False)}


def kpi_interval_minutes() -> int:
    """The configured interval length (15, 30 or 60 minutes)."""
    minutes = int(parameter_get(key="kpi_snapshot_interval_minutes"))
    return minutes if minutes in metrics.INTERVAL_MINUTES else DEFAULT_INTERVAL_MINUTES


def kpi_cells_params(
    *,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    period_kind: str,
    interval_minutes: int,
    intervals: bool,
) -> dict:
    """The values bound into kpi_cells_sql for the period [start, end) seen at `now`.
    The backlog is measured at the end of each interval and of the period, or at `now`
    for the one in progress; nothing is measured after `now`."""
    step = dt.timedelta(minutes=interval_minutes)
    ends: list[tuple[int, dt.datetime]] = []
    if intervals:
        count = int((end - start) / step)
        ends = [
            (b, min(start + (b + 1) * step, now)) for b in range(count) if start + b * step < now
        ]
    if start < now:
        ends.append((-1, min(end, now)))
    instants = [at for _, at in ends] or [start]
    return {
        "start": start,
        "end": end,
        "now": now,
        "period_kind": period_kind,
        "epoch0": int(start.timestamp()),
        "step": int(step.total_seconds()),
        "window_s": int(metrics.REPEAT_WINDOW.total_seconds()),
        "short_us": metrics.SHORT_ABANDON_SECONDS * snap.MICRO,
        "target_us": metrics.SERVICE_LEVEL_SECONDS * snap.MICRO,
        "target_s": metrics.SERVICE_LEVEL_SECONDS,
        "end_b": [b for b, _ in ends],
        "end_at": [at for _, at in ends],
        "first_at": min(instants),
        "last_at": max(instants),
    }


def kpi_cells(
    *,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    period_kind: str,
    interval_minutes: int | None = None,
    intervals: bool = False,
) -> list[dict]:
    """Every cell of the period, computed now from the raw records (one query)."""
    params = kpi_cells_params(
        start=start,
        end=end,
        now=now,
        period_kind=period_kind,
        interval_minutes=interval_minutes or kpi_interval_minutes(),
        intervals=intervals,
    )
    with connection.cursor() as cursor:
        cursor.execute(_CELLS_SQL[intervals], params)
        names = [column.name for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:
        # Django's connections hand jsonb to raw cursors as text.
        if isinstance(row["backlog_ageing"], str):
            row["backlog_ageing"] = json.loads(row["backlog_ageing"])
    return rows


# --- The dashboard --------------------------------------------------------------------

TODAY, DAY, MONTH = "TODAY", "DAY", "MONTH"
TREND_MONTHS = 12
UNATTRIBUTED = "none"
# The drill-down's path segment → the snapshot dimension.
DRILL_DIMENSIONS = {
    "queue": SnapshotDimension.QUEUE,
    "channel": SnapshotDimension.CHANNEL,
    "agent": SnapshotDimension.AGENT,
}
COMMITMENT_KINDS = {
    "TICKET": gettext_lazy("Dossiers"),
    "DISPUTE": gettext_lazy("Contestations"),
    "OUTAGE": gettext_lazy("Pannes"),
    "COMPLAINT": gettext_lazy("Réclamations"),
}
COMPLAINT_COMMITMENTS = {
    "response": gettext_lazy("réponse définitive (2 mois / 8 semaines)"),
    "remedy": gettext_lazy("réparation décidée par le médiateur"),
}
STATUS_LABELS = {
    targets.GREEN: gettext_lazy("Objectif atteint"),
    targets.AMBER: gettext_lazy("Proche de l'objectif"),
    targets.RED: gettext_lazy("Hors objectif"),
    targets.NO_DATA: gettext_lazy("Pas de données"),
    targets.NO_TARGET: gettext_lazy("Pour information"),
}
STATUS_MARKS = {
    targets.GREEN: "✓",
    targets.AMBER: "!",
    targets.RED: "✗",
    targets.NO_DATA: "–",
    targets.NO_TARGET: "i",
}
# The Figures property behind each tile (the backlog is a count).
TILE_FIGURES = {
    "asa": "asa_seconds",
    "aht": "aht_seconds",
    "fcr": "fcr_percent",
    "csat": "csat_percent",
    "nps": "nps",
    "abandonment": "abandonment_percent",
    "service_level": "service_level_percent",
    "sla": "sla_percent",
    "mttr": "mttr_seconds",
    "contact_success": "contact_success_percent",
    "repeat": "repeat_contact_percent",
}
# Which tiles a breakdown has (docs/kpi.md, "Dimensions" of each definition).
_TILES = {
    SnapshotDimension.OVERALL: (
        "asa", "aht", "fcr", "csat", "nps", "abandonment", "service_level", "sla",
        "backlog", "mttr", "contact_success", "repeat",
    ),
    SnapshotDimension.QUEUE: (
        "asa", "aht", "fcr", "csat", "nps", "abandonment", "service_level", "sla",
        "backlog", "contact_success", "repeat",
    ),
    SnapshotDimension.AGENT: ("asa", "aht", "fcr", "csat", "nps", "backlog", "repeat"),
}  # fmt: skip
_TILES[SnapshotDimension.CHANNEL] = _TILES[SnapshotDimension.QUEUE]


def _local(instant: dt.datetime) -> dt.datetime:
    return instant.astimezone(PARIS)


@dataclass(frozen=True)
class DashboardPeriod:
    """TODAY (live), a past DAY, or a MONTH (the current one: its past days from
    snapshots, today live)."""

    kind: str
    start: dt.datetime
    end: dt.datetime
    day: dt.date | None
    month: dt.date
    today: dt.date

    @property
    def is_live(self) -> bool:
        return self.kind == TODAY or (
            self.kind == MONTH and self.month == self.today.replace(day=1)
        )

    @property
    def label(self) -> str:
        if self.kind == TODAY:
            return _("Aujourd'hui, en direct")
        if self.kind == DAY:
            return formats.date_format(self.day, "l j F Y")
        return formats.date_format(self.month, "F Y")

    @property
    def query(self) -> str:
        """The query string that selects this period again."""
        if self.kind == DAY:
            return f"day={self.day:%Y-%m-%d}"
        if self.kind == MONTH:
            return f"month={self.month:%Y-%m}"
        return ""


def dashboard_period(*, now: dt.datetime, day: dt.date | None, month: dt.date | None):
    today = metrics.local_day(now)
    if month is not None:
        start, end = metrics.local_month_bounds(month)
        return DashboardPeriod(MONTH, start, end, None, month.replace(day=1), today)
    if day is not None and day != today:
        start, end = metrics.local_day_bounds(day)
        return DashboardPeriod(DAY, start, end, day, day.replace(day=1), today)
    start, end = metrics.local_day_bounds(today)
    return DashboardPeriod(TODAY, start, end, today, today.replace(day=1), today)


class Rated:
    """A figure against its target: the verdict, its text and symbol (never colour
    alone). The dashboard's tiles and the people pages' ratings share the partial
    supervisor/dashboard/_tile.html through these attributes."""

    def __init__(self, code: str, value: float | None, goal: targets.Target | None):
        self.code = code
        self.value = value
        self.goal = goal
        self.status = targets.rate(value, goal)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def rated(self) -> bool:
        return self.status in {targets.GREEN, targets.AMBER, targets.RED}

    @property
    def mark(self) -> str:
        return STATUS_MARKS[self.status]

    @cached_property
    def target_text(self) -> str:
        return _target_text(self.code, self.goal)


class Tile(Rated):
    """One figure of a cell against its target. The texts are built when a template asks
    for them: a breakdown table shows a thousand values and few of their captions."""

    def __init__(self, code: str, figures: snap.Figures, goal: targets.Target | None):
        super().__init__(code, _tile_value(code, figures), goal)
        self.figures = figures

    @cached_property
    def display(self) -> str:
        value = self.value
        if value is None:
            return "—"
        if self.code in {"asa", "aht", "mttr"}:
            return _seconds_text(value)
        if self.code == "nps":
            return _signed(value)
        if self.code == "backlog":
            return formats.number_format(int(value), force_grouping=True)
        return _percent_text(value)

    @cached_property
    def label(self) -> str:
        return _tile_label(self.code)

    @cached_property
    def detail(self) -> str:
        return _tile_detail(self.code, self.figures)


@dataclass(frozen=True)
class Cell:
    dimension: str
    key: str
    label: str
    figures: snap.Figures
    tiles: dict[str, Tile]  # every figure, formatted and rated against the cell's targets
    drill: str = ""  # the drill-down path segment ("queue"…), when there is a page


@dataclass(frozen=True)
class IntervalRow:
    starts: dt.datetime  # Paris time
    ends: dt.datetime
    figures: snap.Figures
    tiles: dict[str, Tile]


@dataclass(frozen=True)
class TrendRow:
    month: dt.date
    figures: snap.Figures
    tiles: dict[str, Tile]
    live: bool


@dataclass
class Dashboard:
    period: DashboardPeriod
    dimension: str
    key: str
    key_label: str
    figures: snap.Figures
    tiles: list[Tile]
    queues: list[Cell]
    channels: list[Cell]
    agents: list[Cell]
    commitments: list[Cell]
    incident_classes: list[Cell]
    intervals: list[IntervalRow]
    trend: list[TrendRow]
    has_data: bool
    missing_days: int
    built_at: dt.datetime | None
    # The open interval alerts, shown as a banner (docs/kpi.md, "Interval alerts").
    alerts: list[AlertLine] = field(default_factory=list)

    @property
    def chart(self) -> dict:
        def series(name: str) -> list:
            values = [getattr(row.figures, name) for row in self.trend]
            return [None if v is None else round(v, 2) for v in values]

        return {
            "labels": [formats.date_format(row.month, "M Y") for row in self.trend],
            "asa": series("asa_seconds"),
            "aht": series("aht_seconds"),
            "fcr": series("fcr_percent"),
            "csat": series("csat_percent"),
            "service_level": series("service_level_percent"),
            "abandonment": series("abandonment_percent"),
            "sla": series("sla_percent"),
            "nps": series("nps"),
            "names": {
                "asa": _("ASA (s)"),
                "aht": _("AHT (s)"),
                "fcr": _("FCR (%)"),
                "csat": _("CSAT (%)"),
                "service_level": _("Niveau de service (%)"),
                "abandonment": _("Abandon (%)"),
                "sla": _("Engagements tenus (%)"),
                "nps": _("NPS"),
            },
        }

    @property
    def ageing(self) -> list[tuple[str, int]]:
        return self.figures.ageing


TARGET_PARAMETERS = (
    "kpi_target_asa_seconds",
    "kpi_target_asa_billing_seconds",
    "kpi_target_aht_min_seconds",
    "kpi_target_aht_max_seconds",
    "kpi_target_fcr_percent",
    "kpi_target_fcr_billing_percent",
    "kpi_target_csat_percent",
    "kpi_target_nps",
    "kpi_target_abandonment_percent",
    "kpi_target_service_level_percent",
    "kpi_target_sla_percent",
    "outage_mttr_network_hours",
)


def kpi_target_settings() -> dict[str, float]:
    """The configured targets (accounts Parameter rows, cached a minute)."""
    return {name: float(parameter_get(key=name)) for name in TARGET_PARAMETERS}


def _kpi_targets(
    settings: dict[str, float], *, dimension: str, key: str
) -> dict[str, targets.Target | None]:
    """The targets of a cell: the billing queue has its own ASA and FCR."""
    billing = dimension == SnapshotDimension.QUEUE and key == Queue.BILLING
    bands = targets.AMBER_BANDS
    number = settings.__getitem__

    asa = number("kpi_target_asa_billing_seconds" if billing else "kpi_target_asa_seconds")
    fcr = number("kpi_target_fcr_billing_percent" if billing else "kpi_target_fcr_percent")
    return {
        "asa": targets.Target.below(asa, bands["asa"]),
        "aht": targets.Target.between(
            number("kpi_target_aht_min_seconds"), number("kpi_target_aht_max_seconds"), bands["aht"]
        ),
        "fcr": targets.Target.at_least(fcr, bands["fcr"]),
        "csat": targets.Target.at_least(number("kpi_target_csat_percent"), bands["csat"]),
        "nps": targets.Target.at_least(number("kpi_target_nps"), bands["nps"]),
        "abandonment": targets.Target.at_most(
            number("kpi_target_abandonment_percent"), bands["abandonment"]
        ),
        "service_level": targets.Target.at_least(
            number("kpi_target_service_level_percent"), bands["service_level"]
        ),
        "sla": targets.Target.at_least(number("kpi_target_sla_percent"), bands["sla"]),
        "mttr": targets.Target.at_most(number("outage_mttr_network_hours") * 3600, bands["mttr"]),
        "backlog": None,
        "contact_success": None,
        "repeat": None,
    }


def _number(value: float, decimals: int = 1) -> str:
    """One decimal, none when it would be 0 ("25 s", "23,4 s")."""
    rounded = round(value, decimals)
    whole = rounded == int(rounded)
    return formats.number_format(rounded, decimal_pos=0 if whole else decimals)


def _seconds_text(value: float) -> str:
    """Like "19,5 s", "5 min 10 s", "4 min", "3 h 20 min", "6 h"."""
    if value < 60:
        return _("%(n)s s") % {"n": _number(value)}
    minutes, seconds = divmod(round(value), 60)
    if minutes < 60:
        if not seconds:
            return _("%(m)d min") % {"m": minutes}
        return _("%(m)d min %(s)02d s") % {"m": minutes, "s": seconds}
    hours, minutes = divmod(minutes, 60)
    if not minutes:
        return _("%(h)d h") % {"h": hours}
    return _("%(h)d h %(m)02d min") % {"h": hours, "m": minutes}


def _percent_text(value: float) -> str:
    return _("%(n)s %%") % {"n": _number(value)}


def _signed(value: float) -> str:
    return ("+" if value > 0 else "") + _number(value)


def _target_text(code: str, target: targets.Target | None) -> str:
    if target is None:
        return _("Sans objectif")
    if code == "aht":
        return _("Objectif : de %(low)s à %(high)s") % {
            "low": _seconds_text(target.low),
            "high": _seconds_text(target.high),
        }
    if code in {"asa", "mttr"}:
        bound = _seconds_text(target.high)
    elif code == "nps":
        bound = _signed(target.low)
    else:
        bound = _percent_text(target.low if target.low is not None else target.high)
    sign = {"below": "<", "at_most": "≤", "at_least": "≥"}[target.rule]
    return _("Objectif : %(sign)s %(bound)s") % {"sign": sign, "bound": bound}


def _tile_value(code: str, figures: snap.Figures) -> float | None:
    if code == "backlog":
        return float(figures.backlog)
    return getattr(figures, TILE_FIGURES[code])


def _tile_label(code: str) -> str:
    return {
        "asa": _("Vitesse moyenne de réponse (ASA)"),
        "aht": _("Durée moyenne de traitement (AHT)"),
        "fcr": _("Résolution au premier contact (FCR)"),
        "csat": _("Satisfaction (CSAT)"),
        "nps": _("Recommandation (NPS)"),
        "abandonment": _("Taux d'abandon"),
        "service_level": _("Niveau de service (%(s)d s)") % {"s": metrics.SERVICE_LEVEL_SECONDS},
        "sla": _("Engagements tenus (SLA)"),
        "backlog": _("Dossiers ouverts"),
        "mttr": _("Temps moyen de rétablissement (MTTR)"),
        "contact_success": _("Tentatives mises en file"),
        "repeat": _("Recontacts sous 7 jours"),
    }[code]


def _tile_detail(code: str, f: snap.Figures) -> str:
    """What the figure is computed over."""
    if code == "asa":
        return ngettext("%(n)d contact décroché", "%(n)d contacts décrochés", f.answered) % {
            "n": f.answered
        }
    if code == "aht":
        return ngettext("%(n)d contact traité", "%(n)d contacts traités", f.handled) % {
            "n": f.handled
        }
    if code == "fcr":
        return ngettext(
            "%(n)d premier contact jugé", "%(n)d premiers contacts jugés", f.fcr_eligible
        ) % {"n": f.fcr_eligible}
    if code == "csat":
        return ngettext("%(n)d réponse", "%(n)d réponses", f.csat_answers) % {"n": f.csat_answers}
    if code == "nps":
        return ngettext("%(n)d réponse", "%(n)d réponses", f.nps_answers) % {"n": f.nps_answers}
    if code in {"abandonment", "service_level"}:
        return ngettext("%(n)d contact présenté", "%(n)d contacts présentés", f.offered) % {
            "n": f.offered
        }
    if code == "sla":
        return ngettext(
            "%(met)d tenu sur %(due)d échu", "%(met)d tenus sur %(due)d échus", f.commitments_due
        ) % {"met": f.commitments_met, "due": f.commitments_due}
    if code == "backlog":
        return _("à la fin de la période")
    if code == "mttr":
        return ngettext(
            "%(n)d incident rétabli", "%(n)d incidents rétablis", f.restored_incidents
        ) % {"n": f.restored_incidents}
    if code == "contact_success":
        return ngettext("%(n)d tentative", "%(n)d tentatives", f.attempts) % {"n": f.attempts}
    return ngettext("%(n)d contact éligible", "%(n)d contacts éligibles", f.repeat_eligible) % {"n": f.repeat_eligible}  # fmt: skip


def _tile(code: str, figures: snap.Figures, goal: targets.Target | None) -> Tile:
    return Tile(code, figures, goal)


ALL_TILES = tuple(_TILES[SnapshotDimension.OVERALL])


def _tiles(figures: snap.Figures, goals: dict) -> dict[str, Tile]:
    return {code: _tile(code, figures, goals[code]) for code in ALL_TILES}


def _rows_by_cell(rows) -> dict[tuple[str, str], list]:
    cells: dict[tuple[str, str], list] = defaultdict(list)
    for row in rows:
        cells[(row["dimension"], row["key"])].append(row)
    return cells


def _snapshot_rows(query) -> list[dict]:
    fields = [
        "kind",
        "period_start",
        "period_end",
        "dimension",
        "key",
        "built_at",
        *snap.ADDITIVE,
        *snap.STOCKS,
    ]
    return list(query.values(*fields))


def _chain_rows(rows: list[dict]) -> snap.Figures:
    ordered = sorted(rows, key=lambda r: r["period_start"])
    return snap.chain([snap.Figures.from_mapping(r) for r in ordered])


def _stock_now(figures: snap.Figures, live: list[dict], cell: tuple[str, str]) -> snap.Figures:
    """A month in progress ends now: its backlog is today's live one, 0 where no
    ticket of the cell is open now (its past days' stock is not carried over)."""
    row = next(
        (
            r
            for r in live
            if r["kind"] != SnapshotKind.INTERVAL and (r["dimension"], r["key"]) == cell
        ),
        None,
    )
    if row is None:
        return figures.with_backlog(0, {})
    now_figures = snap.Figures.from_mapping(row)
    return figures.with_backlog(now_figures.backlog, now_figures.backlog_ageing)


def _commitment_label(key: str) -> str:
    kind, _sep, rest = key.partition("|")
    if kind == "COMPLAINT":
        rest = str(COMPLAINT_COMMITMENTS.get(rest, rest))
    return f"{COMMITMENT_KINDS.get(kind, kind)} · {rest.replace('|', ' · ')}"


def _label(dimension: str, key: str, names: dict[int, str]) -> str:
    if dimension == SnapshotDimension.QUEUE:
        return Queue(key).label if key in Queue.values else key
    if dimension == SnapshotDimension.CHANNEL:
        return Channel(key).label if key in Channel.values else key
    if dimension == SnapshotDimension.AGENT:
        if key == UNATTRIBUTED:
            return _("Non attribué")
        return names.get(int(key), _("Conseiller n° %(id)s") % {"id": key})
    if dimension == SnapshotDimension.COMMITMENT:
        return _commitment_label(key)
    if dimension == SnapshotDimension.INCIDENT_CLASS:
        return key
    return _("Ensemble du centre")


def _agent_names(ids) -> dict[int, str]:
    users = User.objects.filter(pk__in=ids).only("pk", "first_name", "last_name", "email")
    return {u.pk: u.get_full_name() or u.email for u in users}


def kpi_drill_key_check(*, dimension: str, key: str) -> None:
    """404 for a drill-down on something that does not exist (an unknown queue…)."""
    valid = {
        SnapshotDimension.QUEUE: key in Queue.values,
        SnapshotDimension.CHANNEL: key in Channel.values,
        SnapshotDimension.AGENT: key == UNATTRIBUTED
        or (key.isdigit() and User.objects.filter(pk=int(key)).exists()),
    }
    if not valid.get(dimension, False):
        raise Http404("Nothing to drill into.")


def kpi_dashboard(
    *,
    now: dt.datetime,
    day: dt.date | None = None,
    month: dt.date | None = None,
    dimension: str = SnapshotDimension.OVERALL,
    key: str = "",
) -> Dashboard:
    """The dashboard of a period, overall or for one queue, channel or agent: tiles
    against their targets, the breakdowns, the day's intervals and the 12-month trend.
    Past periods are read from the snapshots, today from the raw records; a constant
    number of queries whatever the volume."""
    if dimension != SnapshotDimension.OVERALL:
        kpi_drill_key_check(dimension=dimension, key=key)
    period = dashboard_period(now=now, day=day, month=month)
    minutes = kpi_interval_minutes()
    today_start, today_end = metrics.local_day_bounds(period.today)
    this_month = period.today.replace(day=1)
    live: list[dict] = []
    interval_rows: list[dict] = []
    if period.kind == TODAY:
        live = kpi_cells(
            start=today_start,
            end=today_end,
            now=now,
            period_kind=SnapshotKind.DAY,
            interval_minutes=minutes,
            intervals=True,
        )
        period_rows = [r for r in live if r["kind"] != SnapshotKind.INTERVAL]
        interval_rows = [
            r
            for r in live
            if r["kind"] == SnapshotKind.INTERVAL and (r["dimension"], r["key"]) == (dimension, key)
        ]
        past_days: list[dict] = []
    elif period.kind == DAY:
        rows = _snapshot_rows(
            KpiSnapshot.objects.filter(
                Q(kind=SnapshotKind.DAY, period_start=period.start)
                | Q(
                    kind=SnapshotKind.INTERVAL,
                    dimension=dimension,
                    key=key,
                    period_start__gte=period.start,
                    period_start__lt=period.end,
                )
            )
        )
        period_rows = [r for r in rows if r["kind"] == SnapshotKind.DAY]
        interval_rows = [r for r in rows if r["kind"] == SnapshotKind.INTERVAL]
        past_days = []
    elif period.is_live:
        past_days = _snapshot_rows(
            KpiSnapshot.objects.filter(
                kind=SnapshotKind.DAY, period_start__gte=period.start, period_start__lt=today_start
            )
        )
        live = kpi_cells(
            start=today_start,
            end=today_end,
            now=now,
            period_kind=SnapshotKind.DAY,
            interval_minutes=minutes,
        )
        period_rows = past_days + live
    else:
        period_rows = _snapshot_rows(
            KpiSnapshot.objects.filter(kind=SnapshotKind.MONTH, period_start=period.start)
        )
        past_days = []

    cells = {cell: _chain_rows(rows) for cell, rows in _rows_by_cell(period_rows).items()}
    if period.kind == MONTH and period.is_live:
        cells = {cell: _stock_now(figures, live, cell) for cell, figures in cells.items()}

    # The trend: 12 months of MONTH snapshots, the current month from its days and today.
    first = this_month if period.is_live or period.kind == TODAY else period.month
    months = [first]
    for _n in range(TREND_MONTHS - 1):
        months.insert(0, (months[0] - dt.timedelta(days=1)).replace(day=1))
    trend_start = metrics.local_month_bounds(months[0])[0]
    includes_now = months[-1] == this_month
    trend_query = Q(
        kind=SnapshotKind.MONTH,
        dimension=dimension,
        key=key,
        period_start__gte=trend_start,
        period_start__lt=metrics.local_month_bounds(this_month)[0]
        if includes_now
        else metrics.local_month_bounds(months[-1])[1],
    )
    if includes_now and not past_days:
        trend_query |= Q(
            kind=SnapshotKind.DAY,
            dimension=dimension,
            key=key,
            period_start__gte=metrics.local_month_bounds(this_month)[0],
            period_start__lt=today_start,
        )
    trend_rows = _snapshot_rows(KpiSnapshot.objects.filter(trend_query))
    if includes_now:
        if past_days:
            trend_rows += [r for r in past_days if (r["dimension"], r["key"]) == (dimension, key)]
        if not live:
            live = kpi_cells(
                start=today_start,
                end=today_end,
                now=now,
                period_kind=SnapshotKind.DAY,
                interval_minutes=minutes,
            )
        trend_rows += [
            r
            for r in live
            if r["kind"] != SnapshotKind.INTERVAL and (r["dimension"], r["key"]) == (dimension, key)
        ]
    by_month: dict[dt.date, list[dict]] = defaultdict(list)
    for row in trend_rows:
        by_month[metrics.local_month(row["period_start"])].append(row)
    settings = kpi_target_settings()
    goals = _kpi_targets(settings, dimension=dimension, key=key)
    trend = []
    for first_day in months:
        current = includes_now and first_day == this_month
        figures = _chain_rows(by_month.get(first_day, []))
        if current:
            figures = _stock_now(figures, live, (dimension, key))
        trend.append(
            TrendRow(month=first_day, figures=figures, tiles=_tiles(figures, goals), live=current)
        )

    agent_ids = {int(k) for (d, k) in cells if d == SnapshotDimension.AGENT and k != UNATTRIBUTED}
    if dimension == SnapshotDimension.AGENT and key != UNATTRIBUTED:
        agent_ids.add(int(key))
    names = _agent_names(agent_ids) if agent_ids else {}

    def listed(wanted: str, drill: str = "") -> list[Cell]:
        found = [
            Cell(
                d,
                k,
                _label(d, k, names),
                figures,
                _tiles(figures, _kpi_targets(settings, dimension=d, key=k)),
                drill,
            )
            for (d, k), figures in cells.items()
            if d == wanted
        ]
        return sorted(found, key=lambda c: (c.key == UNATTRIBUTED, str(c.label).lower()))

    figures = cells.get((dimension, key), snap.EMPTY)
    tiles = [_tile(code, figures, goals[code]) for code in _TILES[dimension]]
    expected_days = (period.today - period.month).days if period.kind == MONTH else 0
    built_days = sum(
        1 for r in past_days if (r["dimension"], r["key"]) == (SnapshotDimension.OVERALL, "")
    )
    built = [r["built_at"] for r in period_rows if r.get("built_at")]
    return Dashboard(
        period=period,
        dimension=dimension,
        key=key,
        key_label=_label(dimension, key, names),
        figures=figures,
        tiles=tiles,
        queues=listed(SnapshotDimension.QUEUE, "queue"),
        channels=listed(SnapshotDimension.CHANNEL, "channel"),
        agents=listed(SnapshotDimension.AGENT, "agent"),
        commitments=listed(SnapshotDimension.COMMITMENT),
        incident_classes=listed(SnapshotDimension.INCIDENT_CLASS),
        intervals=[
            IntervalRow(
                starts=_local(r["period_start"]),
                ends=_local(r["period_end"]),
                figures=snap.Figures.from_mapping(r),
                tiles=_tiles(snap.Figures.from_mapping(r), goals),
            )
            for r in sorted(interval_rows, key=lambda r: r["period_start"])
        ],
        trend=trend,
        has_data=bool(period_rows),
        missing_days=max(0, expected_days - built_days) if period.is_live else 0,
        built_at=max(built) if built else None,
        alerts=kpi_alerts_open(),
    )


# --- The live wallboard ---------------------------------------------------------------

AT_RISK_HORIZON = dt.timedelta(hours=1)
AT_RISK_SHOWN = 10
ON_CONTACT, WRAP_UP, AVAILABLE = "ON_CONTACT", "WRAP_UP", "AVAILABLE"
AGENT_STATES = {
    ON_CONTACT: gettext_lazy("En communication"),
    WRAP_UP: gettext_lazy("En post-traitement"),
    AVAILABLE: gettext_lazy("Disponibles"),
}


@dataclass(frozen=True)
class QueueWait:
    queue: str
    label: str
    waiting: int
    longest_seconds: float

    @property
    def longest_text(self) -> str:
        return _seconds_text(self.longest_seconds)


@dataclass
class Wallboard:
    now: dt.datetime
    queues: list[QueueWait]
    agents: dict[str, list[User]]
    clocks: list[ClockInstance]
    clocks_at_risk: int
    alerts: list[AlertLine] = field(default_factory=list)

    @property
    def waiting(self) -> int:
        return sum(q.waiting for q in self.queues)

    @property
    def longest_wait_seconds(self) -> float | None:
        return max((q.longest_seconds for q in self.queues), default=None)

    @property
    def longest_wait_text(self) -> str:
        longest = self.longest_wait_seconds
        return "—" if longest is None else _seconds_text(longest)

    @property
    def agent_states(self) -> list[tuple[str, str, list[User]]]:
        return [(state, label, self.agents[state]) for state, label in AGENT_STATES.items()]


def _not_yet(field: str, now: dt.datetime) -> Q:
    """Not happened by `now`: empty, or stamped later (a record sent ahead of time)."""
    return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gt": now})


def _real_time_today(now: dt.datetime):
    """Today's (Paris) inbound real-time contacts that reached a queue and were not
    abandoned, offered by `now`."""
    day_start, _end = metrics.local_day_bounds(metrics.local_day(now))
    return Contact.objects.filter(
        offered_at__gte=day_start,
        offered_at__lte=now,
        inbound=True,
        channel__in=metrics.REAL_TIME_CHANNELS,
        outcome=metrics.REACHED_QUEUE,
        abandoned=False,
    )


def _queue_label(code: str) -> str:
    return Queue(code).label if code in Queue.values else code


def queues_waiting(*, now: dt.datetime) -> list[QueueWait]:
    """Who is waiting now per queue, longest wait first (one query): the wallboard's
    figure, and the queue-length alert's."""
    waiting = (
        _real_time_today(now)
        .filter(_not_yet("answered_at", now) & _not_yet("ended_at", now))
        .values("queue")
        .annotate(n=Count("id"), oldest=Min("offered_at"))
        .order_by()
    )
    return sorted(
        (
            QueueWait(
                queue=row["queue"],
                label=_queue_label(row["queue"]),
                waiting=row["n"],
                longest_seconds=(now - row["oldest"]).total_seconds(),
            )
            for row in waiting
        ),
        key=lambda q: -q.longest_seconds,
    )


def wallboard(*, now: dt.datetime) -> Wallboard:
    """Today's live picture, in five queries: who is waiting per queue and since when,
    the agents by state (derived from today's contacts: the platform sends no presence),
    the running commitments at risk, and the open interval alerts."""
    real_time = _real_time_today(now)
    queues = queues_waiting(now=now)
    handled = real_time.filter(agent=OuterRef("pk"), answered_at__lte=now)
    agents = (
        User.objects.filter(role=Role.AGENT, is_active=True)
        .annotate(
            on_contact=Exists(handled.filter(_not_yet("ended_at", now))),
            wrapping_up=Exists(
                handled.filter(ended_at__lte=now).filter(_not_yet("wrap_up_ended_at", now))
            ),
        )
        .only("pk", "first_name", "last_name", "email")
        .order_by("last_name", "first_name", "pk")
    )
    states: dict[str, list[User]] = {state: [] for state in AGENT_STATES}
    for agent in agents:
        state = ON_CONTACT if agent.on_contact else WRAP_UP if agent.wrapping_up else AVAILABLE
        states[state].append(agent)
    at_risk = (
        ClockInstance.objects.filter(status=ClockStatus.RUNNING)
        .exclude(stop_event__in=NOT_COMMITMENTS)
        .filter(Q(warned_at__isnull=False) | Q(due_at__lte=now + AT_RISK_HORIZON))
    )
    return Wallboard(
        now=now,
        queues=queues,
        agents=states,
        clocks=list(
            at_risk.select_related("ticket").order_by(F("due_at").asc(nulls_last=True), "pk")[
                :AT_RISK_SHOWN
            ]
        ),
        clocks_at_risk=at_risk.count(),
        alerts=kpi_alerts_open(),
    )


# --- Interval alerts ------------------------------------------------------------------
# Live figures checked every minute against thresholds (kpi.services.alerts; docs/kpi.md,
# "Interval alerts").

ALERT_PARAMETERS = (
    "kpi_target_asa_seconds",
    "kpi_target_asa_billing_seconds",
    "kpi_alert_asa_window_minutes",
    "kpi_alert_queue_length",
)


class _WaitMicros(Func):
    """answered_at − offered_at in whole microseconds, so the sums stay exact."""

    arg_joiner = " - "
    template = "round(EXTRACT(EPOCH FROM (%(expressions)s)) * 1000000)::bigint"
    output_field = BigIntegerField()


@dataclass(frozen=True)
class AlertFigure:
    metric: str
    scope: str  # a queue code, or KpiAlert.OVERALL
    value: float | None  # None: undefined (no contact answered in the ASA window)
    threshold: float

    @property
    def breached(self) -> bool:
        return self.value is not None and self.value > self.threshold


def kpi_alert_figures(*, now: dt.datetime) -> list[AlertFigure]:
    """The current ASA (contacts answered in the last N minutes of elapsed time, so a
    DST change does not stretch or shrink the window) and the contacts waiting now (the
    wallboard's rule), per queue and overall, each with its threshold. Every queue is
    listed, plus any other code seen in the data or in an open alert, so an alert whose
    queue fell silent is still cleared."""
    settings = {name: float(parameter_get(key=name)) for name in ALERT_PARAMETERS}
    # In UTC: arithmetic on a Paris datetime is wall-clock, and would make the window
    # an hour too short (or long) across a DST change.
    since = now.astimezone(dt.UTC) - dt.timedelta(minutes=settings["kpi_alert_asa_window_minutes"])
    answered = (
        Contact.objects.filter(
            answered_at__gt=since,
            answered_at__lte=now,
            inbound=True,
            channel__in=metrics.REAL_TIME_CHANNELS,
            outcome=metrics.REACHED_QUEUE,
            abandoned=False,
        )
        .values("queue")
        .annotate(n=Count("id"), wait_us=Sum(_WaitMicros("answered_at", "offered_at")))
        .order_by()
    )
    asa = {row["queue"]: (row["n"], row["wait_us"]) for row in answered}
    waiting = {q.queue: q.waiting for q in queues_waiting(now=now)}
    open_scopes = set(
        KpiAlert.objects.filter(cleared_at__isnull=True).values_list("scope", flat=True)
    )
    scopes = sorted(
        (set(Queue.values) | set(asa) | set(waiting) | open_scopes) - {KpiAlert.OVERALL}
    )
    length_threshold = settings["kpi_alert_queue_length"]

    def asa_threshold(scope: str) -> float:
        billing = scope == Queue.BILLING
        return settings["kpi_target_asa_billing_seconds" if billing else "kpi_target_asa_seconds"]

    def mean(n: int, wait_us: int) -> float | None:
        return wait_us / n / 1_000_000 if n else None

    total_n = sum(n for n, _w in asa.values())
    total_us = sum(w for _n, w in asa.values())
    figures = [
        AlertFigure(AlertMetric.ASA, KpiAlert.OVERALL, mean(total_n, total_us),
                    asa_threshold(KpiAlert.OVERALL)),
        AlertFigure(AlertMetric.QUEUE_LENGTH, KpiAlert.OVERALL, float(sum(waiting.values())),
                    length_threshold),
    ]  # fmt: skip
    for scope in scopes:
        figures.append(AlertFigure(AlertMetric.ASA, scope, mean(*asa.get(scope, (0, 0))),
                                   asa_threshold(scope)))  # fmt: skip
        figures.append(AlertFigure(AlertMetric.QUEUE_LENGTH, scope,
                                   float(waiting.get(scope, 0)), length_threshold))  # fmt: skip
    return figures


@dataclass(frozen=True)
class AlertLine:
    metric: str
    scope: str
    text: str
    raised_at: dt.datetime


def _alert_value(metric: str, value: float) -> str:
    if metric == AlertMetric.ASA:
        return _seconds_text(value)
    return _number(value, 0)


def alert_text(*, metric: str, scope: str, value: float, threshold: float) -> str:
    """The sentence of the banner and of the e-mail: what, where, how much, the limit."""
    where = _("toutes files") if scope == KpiAlert.OVERALL else _queue_label(scope)
    return _("%(metric)s (%(where)s) : %(value)s, au-delà du seuil de %(threshold)s") % {
        "metric": AlertMetric(metric).label,
        "where": where,
        "value": _alert_value(metric, value),
        "threshold": _alert_value(metric, threshold),
    }


def kpi_alerts_open() -> list[AlertLine]:
    """The open alerts, oldest first, in one query (the dashboard and wallboard banner)."""
    return [
        AlertLine(
            metric=a.metric,
            scope=a.scope,
            text=alert_text(
                metric=a.metric, scope=a.scope, value=a.value_at_raise, threshold=a.threshold
            ),
            raised_at=a.raised_at,
        )
        for a in KpiAlert.objects.filter(cleared_at__isnull=True).order_by("raised_at", "pk")
    ]


def alert_recipients() -> list[str]:
    """Who gets an alert's e-mail. The platform has no rota, so "on duty" is
    approximated as every active supervisor account with an address."""
    return list(
        User.objects.filter(role=Role.SUPERVISOR, is_active=True)
        .exclude(email="")
        .order_by("email")
        .values_list("email", flat=True)
    )
