"""Writes of the tickets app: tickets, replies, status moves, clocks and their sweep,
contact records (CDR and CSV ingestion)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import F

from accounts import selectors as account_selectors
from accounts.models import Account, Role, SupplyPoint, User

from . import hooks, selectors
from .domain import calendar as bcal
from .domain import contacts as contact_rules
from .domain import routing, states
from .models import (
    Channel,
    ClockAlert,
    ClockDefinition,
    ClockInstance,
    ClockStatus,
    Complaint,
    Contact,
    Escalation,
    EscalationLevel,
    Message,
    Survey,
    Ticket,
    TicketEvent,
    TicketSequence,
    Visibility,
)

logger = logging.getLogger(__name__)

PARIS = ZoneInfo("Europe/Paris")
STAFF_ROLES = {Role.AGENT, Role.SUPERVISOR, Role.ADMIN}


class TicketError(Exception):
    """Base class for refusals of the tickets services."""


class NothingToTake(TicketError):
    pass


class NotAllowed(TicketError):
    pass


IllegalTransition = states.IllegalTransition


# --- References -------------------------------------------------------------


def _next_reference(now: datetime) -> str:
    year = now.astimezone(PARIS).year
    TicketSequence.objects.get_or_create(year=year)
    sequence = TicketSequence.objects.select_for_update().get(year=year)
    sequence.last = F("last") + 1
    sequence.save(update_fields=["last"])
    sequence.refresh_from_db(fields=["last"])
    return f"PN-{year}-{sequence.last:06d}"


def _event(
    ticket: Ticket,
    *,
    kind: str,
    actor: User | None,
    now: datetime,
    old: str = "",
    new: str = "",
    note: str = "",
) -> TicketEvent:
    return TicketEvent.objects.create(
        ticket=ticket, kind=kind, actor=actor, at=now, from_value=old, to_value=new, note=note
    )


# --- Clocks -----------------------------------------------------------------


def _pause_pairs(clock: ClockInstance, now: datetime) -> list[tuple[datetime, datetime]]:
    pairs = []
    for start, end in clock.pauses:
        pairs.append((datetime.fromisoformat(start), datetime.fromisoformat(end) if end else now))
    return pairs


def _schedule(clock: ClockInstance, now: datetime) -> None:
    """Recompute due_at and warn_at from the clock's own copied terms."""
    calendar = selectors.business_calendar(
        calendar=clock.calendar, years=selectors.years_around(clock.started_at)
    )
    unit = bcal.ClockUnit(clock.unit)
    pauses = _pause_pairs(clock, now)
    amount = float(clock.amount)
    clock.due_at = bcal.due_at(calendar, unit, amount, clock.started_at, pauses)
    ratio = float(clock.warn_ratio)
    if unit is bcal.ClockUnit.WORKING_DAYS:
        unpaused_due = bcal.due_at(calendar, unit, amount, clock.started_at, ())
        span = bcal.business_seconds_between(calendar, clock.started_at, unpaused_due)
        warn = bcal.add_business_time(calendar, clock.started_at, timedelta(seconds=span * ratio))
        clock.warn_at = min(warn, clock.due_at)
    else:
        clock.warn_at = bcal.due_at(calendar, unit, amount * ratio, clock.started_at, pauses)


def _start_clock(
    ticket: Ticket, definition: ClockDefinition, now: datetime, *, due_at: datetime | None = None
) -> ClockInstance:
    clock = ClockInstance(
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
        escalate_to=definition.escalate_to,
        restarts_on_activity=definition.restarts_on_activity,
        started_at=now,
    )
    if due_at is None:
        _schedule(clock, now)
    else:
        # A fixed deadline is an appointment: it must not move when the ticket
        # waits, and resuming would recompute it from the definition's terms.
        clock.pauses_when_waiting = False
        clock.due_at = due_at
        clock.warn_at = min(now + (due_at - now) * float(clock.warn_ratio), due_at)
    clock.save()
    return clock


def _stop_clocks(ticket: Ticket, *, event: str, now: datetime) -> list[ClockInstance]:
    """Meet every live clock that `event` stops; restart the inactivity ones."""
    stopped = []
    for clock in ticket.clocks.select_for_update().filter(
        stop_event=event, status__in=[ClockStatus.RUNNING, ClockStatus.PAUSED]
    ):
        clock.status = ClockStatus.MET
        clock.met_at = now
        clock.save(update_fields=["status", "met_at"])
        stopped.append(clock)
        if clock.restarts_on_activity and ticket.status in states.ACTIVE:
            _start_clock(ticket, clock.definition, now)
    return stopped


LIVE = (ClockStatus.RUNNING, ClockStatus.PAUSED)


def ticket_clock_start(
    *, ticket: Ticket, event: str, now: datetime, due_at: datetime | None = None
) -> list[ClockInstance]:
    """Start the clocks of the ticket's policy whose start event is `event`, and
    return the live clocks of those definitions.

    A definition that already has a live clock on the ticket keeps it: starting
    twice never runs two. `due_at` fixes the deadline (a booked slot) instead of
    computing it from the definition's unit and amount. A ticket that is resolved,
    closed, merged or without a policy starts nothing.
    """
    with transaction.atomic():
        # The row lock serialises two concurrent starts on one ticket.
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if (
            ticket.policy_id is None
            or ticket.status not in states.ACTIVE
            or ticket.merged_into_id is not None
        ):
            return []
        clocks = []
        for definition in ticket.policy.clocks.filter(start_event=event).order_by("id"):
            clock = ticket.clocks.filter(definition=definition, status__in=LIVE).first()
            if clock is None:
                clock = _start_clock(ticket, definition, now, due_at=due_at)
                if ticket.status in states.WAITING and clock.pauses_when_waiting:
                    # Started while the ticket waits: it counts from the resume, as
                    # the clocks already running do.
                    clock.pauses = [[now.isoformat(), None]]
                    clock.status = ClockStatus.PAUSED
                    clock.save(update_fields=["pauses", "status"])
            clocks.append(clock)
    return clocks


