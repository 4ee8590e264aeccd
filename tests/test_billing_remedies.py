"""An ombudsman's money remedy, marked done by a supervisor, is credited once."""

from decimal import Decimal

from django.utils import timezone

from accounts.models import Role
from billing.models import LedgerEntry
from billing.selectors.ledger import account_balance
from tickets import services
from tickets.models import Complaint

from .factories import MembershipFactory, UserFactory


def test_the_remedy_is_credited_once_when_the_supervisor_marks_it_done(client, db, login):
    customer = UserFactory(email="cli@example.fr")
    account = MembershipFactory(user=customer).account
    now = timezone.now()
    ticket = services.ticket_create(
        channel="PORTAL",
        category="COMPLAINT",
        subject="Réclamation",
        body="Litige",
        account=account,
        requester=customer,
        now=now,
    )
    complaint = Complaint.objects.get(ticket=ticket)
    services.ombudsman_referral_record(
        complaint=complaint,
        reference="MNE-7",
        decision="Geste commercial",
        remedy_amount=Decimal("80.00"),
        actor=UserFactory(role=Role.AGENT),
        now=now,
    )
    login(UserFactory(role=Role.SUPERVISOR))
    client.post("/supervisor/escalations/", {"remedy": complaint.pk})
    client.post("/supervisor/escalations/", {"remedy": complaint.pk})  # a second click
    [entry] = LedgerEntry.objects.filter(account=account)
    assert (entry.kind, entry.amount, entry.source) == (
        "COMPENSATION",
        Decimal("-80.00"),
        f"ombudsman:{complaint.pk}",
    )
    assert ticket.reference in entry.description
    assert account_balance(account_id=account.pk) == Decimal("-80.00")
