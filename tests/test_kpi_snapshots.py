"""KPI snapshots (docs/kpi.md, "Snapshots and dashboard"): built from the raw records by
set-based SQL, idempotent, and equal to the pure computations of kpi.domain.metrics on the
same records — per day and per interval, overall and per queue, channel, agent,
commitment and incident class — on an ordinary day and on both DST days. A month built
from the raw records equals the chain of its days."""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Role
from kpi import selectors, tasks
from kpi.domain import metrics as m
from kpi.domain import snapshots as snap
from kpi.models import KpiSnapshot
from kpi.services import snapshots as builder
from outages.models import Incident
from tickets import services as tickets
from tickets.models import (
    ClockDefinition,
    ClockInstance,
    Complaint,
    Contact,
    Survey,
    Ticket,
    TicketEvent,
)

PARIS = ZoneInfo("Europe/Paris")
ORDINARY = date(2026, 3, 10)
SPRING = date(2026, 3, 29)  # 23 hours: 02:00–03:00 does not exist
AUTUMN = date(2026, 10, 25)  # 25 hours: 02:00–03:00 happens twice
# The builds run well after the days they cover: every running clock is decided.
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def local(day: date, hhmm: str, seconds: float = 0) -> datetime:
    hour, minute = (int(x) for x in hhmm.split(":"))
    naive = datetime(day.year, day.month, day.day, hour, minute)
    return naive.replace(tzinfo=PARIS).astimezone(UTC) + timedelta(seconds=seconds)


# --- The hand-built world ------------------------------------------------------------------


def _contact(offered: datetime, **fields) -> Contact:
    values = {"channel": "PHONE", "queue": "BILLING", "offered_at": offered}
    values.update(fields)
    return Contact.objects.create(**values)


def _call(offered: datetime, wait: float, *, agent, **fields) -> Contact:
    answered = offered + timedelta(seconds=wait)
    talk = fields.pop("talk_seconds", 180)
    ended = answered + timedelta(seconds=talk)
    return _contact(
        offered,
        agent=agent,
        answered_at=answered,
        ended_at=ended,
        wrap_up_ended_at=ended + timedelta(seconds=fields.get("wrap_seconds", 0)),
        talk_seconds=talk,
        **fields,
    )


def _abandon(offered: datetime, after: float | None, **fields) -> Contact:
    ended = None if after is None else offered + timedelta(seconds=after)
    return _contact(offered, abandoned=True, ended_at=ended, **fields)


def _ticket(created: datetime, *, channel="EMAIL", category="BILL_QUERY", contact="a@b.fr"):
    return tickets.ticket_create(
        channel=channel,
        category=category,
        subject="Question",
        body="Bonjour",
        now=created,
        requester_contact=contact,
    )


def _clock(ticket: Ticket, *, status: str, due: datetime, met: datetime | None = None, **kw):
    definition = ClockDefinition.objects.filter(
        policy__code="STANDARD", stop_event=kw.pop("stop_event", "FIRST_RESPONSE")
    ).first()
    return ClockInstance.objects.create(
        ticket=ticket,
        definition=definition,
        policy_version=definition.policy.version,
        name=definition.name,
        stop_event=definition.stop_event,
        unit=definition.unit,
        amount=definition.amount,
        calendar=definition.calendar,
        pauses_when_waiting=definition.pauses_when_waiting,
        warn_ratio=definition.warn_ratio,
        status=status,
        started_at=due - timedelta(hours=24),
        due_at=due,
        met_at=met,
        **kw,
    )


