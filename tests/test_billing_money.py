"""The customer's money: the Paiements page, payment plans and their daily sweep,
payment extensions, and energy-assistance credits (entry, cap, approval)."""

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from itertools import count
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AccountType, AuditEntry, MemberRole, Parameter, Role, SupplyPoint
from billing import domain
from billing.models import (
    ApprovalStatus,
    AssistanceCredit,
    EntryKind,
    Invoice,
    InvoiceEvent,
    LedgerEntry,
    PaymentExtension,
    PaymentPlan,
    PlanInstalment,
    PlanStatus,
)
from billing.selectors.ledger import account_balance
from billing.services import account_money as money
from billing.services.ledger import ledger_post
from billing.tasks import plan_instalments_sweep_task

from .factories import AccountFactory, MembershipFactory, PremiseFactory

PARIS = ZoneInfo("Europe/Paris")
_numbers = count(1)
_prm = count(30000000000000)


def local(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def point_of(account) -> SupplyPoint:
    return SupplyPoint.objects.create(
        premise=PremiseFactory(account=account),
        market="FR_PRM",
        identifier=str(next(_prm)),
        subscribed_kva=D("6.0"),
    )


def charge(account, amount, *, at=None, invoice=None) -> LedgerEntry:
    return ledger_post(
        account=account,
        kind=EntryKind.CHARGE,
        amount=D(amount),
        description="Facture",
        now=at or local(2026, 1, 5, 10),
        invoice=invoice,
    )


def issued_invoice(account, *, due: date, gross="120.00", book=True) -> Invoice:
    invoice = Invoice.objects.create(
        kind="INVOICE",
        number=f"FA-2026-{next(_numbers):06d}",
        status="ISSUED",
        account=account,
        supply_point=point_of(account),
        period_start=due - timedelta(days=45),
        period_end=due - timedelta(days=15),
        issue_date=due - timedelta(days=14),
        due_date=due,
        tariff_name="Tarif Base",
        total_gross=D(gross),
        created_at=local(2026, 1, 1, 8),
    )
    if book:
        charge(account, gross, invoice=invoice, at=local(2026, 1, 2, 8))
    return invoice


@pytest.fixture
def customer(make_user):
    user = make_user(Role.CUSTOMER, email="holder@example.fr")
    account = MembershipFactory(user=user, role=MemberRole.HOLDER).account
    return user, account


def member(make_user, account, role):
    user = make_user(Role.CUSTOMER)
    MembershipFactory(user=user, account=account, role=role)
    return user


# --- Payment plans: the service ---------------------------------------------------


NOW = local(2026, 1, 10, 9)


@pytest.mark.parametrize("n", [2, 13])
def test_a_plan_outside_3_to_12_instalments_is_refused(customer, n):
    _user, account = customer
    charge(account, "300.00")
    with pytest.raises(money.PlanRefused) as exc:
        money.payment_plan_create(
            account=account, count=n, first_due=date(2026, 1, 20), now=NOW, actor=None
        )
    assert exc.value.field == "count"
    assert not PaymentPlan.objects.exists()


def test_plan_bounds_follow_the_parameters(customer):
    _user, account = customer
    charge(account, "300.00")
    Parameter.objects.create(key="plan_max_instalments", value=6)
    with pytest.raises(money.PlanRefused, match="entre 3 et 6"):
        money.payment_plan_create(
            account=account, count=7, first_due=date(2026, 1, 20), now=NOW, actor=None
        )
    assert (
        money.payment_plan_create(
            account=account, count=6, first_due=date(2026, 1, 20), now=NOW, actor=None
        ).count
        == 6
    )


def test_the_schedule_spreads_the_balance_to_the_cent_monthly(customer):
    user, account = customer
    charge(account, "100.00")
    plan = money.payment_plan_create(
        account=account, count=3, first_due=date(2026, 1, 31), now=NOW, actor=user
    )
    rows = list(plan.instalments.values_list("position", "due_on", "amount"))
    assert rows == [
        (1, date(2026, 1, 31), D("33.34")),
        (2, date(2026, 2, 28), D("33.33")),
        (3, date(2026, 3, 31), D("33.33")),
    ]
    assert sum(r[2] for r in rows) == plan.total == D("100.00")
    event = AuditEntry.objects.get(object_type="paymentplan", object_id=str(plan.pk))
    assert (event.field, event.old_value, event.new_value, event.actor) == (
        "status",
        "",
        "ACTIVE",
        user,
    )


def test_nothing_owed_means_nothing_to_spread(customer):
    _user, account = customer
    with pytest.raises(money.PlanRefused, match="aucun montant"):
        money.payment_plan_create(
            account=account, count=3, first_due=date(2026, 1, 20), now=NOW, actor=None
        )


def test_the_first_instalment_date_must_be_in_the_next_month(customer):
    _user, account = customer
    charge(account, "90.00")
    for day in (date(2026, 1, 10), date(2026, 2, 11)):
        with pytest.raises(money.PlanRefused) as exc:
            money.payment_plan_create(account=account, count=3, first_due=day, now=NOW, actor=None)
        assert exc.value.field == "first_due"


def test_one_active_plan_per_account(customer):
    _user, account = customer
    charge(account, "90.00")
    money.payment_plan_create(
        account=account, count=3, first_due=date(2026, 1, 20), now=NOW, actor=None
    )
    with pytest.raises(money.PlanAlreadyActive):
        money.payment_plan_create(
            account=account, count=4, first_due=date(2026, 1, 20), now=NOW, actor=None
        )
    assert PaymentPlan.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_plans_leave_one_and_a_clear_error():
    account = AccountFactory()
    charge(account, "90.00")
    barrier = threading.Barrier(2)
    outcomes = []

    def worker():
        try:
            barrier.wait()
            money.payment_plan_create(
                account=account, count=3, first_due=date(2026, 1, 20), now=NOW, actor=None
            )
            outcomes.append("created")
        except money.PlanAlreadyActive:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["created", "refused"]
    assert PaymentPlan.objects.filter(account=account, status="ACTIVE").count() == 1
    assert PlanInstalment.objects.count() == 3


def test_payments_settle_instalments_oldest_first_and_complete_the_plan(customer):
    _user, account = customer
    charge(account, "100.00")
    plan = money.payment_plan_create(
        account=account, count=3, first_due=date(2026, 1, 20), now=NOW, actor=None
    )

    def paid():
        return [i.paid_at is not None for i in plan.instalments.order_by("position")]

    money.payment_record(
        account=account, amount=D("50"), now=local(2026, 1, 19, 8), reference="VIR-1"
    )
    assert paid() == [True, False, False]
    money.payment_record(
        account=account, amount=D("20"), now=local(2026, 2, 19, 8), reference="VIR-2"
    )
    assert paid() == [True, True, False]
    # A replayed bank line books nothing and settles nothing more.
    money.payment_record(
        account=account, amount=D("20"), now=local(2026, 2, 19, 9), reference="VIR-2"
    )
    assert LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).count() == 2
    money.payment_record(
        account=account, amount=D("30"), now=local(2026, 3, 19, 8), reference="VIR-3"
    )
    assert paid() == [True, True, True]
    plan.refresh_from_db()
    assert plan.status == PlanStatus.COMPLETED
    assert account_balance(account_id=account.pk) == D("0.00")
    assert AuditEntry.objects.filter(
        object_type="paymentplan", old_value="ACTIVE", new_value="COMPLETED"
    ).exists()


