"""Tariff switching: the yearly estimate against a hand-computed figure, the switch rules
(dates, overlaps, same tariff, roles), the audit entry and email, the three portal steps
behind a fresh second factor."""

from datetime import UTC, date, datetime
from decimal import Decimal as D
from itertools import count
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.access import STEP_UP_SESSION_KEY
from accounts.models import AccountType, AuditEntry, MemberRole, Role, SupplyPoint
from billing.models import Tariff, TariffSubscription, TariffVersion
from billing.selectors.account_money import tariff_comparison
from billing.services import switching

from .factories import AccountFactory, MembershipFactory, PremiseFactory

PARIS = ZoneInfo("Europe/Paris")
_prm = count(40000000000000)
VAT = D("0.2000")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def make_tariff(code, kind, *, business=False, standing, available=True, **rates) -> Tariff:
    tariff = Tariff.objects.create(
        code=code, name=f"Offre {code}", kind=kind, for_business=business, available=available
    )
    TariffVersion.objects.create(
        tariff=tariff,
        valid_from=date(2025, 1, 1),
        standing_per_day=D(standing),
        rate_base=D(rates["base"]) if "base" in rates else None,
        rate_hp=D(rates["hp"]) if "hp" in rates else None,
        rate_hc=D(rates["hc"]) if "hc" in rates else None,
        excise_per_kwh=D("0.03"),
        vat_standing=VAT,
        vat_energy=VAT,
    )
    return tariff


@pytest.fixture
def tariffs(db):
    return {
        "base": make_tariff("XBASE", "BASE", standing="0.50", base="0.20"),
        "hphc": make_tariff("XHPHC", "HPHC", standing="0.55", hp="0.21", hc="0.15"),
        "pro": make_tariff("XPRO", "BUSINESS", business=True, standing="0.90", base="0.15"),
        "old": make_tariff("XOLD", "BASE", standing="0.10", base="0.10", available=False),
    }


def add_point(account, tariff, start=date(2025, 1, 1)) -> SupplyPoint:
    point = SupplyPoint.objects.create(
        premise=PremiseFactory(account=account),
        market="FR_PRM",
        identifier=str(next(_prm)),
        subscribed_kva=D("9.0"),
    )
    TariffSubscription.objects.create(
        supply_point=point, tariff=tariff, start=start, created_at=local(2025, 1, 1)
    )
    return point


def fill(point, start: datetime, end: datetime, wh: int = 1000) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO metering_interval (supply_point_id, start, wh, quality) "
            "SELECT %s, g, %s, 0 FROM generate_series(%s::timestamptz, "
            "%s::timestamptz - interval '1 hour', interval '1 hour') AS g",
            [point.pk, wh, start, end],
        )


@pytest.fixture
def holder(make_user, tariffs):
    user = make_user(Role.CUSTOMER, email="switch@example.fr", totp=True)
    account = MembershipFactory(user=user, role=MemberRole.HOLDER).account
    point = add_point(account, tariffs["base"])
    return user, account, point


# --- The estimate ----------------------------------------------------------------


def test_the_yearly_estimate_matches_the_hand_computed_figure(holder, tariffs):
    _user, account, point = holder
    # 1 kWh every hour, from March 2025 to mid-April 2026: the comparison on 15 April
    # takes April 2025 to March 2026 only, 365 days and, with both clock changes inside,
    # 8760 hours: October 2025 has 745, March 2026 743.
    fill(point, local(2025, 3, 1), local(2026, 4, 15))
    comparison = tariff_comparison(
        account=account, supply_point_id=point.pk, today=date(2026, 4, 15)
    )
    months = {m.start: m for m in comparison.months}
    assert (comparison.period_start, comparison.period_end) == (date(2025, 4, 1), date(2026, 4, 1))
    assert months[date(2025, 10, 1)].kwh == D("745") and months[date(2026, 3, 1)].kwh == D("743")
    assert comparison.total_kwh == D("8760") and comparison.months_with_data == 12
    # Off-peak 22:00–06:00 is 8 hours a day; the lost hour (29 March, 02:00) and the
    # repeated one (26 October, 02:00) are both off-peak: 2920 kWh over the year.
    assert sum(m.hc_kwh for m in comparison.months) == D("2920")
    # Base: 365 × 0.50 = 182.50; 8760 × 0.20 = 1752.00; excise 8760 × 0.03 = 262.80;
    # net 2197.30; VAT 20 % = 439.46; gross 2636.76.
    current = comparison.current
    assert current.tariff == tariffs["base"]
    assert (current.totals.net, current.totals.vat, current.totals.gross) == (
        D("2197.30"),
        D("439.46"),
        D("2636.76"),
    )
    # HP/HC: 365 × 0.55 = 200.75; HP 5840 × 0.21 = 1226.40; HC 2920 × 0.15 = 438.00;
    # excise 262.80; net 2127.95; VAT 425.59; gross 2553.54: 83.22 a year cheaper.
    [hphc] = [e for e in comparison.alternatives if e.tariff == tariffs["hphc"]]
    assert hphc.totals.gross == D("2553.54")
    assert hphc.saving == D("83.22")
    codes = {e.tariff.code for e in comparison.estimates}
    assert "XPRO" not in codes and "XOLD" not in codes  # business-only, withdrawn