def build_world(day: date, make_user) -> dict:
    """Contacts, tickets, surveys, clocks, a complaint and incidents around `day`; the
    comments give what each record tests."""
    a1 = make_user(Role.AGENT, first_name="Alice", last_name="Martin")
    a2 = make_user(Role.AGENT, first_name="Bruno", last_name="Petit")
    t = lambda hhmm, s=0: local(day, hhmm, s)  # noqa: E731
    # Contacts --------------------------------------------------------------------------
    _call(
        t("09:00"),
        10,
        agent=a1,
        hold_seconds=20,
        wrap_seconds=40,
        first_contact=True,
        resolved_first_contact=True,
        customer_key="acct:1",
        issue_key="BILL_QUERY",
    )
    _call(
        t("09:05"),
        30,
        agent=a2,
        talk_seconds=300,
        wrap_seconds=60,
        first_contact=True,
        resolved_first_contact=False,
        customer_key="acct:2",
        issue_key="BILL_QUERY",
    )
    _abandon(t("09:10"), 45, customer_key="acct:3", issue_key="BILL_QUERY")  # offered
    _abandon(t("09:20"), 3)  # short abandon: in neither term
    _abandon(t("09:21"), 5)  # exactly 5 s: not short, offered
    _abandon(t("09:22"), None)  # unknown wait: offered
    # exactly 20 s: within the service level; first contact without verdict
    _call(t("09:25"), 20, agent=a1, channel="CHAT", queue="GENERAL", first_contact=True)
    # 20.25 s: just outside; microseconds survive the sums
    _call(
        t("10:40"),
        20.25,
        agent=a2,
        queue="METERING",
        talk_seconds=100,
        customer_key="acct:4",
        issue_key="METER_READING",
    )
    _contact(t("09:30"), outcome="BUSY")
    _contact(t("09:31"), outcome="BLOCKED")
    _contact(t("21:00"), outcome="CLOSED")
    _call(t("10:00"), 15, agent=a2, inbound=False, talk_seconds=120)  # a callback: handled
    _contact(
        t("10:00"),
        channel="EMAIL",
        agent=a1,
        first_contact=True,
        resolved_first_contact=True,
        customer_key="mail:x@y.fr",
        issue_key="BILL_QUERY",
    )
    _call(t("11:15"), 8, agent=a1, channel="CHATBOT_HANDOFF", queue="GENERAL")
    _contact(
        t("15:00"), channel="PORTAL", customer_key="acct:1", issue_key="BILL_QUERY"
    )  # a repeat of the 09:00 call, same day
    _call(t("23:50"), 12, agent=None, queue="OUTAGE")  # answered, no agent known
    # History: acct:2 called 6 days before (its 09:05 call is a repeat); acct:4 exactly
    # 7 × 24 h before its 10:40 call (a repeat), acct:5 7 × 24 h + 1 s before (not).
    _contact(
        t("09:05") - timedelta(days=6),
        channel="PORTAL",
        customer_key="acct:2",
        issue_key="BILL_QUERY",
    )
    first = Contact.objects.get(customer_key="acct:4", offered_at__gte=t("00:00"))
    _contact(
        first.offered_at - timedelta(days=7),
        channel="EMAIL",
        queue="METERING",
        customer_key="acct:4",
        issue_key="METER_READING",
    )
    _contact(
        t("12:00") - timedelta(days=7, seconds=1), customer_key="acct:5", issue_key="BILL_QUERY"
    )
    _call(t("12:00"), 25, agent=a2, customer_key="acct:5", issue_key="BILL_QUERY")
    if day == SPRING:  # either side of the missing hour
        _call(t("01:45"), 12, agent=a1)
        _call(t("03:05"), 14, agent=a1)
    if day == AUTUMN:  # 02:10 summer time, then 02:10 winter time, an hour later
        _call(local(day, "02:10"), 9, agent=a1)  # fold 0: summer time, 00:10 UTC
        _call(local(day, "02:10") + timedelta(hours=1), 11, agent=a2)

    # Tickets, surveys and the backlog ----------------------------------------------------
    resolved = _ticket(t("08:00"))  # open 08:00–12:00, survey 5 / 10
    tickets.ticket_transition(ticket=resolved, target="OPEN", actor=a1, now=t("08:30"))
    tickets.ticket_transition(ticket=resolved, target="RESOLVED", actor=a1, now=t("12:00"))
    reopened = _ticket(t("10:00") - timedelta(days=3), channel="PHONE")
    tickets.ticket_transition(ticket=reopened, target="RESOLVED", actor=a2, now=t("11:00"))
    tickets.ticket_transition(ticket=reopened, target="OPEN", actor=None, now=t("16:00"))
    old = _ticket(t("10:00") - timedelta(days=10), category="METER_READING")
    Ticket.objects.filter(pk=old.pk).update(assignee=a1)
    merged = _ticket(t("09:00"))
    tickets.ticket_merge(duplicate=merged, into=resolved, actor=a1, now=t("09:30"))
    closed_before = _ticket(t("08:00") - timedelta(days=5))
    tickets.ticket_transition(
        ticket=closed_before, target="RESOLVED", actor=a1, now=t("08:00") - timedelta(days=4)
    )
    lonely = _ticket(t("07:00"), channel="SOCIAL", category="OTHER")  # survey, no contact
    tickets.ticket_transition(ticket=lonely, target="RESOLVED", actor=a2, now=t("07:30"))
    Contact.objects.filter(ticket=lonely).delete()
    Survey.objects.filter(ticket=resolved).update(csat=5, nps=10, answered_at=t("14:00"))
    Survey.objects.filter(ticket=reopened).update(csat=3, nps=None, answered_at=t("11:30"))
    Survey.objects.filter(ticket=lonely).update(csat=4, nps=6, answered_at=t("08:10"))
    Survey.objects.filter(ticket=closed_before).update(csat=None, nps=8, answered_at=t("13:00"))

    # Commitments: the verdicts of metrics.commitment_verdict ----------------------------
    ClockInstance.objects.all().delete()
    _clock(resolved, status="MET", due=t("10:00"), met=t("09:30"))  # met
    _clock(resolved, status="MET", due=t("10:00"), met=t("10:30"))  # late: missed
    _clock(reopened, status="BREACHED", due=t("11:00"), breached_at=t("11:00"))
    _clock(old, status="RUNNING", due=t("12:00"))  # past due at NOW: missed
    _clock(old, status="PAUSED", due=t("13:00"))  # not counted
    _clock(merged, status="CANCELLED", due=t("14:00"))  # not counted
    _clock(old, status="MET", due=t("15:00"), met=t("14:00"), stop_event="ACTIVITY")  # no
    _clock(old, status="MET", due=t("10:00") + timedelta(days=1), met=t("10:00"))  # next day
    complaint = tickets.complaint_flag(
        ticket=reopened, actor=a2, source="AGENT", summary="Pas content", now=t("10:00")
    )
    Complaint.objects.filter(pk=complaint.pk).update(
        deadline_at=t("17:00"), remedy_due_at=t("18:00")
    )  # response met (resolved at 11:00, kept after reopening); remedy not done: missed

    # Incidents ---------------------------------------------------------------------------
    def incident(ref, klass, status, start, minutes, planned=False):
        Incident.objects.create(
            reference=ref,
            title="Coupure",
            klass=klass,
            proposed_klass=klass,
            status=status,
            planned=planned,
            area_class="URBAN",
            started_at=start,
            ended_at=None if minutes is None else start + timedelta(minutes=minutes),
            created_at=start,
            updated_at=start,
        )

    ref = f"INC-{day:%m%d}-"
    incident(ref + "1", "P1", "RESTORED", t("08:00"), 150)
    incident(ref + "2", "P2", "CLOSED", t("13:00"), 45)
    incident(ref + "3", "P1", "RESTORED", t("14:00"), 30, planned=True)  # planned: out
    incident(ref + "4", "P3", "CANCELLED", t("15:00"), 10)  # cancelled: out
    incident(ref + "5", "P2", "CONFIRMED", t("16:00"), None)  # still off supply: out
    return {"agents": (a1, a2)}


