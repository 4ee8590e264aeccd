"""Tariff switching: the open subscription ends the day the new one starts.

The supply point row is locked first, so two switches of one supply point queue and the
second sees the first's result; the exclusion constraint on subscriptions remains the
last word on overlaps."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.domain import member_can
from accounts.models import AccountMembership, AccountType, AuditChannel, SupplyPoint, User
from accounts.services import audit_record
from billing.models import Tariff, TariffSubscription
from billing.selectors.account_money import account_notify_emails

SWITCH_MAX_DAYS_AHEAD = 60
SWITCH_PERMISSION = "edit_account"


class SwitchRefused(Exception):
    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class SwitchNotAllowed(SwitchRefused):
    pass


def switch_window(today: date) -> tuple[date, date]:
    """The first and last day a switch may take effect: tomorrow to 60 days ahead."""
    return today + timedelta(days=1), today + timedelta(days=SWITCH_MAX_DAYS_AHEAD)


def _check_actor(actor: User | None, account_id: int) -> str:
    if actor is None:
        return AuditChannel.SYSTEM
    if actor.is_staff_role:
        return AuditChannel.CONSOLE
    role = (
        AccountMembership.objects.filter(user=actor, account_id=account_id)
        .values_list("role", flat=True)
        .first()
    )
    if role is None or not member_can(role, SWITCH_PERMISSION):
        raise SwitchNotAllowed(_("Votre rôle sur ce compte ne permet pas de changer d'offre."))
    return AuditChannel.PORTAL


def tariff_switch(
    *,
    supply_point: SupplyPoint,
    tariff: Tariff,
    effective: date,
    now: datetime,
    actor: User | None,
) -> TariffSubscription:
    """Move `supply_point` to `tariff` from `effective` (inclusive)."""
    today = timezone.localtime(now).date()
    earliest, latest = switch_window(today)
    if not earliest <= effective <= latest:
        raise SwitchRefused(
            _("La date d'effet doit être comprise entre le %(earliest)s et le %(latest)s.")
            % {"earliest": f"{earliest:%d/%m/%Y}", "latest": f"{latest:%d/%m/%Y}"},
            field="effective",
        )
    with transaction.atomic():
        point = (
            SupplyPoint.objects.select_for_update()
            .select_related("premise__account")
            .get(pk=supply_point.pk)
        )
        account = point.premise.account
        channel = _check_actor(actor, account.pk)
        if not tariff.available or tariff.for_business != (account.type == AccountType.BUSINESS):
            raise SwitchRefused(_("Cette offre n'est pas proposée pour ce compte."), field="tariff")
        current = (
            TariffSubscription.objects.filter(supply_point=point, end__isnull=True)
            .select_related("tariff")
            .first()
        )
        if current is None:
            raise SwitchRefused(_("Aucune offre en cours sur ce point de livraison."))
        if current.tariff_id == tariff.pk:
            raise SwitchRefused(_("Vous êtes déjà sur cette offre."), field="tariff")
        if effective <= current.start:
            raise SwitchRefused(
                _("La date d'effet doit suivre le début de l'offre actuelle (%(start)s).")
                % {"start": f"{current.start:%d/%m/%Y}"},
                field="effective",
            )
        try:
            with transaction.atomic():
                current.end = effective
                current.save(update_fields=["end"])
                new = TariffSubscription.objects.create(
                    supply_point=point,
                    tariff=tariff,
                    start=effective,
                    end=None,
                    created_at=now,
                    created_by=actor,
                )
        except IntegrityError as exc:
            raise SwitchRefused(
                _("Cette date chevauche une autre période d'abonnement."), field="effective"
            ) from exc
        audit_record(
            account=account,
            actor=actor,
            channel=channel,
            obj=point,
            changes={
                "tariff": (
                    f"{current.tariff.code} ({current.tariff.name})",
                    f"{tariff.code} ({tariff.name}) au {effective.isoformat()}",
                )
            },
            now=now,
        )
        addresses = set(account_notify_emails(account_id=account.pk))
        if actor is not None and not actor.is_staff_role and actor.email:
            addresses.add(actor.email)
        if addresses:
            to = sorted(addresses)
            subject = f"Changement d'offre confirmé : {tariff.name}"
            text = (
                f"Bonjour,\n\nVotre point de livraison {point.identifier} passera de "
                f"l'offre « {current.tariff.name} » à l'offre « {tariff.name} » le "
                f"{effective:%d/%m/%Y}. Votre offre actuelle s'applique jusqu'à la veille.\n\n"
                "Power Next"
            )
            transaction.on_commit(lambda: send_mail(subject, text, None, to))
    return new