def ticket_clock_stop(*, ticket: Ticket, event: str, now: datetime) -> list[ClockInstance]:
    """Meet the ticket's live clocks that `event` stops; a second call finds none."""
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        return _stop_clocks(ticket, event=event, now=now)


def _pause_clocks(ticket: Ticket, now: datetime) -> None:
    for clock in ticket.clocks.select_for_update().filter(
        status=ClockStatus.RUNNING, pauses_when_waiting=True
    ):
        clock.pauses = [*clock.pauses, [now.isoformat(), None]]
        clock.status = ClockStatus.PAUSED
        clock.save(update_fields=["pauses", "status"])


def _resume_clocks(ticket: Ticket, now: datetime) -> None:
    for clock in ticket.clocks.select_for_update().filter(status=ClockStatus.PAUSED):
        pauses = [list(p) for p in clock.pauses]
        if pauses and pauses[-1][1] is None:
            pauses[-1][1] = now.isoformat()
        clock.pauses = pauses
        clock.status = ClockStatus.RUNNING
        _schedule(clock, now)
        clock.save(update_fields=["pauses", "status", "due_at", "warn_at"])


def _cancel_clocks(ticket: Ticket) -> None:
    ticket.clocks.filter(status__in=[ClockStatus.RUNNING, ClockStatus.PAUSED]).update(
        status=ClockStatus.CANCELLED
    )


@dataclass
class SweepResult:
    warnings: int = 0
    breaches: int = 0
    escalations: int = 0
    timeouts: int = 0
    deadlocks: int = 0


def clocks_sweep(*, now: datetime, batch: int = 500) -> SweepResult:
    """Warn, breach and escalate every clock whose moment has come.

    Each batch is locked with SKIP LOCKED, so concurrent sweeps share the work,
    and written set-wise; each alert is a unique row, so a crash between two
    steps or a second sweep can neither lose nor repeat one.
    """
    from django.db.models.functions import Coalesce

    from accounts.selectors import parameter_get

    result = SweepResult()
    ack_hours = int(parameter_get(key="escalation_ack_hours"))
    while True:
        with transaction.atomic():
            # Clocks already past due are warned by the breach pass below.
            ids = list(
                ClockInstance.objects.select_for_update(skip_locked=True)
                .filter(
                    status=ClockStatus.RUNNING,
                    warned_at__isnull=True,
                    warn_at__lte=now,
                    due_at__gt=now,
                )
                .order_by("warn_at")
                .values_list("pk", flat=True)[:batch]
            )
            ClockAlert.objects.bulk_create(
                [ClockAlert(clock_id=pk, kind="WARNING", at=now) for pk in ids],
                ignore_conflicts=True,
            )
            ClockInstance.objects.filter(pk__in=ids).update(warned_at=now)
            result.warnings += len(ids)
        if len(ids) < batch:
            break
    while True:
        with transaction.atomic():
            due = list(
                ClockInstance.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(status=ClockStatus.RUNNING, breached_at__isnull=True, due_at__lte=now)
                .select_related("ticket", "definition__policy", "definition__calendar")
                .order_by("due_at")[:batch]
            )
            ids = [clock.pk for clock in due]
            ClockAlert.objects.bulk_create(
                [ClockAlert(clock_id=pk, kind="BREACH", at=now) for pk in ids],
                ignore_conflicts=True,
            )
            ClockInstance.objects.filter(pk__in=ids).update(
                status=ClockStatus.BREACHED, breached_at=now, warned_at=Coalesce("warned_at", now)
            )
            result.breaches += len(ids)
            escalating = [clock for clock in due if clock.escalate_to]
            _escalate_many(escalating, now=now, ack_hours=ack_hours)
            result.escalations += len(escalating)
            for clock in due:
                if clock.restarts_on_activity:
                    # An inactivity clock starts again, so a ticket left alone
                    # keeps surfacing until someone acts on it.
                    _start_clock(clock.ticket, clock.definition, now)
            for clock in due:
                clock.status, clock.breached_at = ClockStatus.BREACHED, now
                _breach_handlers_run(clock, now=now)
        if len(due) < batch:
            break
    result.timeouts = _escalation_timeouts(now=now, batch=batch)
    result.deadlocks = complaints_sweep(now=now, batch=batch)
    return result


def _breach_handlers_run(clock: ClockInstance, *, now: datetime) -> None:
    """The next step the app owning this clock registered (see hooks.py).

    Only clocks breached in this pass come here, so a handler runs once per breach.
    Each handler gets its own savepoint: one that fails rolls back its own writes
    only, and the breach, the escalation and the other clocks of the batch stand.
    """
    for handler in hooks.breach_handlers(clock.stop_event):
        # Whatever a handler raises, the breach and the rest of the batch must stand.
        try:
            with transaction.atomic():
                handler(clock=clock, now=now)
        except Exception as exc:
            logger.exception(
                "Breach handler %r failed for clock %s on ticket %s",
                handler,
                clock.pk,
                clock.ticket_id,
            )
            # Shown in the ticket's history, so whoever looks at the breached clock
            # knows the automatic next step did not happen and is theirs to do.
            TicketEvent.objects.create(
                ticket_id=clock.ticket_id,
                kind="BREACH_HOOK_FAILED",
                actor=None,
                at=now,
                from_value=clock.name,
                note=f"{type(exc).__name__}: {exc}"[:2000],
            )