# --- The same records for kpi.domain.metrics ---------------------------------------------


def contact_records() -> list[m.ContactRecord]:
    return [
        m.ContactRecord(
            offered_at=c.offered_at,
            channel=c.channel,
            queue=c.queue,
            agent_id=c.agent_id,
            inbound=c.inbound,
            outcome=c.outcome,
            answered_at=c.answered_at,
            ended_at=c.ended_at,
            talk_seconds=c.talk_seconds,
            hold_seconds=c.hold_seconds,
            wrap_seconds=c.wrap_seconds,
            abandoned=c.abandoned,
            first_contact=c.first_contact,
            resolved_first_contact=c.resolved_first_contact,
            customer_key=c.customer_key,
            issue_key=c.issue_key,
        )
        for c in Contact.objects.order_by("offered_at", "pk")
    ]


def survey_records() -> list[m.SurveyRecord]:
    return [
        m.SurveyRecord(
            answered_at=s.answered_at,
            csat=s.csat,
            nps=s.nps,
            queue=s.ticket.queue,
            channel=s.ticket.channel,
            agent_id=s.ticket.assignee_id,
        )
        for s in Survey.objects.filter(answered_at__isnull=False).select_related("ticket")
    ]


def ticket_records() -> list[m.TicketRecord]:
    """resolved_spans from the STATUS events, as the TicketRecord docstring says."""
    events = defaultdict(list)
    for e in TicketEvent.objects.filter(kind="STATUS").order_by("at", "pk"):
        events[e.ticket_id].append(e)
    records = []
    for ticket in Ticket.objects.all():
        spans = []
        history = events[ticket.pk]
        for index, event in enumerate(history):
            if event.to_value in {"RESOLVED", "CLOSED"}:
                following = history[index + 1].at if index + 1 < len(history) else None
                spans.append((event.at, following))
        records.append(
            m.TicketRecord(
                created_at=ticket.created_at,
                queue=ticket.queue,
                channel=ticket.channel,
                agent_id=ticket.assignee_id,
                resolved_spans=tuple(spans),
                merged=ticket.merged_into_id is not None,
            )
        )
    return records


