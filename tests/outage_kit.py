"""Builders shared by the outage tests: customers at a postcode, crews, incidents."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from decimal import Decimal

from accounts.models import (
    Account,
    AccountMembership,
    Premise,
    PriorityRegistration,
    SupplyPoint,
    User,
)
from outages.models import Crew, ServiceArea

from .factories import AccountFactory, UserFactory

_prm = itertools.count(10_000_000_000_000)


def customer(
    *,
    postcode: str = "75015",
    area_class: str = "URBAN",
    kva: str = "6",
    priority: bool = False,
    notify: str = "SMS",
    phone: str | None = None,
    market: str = "FR_PRM",
    now: datetime | None = None,
) -> tuple[User, Account, Premise, SupplyPoint]:
    """A residential customer with one premise and one supply point."""
    user = UserFactory()
    n = next(_prm)
    account = AccountFactory(
        phone=phone if phone is not None else f"+336{n % 100_000_000:08d}",
        notify_outages=notify,
    )
    AccountMembership.objects.create(account=account, user=user, role="HOLDER")
    premise = Premise.objects.create(
        account=account,
        address=f"{n % 200} rue de la Paix",
        postcode=postcode,
        city="Ville",
        area_class=area_class,
    )
    point = SupplyPoint.objects.create(
        premise=premise, market=market, identifier=f"{n:014d}", subscribed_kva=Decimal(kva)
    )
    if priority:
        PriorityRegistration.objects.create(
            account=account,
            medical_equipment=True,
            dependency_level="CRITICAL",
            backup_autonomy_hours=4,
            consent_recorded_at=now or datetime(2026, 1, 1, tzinfo=None).astimezone(),
            review_date=date(2027, 12, 31),
        )
    return user, account, premise, point


def crew(name: str = "Équipe Paris Sud", *members: User, area_codes: tuple[str, ...] = ()):
    c = Crew.objects.create(name=name, skills=["HTA", "BT"])
    if members:
        c.members.add(*members)
    if area_codes:
        c.areas.add(*ServiceArea.objects.filter(code__in=area_codes))
    return c