@pytest.mark.parametrize(
    ("amount", "reference", "field"),
    [("0", "VIR-9", "amount"), ("-5", "VIR-9", "amount"), ("5", " ", "reference")],
)
def test_a_bad_payment_is_refused_and_books_nothing(customer, amount, reference, field):
    _user, account = customer
    with pytest.raises(money.PaymentRefused) as exc:
        money.payment_record(account=account, amount=D(amount), now=NOW, reference=reference)
    assert exc.value.field == field
    assert not LedgerEntry.objects.exists()


def test_a_payment_reference_of_another_account_is_refused(customer):
    _user, account = customer
    money.payment_record(account=AccountFactory(), amount=D("5"), now=NOW, reference="VIR-7")
    with pytest.raises(money.PaymentRefused, match="déjà utilisée"):
        money.payment_record(account=account, amount=D("5"), now=NOW, reference="VIR-7")


@pytest.mark.parametrize(
    ("source", "target"),
    [(s, t) for s in PlanStatus.values for t in PlanStatus.values if s != t],
)
def test_plan_transitions_follow_the_table(customer, source, target):
    _user, account = customer
    plan = PaymentPlan.objects.create(
        account=account, total=D("30"), count=3, status=source, created_at=NOW
    )
    if target in money.PLAN_TRANSITIONS[source]:
        money._plan_transition(plan, target, now=NOW, actor=None)
        assert PaymentPlan.objects.get(pk=plan.pk).status == target
        assert AuditEntry.objects.filter(old_value=source, new_value=target).count() == 1
    else:
        with pytest.raises(domain.IllegalTransition):
            money._plan_transition(plan, target, now=NOW, actor=None)
        assert PaymentPlan.objects.get(pk=plan.pk).status == source
        assert not AuditEntry.objects.exists()