def commitment_records() -> list[tuple[m.CommitmentRecord, str, str]]:
    """(record, queue, channel); the label as the snapshot keys it."""
    rows = []
    clocks = ClockInstance.objects.exclude(stop_event="ACTIVITY").select_related(
        "ticket", "definition__policy"
    )
    for clock in clocks:
        label = f"TICKET|{clock.definition.policy.code}|{clock.name}"
        record = m.CommitmentRecord(label, clock.due_at, clock.status, clock.met_at)
        rows.append((record, clock.ticket.queue, clock.ticket.channel))
    for complaint in Complaint.objects.select_related("ticket"):
        ticket = complaint.ticket
        done = ticket.resolved_at
        rows.append(
            (
                m.CommitmentRecord(
                    "COMPLAINT|response",
                    complaint.deadline_at,
                    "MET" if done else "RUNNING",
                    done,
                ),
                ticket.queue,
                ticket.channel,
            )
        )
        if complaint.remedy_due_at:
            rows.append(
                (
                    m.CommitmentRecord(
                        "COMPLAINT|remedy",
                        complaint.remedy_due_at,
                        "MET" if complaint.remedy_done_at else "RUNNING",
                        complaint.remedy_done_at,
                    ),
                    ticket.queue,
                    ticket.channel,
                )
            )
    return rows


def incident_records() -> list[m.IncidentRecord]:
    return [
        m.IncidentRecord(i.started_at, i.ended_at, i.status, i.planned, i.klass)
        for i in Incident.objects.all()
    ]


def _agent(value) -> str:
    return "none" if value is None else str(value)


def expected_cell(dimension: str, key: str, start: datetime, end: datetime) -> dict:
    """Every KPI of one cell, by kpi.domain.metrics on the raw records."""

    def keep(queue: str, channel: str, agent) -> bool:
        return (
            dimension == "OVERALL"
            or (dimension == "QUEUE" and queue == key)
            or (dimension == "CHANNEL" and channel == key)
            or (dimension == "AGENT" and _agent(agent) == key)
        )

    contacts = contact_records()
    flags = m.repeat_flags(contacts)
    inside = [
        i
        for i, c in enumerate(contacts)
        if start <= c.offered_at < end and keep(c.queue, c.channel, c.agent_id)
    ]
    cell = [contacts[i] for i in inside]
    repeats = [flags[i] for i in inside if i in flags]
    surveys = [
        s
        for s in survey_records()
        if start <= s.answered_at < end and keep(s.queue, s.channel, s.agent_id)
    ]
    at = min(end, NOW)
    backlog_tickets = [t for t in ticket_records() if keep(t.queue, t.channel, t.agent_id)]
    commitments = [
        record
        for record, queue, channel in commitment_records()
        if start <= record.due_at < end
        and (
            dimension == "OVERALL"
            or (dimension == "QUEUE" and queue == key)
            or (dimension == "CHANNEL" and channel == key)
            or (dimension == "COMMITMENT" and record.commitment == key)
        )
    ]
    incidents = [
        i
        for i in incident_records()
        if start <= i.started_at < end
        and dimension in {"OVERALL", "INCIDENT_CLASS"}
        and (dimension == "OVERALL" or i.klass == key)
    ]
    attainment = m.sla_attainment(commitments, now=NOW)
    figures = {
        "asa": m.asa_seconds(cell),
        "aht": m.aht_seconds(cell),
        "fcr": m.fcr_percent(cell),
        "abandonment": m.abandonment_percent(cell),
        "service_level": m.service_level_percent(cell),
        "contact_success": m.contact_success_percent(cell),
        "repeat": 100 * sum(repeats) / len(repeats) if repeats else None,
        "csat": m.csat_percent(surveys),
        "nps": m.nps(surveys),
        "sla": attainment.percent,
        "sla_due": attainment.due,
        "mttr": m.mttr_seconds(incidents),
        "offered": sum(m.is_offered(c) for c in cell),
        "handled": sum(m.is_handled(c) for c in cell),
        "contacts": len(cell),
    }
    if dimension in {"OVERALL", "QUEUE", "CHANNEL", "AGENT"}:
        figures["backlog"] = m.backlog(backlog_tickets, at=at)
        figures["ageing"] = m.backlog_ageing(backlog_tickets, at=at)
    return figures


