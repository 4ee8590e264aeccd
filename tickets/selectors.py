"""Reads of the tickets app."""

from __future__ import annotations

from datetime import date, datetime, time
from functools import lru_cache

from django.db.models import Count, Min, Prefetch, Q, QuerySet

from .domain import calendar as bcal
from .models import (
    Calendar,
    ClockInstance,
    Contact,
    Escalation,
    Message,
    SlaPolicy,
    Ticket,
    TicketEvent,
)


def business_calendar(*, calendar: Calendar, years: range) -> bcal.BusinessCalendar:
    """The pure calendar for a stored one, with its public holidays for `years`."""
    windows = {
        int(day): tuple(
            bcal.Window(time.fromisoformat(start), time.fromisoformat(end)) for start, end in spans
        )
        for day, spans in calendar.windows.items()
    }
    closed = {date.fromisoformat(d) for d in calendar.extra_closed_dates}
    if calendar.holiday_country:
        closed |= _holidays(
            calendar.holiday_country, calendar.holiday_subdivision or None, tuple(years)
        )
    return bcal.BusinessCalendar(tz=calendar.tz, windows=windows, closed_dates=frozenset(closed))


@lru_cache(maxsize=64)
def _holidays(country: str, subdivision: str | None, years: tuple[int, ...]) -> frozenset[date]:
    # Computing a country's holidays costs milliseconds; the sweep asks thousands of times.
    return bcal.public_holidays(country, years, subdivision)


def years_around(instant: datetime) -> range:
    return range(instant.year - 1, instant.year + 3)


def policy_for(
    *,
    queue: str,
    priority: str,
    channel: str,
    sla_package: str | None,
    priority_register: bool,
    safety: bool,
    complaint: bool,
) -> SlaPolicy | None:
    """The first active policy, by rank, whose every set condition matches."""
    facts = {
        "match_queue": queue,
        "match_priority": priority,
        "match_channel": channel,
        "match_sla_package": sla_package or "",
    }
    policies = SlaPolicy.objects.filter(active=True).prefetch_related("clocks__calendar")
    for policy in policies.order_by("rank", "id"):
        if any(getattr(policy, f) and getattr(policy, f) != v for f, v in facts.items()):
            continue
        flags = {
            "match_priority_register": priority_register,
            "match_safety": safety,
            "match_complaint": complaint,
        }
        if any(
            getattr(policy, f) is not None and getattr(policy, f) != v for f, v in flags.items()
        ):
            continue
        return policy
    return None


def queue_overview(*, now: datetime) -> list[dict]:
    """Per queue: open count, oldest ticket, clocks at risk and breached."""
    from .models import Queue

    open_q = Q(status__in=["NEW", "OPEN", "WAITING_CUSTOMER", "WAITING_THIRD_PARTY"])
    rows = {
        r["queue"]: r
        for r in Ticket.objects.filter(open_q)
        .values("queue")
        .annotate(
            total=Count("id"),
            unassigned=Count("id", filter=Q(assignee__isnull=True)),
            oldest=Min("created_at"),
        )
    }
    clocks = {
        r["ticket__queue"]: r
        for r in ClockInstance.objects.filter(
            status__in=["RUNNING", "BREACHED"], ticket__in=Ticket.objects.filter(open_q)
        )
        .values("ticket__queue")
        .annotate(
            at_risk=Count("id", filter=Q(status="RUNNING", warn_at__lte=now)),
            breached=Count("id", filter=Q(status="BREACHED")),
        )
    }
    return [
        {
            "queue": queue,
            "total": rows.get(queue, {}).get("total", 0),
            "unassigned": rows.get(queue, {}).get("unassigned", 0),
            "oldest": rows.get(queue, {}).get("oldest"),
            "at_risk": clocks.get(queue, {}).get("at_risk", 0),
            "breached": clocks.get(queue, {}).get("breached", 0),
        }
        for queue in Queue.values
    ]


def queue_tickets(*, queue: str | None, limit: int = 100) -> QuerySet[Ticket]:
    qs = Ticket.objects.filter(
        status__in=["NEW", "OPEN", "WAITING_CUSTOMER", "WAITING_THIRD_PARTY"]
    )
    if queue:
        qs = qs.filter(queue=queue)
    return (
        qs.select_related("account", "assignee")
        .prefetch_related(
            Prefetch(
                "clocks",
                queryset=ClockInstance.objects.filter(
                    status__in=["RUNNING", "PAUSED", "BREACHED"]
                ).order_by("due_at"),
                to_attr="live_clocks",
            )
        )
        .order_by("-urgency_rank", "created_at")[:limit]
    )


def ticket_workspace(*, reference: str) -> Ticket:
    from django.shortcuts import get_object_or_404

    return get_object_or_404(
        Ticket.objects.select_related(
            "account", "assignee", "requester", "supply_point", "policy"
        ).prefetch_related(
            Prefetch(
                "messages",
                queryset=Message.objects.select_related("author")
                .prefetch_related("attachments")
                .order_by("created_at", "id"),
            ),
            Prefetch(
                "events", queryset=TicketEvent.objects.select_related("actor").order_by("at", "id")
            ),
            Prefetch(
                "clocks",
                queryset=ClockInstance.objects.select_related("calendar").order_by(
                    "started_at", "id"
                ),
            ),
            Prefetch(
                "escalations",
                queryset=Escalation.objects.select_related("acknowledged_by").order_by(
                    "created_at"
                ),
            ),
        ),
        reference=reference,
    )