def _escalate_many(clocks: list[ClockInstance], *, now: datetime, ack_hours: int) -> None:
    """The breach escalations of one sweep batch, written set-wise."""
    if not clocks:
        return
    Escalation.objects.bulk_create(
        Escalation(
            ticket_id=c.ticket_id,
            level=c.escalate_to,
            reason=f"{c.name} dépassé",
            created_at=now,
            ack_due_at=now + timedelta(hours=ack_hours),
        )
        for c in clocks
    )
    TicketEvent.objects.bulk_create(
        TicketEvent(
            ticket_id=c.ticket_id,
            kind="ESCALATED",
            actor=None,
            at=now,
            from_value=c.ticket.escalation_level,
            to_value=c.escalate_to,
            note=f"{c.name} dépassé",
        )
        for c in clocks
    )
    by_level: dict[str, list[int]] = {}
    for c in clocks:
        by_level.setdefault(c.escalate_to, []).append(c.ticket_id)
    for level, ticket_ids in by_level.items():
        Ticket.objects.filter(pk__in=ticket_ids).update(escalation_level=level)


def _escalate(
    ticket: Ticket, *, level: str, reason: str, actor: User | None, now: datetime
) -> Escalation:
    from accounts.selectors import parameter_get

    hours = int(parameter_get(key="escalation_ack_hours"))
    escalation = Escalation.objects.create(
        ticket=ticket,
        level=level,
        reason=reason,
        created_at=now,
        ack_due_at=now + timedelta(hours=hours),
    )
    old = ticket.escalation_level
    Ticket.objects.filter(pk=ticket.pk).update(escalation_level=level)
    ticket.escalation_level = level
    _event(ticket, kind="ESCALATED", actor=actor, now=now, old=old, new=level, note=reason)
    return escalation


def _escalation_timeouts(*, now: datetime, batch: int) -> int:
    """A supervisor who does not acknowledge in time hands the case to complaints."""
    handled = 0
    with transaction.atomic():
        late = list(
            Escalation.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                acknowledged_at__isnull=True,
                timed_out_at__isnull=True,
                ack_due_at__lte=now,
                level=EscalationLevel.SUPERVISOR,
            )
            .select_related("ticket")
            .order_by("ack_due_at")[:batch]
        )
        for escalation in late:
            escalation.timed_out_at = now
            escalation.save(update_fields=["timed_out_at"])
            _escalate(
                escalation.ticket,
                level=EscalationLevel.COMPLAINTS,
                reason="Escalade superviseur non acquittée à temps",
                actor=None,
                now=now,
            )
            handled += 1
    return handled


def escalation_acknowledge(*, escalation_id: int, supervisor: User, now: datetime) -> Escalation:
    if supervisor.role not in (Role.SUPERVISOR, Role.ADMIN):
        raise NotAllowed("Only a supervisor acknowledges an escalation.")
    with transaction.atomic():
        escalation = (
            Escalation.objects.select_for_update(of=("self",))
            .select_related("ticket")
            .get(pk=escalation_id)
        )
        if escalation.acknowledged_at is None:
            escalation.acknowledged_at = now
            escalation.acknowledged_by = supervisor
            escalation.save(update_fields=["acknowledged_at", "acknowledged_by"])
            _event(
                escalation.ticket,
                kind="ESCALATION_ACK",
                actor=supervisor,
                now=now,
                new=escalation.level,
            )
    return escalation


def ticket_escalate(*, ticket: Ticket, actor: User, reason: str, now: datetime) -> Escalation:
    """Move a ticket one step up the ladder: agent → supervisor → complaints."""
    ladder = [EscalationLevel.AGENT, EscalationLevel.SUPERVISOR, EscalationLevel.COMPLAINTS]
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        index = ladder.index(ticket.escalation_level)
        if index == len(ladder) - 1:
            raise NotAllowed("The ticket is already with the complaints team.")
        return _escalate(ticket, level=ladder[index + 1], reason=reason, actor=actor, now=now)


# --- Tickets ------------------------------------------------------------------


class AttachmentRejected(TicketError):
    pass


def _check_attachments(files) -> list[tuple[object, str]]:
    """Validate every file before anything is written: type by content, size by limit."""
    from accounts.domain import sniff_file_type
    from accounts.selectors import parameter_get

    limit = int(parameter_get(key="attachment_max_bytes"))
    checked = []
    for upload in files or []:
        if upload.size > limit:
            raise AttachmentRejected(f"{upload.name}: larger than {limit // (1024 * 1024)} MB.")
        head = upload.read(16)
        upload.seek(0)
        kind = sniff_file_type(head)
        if kind is None:
            raise AttachmentRejected(f"{upload.name}: only PDF, JPEG and PNG files are accepted.")
        checked.append((upload, kind))
    return checked


def _store_attachments(message: Message, checked) -> None:
    import secrets

    from .models import Attachment

    for upload, kind in checked:
        attachment = Attachment(
            message=message, name=upload.name[:200], content_type=kind, size=upload.size
        )
        attachment.file.save(secrets.token_hex(16), upload, save=False)
        attachment.save()


def _customer_email(ticket: Ticket) -> str | None:
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    if ticket.requester_id and ticket.requester.email:
        return ticket.requester.email
    try:
        # A social handle like "@name on x" is a contact, not an address.
        validate_email(ticket.requester_contact)
    except ValidationError:
        return None
    return ticket.requester_contact


def _notify(ticket: Ticket, *, kind: str, body: str = "") -> None:
    """Email the customer after the transaction commits; the subject carries the reference."""
    from django.core.mail import send_mail

    address = _customer_email(ticket)
    if not address:
        return
    subjects = {
        "created": "Votre demande a bien été reçue",
        "reply": "Nouvelle réponse à votre demande",
        "resolved": "Votre demande est résolue",
    }
    subject = f"[{ticket.reference}] {subjects[kind]} / {ticket.subject}"
    text = body or f"Référence : {ticket.reference}\nSuivi : /portal/tickets/{ticket.reference}/"
    transaction.on_commit(lambda: send_mail(subject, text, None, [address]))


