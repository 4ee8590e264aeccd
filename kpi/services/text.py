"""Text analytics writes (docs/kpi-text.md): the incremental scan of ticket messages
into QA flags and callback promises, the sweep of promises that came due, and a
reviewer dismissing a flag. The rules themselves are kpi.domain.text."""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from tickets.models import Contact, Message, Visibility

from ..domain import text
from ..models import CallbackPromise, TextFlag, TextFlagKind, TextScanCursor
from . import AlreadyDone, InvalidInput, KpiError, NotAllowed
from .quality import REVIEWER_ROLES

CURSOR_NAME = "messages"
# A message is scanned once it is this old. Message ids are handed out when a row is
# inserted but become visible when its transaction commits, so a slow transaction can
# commit id 100 after id 101 was scanned; waiting this long lets it land before the
# cursor moves past it.
SCAN_LAG = timedelta(minutes=2)
# One run reads at most this many batches (the rest waits for the next run), so a
# backlog (the first run on a full database) never makes one task run for long.
MAX_BATCHES_PER_RUN = 20


class FlagNotFound(KpiError):
    """No flag has this id."""


@dataclass
class ScanReport:
    scanned: int = 0
    negative: int = 0
    forbidden: int = 0
    promises: int = 0
    last_message_id: int = 0


@dataclass
class SweepReport:
    kept: int = 0
    flagged: int = 0


# --- Which contact and agent a flag is about ---------------------------------------------


class _Contacts:
    """The handled contacts (an agent answered them) of some tickets, by ticket, in the
    order they were offered."""

    def __init__(self, ticket_ids: set[int]):
        self._by_ticket: dict[int, list[tuple[datetime, int, int]]] = defaultdict(list)
        rows = (
            Contact.objects.filter(
                ticket_id__in=ticket_ids,
                agent__isnull=False,
                answered_at__isnull=False,
                abandoned=False,
            )
            .order_by("offered_at", "pk")
            .values_list("ticket_id", "offered_at", "pk", "agent_id")
        )
        for ticket_id, offered_at, pk, agent_id in rows:
            self._by_ticket[ticket_id].append((offered_at, pk, agent_id))

    def for_message(self, ticket_id: int, at: datetime) -> tuple[int | None, int | None]:
        """(contact id, its agent id): the ticket's latest handled contact offered at
        or before `at` (the conversation the message belongs to), else its latest."""
        contacts = self._by_ticket.get(ticket_id)
        if not contacts:
            return None, None
        i = bisect_right([c[0] for c in contacts], at)
        _, pk, agent_id = contacts[i - 1] if i else contacts[-1]
        return pk, agent_id


# --- The scan -----------------------------------------------------------------------------


def text_scan(*, now: datetime, batch_size: int = 500) -> ScanReport:
    """Read the messages written since the last run (TextScanCursor) and older than
    SCAN_LAG: a customer's negative message and an agent's forbidden phrase become
    flags; an agent's callback promise becomes a CallbackPromise with its due instant.
    Internal notes are not read (the customer never saw them). Each batch locks the
    cursor row, so two scans at once take turns and read each message once; a re-run
    finds nothing new."""
    if batch_size < 1:
        raise InvalidInput({"batch_size": _("Indiquez un nombre supérieur à 0.")})
    TextScanCursor.objects.get_or_create(name=CURSOR_NAME, defaults={"updated_at": now})
    report = ScanReport()
    for _batch in range(MAX_BATCHES_PER_RUN):
        if not _scan_batch(now=now, batch_size=batch_size, report=report):
            break
    return report


def _scan_batch(*, now: datetime, batch_size: int, report: ScanReport) -> bool:
    """One batch in one transaction; False when there is nothing more to read now."""
    with transaction.atomic():
        cursor = TextScanCursor.objects.select_for_update().get(name=CURSOR_NAME)
        batch = list(
            Message.objects.filter(pk__gt=cursor.last_message_id)
            .order_by("pk")
            .only("pk", "ticket", "author", "from_customer", "visibility", "body", "created_at")[
                :batch_size
            ]
        )
        ready = []
        for message in batch:
            # Stop at the first message too young: a later id must not move the cursor
            # past one that is still settling.
            if message.created_at > now - SCAN_LAG:
                break
            ready.append(message)
        report.last_message_id = cursor.last_message_id
        if not ready:
            return False
        contacts = _Contacts({m.ticket_id for m in ready})
        flags: list[TextFlag] = []
        promises: list[CallbackPromise] = []
        for message in ready:
            found_flags, promise = _read(message, contacts, now)
            flags += found_flags
            if promise is not None:
                promises.append(promise)
        TextFlag.objects.bulk_create(flags, ignore_conflicts=True)
        CallbackPromise.objects.bulk_create(promises, ignore_conflicts=True)
        cursor.last_message_id = ready[-1].pk
        cursor.updated_at = now
        cursor.save(update_fields=["last_message_id", "updated_at"])
    report.scanned += len(ready)
    report.negative += sum(f.kind == TextFlagKind.NEGATIVE_SENTIMENT for f in flags)
    report.forbidden += sum(f.kind == TextFlagKind.FORBIDDEN_PHRASE for f in flags)
    report.promises += len(promises)
    report.last_message_id = ready[-1].pk
    return len(ready) == batch_size