def test_a_business_account_compares_business_tariffs(make_user, tariffs):
    account = AccountFactory(type=AccountType.BUSINESS)
    point = add_point(account, tariffs["pro"])
    comparison = tariff_comparison(
        account=account, supply_point_id=point.pk, today=date(2026, 4, 15)
    )
    assert comparison.current.tariff == tariffs["pro"]
    assert {e.tariff.code for e in comparison.alternatives} & {"XBASE", "XHPHC"} == set()
    assert comparison.months_with_data == 0


def test_the_compare_page_shows_savings_and_assumptions_in_constant_queries(
    holder, login, django_assert_max_num_queries
):
    user, _account, point = holder
    fill(point, local(2025, 4, 1), local(2026, 4, 1))
    client = login(user, verified=True)
    url = reverse("portal_money:switch")
    with time_machine.travel(local(2026, 4, 15, 10), tick=False):
        with CaptureQueriesContext(connection) as small:
            response = client.get(url)
        for i in range(6):
            make_tariff(f"XMORE{i}", "BASE", standing="0.40", base="0.25")
        with django_assert_max_num_queries(len(small.captured_queries)):
            bigger = client.get(url)
    body = response.content.decode()
    assert response.status_code == 200
    assert "Économie : 83,22" in body.replace("\u202f", " ").replace("\xa0", " ")
    assert 'data-testid="assumptions"' in body and "22 h à 6 h" in body
    # The current tariff, the HP/HC one and the six new ones, each with its own link.
    assert bigger.content.decode().count(f"/portal/money/switch/{point.pk}/") >= 7


# --- The switch rules --------------------------------------------------------------


def switch(point, tariff, effective, *, at, actor):
    return switching.tariff_switch(
        supply_point=point, tariff=tariff, effective=effective, now=at, actor=actor
    )


def test_a_switch_ends_the_old_subscription_audits_and_emails(
    holder, tariffs, django_capture_on_commit_callbacks
):
    user, account, point = holder
    with django_capture_on_commit_callbacks(execute=True):
        new = switch(
            point, tariffs["hphc"], date(2026, 3, 29), at=local(2026, 3, 28, 12), actor=user
        )
    rows = list(
        TariffSubscription.objects.filter(supply_point=point).values_list(
            "tariff__code", "start", "end"
        )
    )
    assert rows == [
        ("XBASE", date(2025, 1, 1), date(2026, 3, 29)),
        ("XHPHC", date(2026, 3, 29), None),
    ]
    assert (new.created_by, new.created_at) == (user, local(2026, 3, 28, 12))
    entry = AuditEntry.objects.get(field="tariff")
    assert (entry.account, entry.actor, entry.channel) == (account, user, "PORTAL")
    assert (
        "XBASE" in entry.old_value
        and "XHPHC" in entry.new_value
        and "2026-03-29" in entry.new_value
    )
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["switch@example.fr"]
    assert "29/03/2026" in mail.outbox[0].body