def actual_cell(figures: snap.Figures, dimension: str) -> dict:
    values = {
        "asa": figures.asa_seconds,
        "aht": figures.aht_seconds,
        "fcr": figures.fcr_percent,
        "abandonment": figures.abandonment_percent,
        "service_level": figures.service_level_percent,
        "contact_success": figures.contact_success_percent,
        "repeat": figures.repeat_contact_percent,
        "csat": figures.csat_percent,
        "nps": figures.nps,
        "sla": figures.sla_percent,
        "sla_due": figures.commitments_due,
        "mttr": figures.mttr_seconds,
        "offered": figures.offered,
        "handled": figures.handled,
        "contacts": figures.contacts,
    }
    if dimension in {"OVERALL", "QUEUE", "CHANNEL", "AGENT"}:
        values["backlog"] = figures.backlog
        values["ageing"] = dict(figures.ageing)
    return values


def assert_same(actual: dict, expected: dict, label: str) -> None:
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        if value is None or isinstance(value, dict | int):
            assert actual[name] == value, f"{label}: {name} {actual[name]!r} != {value!r}"
        else:
            assert actual[name] == pytest.approx(value, abs=1e-9), f"{label}: {name}"


def rows(**filters) -> list[KpiSnapshot]:
    return list(
        KpiSnapshot.objects.filter(**filters).order_by("kind", "period_start", "dimension", "key")
    )