def _read(
    message: Message, contacts: _Contacts, now: datetime
) -> tuple[list[TextFlag], CallbackPromise | None]:
    body = message.body or ""
    if not body.strip():
        return [], None
    if message.from_customer:
        mood = text.sentiment(body)
        if not mood.negative:
            return [], None
        contact_id, agent_id = contacts.for_message(message.ticket_id, message.created_at)
        flag = _flag(
            message,
            TextFlagKind.NEGATIVE_SENTIMENT,
            language=mood.language,
            score=mood.score,
            evidence=text.excerpt(body, mood.evidence),
            contact_id=contact_id,
            agent_id=agent_id,
            now=now,
        )
        return [flag], None
    if message.visibility != Visibility.PUBLIC:
        return [], None
    language = text.detect_language(body)
    contact_id, _agent = contacts.for_message(message.ticket_id, message.created_at)
    flags = []
    phrases = text.find_forbidden_phrases(body)
    if phrases:
        flags.append(
            _flag(
                message,
                TextFlagKind.FORBIDDEN_PHRASE,
                language=language,
                score=float(len(phrases)),
                evidence=text.excerpt(body, phrases),
                contact_id=contact_id,
                agent_id=message.author_id,
                now=now,
            )
        )
    promise = text.find_callback_promise(body, language)
    if promise is None:
        return flags, None
    return flags, CallbackPromise(
        message_id=message.pk,
        ticket_id=message.ticket_id,
        promised_at=message.created_at,
        due_at=text.callback_due_at(message.created_at, promise.deadline),
    )


def _flag(
    message: Message,
    kind: str,
    *,
    language: str,
    score: float,
    evidence: str,
    contact_id: int | None,
    agent_id: int | None,
    now: datetime,
) -> TextFlag:
    return TextFlag(
        message_id=message.pk,
        ticket_id=message.ticket_id,
        contact_id=contact_id,
        agent_id=agent_id,
        kind=kind,
        language=language,
        score=score,
        evidence=evidence[: TextFlag._meta.get_field("evidence").max_length],
        created_at=now,
    )


# --- The sweep of callback promises -------------------------------------------------------


def callback_promises_sweep(*, now: datetime, batch_size: int = 500) -> SweepReport:
    """Settle every promise due by `now`: kept when an outbound contact was logged on
    its ticket between the promise and its deadline (kept_at: that contact's offer),
    else an UNLOGGED_CALLBACK flag on the promising message (flagged_at). Only the
    window counts, not the run's time, so a late or repeated sweep settles a promise
    the same way; rows another sweep holds are skipped, and a settled promise is never
    read again."""
    if batch_size < 1:
        raise InvalidInput({"batch_size": _("Indiquez un nombre supérieur à 0.")})
    report = SweepReport()
    for _batch in range(MAX_BATCHES_PER_RUN):
        if not _sweep_batch(now=now, batch_size=batch_size, report=report):
            break
    return report


def _sweep_batch(*, now: datetime, batch_size: int, report: SweepReport) -> bool:
    with transaction.atomic():
        due = list(
            CallbackPromise.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("message")
            .filter(kept_at__isnull=True, flagged_at__isnull=True, due_at__lte=now)
            .order_by("due_at", "pk")[:batch_size]
        )
        if not due:
            return False
        calls: dict[int, list[datetime]] = defaultdict(list)
        for ticket_id, offered_at in (
            Contact.objects.filter(
                ticket_id__in={p.ticket_id for p in due},
                inbound=False,
                offered_at__gte=min(p.promised_at for p in due),
                offered_at__lte=max(p.due_at for p in due),
            )
            .order_by("offered_at")
            .values_list("ticket_id", "offered_at")
        ):
            calls[ticket_id].append(offered_at)
        contacts = _Contacts({p.ticket_id for p in due})
        flags = []
        for promise in due:
            kept = next(
                (t for t in calls[promise.ticket_id] if promise.promised_at <= t <= promise.due_at),
                None,
            )
            if kept is not None:
                promise.kept_at = kept
                report.kept += 1
                continue
            promise.flagged_at = now
            flags.append(_unlogged_flag(promise, contacts, now))
            report.flagged += 1
        TextFlag.objects.bulk_create(flags, ignore_conflicts=True)
        CallbackPromise.objects.bulk_update(due, ["kept_at", "flagged_at"])
    return len(due) == batch_size


def _unlogged_flag(promise: CallbackPromise, contacts: _Contacts, now: datetime) -> TextFlag:
    message = promise.message
    body = message.body or ""
    found = text.find_callback_promise(body)
    terms = [found.evidence, found.deadline.label] if found else []
    contact_id, _agent = contacts.for_message(promise.ticket_id, promise.promised_at)
    return _flag(
        message,
        TextFlagKind.UNLOGGED_CALLBACK,
        language=found.language if found else text.detect_language(body),
        # How late the callback was when the sweep noticed, in hours.
        score=round((now - promise.due_at).total_seconds() / 3600, 2),
        evidence=text.excerpt(body, terms),
        contact_id=contact_id,
        agent_id=message.author_id,
        now=now,
    )


# --- Reviewers ----------------------------------------------------------------------------


def text_flag_dismiss(*, flag_id: int, actor: User, now: datetime) -> TextFlag:
    """A reviewer decides a flag needs no review: it leaves the list (handled, no
    review). A flag already handled — dismissed, or its contact scored — is refused."""
    if not actor.is_active or actor.role not in REVIEWER_ROLES:
        raise NotAllowed(_("Réservé aux superviseurs et aux administrateurs."))
    with transaction.atomic():
        flag = TextFlag.objects.select_for_update().filter(pk=flag_id).first()
        if flag is None:
            raise FlagNotFound(_("Ce signalement n'existe pas."))
        if flag.handled_at is not None:
            raise AlreadyDone(_("Ce signalement a déjà été traité."))
        flag.handled_at = now
        flag.handled_by = actor
        flag.save(update_fields=["handled_at", "handled_by"])
    return flag