@pytest.mark.parametrize(
    ("at", "effective", "ok"),
    [
        (local(2026, 3, 28, 12), date(2026, 3, 28), False),  # today
        (local(2026, 3, 28, 12), date(2026, 3, 1), False),  # in the past
        (local(2026, 3, 28, 12), date(2026, 5, 27), True),  # 60 days ahead
        (local(2026, 3, 28, 12), date(2026, 5, 28), False),  # 61 days ahead
        # 00:30 in Paris on 29 March (still 28 March in UTC): the 29th is today.
        (datetime(2026, 3, 28, 23, 30, tzinfo=UTC), date(2026, 3, 29), False),
        (datetime(2026, 3, 28, 23, 30, tzinfo=UTC), date(2026, 3, 30), True),
        # 00:30 on 25 October, the night the clocks go back.
        (datetime(2026, 10, 24, 22, 30, tzinfo=UTC), date(2026, 10, 25), False),
        (datetime(2026, 10, 24, 22, 30, tzinfo=UTC), date(2026, 10, 26), True),
    ],
)
def test_the_effective_date_is_tomorrow_to_60_days_in_paris(holder, tariffs, at, effective, ok):
    user, _account, point = holder
    if ok:
        assert switch(point, tariffs["hphc"], effective, at=at, actor=user).start == effective
    else:
        with pytest.raises(switching.SwitchRefused) as exc:
            switch(point, tariffs["hphc"], effective, at=at, actor=user)
        assert exc.value.field == "effective"
        assert TariffSubscription.objects.filter(supply_point=point).count() == 1
        assert not AuditEntry.objects.exists()


def test_a_date_before_the_current_subscription_start_is_refused(holder, tariffs):
    user, _account, point = holder
    switch(point, tariffs["hphc"], date(2026, 4, 20), at=local(2026, 4, 1, 9), actor=user)
    with pytest.raises(switching.SwitchRefused, match="suivre le début") as exc:
        switch(point, tariffs["base"], date(2026, 4, 10), at=local(2026, 4, 1, 9), actor=user)
    assert exc.value.field == "effective"
    assert TariffSubscription.objects.filter(supply_point=point).count() == 2


def test_the_same_tariff_is_refused(holder, tariffs):
    user, _account, point = holder
    with pytest.raises(switching.SwitchRefused, match="déjà sur cette offre"):
        switch(point, tariffs["base"], date(2026, 4, 10), at=local(2026, 4, 1, 9), actor=user)


def test_a_withdrawn_or_business_tariff_is_refused(holder, tariffs):
    user, _account, point = holder
    for tariff in (tariffs["old"], tariffs["pro"]):
        with pytest.raises(switching.SwitchRefused, match="pas proposée"):
            switch(point, tariff, date(2026, 4, 10), at=local(2026, 4, 1, 9), actor=user)


def test_overlapping_subscriptions_are_refused_by_the_database(holder, tariffs):
    _user, _account, point = holder
    with pytest.raises(IntegrityError), transaction.atomic():
        TariffSubscription.objects.create(
            supply_point=point,
            tariff=tariffs["hphc"],
            start=date(2026, 1, 1),
            created_at=local(2026, 1, 1),
        )


@pytest.mark.parametrize("role", [MemberRole.VIEWER, MemberRole.BILLING])
def test_members_who_may_not_edit_the_account_cannot_switch(holder, tariffs, make_user, role):
    _user, account, point = holder
    other = make_user(Role.CUSTOMER)
    MembershipFactory(user=other, account=account, role=role)
    with pytest.raises(switching.SwitchNotAllowed):
        switch(point, tariffs["hphc"], date(2026, 4, 10), at=local(2026, 4, 1, 9), actor=other)
    stranger = make_user(Role.CUSTOMER)
    with pytest.raises(switching.SwitchNotAllowed):
        switch(point, tariffs["hphc"], date(2026, 4, 10), at=local(2026, 4, 1, 9), actor=stranger)
    assert TariffSubscription.objects.filter(supply_point=point).count() == 1


# --- The three portal steps -------------------------------------------------------


def fresh_step_up(client, at: datetime) -> None:
    session = client.session
    session[STEP_UP_SESSION_KEY] = at.isoformat()
    session.save()


def test_the_portal_switch_in_three_steps(
    holder, tariffs, login, django_capture_on_commit_callbacks
):
    user, _account, point = holder
    client = login(user, verified=True)
    at = local(2026, 3, 28, 12)
    with time_machine.travel(at, tick=False):
        step1 = client.get(reverse("portal_money:switch"))
        assert step1.status_code == 200
        date_url = reverse("portal_money:switch_date", args=[point.pk, "XHPHC"])
        assert date_url in step1.content.decode()
        step2 = client.post(date_url, {"effective": "2026-03-29"})
        confirm_url = reverse("portal_money:switch_confirm", args=[point.pk, "XHPHC"])
        assert (
            step2.status_code == 302 and step2["Location"] == f"{confirm_url}?effective=2026-03-29"
        )
        fresh_step_up(client, at)
        step3 = client.get(step2["Location"])
        assert step3.status_code == 200 and "Offre XHPHC" in step3.content.decode()
        with django_capture_on_commit_callbacks(execute=True):
            done = client.post(confirm_url, {"effective": "2026-03-29"}, follow=True)
    assert "C&#x27;est fait" in done.content.decode()
    assert TariffSubscription.objects.get(supply_point=point, end=None).tariff == tariffs["hphc"]
    assert len(mail.outbox) == 1