def _ticket_customer_key(ticket: Ticket) -> str:
    return contact_rules.customer_key(
        account_id=ticket.account_id,
        user_id=ticket.requester_id,
        contact=ticket.requester_contact,
    )


def ticket_create(
    *,
    channel: str,
    category: str,
    subject: str,
    body: str,
    now: datetime,
    account: Account | None = None,
    requester: User | None = None,
    requester_name: str = "",
    requester_contact: str = "",
    supply_point: SupplyPoint | None = None,
    declared_safety: bool = False,
    details: dict | None = None,
    actor: User | None = None,
    attachments=None,
) -> Ticket:
    checked = _check_attachments(attachments)
    if channel not in Channel.values:
        raise TicketError(f"Unknown channel {channel!r}.")
    if category not in routing.CATEGORY_QUEUE:
        raise TicketError(f"Unknown category {category!r}.")
    if supply_point is not None and (
        account is None or supply_point.premise.account_id != account.pk
    ):
        raise TicketError("The supply point does not belong to this account.")
    package = account.sla_package.code if account and account.sla_package_id else None
    priority_register = bool(
        account and account_selectors.account_on_priority_register(account_id=account.pk)
    )
    route = routing.route(
        category=category,
        text=f"{subject}\n{body}",
        sla_package=package,
        priority_register=priority_register,
        declared_safety=declared_safety,
    )
    with transaction.atomic():
        ticket = Ticket.objects.create(
            reference=_next_reference(now),
            account=account,
            requester=requester,
            requester_name=requester_name or (requester.get_full_name() if requester else ""),
            requester_contact=requester_contact,
            supply_point=supply_point,
            channel=channel,
            queue=route.queue,
            category=category,
            priority=route.priority,
            urgency_rank=route.urgency_rank,
            safety_critical=route.safety_critical,
            subject=subject[:200],
            details=details or {},
            created_at=now,
            last_activity_at=now,
        )
        first = Message.objects.create(
            ticket=ticket,
            author=requester if requester and requester.role == Role.CUSTOMER else actor,
            from_customer=True,
            visibility=Visibility.PUBLIC,
            channel=channel,
            body=body,
            created_at=now,
        )
        _store_attachments(first, checked)
        _event(
            ticket,
            kind="CREATED",
            actor=actor or requester,
            now=now,
            new=states.NEW,
            note=f"{route.queue}/{route.priority}",
        )
        policy = selectors.policy_for(
            queue=route.queue,
            priority=route.priority,
            channel=channel,
            sla_package=package,
            priority_register=priority_register,
            safety=route.safety_critical,
            complaint=route.complaint,
        )
        if policy is not None:
            ticket.policy = policy
            ticket.save(update_fields=["policy"])
            for definition in policy.clocks.all():
                if definition.start_event == "CREATED":
                    _start_clock(ticket, definition, now)
        Contact.objects.create(
            ticket=ticket,
            account=account,
            channel=channel,
            queue=route.queue,
            inbound=True,
            offered_at=now,
            first_contact=True,
            customer_key=_ticket_customer_key(ticket),
            issue_key=contact_rules.issue_key(category=category, queue=route.queue),
        )
        if route.complaint:
            complaint_flag(
                ticket=ticket,
                actor=None,
                source="KEYWORD" if category != "COMPLAINT" else "CATEGORY",
                summary=body[:1000],
                now=now,
            )
        _notify(ticket, kind="created")
    return ticket


def ticket_open_internal(
    *,
    policy_code: str,
    subject: str,
    body: str,
    now: datetime,
    actor: User | None = None,
    details: dict | None = None,
) -> Ticket:
    """A ticket the platform opens to carry another app's clocks (an incident's
    command ticket). No customer contacted us, so no contact record is written,
    and its policy is named rather than matched."""
    from .models import Queue, SlaPolicy

    policy = SlaPolicy.objects.filter(code=policy_code, active=True).order_by("-version").first()
    if policy is None:
        raise TicketError(f"No active SLA policy {policy_code!r}.")
    with transaction.atomic():
        ticket = Ticket.objects.create(
            reference=_next_reference(now),
            channel=Channel.SYSTEM,
            queue=Queue.INCIDENT,
            category="INCIDENT",
            priority="URGENT",
            urgency_rank=0,
            subject=subject[:200],
            details=details or {},
            policy=policy,
            created_at=now,
            last_activity_at=now,
        )
        Message.objects.create(
            ticket=ticket,
            author=actor,
            from_customer=False,
            visibility=Visibility.INTERNAL,
            channel=Channel.SYSTEM,
            body=body,
            created_at=now,
        )
        _event(ticket, kind="CREATED", actor=actor, now=now, new=states.NEW, note="INCIDENT")
    return ticket


def ticket_clock_cancel(*, ticket: Ticket, stop_event: str) -> int:
    """Drop the live clocks that `stop_event` would stop: the commitment no longer
    applies (an incident downgraded from P1 owes no public cadence)."""
    with transaction.atomic():
        return ticket.clocks.filter(stop_event=stop_event, status__in=LIVE).update(
            status=ClockStatus.CANCELLED
        )


def ticket_transition(
    *, ticket: Ticket, target: str, actor: User | None, now: datetime, note: str = ""
) -> Ticket:
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        states.check_transition(ticket.status, target)
        old = ticket.status
        ticket.status = target
        ticket.last_activity_at = now
        fields = ["status", "last_activity_at"]
        if target == states.RESOLVED:
            ticket.resolved_at = now
            fields.append("resolved_at")
        if target == states.CLOSED:
            ticket.closed_at = now
            fields.append("closed_at")
        ticket.save(update_fields=fields)
        _event(ticket, kind="STATUS", actor=actor, now=now, old=old, new=target, note=note)
        if target in states.WAITING:
            _pause_clocks(ticket, now)
        elif old in states.WAITING:
            _resume_clocks(ticket, now)
        if target == states.RESOLVED:
            _stop_clocks(ticket, event="RESOLVED", now=now)
            _cancel_clocks(ticket)
            _survey_for(ticket, now=now)
            _notify(ticket, kind="resolved")
        elif target == states.CLOSED:
            _cancel_clocks(ticket)
        elif old == states.RESOLVED and target == states.OPEN:
            for definition in ticket.policy.clocks.all() if ticket.policy else []:
                if definition.stop_event == "RESOLVED" or definition.restarts_on_activity:
                    _start_clock(ticket, definition, now)
    return ticket