# --- Tests ----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("day", [ORDINARY, SPRING, AUTUMN], ids=["ordinary", "spring", "autumn"])
def test_a_day_snapshot_equals_the_metrics_on_the_raw_records(day, make_user):
    build_world(day, make_user)
    report = builder.snapshot_day_build(day=day, now=NOW, interval_minutes=30)
    start, end = m.local_day_bounds(day)

    cells = rows(kind="DAY", period_start=start)
    assert report.cells == len(rows()) and report.written == report.cells
    assert {(c.dimension, c.key) for c in cells} >= {
        ("OVERALL", ""),
        ("QUEUE", "BILLING"),
        ("QUEUE", "GENERAL"),
        ("CHANNEL", "CHATBOT_HANDOFF"),
        ("AGENT", "none"),
        ("COMMITMENT", "COMPLAINT|remedy"),
        ("INCIDENT_CLASS", "P1"),
    }
    for cell in cells:
        assert cell.period_end == end
        figures = snap.Figures.from_mapping(cell)
        label = f"{day} {cell.dimension}={cell.key}"
        assert_same(
            actual_cell(figures, cell.dimension),
            expected_cell(cell.dimension, cell.key, start, end),
            label,
        )

    overall = snap.Figures.from_mapping(rows(kind="DAY", dimension="OVERALL")[0])
    # The worked figures of the ordinary day, independently of the helpers above.
    if day == ORDINARY:
        # answered inbound: waits 10, 30, 20, 20.25, 8, 12, 25 → 125.25 / 7
        assert overall.asa_seconds == pytest.approx(125.25 / 7)
        # offered: 7 answered + abandons after 45 s, 5 s and unknown = 10; short one out
        assert (overall.offered, overall.abandoned, overall.short_abandons) == (10, 3, 1)
        # within 20 s: 10, 20, 8, 12 → 4 of 10
        assert overall.service_level_percent == pytest.approx(40.0)
        # attempts: 10 offered + short abandon + busy + blocked (closed left out) = 13
        assert overall.contact_success_percent == pytest.approx(100 * 11 / 13)
        # judged first contacts: 09:00 yes, 09:05 no, e-mail yes → 2 / 3
        assert overall.fcr_percent == pytest.approx(200 / 3)
        # eligible: the 4 answered calls with a customer key, the e-mail, the portal
        # message and the two tickets opened by mail:a@b.fr; repeats: 09:05 (6 days),
        # 10:40 (exactly 7 × 24 h), 15:00 (same day), and both tickets (3 days after
        # that customer's PHONE ticket); 12:00 is 7 × 24 h + 1 s after: not a repeat
        assert (overall.repeat_eligible, overall.repeats) == (8, 5)
        # decided: met, late, breached, running past due, complaint met, remedy missed
        assert (overall.commitments_met, overall.commitments_due) == (2, 6)
        # restored unplanned: 150 and 45 min
        assert overall.mttr_seconds == pytest.approx((150 + 45) * 30)
        # CSAT answers 5, 3, 4 → 2 / 3; NPS 10, 6, 8 → (1 − 1) / 3
        assert overall.csat_percent == pytest.approx(200 / 3) and overall.nps == 0
        # open at midnight: the reopened ticket and the 10-day-old one
        assert overall.backlog == 2
        assert dict(overall.ageing) == {
            "0-1d": 0, "1-3d": 0, "3-7d": 1, "7-14d": 1, "14-30d": 0, "30d+": 0
        }  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("day", "halves"), [(ORDINARY, 48), (SPRING, 46), (AUTUMN, 50)], ids=["48", "46", "50"]
)
def test_intervals_follow_the_paris_day_and_equal_the_metrics_breakdown(day, halves, make_user):
    build_world(day, make_user)
    builder.snapshot_day_build(day=day, now=NOW, interval_minutes=30)
    starts = m.day_intervals(day, minutes=30)
    assert len(starts) == halves

    intervals = rows(kind="INTERVAL", dimension="OVERALL")
    # Every interval has a row (the backlog is measured at each end), keyed by its UTC start.
    assert [r.period_start for r in intervals] == starts
    assert all(r.period_end - r.period_start == timedelta(minutes=30) for r in intervals)
    contacts = contact_records()
    expected = m.breakdown(contacts, m.asa_seconds, instant=lambda c: c.offered_at, grain="30min")
    actual = {
        (r.period_start, None): snap.Figures.from_mapping(r).asa_seconds
        for r in intervals
        if r.contacts
    }
    start, end = m.local_day_bounds(day)
    wanted = {k: v for k, v in expected.items() if start <= k[0] < end}
    assert actual.keys() == wanted.keys()
    for cell, value in wanted.items():
        assert actual[cell] == (None if value is None else pytest.approx(value)), cell
    # Per queue, every KPI of every interval cell.
    for row in rows(kind="INTERVAL", dimension="QUEUE"):
        assert_same(
            actual_cell(snap.Figures.from_mapping(row), "QUEUE"),
            expected_cell("QUEUE", row.key, row.period_start, row.period_end),
            f"{row.period_start} {row.key}",
        )
    if day == AUTUMN:  # the two 02:00 half-hours are two rows, an hour apart
        twice = [r for r in intervals if r.contacts and r.period_start.astimezone(PARIS).hour == 2]
        assert [r.period_start.astimezone(UTC).hour for r in twice] == [0, 1]


@pytest.mark.django_db
def test_a_rebuild_changes_nothing_and_follows_the_raw_records(make_user):
    world = build_world(ORDINARY, make_user)
    first = builder.snapshot_day_build(day=ORDINARY, now=NOW, interval_minutes=30)
    before = list(KpiSnapshot.objects.order_by("pk").values())

    again = builder.snapshot_day_build(day=ORDINARY, now=NOW, interval_minutes=30)

    assert list(KpiSnapshot.objects.order_by("pk").values()) == before  # ids, built_at too
    assert (again.cells, again.written, again.removed) == (first.cells, 0, 0)

    # A correction upstream: the second agent's contacts are re-attributed to the first.
    _a1, a2 = world["agents"]
    changed_at = NOW + timedelta(hours=1)
    Contact.objects.filter(agent=a2).update(agent=world["agents"][0])
    report = builder.snapshot_day_build(day=ORDINARY, now=changed_at, interval_minutes=30)
    assert not KpiSnapshot.objects.filter(dimension="AGENT", key=str(a2.pk), kind="DAY").exists()
    assert report.removed > 0 and 0 < report.written < report.cells
    untouched = KpiSnapshot.objects.get(kind="DAY", dimension="QUEUE", key="GENERAL")
    assert untouched.built_at == NOW  # nothing about it changed, so it was not rewritten

    # A shorter interval replaces the day's half-hours by quarter-hours.
    builder.snapshot_day_build(day=ORDINARY, now=changed_at, interval_minutes=15)
    assert KpiSnapshot.objects.filter(kind="INTERVAL", dimension="OVERALL").count() == 96


@pytest.mark.django_db
def test_the_live_cells_are_the_snapshot_rows(make_user):
    build_world(SPRING, make_user)
    builder.snapshot_day_build(day=SPRING, now=NOW, interval_minutes=30)
    start, end = m.local_day_bounds(SPRING)
    live = selectors.kpi_cells(
        start=start, end=end, now=NOW, period_kind="DAY", interval_minutes=30, intervals=True
    )
    fields = ["kind", "period_start", "period_end", "dimension", "key"]
    fields += [*snap.ADDITIVE, *snap.STOCKS, "answer_target_seconds"]
    stored = list(KpiSnapshot.objects.values(*fields))

    def order(row: dict) -> tuple:
        return (row["kind"], row["period_start"], row["dimension"], row["key"])

    assert len(live) == len(stored)
    assert sorted(stored, key=order) == sorted(
        ({name: row[name] for name in fields} for row in live), key=order
    )


@pytest.mark.django_db
def test_the_month_from_the_raw_records_equals_the_chain_of_its_days(make_user):
    build_world(ORDINARY, make_user)
    build_world(SPRING, make_user)
    report = builder.snapshots_rebuild(
        day_from=date(2026, 3, 1), day_to=date(2026, 3, 31), now=NOW, interval_minutes=30
    )
    assert report.periods == 31 + 1

    month = {(r.dimension, r.key): r for r in rows(kind="MONTH")}
    days = defaultdict(list)
    for row in rows(kind="DAY"):
        days[(row.dimension, row.key)].append(row)
    assert month.keys() == days.keys()
    assert len(days[("OVERALL", "")]) == 31  # an empty day has its row of zeros too
    last_day_start = m.local_day_bounds(date(2026, 3, 31))[0]
    for cell, month_row in month.items():
        chained = snap.chain([snap.Figures.from_mapping(r) for r in days[cell]])
        from_month = snap.Figures.from_mapping(month_row)
        for name in snap.ADDITIVE:
            assert getattr(chained, name) == getattr(from_month, name), (cell, name)
        # The backlog is a stock: the month's is the last day's, at midnight on the 31st.
        last = [r for r in days[cell] if r.period_start == last_day_start]
        assert from_month.backlog == (last[0].backlog if last else 0), cell
        assert month_row.period_end == m.local_month_bounds(date(2026, 3, 1))[1]
    overall = snap.Figures.from_mapping(month[("OVERALL", "")])
    start, end = m.local_month_bounds(date(2026, 3, 1))
    assert_same(actual_cell(overall, "OVERALL"), expected_cell("OVERALL", "", start, end), "month")