def test_confirming_needs_a_fresh_second_factor(holder, tariffs, login):
    user, _account, point = holder
    client = login(user, verified=True)
    confirm_url = reverse("portal_money:switch_confirm", args=[point.pk, "XHPHC"])
    with time_machine.travel(local(2026, 3, 28, 12), tick=False):
        fresh_step_up(client, local(2026, 3, 28, 11, 30))  # 30 minutes old: stale
        for response in (
            client.get(f"{confirm_url}?effective=2026-03-29"),
            client.post(confirm_url, {"effective": "2026-03-29"}),
        ):
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("accounts:otp_step_up"))
    assert TariffSubscription.objects.filter(supply_point=point).count() == 1


@pytest.mark.parametrize(
    ("effective", "message"),
    [
        ("2026-03-28", "Choisissez une date entre"),
        ("2026-06-30", "Choisissez une date entre"),
        ("demain", "Saisissez une date valide"),
    ],
)
def test_a_bad_date_is_a_field_error_and_changes_nothing(
    holder, tariffs, login, effective, message
):
    user, _account, point = holder
    client = login(user, verified=True)
    with time_machine.travel(local(2026, 3, 28, 12), tick=False):
        response = client.post(
            reverse("portal_money:switch_date", args=[point.pk, "XHPHC"]), {"effective": effective}
        )
        assert response.status_code == 400
        assert message in " ".join(response.context["form"].errors["effective"])
        assert 'id="id_effective_error"' in response.content.decode()
        fresh_step_up(client, local(2026, 3, 28, 12))
        forced = client.post(
            reverse("portal_money:switch_confirm", args=[point.pk, "XHPHC"]),
            {"effective": effective},
        )
        assert forced.status_code == 400 and "effective" in forced.context["form"].errors
    assert TariffSubscription.objects.filter(supply_point=point).count() == 1


@pytest.mark.parametrize("role", [MemberRole.VIEWER, MemberRole.BILLING])
def test_viewer_and_billing_members_get_403(holder, tariffs, make_user, login, role):
    _user, account, point = holder
    other = make_user(Role.CUSTOMER, totp=True)
    MembershipFactory(user=other, account=account, role=role)
    client = login(other, verified=True)
    fresh_step_up(client, datetime.now(UTC))
    assert client.get(reverse("portal_money:switch")).status_code == 403
    assert (
        client.post(
            reverse("portal_money:switch_date", args=[point.pk, "XHPHC"]),
            {"effective": "2026-03-29"},
        ).status_code
        == 403
    )
    assert (
        client.post(
            reverse("portal_money:switch_confirm", args=[point.pk, "XHPHC"]),
            {"effective": "2026-03-29"},
        ).status_code
        == 403
    )
    assert TariffSubscription.objects.filter(supply_point=point).count() == 1


def test_another_customers_supply_point_is_a_404(holder, tariffs, login, make_user):
    user, _account, _point = holder
    foreign = add_point(AccountFactory(), tariffs["base"])
    client = login(user, verified=True)
    fresh_step_up(client, datetime.now(UTC))
    assert client.get(reverse("portal_money:switch") + f"?point={foreign.pk}").status_code == 404
    assert (
        client.get(reverse("portal_money:switch_date", args=[foreign.pk, "XHPHC"])).status_code
        == 404
    )
    response = client.post(
        reverse("portal_money:switch_confirm", args=[foreign.pk, "XHPHC"]),
        {"effective": "2099-01-01"},
    )
    assert response.status_code == 404
    assert foreign.identifier not in response.content.decode()
    assert TariffSubscription.objects.filter(supply_point=foreign).count() == 1


def test_anonymous_and_staff_cannot_switch(holder, client, make_user, login):
    _user, _account, point = holder
    url = reverse("portal_money:switch")
    response = client.get(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    response = client.post(reverse("portal_money:switch_confirm", args=[point.pk, "XHPHC"]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert login(make_user(Role.AGENT)).get(url).status_code == 403


def test_an_unknown_or_withdrawn_tariff_is_a_404(holder, login):
    user, _account, point = holder
    client = login(user, verified=True)
    for code in ("NOPE", "XOLD", "XPRO"):
        assert (
            client.get(reverse("portal_money:switch_date", args=[point.pk, code])).status_code
            == 404
        )