# --- The daily sweep --------------------------------------------------------------


def plan_due(account, first_due: date) -> PaymentPlan:
    charge(account, "90.00")
    return money.payment_plan_create(
        account=account,
        count=3,
        first_due=first_due,
        now=datetime.combine(first_due - timedelta(days=20), datetime.min.time(), PARIS),
        actor=None,
    )


def test_the_sweep_is_on_the_beat_schedule():
    from powernext.celery import app

    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert "billing.tasks.plan_instalments_sweep_task" in tasks


def test_reminder_three_days_before_with_the_local_day_on_the_dst_night(
    customer, django_capture_on_commit_callbacks
):
    user, account = customer
    plan = plan_due(account, date(2026, 4, 1))
    # 23:30 in Paris on 28 March (UTC+1): 4 days before the instalment, no reminder.
    with time_machine.travel(datetime(2026, 3, 28, 22, 30, tzinfo=UTC), tick=False):
        assert plan_instalments_sweep_task() == {"reminded": 0, "broken": 0}
    # 00:30 in Paris on 29 March, the night clocks go forward: 3 days before.
    with time_machine.travel(datetime(2026, 3, 28, 23, 30, tzinfo=UTC), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            assert plan_instalments_sweep_task() == {"reminded": 1, "broken": 0}
        with django_capture_on_commit_callbacks(execute=True):
            assert plan_instalments_sweep_task() == {"reminded": 0, "broken": 0}
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user.email]
    assert "01/04/2026" in mail.outbox[0].body
    first = plan.instalments.get(position=1)
    assert first.reminded_at == datetime(2026, 3, 28, 23, 30, tzinfo=UTC)
    assert plan.instalments.filter(reminded_at__isnull=False).count() == 1