def ticket_reply(
    *,
    ticket: Ticket,
    author: User | None,
    body: str,
    now: datetime,
    internal: bool = False,
    from_customer: bool = False,
    channel: str | None = None,
    email_message_id: str = "",
    attachments=None,
    live_chat: bool = False,
) -> Message:
    """`live_chat`: an agent's line in a live chat, kept on the ticket for its history.
    The chat is one contact (recorded when it closes) and the customer reads the line
    in the chat, so no contact record and no e-mail per line."""
    from accounts.selectors import parameter_get

    checked = _check_attachments(attachments)
    if not body.strip():
        raise TicketError("A message needs some text.")
    if from_customer and internal:
        raise TicketError("Customers cannot write internal notes.")
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if ticket.status == states.CLOSED:
            raise NotAllowed("This ticket is closed; a new request must be opened.")
        message = Message.objects.create(
            ticket=ticket,
            author=author,
            from_customer=from_customer,
            visibility=Visibility.INTERNAL if internal else Visibility.PUBLIC,
            channel=channel or ticket.channel,
            body=body,
            created_at=now,
            email_message_id=email_message_id,
        )
        _store_attachments(message, checked)
        ticket.last_activity_at = now
        ticket.save(update_fields=["last_activity_at"])
        _stop_clocks(ticket, event="ACTIVITY", now=now)
        if internal:
            return message
        if from_customer:
            target = states.customer_reply_target(
                current=ticket.status,
                resolved_at=ticket.resolved_at,
                now=now,
                reopen_days=int(parameter_get(key="ticket_reopen_days")),
            )
            if target:
                ticket_transition(
                    ticket=ticket, target=target, actor=author, now=now, note="customer reply"
                )
            Contact.objects.create(
                ticket=ticket,
                account=ticket.account,
                channel=message.channel,
                queue=ticket.queue,
                inbound=True,
                offered_at=now,
                customer_key=_ticket_customer_key(ticket),
                issue_key=contact_rules.issue_key(category=ticket.category, queue=ticket.queue),
            )
        else:
            if ticket.first_response_at is None:
                Ticket.objects.filter(pk=ticket.pk).update(first_response_at=now)
                _stop_clocks(ticket, event="FIRST_RESPONSE", now=now)
            if ticket.status == states.NEW:
                ticket_transition(ticket=ticket, target=states.OPEN, actor=author, now=now)
            if live_chat:
                return message
            Contact.objects.create(
                ticket=ticket,
                account=ticket.account,
                channel=message.channel,
                queue=ticket.queue,
                agent=author,
                inbound=False,
                offered_at=now,
                answered_at=now,
                ended_at=now,
            )
            _notify(ticket, kind="reply", body=body)
    return message


def ticket_assign(*, ticket: Ticket, agent: User | None, actor: User, now: datetime) -> Ticket:
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        old = ticket.assignee.email if ticket.assignee_id else ""
        ticket.assignee = agent
        ticket.save(update_fields=["assignee"])
        _event(
            ticket, kind="ASSIGNED", actor=actor, now=now, old=old, new=agent.email if agent else ""
        )
    return ticket


def ticket_take_next(*, agent: User, now: datetime, queues: list[str] | None = None) -> Ticket:
    """Hand the most urgent unassigned ticket to `agent`; never the same one twice.

    SKIP LOCKED lets concurrent agents each lock a different row instead of
    waiting on, and then re-taking, the same one.
    """
    if agent.role not in STAFF_ROLES:
        raise NotAllowed("Only agents take tickets.")
    with transaction.atomic():
        candidates = Ticket.objects.select_for_update(skip_locked=True, of=("self",)).filter(
            assignee__isnull=True, status__in=[states.NEW, states.OPEN], merged_into__isnull=True
        )
        if queues:
            candidates = candidates.filter(queue__in=queues)
        ticket = candidates.order_by("-urgency_rank", "created_at", "id").first()
        if ticket is None:
            raise NothingToTake("No ticket is waiting in these queues.")
        ticket.assignee = agent
        ticket.save(update_fields=["assignee"])
        _event(ticket, kind="ASSIGNED", actor=agent, now=now, new=agent.email, note="take next")
        if ticket.status == states.NEW:
            ticket.status = states.OPEN
            ticket.save(update_fields=["status"])
            _event(ticket, kind="STATUS", actor=agent, now=now, old=states.NEW, new=states.OPEN)
    return ticket


def ticket_merge(*, duplicate: Ticket, into: Ticket, actor: User, now: datetime) -> Ticket:
    if duplicate.pk == into.pk:
        raise TicketError("A ticket cannot be merged into itself.")
    with transaction.atomic():
        duplicate = Ticket.objects.select_for_update().get(pk=duplicate.pk)
        if duplicate.merged_into_id:
            raise TicketError("Already merged.")
        duplicate.merged_into = into
        duplicate.save(update_fields=["merged_into"])
        _cancel_clocks(duplicate)
        _event(duplicate, kind="MERGED", actor=actor, now=now, new=into.reference)
        _event(into, kind="MERGED_FROM", actor=actor, now=now, new=duplicate.reference)
    return duplicate