@pytest.mark.django_db
def test_an_empty_day_has_undefined_ratios_not_zeros():
    builder.snapshot_day_build(day=ORDINARY, now=NOW, interval_minutes=30)
    (overall,) = rows(kind="DAY")
    figures = snap.Figures.from_mapping(overall)
    assert (overall.dimension, overall.contacts, overall.backlog) == ("OVERALL", 0, 0)
    assert figures.asa_seconds is None and figures.sla_percent is None
    assert figures.csat_percent is None and figures.mttr_seconds is None
    # Every half-hour still has its overall row, of zeros.
    intervals = rows(kind="INTERVAL")
    assert len(intervals) == 48 and {r.dimension for r in intervals} == {"OVERALL"}
    assert not any(r.contacts or r.backlog for r in intervals)


@pytest.mark.django_db
def test_a_period_not_yet_begun_is_refused_and_a_day_in_progress_is_built_as_of_now():
    with pytest.raises(builder.PeriodNotStarted):
        builder.snapshot_day_build(day=date(2026, 11, 21), now=NOW)
    with pytest.raises(builder.PeriodNotStarted):
        builder.snapshot_month_build(month=date(2026, 12, 1), now=NOW)

    today = m.local_day(NOW)
    _contact(NOW - timedelta(hours=2))
    builder.snapshot_day_build(day=today, now=NOW, interval_minutes=30)
    elapsed = [s for s in m.day_intervals(today) if s < NOW]
    assert KpiSnapshot.objects.filter(kind="INTERVAL", dimension="OVERALL").count() == len(elapsed)


@pytest.mark.django_db
def test_the_beat_tasks_build_the_periods_just_closed(monkeypatch):
    calls = []
    monkeypatch.setattr(
        builder,
        "snapshot_day_build",
        lambda **kw: calls.append(("day", kw["day"])) or builder.BuildReport(periods=1),
    )
    monkeypatch.setattr(
        builder,
        "snapshot_month_build",
        lambda **kw: calls.append(("month", kw["month"])) or builder.BuildReport(periods=1),
    )
    # 00:10 in Paris: the half-hour just closed is yesterday's last; today has begun.
    result = tasks.kpi_snapshots_interval_task(now_iso="2026-03-10T23:10:00+00:00")
    assert calls == [("day", date(2026, 3, 10)), ("day", date(2026, 3, 11))]
    assert result["periods"] == 2
    calls.clear()
    tasks.kpi_snapshots_interval_task(now_iso="2026-03-11T09:45:00+00:00")
    assert calls == [("day", date(2026, 3, 11))]
    calls.clear()
    tasks.kpi_snapshots_daily_task(now_iso="2026-03-11T02:30:00+00:00")
    assert calls == [("day", date(2026, 3, 10))]
    calls.clear()
    tasks.kpi_snapshots_monthly_task(now_iso="2026-04-01T03:00:00+00:00")
    assert calls == [("month", date(2026, 3, 1))]


@pytest.mark.django_db
def test_the_rebuild_command(make_user):
    build_world(ORDINARY, make_user)
    out = StringIO()
    call_command(
        "kpi_rebuild", "--from", "2026-03-09", "--to", "2026-03-10", "--kind", "day", stdout=out
    )
    assert "Built 2 periods" in out.getvalue()
    assert KpiSnapshot.objects.filter(kind="DAY", dimension="OVERALL").count() == 2
    assert not KpiSnapshot.objects.filter(kind="MONTH").exists()
    call_command("kpi_rebuild", "--from", "2026-03-10", "--kind", "month", stdout=out)
    assert KpiSnapshot.objects.filter(kind="MONTH", dimension="OVERALL").count() == 1
    with pytest.raises(CommandError):
        call_command("kpi_rebuild", "--from", "2026-03-11", "--to", "2026-03-10")
    with pytest.raises(CommandError):
        call_command("kpi_rebuild", "--from", "10/03/2026")


def test_the_builds_are_on_the_beat_schedule():
    from powernext.celery import app

    schedule = {entry["task"]: entry["schedule"] for entry in app.conf.beat_schedule.values()}
    for name in ("interval", "daily", "monthly"):
        task = f"kpi.tasks.kpi_snapshots_{name}_task"
        assert task in schedule, task
        assert callable(getattr(tasks, task.rsplit(".", 1)[1]))
    assert schedule["kpi.tasks.kpi_snapshots_monthly_task"].day_of_month == {1, 2}
    assert schedule["kpi.tasks.kpi_snapshots_interval_task"].minute == {1, 16, 31, 46}