def test_an_instalment_unpaid_seven_days_after_breaks_the_plan_once(
    customer, django_capture_on_commit_callbacks
):
    user, account = customer
    plan = plan_due(account, date(2026, 10, 18))
    PlanInstalment.objects.filter(plan=plan).update(reminded_at=local(2026, 10, 15, 7))
    # 23:30 on 24 October in Paris (UTC+2): six days late, the plan still runs.
    with time_machine.travel(datetime(2026, 10, 24, 21, 30, tzinfo=UTC), tick=False):
        assert plan_instalments_sweep_task() == {"reminded": 0, "broken": 0}
    # 00:30 on 25 October, the night clocks go back: seven days late.
    with time_machine.travel(datetime(2026, 10, 24, 22, 30, tzinfo=UTC), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            assert plan_instalments_sweep_task() == {"reminded": 0, "broken": 1}
        with django_capture_on_commit_callbacks(execute=True):
            assert plan_instalments_sweep_task() == {"reminded": 0, "broken": 0}
    plan.refresh_from_db()
    assert plan.status == PlanStatus.BROKEN
    missed = plan.instalments.get(position=1)
    assert missed.missed_at == datetime(2026, 10, 24, 22, 30, tzinfo=UTC)
    assert not plan.instalments.filter(position__gt=1, missed_at__isnull=False).exists()
    assert [m.subject for m in mail.outbox] == ["Votre échéancier de paiement est interrompu"]
    assert mail.outbox[0].to == [user.email]
    event = AuditEntry.objects.get(object_type="paymentplan", new_value="BROKEN")
    assert (event.old_value, event.actor, event.channel) == ("ACTIVE", None, "SYSTEM")


def test_an_open_billing_dispute_holds_the_broken_plan_until_it_closes(
    customer, django_capture_on_commit_callbacks
):
    from billing.models import Dispute
    from billing.services.disputes import dispute_open

    user, account = customer
    plan = plan_due(account, date(2026, 10, 18))
    invoice = issued_invoice(account, due=date(2026, 10, 20), book=False)
    dispute = dispute_open(
        account=account,
        requester=user,
        supply_point=invoice.supply_point,
        invoice=invoice,
        problem_date=invoice.issue_date,
        description="Index relevé faux sur la facture.",
        now=local(2026, 10, 12, 9),
    )
    with (
        time_machine.travel(local(2026, 10, 26, 7), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert plan_instalments_sweep_task() == {"reminded": 0, "broken": 0}
    assert PaymentPlan.objects.get(pk=plan.pk).status == PlanStatus.ACTIVE
    assert not plan.instalments.filter(missed_at__isnull=False).exists()
    Dispute.objects.filter(pk=dispute.pk).update(status="REJECTED")
    with (
        time_machine.travel(local(2026, 10, 27, 7), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert plan_instalments_sweep_task() == {"reminded": 0, "broken": 1}
    assert PaymentPlan.objects.get(pk=plan.pk).status == PlanStatus.BROKEN


def test_a_paid_instalment_is_neither_reminded_nor_missed(
    customer, django_capture_on_commit_callbacks
):
    _user, account = customer
    plan = plan_due(account, date(2026, 5, 10))
    money.payment_record(
        account=account, amount=D("30"), now=local(2026, 5, 1, 8), reference="CB-1"
    )
    with (
        time_machine.travel(local(2026, 5, 8, 7), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert plan_instalments_sweep_task() == {"reminded": 0, "broken": 0}
    with (
        time_machine.travel(local(2026, 5, 20, 7), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert plan_instalments_sweep_task() == {"reminded": 0, "broken": 0}
    assert PaymentPlan.objects.get(pk=plan.pk).status == PlanStatus.ACTIVE
    assert mail.outbox == []


# --- The Paiements page -----------------------------------------------------------


def test_money_page_shows_balance_history_and_plan(customer, login):
    user, account = customer
    invoice = issued_invoice(account, due=date(2026, 1, 20), gross="90.00")
    money.payment_plan_create(
        account=account, count=3, first_due=date(2026, 1, 20), now=NOW, actor=user
    )
    with time_machine.travel(local(2026, 1, 12, 9), tick=False):
        response = login(user).get(reverse("portal_money:home"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "90,00" in body and invoice.number in body
    assert 'data-testid="plan"' in body and body.count("30,00") >= 3
    assert "Paiements" in body and 'aria-current="page"' in body


def test_money_page_for_anonymous_staff_and_viewer(customer, client, make_user, login):
    _user, account = customer
    url = reverse("portal_money:home")
    response = client.get(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    viewer = member(make_user, account, MemberRole.VIEWER)
    assert login(viewer).get(url).status_code == 403
    agent = make_user(Role.AGENT)
    assert login(agent).get(url).status_code == 403
    billing = member(make_user, account, MemberRole.BILLING)
    assert login(billing).get(url).status_code == 200


def test_money_page_never_shows_another_customers_entries(customer, login):
    user, _account = customer
    other = AccountFactory()
    entry = charge(other, "77.77")
    body = login(user).get(reverse("portal_money:home")).content.decode()
    assert entry.txn_id not in body and "77,77" not in body


def test_money_page_queries_do_not_grow_with_history(
    customer, login, django_assert_max_num_queries
):
    user, account = customer
    client = login(user)
    url = reverse("portal_money:home")
    for _ in range(3):
        issued_invoice(account, due=date(2026, 1, 20))
    money.payment_plan_create(
        account=account, count=12, first_due=date(2026, 1, 20), now=NOW, actor=user
    )
    with time_machine.travel(local(2026, 1, 12, 9), tick=False):
        with CaptureQueriesContext(connection) as small:
            assert client.get(url).status_code == 200
        for _ in range(40):
            issued_invoice(account, due=date(2026, 1, 20))
        with django_assert_max_num_queries(len(small.captured_queries)):
            assert client.get(url).status_code == 200
    assert len(small.captured_queries) <= 16


# --- The plan in the portal -------------------------------------------------------


def test_the_customer_previews_then_confirms_a_plan(customer, login):
    user, account = customer
    charge(account, "100.00")
    client = login(user)
    url = reverse("portal_money:plan")
    with time_machine.travel(local(2026, 1, 10, 9), tick=False):
        preview = client.post(url, {"count": "3", "first_due": "2026-01-31", "action": "preview"})
        assert preview.status_code == 200
        assert 'data-testid="schedule"' in preview.content.decode()
        assert "33,34" in preview.content.decode()
        assert not PaymentPlan.objects.exists()
        done = client.post(url, {"count": "3", "first_due": "2026-01-31", "action": "confirm"})
    assert done.status_code == 302 and done["Location"] == reverse("portal_money:home")
    plan = PaymentPlan.objects.get(account=account)
    assert (plan.count, plan.total, plan.created_by) == (3, D("100.00"), user)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"count": "13", "first_due": "2026-01-31"}, "count"),
        ({"count": "3", "first_due": "2026-01-09"}, "first_due"),
        ({"count": "3", "first_due": "pas une date"}, "first_due"),
    ],
)
def test_a_bad_plan_request_shows_the_field_error_and_writes_nothing(customer, login, data, field):
    user, account = customer
    charge(account, "100.00")
    with time_machine.travel(local(2026, 1, 10, 9), tick=False):
        response = login(user).post(reverse("portal_money:plan"), {**data, "action": "confirm"})
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert f'id="id_{field}_error"' in response.content.decode()
    assert not PaymentPlan.objects.exists()


def test_a_second_plan_in_the_portal_is_a_clear_error(customer, login):
    user, account = customer
    charge(account, "100.00")
    money.payment_plan_create(
        account=account, count=3, first_due=date(2026, 1, 20), now=NOW, actor=user
    )
    with time_machine.travel(local(2026, 1, 10, 9), tick=False):
        response = login(user).post(
            reverse("portal_money:plan"),
            {"count": "3", "first_due": "2026-01-31", "action": "confirm"},
        )
    assert response.status_code == 400
    assert "déjà en cours" in response.content.decode()
    assert PaymentPlan.objects.count() == 1


def test_a_viewer_cannot_set_up_a_plan(customer, make_user, login):
    _user, account = customer
    charge(account, "100.00")
    viewer = member(make_user, account, MemberRole.VIEWER)
    response = login(viewer).post(
        reverse("portal_money:plan"), {"count": "3", "first_due": "2026-01-31", "action": "confirm"}
    )
    assert response.status_code == 403
    assert not PaymentPlan.objects.exists()


# --- Payment extensions -----------------------------------------------------------


def extend(client, invoice, new_due):
    return client.post(
        reverse("portal_money:extension"), {"invoice": invoice.number, "new_due": new_due}
    )


def test_an_extension_moves_the_due_date_and_notes_it(customer, login):
    user, account = customer
    invoice = issued_invoice(account, due=date(2026, 3, 20))
    with time_machine.travel(local(2026, 3, 18, 10), tick=False):
        response = extend(login(user), invoice, "2026-04-10")
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.due_date == date(2026, 4, 10)
    extension = PaymentExtension.objects.get(invoice=invoice)
    assert (extension.original_due, extension.new_due, extension.requested_by) == (
        date(2026, 3, 20),
        date(2026, 4, 10),
        user,
    )
    event = InvoiceEvent.objects.get(invoice=invoice)
    assert (event.from_status, event.to_status, event.actor) == ("ISSUED", "ISSUED", user)
    assert "20/03/2026" in event.note and "10/04/2026" in event.note


@pytest.mark.parametrize(
    ("travel", "new_due", "message"),
    [
        (local(2026, 3, 18, 10), "2026-03-20", "doit suivre"),
        (local(2026, 3, 18, 10), "2026-04-20", "au plus 30 jours"),
        (local(2026, 3, 18, 10), "pas une date", "Saisissez une date valide"),
    ],
)
def test_each_extension_refusal_is_a_field_error(customer, login, travel, new_due, message):
    user, account = customer
    invoice = issued_invoice(account, due=date(2026, 3, 20))
    with time_machine.travel(travel, tick=False):
        response = extend(login(user), invoice, new_due)
    assert response.status_code == 400
    errors = response.context["extension_form"].errors
    assert message in " ".join(errors["new_due"])
    assert 'id="id_new_due_error"' in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.due_date == date(2026, 3, 20)
    assert not PaymentExtension.objects.exists() and not InvoiceEvent.objects.exists()


def test_the_ten_day_limit_is_on_the_paris_day_after_the_clocks_change(customer, login):
    user, account = customer
    invoice = issued_invoice(account, due=date(2026, 3, 20))
    # 23:30 on 30 March in Paris (UTC+2 since the 29th): 10 days after, still allowed.
    with time_machine.travel(datetime(2026, 3, 30, 21, 30, tzinfo=UTC), tick=False):
        form = login(user).get(reverse("portal_money:home")).context["extension_form"]
        assert [i.number for i in form.fields["invoice"].queryset] == [invoice.number]
    assert money.payment_extension_request(
        invoice=invoice,
        new_due=date(2026, 4, 5),
        now=datetime(2026, 3, 30, 21, 30, tzinfo=UTC),
        actor=user,
    )


def test_too_late_and_already_extended_are_refused(customer, login):
    user, account = customer
    late = issued_invoice(account, due=date(2026, 3, 20))
    # 00:30 on 31 March in Paris: 11 days after the due date.
    at = datetime(2026, 3, 30, 22, 30, tzinfo=UTC)
    with pytest.raises(money.ExtensionRefused, match="10 jours après"):
        money.payment_extension_request(invoice=late, new_due=date(2026, 4, 5), now=at, actor=user)
    with time_machine.travel(at, tick=False):
        response = extend(login(user), late, "2026-04-05")
    assert response.status_code == 400
    assert "invoice" in response.context["extension_form"].errors
    done = issued_invoice(account, due=date(2026, 4, 20))
    money.payment_extension_request(invoice=done, new_due=date(2026, 5, 1), now=at, actor=user)
    with pytest.raises(money.ExtensionRefused, match="déjà bénéficié"):
        money.payment_extension_request(invoice=done, new_due=date(2026, 5, 10), now=at, actor=user)
    assert PaymentExtension.objects.count() == 1
    assert Invoice.objects.get(pk=done.pk).due_date == date(2026, 5, 1)


def test_nothing_owed_means_no_extension(customer):
    user, account = customer
    invoice = issued_invoice(account, due=date(2026, 3, 20), book=False)
    with pytest.raises(money.ExtensionRefused, match="aucun montant"):
        money.payment_extension_request(
            invoice=invoice, new_due=date(2026, 3, 25), now=local(2026, 3, 18, 9), actor=user
        )


def test_another_customers_invoice_is_a_404_and_untouched(customer, login):
    user, _account = customer
    foreign = issued_invoice(AccountFactory(), due=date(2026, 3, 20))
    with time_machine.travel(local(2026, 3, 18, 10), tick=False):
        response = extend(login(user), foreign, "2026-03-25")
    assert response.status_code == 404
    assert foreign.number not in response.content.decode()
    assert Invoice.objects.get(pk=foreign.pk).due_date == date(2026, 3, 20)


def test_extension_permissions(customer, client, make_user, login):
    _user, account = customer
    invoice = issued_invoice(account, due=date(2026, 3, 20))
    response = extend(client, invoice, "2026-03-25")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    viewer = member(make_user, account, MemberRole.VIEWER)
    assert extend(login(viewer), invoice, "2026-03-25").status_code == 403
    assert not PaymentExtension.objects.exists()


# --- Energy-assistance credits ----------------------------------------------------


ENTERED = local(2026, 1, 15, 10)


def enter(account, amount, *, actor, at=ENTERED):
    return money.assistance_credit_enter(
        account=account, amount=D(amount), scheme="Chèque énergie", now=at, actor=actor
    )


def test_the_season_cap_counts_approved_and_pending_not_rejected(make_user):
    agent, boss = make_user(Role.AGENT), make_user(Role.SUPERVISOR)
    account = AccountFactory()
    first = enter(account, "500.00", actor=agent)
    assert first.season == "2025-2026"
    rejected = enter(account, "250.00", actor=agent)
    money.assistance_credit_decide(credit_id=rejected.pk, approve=False, now=NOW, actor=boss)
    enter(account, "250.00", actor=agent)  # 500 + 250 = the cap exactly
    with pytest.raises(money.AssistanceRefused) as exc:
        enter(account, "0.01", actor=agent)
    assert exc.value.field == "amount"
    assert "750,00 €" in exc.value.message
    assert AssistanceCredit.objects.count() == 3
    # A new season starts on 1 November, Paris time.
    credit = enter(account, "750.00", actor=agent, at=datetime(2026, 10, 31, 23, 30, tzinfo=UTC))
    assert credit.season == "2026-2027"
    with pytest.raises(money.AssistanceRefused):
        enter(account, "1.00", actor=agent, at=datetime(2026, 10, 31, 22, 30, tzinfo=UTC))


def test_approval_books_one_ledger_credit(make_user):
    agent, boss = make_user(Role.AGENT), make_user(Role.SUPERVISOR)
    account = AccountFactory()
    charge(account, "300.00")
    credit = enter(account, "200.00", actor=agent)
    money.assistance_credit_decide(credit_id=credit.pk, approve=True, now=NOW, actor=boss)
    credit.refresh_from_db()
    assert (credit.status, credit.decided_by) == (ApprovalStatus.APPROVED, boss)
    assert (credit.entry.kind, credit.entry.amount, credit.entry.source) == (
        EntryKind.ASSISTANCE_CREDIT,
        D("-200.00"),
        f"assistance:{credit.pk}",
    )
    assert account_balance(account_id=account.pk) == D("100.00")
    events = AuditEntry.objects.filter(object_type="assistancecredit").order_by("id")
    assert [(e.old_value, e.new_value, e.actor) for e in events] == [
        ("", "PENDING", agent),
        ("PENDING", "APPROVED", boss),
    ]
    with pytest.raises(money.AssistanceAlreadyDecided):
        money.assistance_credit_decide(credit_id=credit.pk, approve=False, now=NOW, actor=boss)


def test_an_agent_cannot_approve(make_user):
    agent = make_user(Role.AGENT)
    credit = enter(AccountFactory(), "50.00", actor=agent)
    with pytest.raises(money.NotAllowed):
        money.assistance_credit_decide(credit_id=credit.pk, approve=True, now=NOW, actor=agent)
    assert not LedgerEntry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_supervisors_approving_at_once_book_one_credit():
    from tests.factories import UserFactory

    agent = UserFactory(role=Role.AGENT)
    bosses = [UserFactory(role=Role.SUPERVISOR) for _ in range(2)]
    account = AccountFactory()
    credit = enter(account, "120.00", actor=agent)
    barrier = threading.Barrier(2)
    outcomes = []

    def worker(boss):
        try:
            barrier.wait()
            money.assistance_credit_decide(credit_id=credit.pk, approve=True, now=NOW, actor=boss)
            outcomes.append("approved")
        except money.AssistanceAlreadyDecided:
            outcomes.append("already")
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(b,)) for b in bosses]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["already", "approved"]
    assert LedgerEntry.objects.filter(source=f"assistance:{credit.pk}").count() == 1
    assert LedgerEntry.objects.filter(kind=EntryKind.ASSISTANCE_CREDIT).count() == 1
    assert account_balance(account_id=account.pk) == D("-120.00")


def test_agent_enters_a_credit_in_the_console(make_user, login):
    agent = make_user(Role.AGENT)
    account = AccountFactory(type=AccountType.RESIDENTIAL)
    url = reverse("console_money:assistance_new") + f"?account={account.number}"
    client = login(agent)
    page = client.get(url)
    assert page.status_code == 200 and account.name in page.content.decode()
    with time_machine.travel(local(2026, 1, 15, 10), tick=False):
        response = client.post(url, {"amount": "150,00", "scheme": "FSL"})
    assert response.status_code == 302
    credit = AssistanceCredit.objects.get()
    assert (credit.amount, credit.scheme, credit.season, credit.status, credit.entered_by) == (
        D("150.00"),
        "FSL",
        "2025-2026",
        "PENDING",
        agent,
    )


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"amount": "-5", "scheme": "FSL"}, "amount"),
        ({"amount": "abc", "scheme": "FSL"}, "amount"),
        ({"amount": "800", "scheme": "FSL"}, "amount"),
        ({"amount": "50", "scheme": "Loterie"}, "scheme"),
    ],
)
def test_bad_assistance_input_is_a_field_error_and_writes_nothing(make_user, login, data, field):
    agent = make_user(Role.AGENT)
    account = AccountFactory()
    url = reverse("console_money:assistance_new") + f"?account={account.number}"
    response = login(agent).post(url, data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert f'id="id_{field}_error"' in response.content.decode()
    assert not AssistanceCredit.objects.exists()


def test_console_assistance_permissions(client, make_user, login, customer):
    _user, account = customer
    url = reverse("console_money:assistance_new") + f"?account={account.number}"
    response = client.get(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert login(_user).get(url).status_code == 403
    agent = make_user(Role.AGENT)
    assert (
        login(agent)
        .get(reverse("console_money:assistance_new") + "?account=0000000000")
        .status_code
        == 404
    )


def test_supervisor_queue_approves_and_an_agent_gets_403(make_user, login, client):
    agent, boss = make_user(Role.AGENT), make_user(Role.SUPERVISOR)
    account = AccountFactory()
    credit = enter(account, "80.00", actor=agent)
    decide = reverse("supervisor_money:assistance_decide", args=[credit.pk])
    assert client.post(decide, {"decision": "approve"}).status_code == 302
    assert login(agent).post(decide, {"decision": "approve"}).status_code == 403
    assert login(agent).get(reverse("supervisor_money:assistance")).status_code == 403
    assert not LedgerEntry.objects.exists()
    supervisor = login(boss)
    page = supervisor.get(reverse("supervisor_money:assistance"))
    assert page.status_code == 200 and account.number in page.content.decode()
    response = supervisor.post(decide, {"decision": "approve"}, follow=True)
    assert "créditée" in response.content.decode()
    assert LedgerEntry.objects.get().source == f"assistance:{credit.pk}"
    again = supervisor.post(decide, {"decision": "approve"}, follow=True)
    assert "déjà été traitée" in again.content.decode()
    assert LedgerEntry.objects.count() == 1
    assert (
        supervisor.post(
            reverse("supervisor_money:assistance_decide", args=[99999]), {"decision": "approve"}
        ).status_code
        == 404
    )


def test_supervisor_queue_queries_are_constant(make_user, login, django_assert_max_num_queries):
    agent, boss = make_user(Role.AGENT), make_user(Role.SUPERVISOR)
    client = login(boss)
    url = reverse("supervisor_money:assistance")
    for _ in range(2):
        enter(AccountFactory(), "10.00", actor=agent)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    for _ in range(25):
        enter(AccountFactory(), "10.00", actor=make_user(Role.AGENT))
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(url)
    assert len(response.context["credits"]) == 27