def ticket_unmerge(*, duplicate: Ticket, actor: User, now: datetime) -> Ticket:
    with transaction.atomic():
        duplicate = (
            Ticket.objects.select_for_update(of=("self",))
            .select_related("merged_into")
            .get(pk=duplicate.pk)
        )
        if not duplicate.merged_into_id:
            raise TicketError("This ticket is not merged.")
        target = duplicate.merged_into
        duplicate.merged_into = None
        duplicate.save(update_fields=["merged_into"])
        _event(duplicate, kind="UNMERGED", actor=actor, now=now, old=target.reference)
        if duplicate.status in states.ACTIVE and duplicate.policy:
            # Clocks started by a later event (a workflow step) wait for that event.
            for definition in duplicate.policy.clocks.filter(start_event="CREATED"):
                _start_clock(duplicate, definition, now)
    return duplicate


def ticket_link(*, ticket: Ticket, other: Ticket, actor: User, now: datetime) -> None:
    from .models import TicketLink

    if ticket.pk == other.pk:
        raise TicketError("A ticket cannot be linked to itself.")
    with transaction.atomic():
        try:
            with transaction.atomic():
                TicketLink.objects.create(from_ticket=ticket, to_ticket=other, created_at=now)
        except IntegrityError:
            return
        _event(ticket, kind="LINKED", actor=actor, now=now, new=other.reference)


def phone_call_log(
    *,
    agent: User,
    account: Account | None,
    category: str,
    subject: str,
    notes: str,
    talk_seconds: int,
    hold_seconds: int,
    wrap_seconds: int,
    resolved: bool,
    now: datetime,
) -> Ticket:
    """A call becomes a ticket with its handling times, resolved at once if it was."""
    if min(talk_seconds, hold_seconds, wrap_seconds) < 0:
        raise TicketError("Durations cannot be negative.")
    with transaction.atomic():
        started = now - timedelta(seconds=talk_seconds + hold_seconds + wrap_seconds)
        ticket = ticket_create(
            channel=Channel.PHONE,
            category=category,
            subject=subject,
            body=notes,
            now=started,
            account=account,
            actor=agent,
        )
        ticket.assignee = agent
        ticket.save(update_fields=["assignee"])
        Contact.objects.filter(ticket=ticket, first_contact=True).update(
            agent=agent,
            answered_at=started,
            ended_at=started + timedelta(seconds=talk_seconds + hold_seconds),
            wrap_up_ended_at=now,
            talk_seconds=talk_seconds,
            hold_seconds=hold_seconds,
            wrap_seconds=wrap_seconds,
            resolved_first_contact=resolved,
        )
        Ticket.objects.filter(pk=ticket.pk).update(first_response_at=started)
        _stop_clocks(ticket, event="FIRST_RESPONSE", now=started)
        ticket.refresh_from_db()
        if ticket.status == states.NEW:
            ticket_transition(ticket=ticket, target=states.OPEN, actor=agent, now=now)
        if resolved:
            ticket_transition(
                ticket=ticket,
                target=states.RESOLVED,
                actor=agent,
                now=now,
                note="resolved on the call",
            )
    return ticket


# --- Complaints and surveys -------------------------------------------------------


def complaint_flag(
    *, ticket: Ticket, actor: User | None, source: str, summary: str, now: datetime
) -> Complaint:
    from dateutil.relativedelta import relativedelta

    with transaction.atomic():
        existing = Complaint.objects.filter(ticket=ticket).first()
        if existing:
            return existing
        jurisdiction = (
            "GB" if (ticket.supply_point and ticket.supply_point.market == "GB_MPAN") else "FR"
        )
        deadline = now + (relativedelta(months=2) if jurisdiction == "FR" else timedelta(weeks=8))
        complaint = Complaint.objects.create(
            ticket=ticket,
            received_at=ticket.created_at,
            channel=ticket.channel,
            complainant=ticket.requester_name or (ticket.account.name if ticket.account else ""),
            summary=summary,
            jurisdiction=jurisdiction,
            flagged_by=actor,
            flag_source=source,
            deadline_at=deadline,
        )
        Ticket.objects.filter(pk=ticket.pk).update(is_complaint=True)
        _event(ticket, kind="COMPLAINT", actor=actor, now=now, new=source)
    return complaint


def complaints_sweep(*, now: datetime, batch: int = 200) -> int:
    """Past the 2-month (FR) / 8-week (GB) deadline an unresolved complaint gets its
    deadlock letter, once."""
    done = 0
    with transaction.atomic():
        late = list(
            Complaint.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(resolved=False, deadlock_letter_at__isnull=True, deadline_at__lte=now)
            .select_related("ticket", "ticket__account")
            .order_by("deadline_at")[:batch]
        )
        for complaint in late:
            deadlock_letter_issue(complaint=complaint, now=now, reason="deadline")
            done += 1
    return done


def deadlock_letter_issue(*, complaint: Complaint, now: datetime, reason: str) -> Complaint:
    from django.core.files.base import ContentFile

    from . import documents

    with transaction.atomic():
        complaint = (
            Complaint.objects.select_for_update(of=("self",))
            .select_related("ticket", "ticket__account", "ticket__requester")
            .get(pk=complaint.pk)
        )
        if complaint.deadlock_letter_at:
            return complaint
        pdf = documents.deadlock_letter_pdf(complaint=complaint, now=now)
        complaint.deadlock_letter.save(
            f"deadlock-{complaint.ticket.reference}.pdf", ContentFile(pdf), save=False
        )
        complaint.deadlock_letter_at = now
        complaint.save(update_fields=["deadlock_letter", "deadlock_letter_at"])
        _event(complaint.ticket, kind="DEADLOCK_LETTER", actor=None, now=now, note=reason)
        address = _customer_email(complaint.ticket)
        if address:
            from django.core.mail import EmailMessage

            dossier = documents.case_dossier_pdf(ticket=complaint.ticket, now=now)
            mail = EmailMessage(
                f"[{complaint.ticket.reference}] Réponse définitive à votre réclamation",
                "Vous trouverez ci-joint notre réponse définitive et le dossier de votre réclamation.",
                None,
                [address],
            )
            mail.attach(f"lettre-{complaint.ticket.reference}.pdf", pdf, "application/pdf")
            mail.attach(f"dossier-{complaint.ticket.reference}.pdf", dossier, "application/pdf")
            transaction.on_commit(mail.send)
    return complaint