def customer_tickets(*, account_id: int) -> QuerySet[Ticket]:
    return Ticket.objects.filter(account_id=account_id, merged_into__isnull=True).order_by(
        "-created_at"
    )


def customer_ticket(*, account_id: int, reference: str) -> Ticket:
    from django.shortcuts import get_object_or_404

    return get_object_or_404(
        Ticket.objects.prefetch_related(
            Prefetch(
                "messages",
                queryset=Message.objects.filter(visibility="PUBLIC")
                .select_related("author")
                .prefetch_related("attachments")
                .order_by("created_at", "id"),
                to_attr="public_messages",
            ),
            Prefetch("clocks", queryset=ClockInstance.objects.order_by("started_at", "id")),
        ),
        account_id=account_id,
        reference=reference,
    )


def escalations_waiting(*, limit: int = 50) -> QuerySet[Escalation]:
    return (
        Escalation.objects.filter(acknowledged_at__isnull=True)
        .select_related("ticket", "ticket__account")
        .order_by("ack_due_at")[:limit]
    )


def clock_rows(*, clocks, now: datetime) -> list[dict]:
    """Each clock with the time left, counted in the clock's own kind of time."""
    rows = []
    calendars: dict[int, bcal.BusinessCalendar] = {}
    clocks = list(clocks)
    # A clock that restarts on activity (inactivity) leaves one met instance per reply;
    # only its latest instance says anything about the ticket now.
    latest: dict[int, tuple] = {}
    for clock in clocks:
        if clock.restarts_on_activity:
            key = (clock.started_at, clock.pk)
            latest[clock.definition_id] = max(latest.get(clock.definition_id, key), key)
    for clock in clocks:
        if clock.restarts_on_activity and latest[clock.definition_id] != (
            clock.started_at,
            clock.pk,
        ):
            continue
        left = None
        if clock.status == "RUNNING" and clock.due_at:
            if clock.unit == "CLOCK_HOURS":
                left = (clock.due_at - now).total_seconds()
            else:
                if clock.calendar_id not in calendars:
                    calendars[clock.calendar_id] = business_calendar(
                        calendar=clock.calendar, years=years_around(now)
                    )
                cal = calendars[clock.calendar_id]
                left = (
                    bcal.business_seconds_between(cal, now, clock.due_at)
                    if clock.due_at > now
                    else -bcal.business_seconds_between(cal, clock.due_at, now)
                )
        rows.append(
            {
                "clock": clock,
                "left_seconds": left,
                "left_text": _duration_text(left) if left is not None else "",
                "state": (
                    "breached"
                    if clock.status == "BREACHED" or (left is not None and left < 0)
                    else "at_risk"
                    if clock.status == "RUNNING" and clock.warn_at and clock.warn_at <= now
                    else clock.status.lower()
                ),
            }
        )
    return rows


def _duration_text(seconds: float) -> str:
    sign = "-" if seconds < 0 else ""
    seconds = abs(int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{sign}{days} j {hours} h"
    if hours:
        return f"{sign}{hours} h {minutes:02d}"
    return f"{sign}{minutes} min"


def canned_responses(*, ticket: Ticket) -> list[dict]:
    """Canned answers for the ticket's queue, with the placeholders filled in."""
    from .models import CannedResponse

    values = {
        "customer_name": ticket.requester_name or (ticket.account.name if ticket.account else ""),
        "reference": ticket.reference,
        "account_number": ticket.account.number if ticket.account else "",
        "agent_name": ticket.assignee.get_full_name() if ticket.assignee else "",
    }
    rows = CannedResponse.objects.filter(Q(queue="") | Q(queue=ticket.queue)).order_by("title")
    return [{"title": r.title, "body": r.body.format_map(_Missing(values))} for r in rows]


class _Missing(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def remedies_due(*, limit: int = 50) -> QuerySet:
    """Ombudsman remedies still to carry out, soonest deadline first."""
    from .models import Complaint

    return (
        Complaint.objects.filter(remedy_due_at__isnull=False, remedy_done_at__isnull=True)
        .select_related("ticket", "ticket__account")
        .order_by("remedy_due_at")[:limit]
    )


def ticket_by_reference(*, reference: str) -> Ticket | None:
    return Ticket.objects.filter(reference=reference).first()


def accounts_with_open_complaint(*, account_ids: list[int]) -> set[int]:
    """Of these accounts, those with a complaint still open: no survey goes to them."""
    from .models import Complaint

    return set(
        Complaint.objects.filter(ticket__account_id__in=account_ids, resolved=False)
        .values_list("ticket__account_id", flat=True)
        .distinct()
    )


def ticket_live_clocks(*, ticket_id: int) -> list[ClockInstance]:
    return list(
        ClockInstance.objects.filter(
            ticket_id=ticket_id, status__in=["RUNNING", "PAUSED"]
        ).order_by("due_at")
    )


def first_contact_id(*, ticket_id: int) -> int | None:
    """The contact that opened a ticket (the one marked first contact), if recorded."""
    return (
        Contact.objects.filter(ticket_id=ticket_id, first_contact=True)
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )
