"""Who hears about an incident, on which channel, once.

An update is fanned out into one Notification row per destination (unique per
update, channel and destination), then delivered by a sweep that claims rows with
SKIP LOCKED and marks them SENDING before sending. A worker that dies mid-send
leaves the row SENDING: at most once, never twice. Priority-register customers are
queued and delivered first; those no message reaches go on the agents' call list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.company import EMERGENCY_PHONE
from accounts.domain import phone_normalise
from accounts.models import Account, Premise
from accounts.selectors import parameter_get
from metering.headend import sms_get
from tickets.selectors import accounts_with_open_complaint

from .. import selectors
from ..models import (
    CallListEntry,
    DeliveryStatus,
    Incident,
    Interruption,
    Notification,
    OutageFeedback,
    OutageReport,
    PublicUpdate,
    Subscription,
)
from . import InvalidInput, NotAllowed

FEEDBACK_SALT = "outage-feedback"
UNSUBSCRIBE_SALT = "outage-unsubscribe"
PHONE = re.compile(r"^\+?\d{9,15}$")
MAX_ATTEMPTS = 3
RETRY_AFTER = timedelta(minutes=5)


# --- Subscriptions -------------------------------------------------------------------


def subscription_create(
    *,
    channel: str,
    destination: str,
    now: datetime,
    postcode: str = "",
    premise: Premise | None = None,
    account: Account | None = None,
) -> Subscription:
    """Subscribe a phone or an address to a postcode's or a premise's updates;
    subscribing twice keeps one subscription (and revives a cancelled one)."""
    errors: dict[str, str] = {}
    destination = destination.strip()
    if channel == "EMAIL":
        try:
            validate_email(destination)
        except ValidationError:
            errors["destination"] = _("Saisissez une adresse e-mail valide.")
        destination = destination.lower()
    elif channel == "SMS":
        destination = phone_normalise(destination)
        if not PHONE.match(destination):
            errors["destination"] = _("Saisissez un numéro de mobile valide.")
    else:
        errors["channel"] = _("Choisissez SMS ou e-mail.")
    if premise is not None:
        if account is None or premise.account_id != account.pk:
            errors["premise"] = _("Ce logement n'est pas rattaché à votre compte.")
        postcode = ""
    elif not re.match(r"^\d{5}$", postcode.strip()):
        errors["postcode"] = _("Saisissez un code postal à 5 chiffres.")
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        subscription, created = Subscription.objects.get_or_create(
            channel=channel,
            destination=destination,
            postcode=postcode.strip(),
            premise=premise,
            defaults={"account": account, "created_at": now},
        )
        if not created and not subscription.active:
            subscription.active = True
            subscription.save(update_fields=["active"])
    return subscription


def unsubscribe_token(subscription: Subscription | int) -> str:
    pk = subscription if isinstance(subscription, int) else subscription.pk
    return signing.dumps({"s": pk}, salt=UNSUBSCRIBE_SALT)


def subscription_cancel(*, token: str) -> Subscription:
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature as exc:
        raise NotAllowed(_("Ce lien de désabonnement n'est pas valide.")) from exc
    subscription = Subscription.objects.filter(pk=data["s"]).first()
    if subscription is None:
        raise NotAllowed(_("Cet abonnement n'existe plus."))
    subscription.active = False
    subscription.save(update_fields=["active"])
    return subscription


# --- Fan-out -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Recipient:
    key: str
    channel: str
    destination: str
    account_id: int | None
    language: str
    priority: bool


def _account_recipients(incident: Incident) -> tuple[list[_Recipient], list[tuple[int, str]]]:
    """Affected accounts on their chosen outage channel; the priority ones that
    have no usable channel come back separately, for the call list."""
    if incident.status == "PLANNED":
        # Nobody is off yet: the notice goes to everyone the works will cut.
        points = selectors.supply_points_in(postcodes=incident.postcodes)
        ids = {p["premise__account_id"] for p in points}
        priority_ids = {p["premise__account_id"] for p in points if p["priority"]}
    else:
        affected = Interruption.objects.filter(incident=incident).values("account_id")
        reported = OutageReport.objects.filter(incident=incident, account__isnull=False).values(
            "account_id"
        )
        ids = set(affected.values_list("account_id", flat=True)) | set(
            reported.values_list("account_id", flat=True)
        )
        priority_ids = set(
            Interruption.objects.filter(incident=incident, priority=True).values_list(
                "account_id", flat=True
            )
        )
    accounts = Account.objects.filter(pk__in=ids, status="ACTIVE").prefetch_related(
        "memberships__user"
    )
    recipients, unreachable = [], []
    for account in accounts:
        priority = account.pk in priority_ids
        holder = next(
            (m.user for m in account.memberships.all() if m.role in ("HOLDER", "OWNER")), None
        )
        if account.notify_outages == "SMS" and account.phone:
            recipients.append(
                _Recipient(
                    f"acct:{account.pk}",
                    "SMS",
                    account.phone,
                    account.pk,
                    account.language,
                    priority,
                )
            )
        elif account.notify_outages == "EMAIL" and holder and holder.email:
            recipients.append(
                _Recipient(
                    f"acct:{account.pk}",
                    "EMAIL",
                    holder.email.lower(),
                    account.pk,
                    account.language,
                    priority,
                )
            )
        elif priority:
            unreachable.append((account.pk, _("aucun canal d'alerte utilisable")))
    return recipients, unreachable


def _other_recipients(incident: Incident) -> list[_Recipient]:
    found = []
    subs = Subscription.objects.filter(active=True).filter(
        Q(postcode__in=incident.postcodes)
        | Q(
            premise_id__in=Interruption.objects.filter(incident=incident).values(
                "supply_point__premise_id"
            )
        )
    )
    for sub in subs:
        found.append(
            _Recipient(f"sub:{sub.pk}", sub.channel, sub.destination, sub.account_id, "fr", False)
        )
    for phone in (
        OutageReport.objects.filter(incident=incident, account__isnull=True)
        .exclude(phone="")
        .values_list("phone", flat=True)
        .distinct()
    ):
        found.append(_Recipient(f"rep:{phone}", "SMS", phone, None, "fr", False))
    return found


def update_fan_out(*, update_id: int, now: datetime) -> int:
    """Queue one notification per destination for an update; a replay adds none."""
    with transaction.atomic():
        update = (
            # Only the update row: a lock on its incident (held by a publisher or a
            # review) must not make every sweep skip this update.
            PublicUpdate.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("incident")
            .filter(pk=update_id, fanned_out_at__isnull=True)
            .first()
        )
        if update is None:
            return 0
        incident = update.incident
        accounts, unreachable = _account_recipients(incident)
        head_start = timedelta(0)
        if update.kind == "PLANNED":
            # Priority customers hear about planned works a day before the others.
            head_start = timedelta(
                hours=int(parameter_get(key="outage_planned_priority_head_start_hours"))
            )
        rows, seen = [], set()
        for r in sorted([*accounts, *_other_recipients(incident)], key=lambda r: not r.priority):
            if (r.channel, r.destination) in seen:
                continue
            seen.add((r.channel, r.destination))
            rows.append(
                Notification(
                    incident=incident,
                    update=update,
                    recipient_key=r.key,
                    account_id=r.account_id,
                    channel=r.channel,
                    destination=r.destination,
                    language=r.language,
                    priority=r.priority,
                    due_at=update.at if r.priority else update.at + head_start,
                )
            )
        Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
        for account_id, reason in unreachable:
            call_list_add(incident=incident, account_id=account_id, reason=reason, now=now)
        update.fanned_out_at = now
        update.save(update_fields=["fanned_out_at"])
    return len(rows)


def call_list_add(*, incident: Incident, account_id: int, reason: str, now: datetime) -> None:
    CallListEntry.objects.get_or_create(
        incident=incident, account_id=account_id, defaults={"reason": reason, "added_at": now}
    )


def call_list_done(*, entry_id: int, outcome: str, now: datetime, actor) -> CallListEntry:
    if not outcome.strip():
        raise InvalidInput({"outcome": _("Notez le résultat de l'appel.")})
    with transaction.atomic():
        entry = CallListEntry.objects.select_for_update().get(pk=entry_id)
        if entry.called_at is not None:
            raise NotAllowed(_("Cet appel est déjà noté."))
        entry.called_at, entry.called_by, entry.outcome = now, actor, outcome.strip()[:200]
        entry.save(update_fields=["called_at", "called_by", "outcome"])
    return entry


# --- Delivery ------------------------------------------------------------------------


def feedback_token(notification: Notification) -> str:
    return signing.dumps({"n": notification.pk}, salt=FEEDBACK_SALT)


def _body(notification: Notification, update: PublicUpdate, *, with_survey: bool) -> str:
    incident = update.incident
    with translation.override(notification.language or "fr"):
        parts = [f"Power Next – {incident.reference}", update.message]
        if update.kind != "RESTORED" and incident.etr:
            parts.append(
                _("Rétablissement estimé : %(at)s") % {"at": selectors.local_time(incident.etr)}
            )
        parts.append(_("Suivi : /outages/%(ref)s/") % {"ref": incident.reference})
        if with_survey:
            parts.append(
                _("Votre avis en 1 question : /outages/feedback/%(token)s/")
                % {"token": feedback_token(notification)}
            )
        if update.kind != "RESTORED":
            parts.append(
                _("Danger (fumée, étincelles, câble à terre) : %(phone)s")
                % {"phone": EMERGENCY_PHONE}
            )
        if notification.recipient_key.startswith("sub:"):
            # Someone who subscribed can stop it from the message itself.
            token = signing.dumps({"s": int(notification.recipient_key[4:])}, salt=UNSUBSCRIBE_SALT)
            parts.append(_("Se désabonner : /outages/unsubscribe/%(token)s/") % {"token": token})
    return "\n".join(parts)


@dataclass
class DeliveryResult:
    sent: int = 0
    failed: int = 0


def notifications_deliver(*, now: datetime, batch: int = 200) -> DeliveryResult:
    """Send what is due, priority first. Claimed rows are committed as SENDING before
    any message leaves, so a concurrent sweep cannot pick them up again."""
    result = DeliveryResult()
    sms = sms_get()
    while True:
        with transaction.atomic():
            claimed = list(
                Notification.objects.select_for_update(skip_locked=True)
                .filter(status=DeliveryStatus.PENDING, due_at__lte=now)
                .order_by("-priority", "due_at", "pk")[:batch]
            )
            Notification.objects.filter(pk__in=[n.pk for n in claimed]).update(
                status=DeliveryStatus.SENDING
            )
        if not claimed:
            break
        updates = {
            u.pk: u
            for u in PublicUpdate.objects.select_related("incident").filter(
                pk__in={n.update_id for n in claimed}
            )
        }
        complaining = accounts_with_open_complaint(
            account_ids=[n.account_id for n in claimed if n.account_id]
        )
        for notification in claimed:
            update = updates[notification.update_id]
            # No survey while a complaint is open (the rule of 3/8).
            with_survey = update.kind == "RESTORED" and notification.account_id not in complaining
            body = _body(notification, update, with_survey=with_survey)
            try:
                if notification.channel == "SMS":
                    sms.send(to=notification.destination, body=body)
                else:
                    send_mail(
                        f"Power Next – {update.incident.reference}",
                        body,
                        None,
                        [notification.destination],
                    )
            # Whatever the gateway raises, this message is tried again later (it was
            # not sent, so a retry cannot duplicate it) and the others still go out.
            except Exception as exc:  # noqa: BLE001
                attempt = notification.attempts + 1
                retry = attempt < MAX_ATTEMPTS
                Notification.objects.filter(pk=notification.pk).update(
                    status=DeliveryStatus.PENDING if retry else DeliveryStatus.FAILED,
                    attempts=attempt,
                    due_at=now + RETRY_AFTER * attempt if retry else notification.due_at,
                    error=str(exc)[:200],
                )
                result.failed += 1
                # A priority customer is phoned at the first failure, not after retries.
                if notification.priority and notification.account_id:
                    call_list_add(
                        incident=update.incident,
                        account_id=notification.account_id,
                        reason=_("message non délivré (%(channel)s)")
                        % {"channel": notification.channel},
                        now=now,
                    )
                continue
            Notification.objects.filter(pk=notification.pk).update(
                status=DeliveryStatus.SENT, attempts=notification.attempts + 1, sent_at=now
            )
            result.sent += 1
        if len(claimed) < batch:
            break
    return result


def feedback_answer(*, token: str, csat: int, comment: str, now: datetime) -> OutageFeedback:
    try:
        data = signing.loads(token, salt=FEEDBACK_SALT, max_age=60 * 60 * 24 * 30)
    except signing.BadSignature as exc:
        raise NotAllowed(_("Ce lien n'est pas valide ou a expiré.")) from exc
    if not 1 <= csat <= 5:
        raise InvalidInput({"csat": _("Choisissez une note de 1 à 5.")})
    with transaction.atomic():
        notification = Notification.objects.select_for_update().filter(pk=data["n"]).first()
        if notification is None:
            raise NotAllowed(_("Ce lien n'est pas valide ou a expiré."))
        feedback, created = OutageFeedback.objects.get_or_create(
            notification=notification,
            defaults={"csat": csat, "comment": comment[:2000], "answered_at": now},
        )
        if not created:
            raise NotAllowed(_("Vous avez déjà répondu. Merci !"))
    return feedback