def ombudsman_referral_record(
    *,
    complaint: Complaint,
    reference: str,
    decision: str,
    remedy_amount: Decimal | None,
    actor: User,
    now: datetime,
    remedy_days: int = 30,
) -> Complaint:
    with transaction.atomic():
        complaint = Complaint.objects.select_for_update().get(pk=complaint.pk)
        complaint.ombudsman_reference = reference
        complaint.ombudsman_decision = decision
        complaint.ombudsman_remedy_amount = remedy_amount
        complaint.remedy_due_at = now + timedelta(days=remedy_days)
        complaint.save()
        _event(
            complaint.ticket,
            kind="OMBUDSMAN",
            actor=actor,
            now=now,
            new=reference,
            note=f"{decision} {remedy_amount or ''}".strip(),
        )
    return complaint


def ombudsman_remedy_done(*, complaint_id: int, actor: User, now: datetime) -> Complaint:
    with transaction.atomic():
        complaint = (
            Complaint.objects.select_for_update().select_related("ticket").get(pk=complaint_id)
        )
        if complaint.remedy_due_at is None:
            raise TicketError("No ombudsman remedy is recorded for this complaint.")
        if complaint.remedy_done_at is None:
            complaint.remedy_done_at = now
            complaint.resolved = True
            complaint.save(update_fields=["remedy_done_at", "resolved"])
            _event(complaint.ticket, kind="REMEDY_DONE", actor=actor, now=now)
            from . import hooks

            for handler in hooks.remedy_handlers():
                handler(complaint=complaint, actor=actor, now=now)
    return complaint


def _open_complaint_on_account(ticket: Ticket) -> bool:
    if ticket.account_id is None:
        return Complaint.objects.filter(ticket=ticket, resolved=False).exists()
    return Complaint.objects.filter(ticket__account_id=ticket.account_id, resolved=False).exists()


def _survey_for(ticket: Ticket, *, now: datetime) -> Survey | None:
    """One survey per resolved ticket, never while a complaint is open."""
    if _open_complaint_on_account(ticket):
        _event(ticket, kind="SURVEY_SUPPRESSED", actor=None, now=now, note="open complaint")
        return None
    survey, created = Survey.objects.get_or_create(
        ticket=ticket, defaults={"created_at": now, "sent_at": now}
    )
    if created and _customer_email(ticket):
        from django.core import signing
        from django.core.mail import send_mail

        token = signing.dumps({"survey": survey.pk}, salt="survey")
        address = _customer_email(ticket)
        transaction.on_commit(
            lambda: send_mail(
                f"[{ticket.reference}] Votre avis compte / How did we do?",
                f"Deux questions, 30 secondes : /survey/{token}/",
                None,
                [address],
            )
        )
    return survey if created else None


class SurveyRefused(TicketError):
    pass


def survey_answer(*, token: str, csat: int, nps: int | None, comment: str, now: datetime) -> Survey:
    from django.core import signing

    try:
        data = signing.loads(token, salt="survey", max_age=60 * 60 * 24 * 60)
    except signing.BadSignature as exc:
        raise SurveyRefused("This survey link is not valid or has expired.") from exc
    if not 1 <= csat <= 5 or (nps is not None and not 0 <= nps <= 10):
        raise SurveyRefused("Answers are out of range.")
    with transaction.atomic():
        survey = Survey.objects.select_for_update().get(pk=data["survey"])
        if survey.answered_at:
            raise SurveyRefused("This survey has already been answered. Thank you!")
        survey.csat, survey.nps, survey.comment, survey.answered_at = csat, nps, comment[:2000], now
        survey.save()
    return survey


# --- Contact records: CDR and CSV ingestion ---
# The format is docs/telephony-cdr.md (checked by tickets.domain.contacts); the KPI
# definitions that read these rows are docs/kpi.md.

CONTACT_BATCH_MAX = 5000
CONTACT_SOURCES = ("CDR", "CSV")


class ContactBatchTooLarge(TicketError):
    pass


@dataclass(frozen=True)
class IngestResult:
    """`errors` and `warnings` are {"index", "field", "message"} dicts; `index` is the
    record's position in `rows`. A warning keeps the record (an unknown agent or ticket
    is left unlinked); an error rejects it."""

    inserted: int
    duplicates: int
    rejected: int
    errors: list[dict]
    warnings: list[dict]


# Column name and PostgreSQL array type, in the order of the INSERT.
_CONTACT_COLUMNS = (
    ("ticket_id", "bigint"),
    ("account_id", "bigint"),
    ("agent_id", "bigint"),
    ("channel", "text"),
    ("queue", "text"),
    ("inbound", "boolean"),
    ("external_id", "text"),
    ("offered_at", "timestamptz"),
    ("answered_at", "timestamptz"),
    ("ended_at", "timestamptz"),
    ("wrap_up_ended_at", "timestamptz"),
    ("talk_seconds", "integer"),
    ("hold_seconds", "integer"),
    ("wrap_seconds", "integer"),
    ("abandoned", "boolean"),
    ("first_contact", "boolean"),
    ("resolved_first_contact", "boolean"),
    ("outcome", "text"),
    ("source", "text"),
    ("customer_key", "text"),
    ("issue_key", "text"),
)


def _contacts_insert(values: list[dict]) -> set[tuple[str, str]]:
    """One INSERT for the whole batch, whatever its size: one array per column,
    unnested. ON CONFLICT DO NOTHING skips a record already stored (the unique
    channel + external_id), also one inserted a moment ago by a concurrent request,
    so a re-sent CDR changes nothing. Returns the (channel, external_id) written."""
    from django.db import connection

    if not values:
        return set()
    table = connection.ops.quote_name(Contact._meta.db_table)
    names = ", ".join(connection.ops.quote_name(column) for column, _ in _CONTACT_COLUMNS)
    arrays = ", ".join(f"%s::{kind}[]" for _, kind in _CONTACT_COLUMNS)
    params = [[value[column] for value in values] for column, _ in _CONTACT_COLUMNS]
    sql = (
        f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) "  # noqa: S608 (names are ours)
        "ON CONFLICT DO NOTHING RETURNING channel, external_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return set(cursor.fetchall())


def contact_finish(
    *,
    contact_id: int,
    agent: User | None,
    answered_at: datetime | None,
    ended_at: datetime,
    talk_seconds: int,
) -> bool:
    """Complete a contact recorded when it was offered (a live chat handed over by the
    bot): who answered, when, and when it ended. A contact already ended is left as it
    is, so finishing twice changes nothing. True when this call wrote it."""
    if talk_seconds < 0:
        raise TicketError("Talk time cannot be negative.")
    return bool(
        Contact.objects.filter(pk=contact_id, ended_at__isnull=True).update(
            agent=agent, answered_at=answered_at, ended_at=ended_at, talk_seconds=talk_seconds
        )
    )


def contacts_ingest(*, rows: list, source: str, now: datetime) -> IngestResult:
    """Store a batch of contact records from the telephony platform (source "CDR", typed
    JSON values) or a CSV file (source "CSV", text cells), at most CONTACT_BATCH_MAX.

    Good records are kept and bad ones reported, each with its fields: a platform cannot
    fix one bad record by resending the batch, and resending is harmless. Idempotent on
    (channel, external_id): a record already stored, or repeated in the batch, counts as
    a duplicate and is not rewritten. The queries do not depend on the batch's size:
    one per lookup (tickets, agents, accounts by phone) and one INSERT.
    """
    if source not in CONTACT_SOURCES:
        raise TicketError(f"Unknown contact source {source!r}.")
    if len(rows) > CONTACT_BATCH_MAX:
        raise ContactBatchTooLarge(
            f"At most {CONTACT_BATCH_MAX} records per batch ({len(rows)} sent)."
        )
    errors: list[dict] = []
    warnings: list[dict] = []
    parsed: list[tuple[int, contact_rules.ContactRow]] = []
    seen: set[tuple[str, str]] = set()
    repeated = 0
    for index, data in enumerate(rows):
        row, problems = contact_rules.contact_row_parse(data, now=now, text=source == "CSV")
        if row is None:
            errors.extend({"index": index, "field": f, "message": m} for f, m in problems)
            continue
        if row.key in seen:
            repeated += 1
            continue
        seen.add(row.key)
        parsed.append((index, row))
    rejected = len({error["index"] for error in errors})

    with transaction.atomic():
        references = {row.ticket_reference for _, row in parsed if row.ticket_reference}
        emails = {row.agent_email for _, row in parsed if row.agent_email}
        tickets = (
            {
                reference: (pk, account_id, category)
                for reference, pk, account_id, category in Ticket.objects.filter(
                    reference__in=references
                ).values_list("reference", "pk", "account_id", "category")
            }
            if references
            else {}
        )
        agents = account_selectors.staff_ids_by_email(emails=list(emails)) if emails else {}
        phones = {row.caller for _, row in parsed if row.caller}
        accounts = account_selectors.account_ids_by_phone(phones=list(phones)) if phones else {}

        values: list[dict] = []
        keys: list[tuple[str, str]] = []
        for index, row in parsed:
            ticket_id = account_id = None
            category = row.category
            if row.ticket_reference:
                if row.ticket_reference in tickets:
                    ticket_id, account_id, ticket_category = tickets[row.ticket_reference]
                    category = ticket_category
                else:
                    warnings.append(
                        {"index": index, "field": "ticket_reference", "message": "Unknown ticket."}
                    )
            # A linked ticket names its customer better than a phone number does.
            if account_id is None and row.caller:
                account_id = accounts.get(row.caller)
            agent_id = agents.get(row.agent_email) if row.agent_email else None
            if row.agent_email and agent_id is None:
                warnings.append(
                    {"index": index, "field": "agent_email", "message": "No active staff member."}
                )
            keys.append(row.key)
            values.append(
                {
                    "ticket_id": ticket_id,
                    "account_id": account_id,
                    "agent_id": agent_id,
                    "channel": row.channel,
                    "queue": row.queue,
                    "inbound": row.inbound,
                    "external_id": row.external_id,
                    "offered_at": row.offered_at,
                    "answered_at": row.answered_at,
                    "ended_at": row.ended_at,
                    "wrap_up_ended_at": row.wrap_up_ended_at,
                    "talk_seconds": row.talk_seconds,
                    "hold_seconds": row.hold_seconds,
                    "wrap_seconds": row.wrap_seconds,
                    "abandoned": row.abandoned,
                    "first_contact": row.first_contact,
                    "resolved_first_contact": row.resolved_first_contact,
                    "outcome": row.outcome,
                    "source": source,
                    "customer_key": contact_rules.customer_key(
                        account_id=account_id, contact=row.caller
                    ),
                    "issue_key": contact_rules.issue_key(category=category, queue=row.queue),
                }
            )
        written = _contacts_insert(values)
    # A duplicate was linked when it was first stored; its warnings are not news.
    kept = {index for (index, _), key in zip(parsed, keys, strict=True) if key in written}
    return IngestResult(
        inserted=len(written),
        duplicates=len(values) - len(written) + repeated,
        rejected=rejected,
        errors=errors,
        warnings=[warning for warning in warnings if warning["index"] in kept],
    )
