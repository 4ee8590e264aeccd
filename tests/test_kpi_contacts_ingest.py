"""Contact records from the telephony platform (signed JSON webhook) and CSV files:
checked per record, inserted in bulk, idempotent (docs/telephony-cdr.md)."""

import csv
import json
from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from tickets import inbound, services
from tickets.domain import contacts as rules
from tickets.models import Contact

from .factories import AccountFactory

PARIS = ZoneInfo("Europe/Paris")
URL = "/webhooks/telephony/cdr/"
SECRET = "test-telephony-secret"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=PARIS)


def paris(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS)


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.TELEPHONY_WEBHOOK_SECRET = SECRET


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def answered(external_id: str, **overrides) -> dict:
    record = {
        "external_id": external_id,
        "queue": "BILLING",
        "offered_at": "2026-03-10T09:00:00+01:00",
        "answered_at": "2026-03-10T09:00:25+01:00",
        "ended_at": "2026-03-10T09:05:25+01:00",
        "wrap_up_ended_at": "2026-03-10T09:06:25+01:00",
        "hold_seconds": 20,
    }
    record.update(overrides)
    return record


def post(client, data, *, secret=SECRET, signature=None):
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    if signature is None:
        signature = inbound.social_signature(secret=secret, body=body)
    headers = {"HTTP_X_POWERNEXT_SIGNATURE": signature} if signature else {}
    return client.post(URL, body, content_type="application/json", **headers)


def stored() -> list[dict]:
    return list(Contact.objects.order_by("external_id").values())


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert (error["status"], error["code"]) == (status, code)
    return error["fields"]


@pytest.mark.django_db
def test_a_batch_of_cdrs_is_stored_and_linked(client, frozen, make_user):
    agent = make_user(Role.AGENT, email="lea.agent@powernext.example")
    account = AccountFactory(phone="+33612345678")
    ticket = services.ticket_create(
        channel="PHONE",
        category="BILL_DISPUTE",
        subject="Facture contestée",
        body="…",
        now=paris("2026-03-09T10:00"),
        account=account,
    )
    records = [
        answered(
            "call-1",
            agent_email="Lea.Agent@powernext.example",
            ticket_reference=ticket.reference.lower(),
            caller="+33 1 00 00 00 00",
            first_contact=True,
            resolved=False,
        ),
        # A caller known by phone only (national format), who hung up after 40 s.
        {
            "external_id": "call-2",
            "queue": "GENERAL",
            "offered_at": "2026-03-10T09:10:00Z",
            "ended_at": "2026-03-10T09:10:40Z",
            "caller": "06 12 34 56 78",
            "category": "MOVE",
        },
        # Turned away: all lines busy.
        {
            "external_id": "call-3",
            "queue": "OUTAGE",
            "outcome": "BUSY",
            "offered_at": "2026-03-10T09:11:00+01:00",
        },
    ]
    response = post(client, records)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "inserted": 3,
        "duplicates": 0,
        "rejected": 0,
        "errors": [],
        "warnings": [],
    }
    first, second, third = Contact.objects.filter(source="CDR").order_by("external_id")
    # Linked to the ticket (and so its account and category), the agent by e-mail.
    assert (first.ticket, first.account, first.agent) == (ticket, account, agent)
    assert (first.channel, first.queue, first.inbound, first.source) == (
        "PHONE",
        "BILLING",
        True,
        "CDR",
    )
    assert first.offered_at == paris("2026-03-10T09:00:00")
    # Talk = ended − answered − hold = 300 − 20; wrap = wrap-up end − end = 60.
    assert (first.talk_seconds, first.hold_seconds, first.wrap_seconds) == (280, 20, 60)
    assert (first.abandoned, first.first_contact, first.resolved_first_contact) == (
        False,
        True,
        False,
    )
    assert (first.customer_key, first.issue_key) == (f"acct:{account.pk}", "BILL_DISPUTE")
    # Account found by its normalised phone; unanswered and inbound, so abandoned.
    assert second.account == account and second.ticket is None and second.agent is None
    assert second.abandoned and second.answered_at is None
    assert second.wrap_seconds == second.talk_seconds == 0
    assert (second.customer_key, second.issue_key) == (f"acct:{account.pk}", "MOVE")
    # A busy attempt is not an abandon; with no caller and no category it knows no one.
    assert (third.outcome, third.abandoned) == ("BUSY", False)
    assert (third.customer_key, third.issue_key) == ("", "queue:OUTAGE")


@pytest.mark.django_db
def test_a_re_sent_cdr_changes_nothing(client, frozen):
    records = [answered("call-1"), answered("call-2", queue="GENERAL")]
    assert post(client, records).json()["inserted"] == 2
    before = stored()
    # The same batch again, in the {"records": [...]} form, with one record altered (a
    # platform re-sending a corrected copy): the first version stays.
    again = [answered("call-1", hold_seconds=99), answered("call-2", queue="GENERAL")]
    response = post(client, {"records": again})
    assert response.status_code == 200
    assert response.json() == {
        "inserted": 0,
        "duplicates": 2,
        "rejected": 0,
        "errors": [],
        "warnings": [],
    }
    assert stored() == before
    # A record repeated inside one batch is stored once; the same id on another channel
    # is another contact.
    response = post(
        client, [answered("call-9"), answered("call-9"), answered("call-1", channel="CHAT")]
    )
    assert response.json()["inserted"] == 2
    assert response.json()["duplicates"] == 1
    assert Contact.objects.count() == 4


@pytest.mark.django_db
def test_bad_records_are_reported_and_the_good_ones_kept(client, frozen):
    records = [
        answered("good-1"),
        answered("bad-1", queue="NOWHERE", answered_at="2026-03-10T08:59:00+01:00"),
        "not an object",
        answered(
            "good-2", agent_email="nobody@powernext.example", ticket_reference="PN-2026-999999"
        ),
        {"queue": "BILLING", "offered_at": "2026-03-10T09:00:00"},
        answered("bad-3", outcome="BLOCKED"),
        answered(
            "bad-4",
            offered_at="2026-03-10T13:00:00+01:00",
            answered_at=None,
            ended_at=None,
            wrap_up_ended_at=None,
        ),
        answered("bad-5", talk_seconds=-1, abandoned="yes"),
    ]
    response = post(client, records)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["inserted"], body["duplicates"], body["rejected"]) == (2, 0, 6)
    errors = {(e["index"], e["field"]) for e in body["errors"]}
    assert errors == {
        (1, "queue"),
        (1, "answered_at"),  # before offered_at
        (2, "record"),
        (4, "external_id"),
        (4, "offered_at"),  # no time zone offset
        (5, "answered_at"),  # a BLOCKED attempt was never answered
        (6, "offered_at"),  # an hour in the future
        (7, "talk_seconds"),
        (7, "abandoned"),  # JSON wants true or false, not "yes"
    }
    assert all(e["message"] for e in body["errors"])
    # Unknown agent and ticket: kept, unlinked, with a warning each.
    assert {(w["index"], w["field"]) for w in body["warnings"]} == {
        (3, "agent_email"),
        (3, "ticket_reference"),
    }
    assert sorted(Contact.objects.values_list("external_id", flat=True)) == ["good-1", "good-2"]
    good = Contact.objects.get(external_id="good-2")
    assert good.agent is None and good.ticket is None


@pytest.mark.django_db
def test_signature_is_required(client, frozen, settings):
    records = [answered("call-1")]
    assert_error(post(client, records, secret="wrong"), 403, "permission_denied")
    assert_error(post(client, records, signature=""), 403, "permission_denied")
    assert_error(post(client, records, signature="sha256=00"), 403, "permission_denied")
    # The social webhook's secret does not open this one.
    settings.SOCIAL_WEBHOOK_SECRET = "social-secret"
    assert_error(post(client, records, secret="social-secret"), 403, "permission_denied")
    # Unconfigured: everything refused, even a body signed with the empty key.
    settings.TELEPHONY_WEBHOOK_SECRET = ""
    assert_error(post(client, records, secret=""), 403, "permission_denied")
    assert Contact.objects.count() == 0


@pytest.mark.django_db
def test_bad_json_too_many_records_and_wrong_method(client, frozen):
    assert_error(post(client, b"[{not json"), 400, "parse_error")
    assert_error(post(client, b'"a string"'), 400, "parse_error")
    assert_error(post(client, {"rows": []}), 400, "parse_error")
    many = [answered(f"call-{n}") for n in range(services.CONTACT_BATCH_MAX + 1)]
    fields = assert_error(post(client, many), 400, "too_many_records")
    assert "records" in fields
    assert Contact.objects.count() == 0
    # Exactly the maximum is accepted.
    response = post(client, many[:-1])
    assert response.json()["inserted"] == services.CONTACT_BATCH_MAX
    response = client.get(URL)
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "POST"


@pytest.mark.django_db
@pytest.mark.parametrize("size", [10, 200])
def test_ingestion_runs_a_constant_number_of_queries(
    size, make_user, django_assert_max_num_queries
):
    make_user(Role.AGENT, email="lea.agent@powernext.example")
    account = AccountFactory(phone="+33612345678")
    ticket = services.ticket_create(
        channel="PHONE",
        category="BILL_QUERY",
        subject="Question",
        body="…",
        now=paris("2026-03-09T10:00"),
        account=account,
    )
    rows = [
        answered(
            f"call-{n}",
            agent_email="lea.agent@powernext.example",
            ticket_reference=ticket.reference if n % 2 else "",
            caller="0612345678",
        )
        for n in range(size)
    ]
    # Savepoint, tickets, agents, accounts by phone, the INSERT, release: 6 at any size.
    with django_assert_max_num_queries(6), CaptureQueriesContext(connection) as queries:
        result = services.contacts_ingest(rows=rows, source="CDR", now=NOW)
    assert result.inserted == size
    assert len(queries) == 6
    assert Contact.objects.filter(source="CDR", account=account).count() == size


def write_csv(path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=rules.FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)


@pytest.mark.django_db
def test_csv_import_is_idempotent(tmp_path, frozen, make_user):
    make_user(Role.AGENT, email="lea.agent@powernext.example")
    path = tmp_path / "cdr.csv"
    rows = [
        {
            **answered(f"call-{n}"),
            "agent_email": "lea.agent@powernext.example",
            "first_contact": "true",
            "resolved": "1" if n % 2 else "",
            "talk_seconds": "200",
        }
        for n in range(5)
    ]
    # Line 4 of the file (the third record): no queue.
    rows[2]["queue"] = ""
    write_csv(path, rows)
    out, err = StringIO(), StringIO()
    call_command("import_cdr", str(path), "--batch", "2", stdout=out, stderr=err)
    assert out.getvalue().strip() == "4 inserted, 0 duplicates, 1 rejected, 0 warnings"
    assert "line 4: error: queue: This field is required." in err.getvalue()
    before = stored()
    assert len(before) == 4
    contact = Contact.objects.get(external_id="call-1")
    assert (contact.source, contact.talk_seconds, contact.hold_seconds) == ("CSV", 200, 20)
    assert contact.first_contact and contact.resolved_first_contact is True
    assert Contact.objects.get(external_id="call-0").resolved_first_contact is None
    assert contact.agent.email == "lea.agent@powernext.example"

    out = StringIO()
    call_command("import_cdr", str(path), stdout=out, stderr=StringIO())
    assert out.getvalue().strip() == "0 inserted, 4 duplicates, 1 rejected, 0 warnings"
    assert stored() == before


@pytest.mark.django_db
def test_csv_import_refuses_what_it_cannot_read(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_cdr", str(tmp_path / "missing.csv"))
    path = tmp_path / "no-queue.csv"
    path.write_text("external_id,offered_at\nx,2026-03-10T09:00:00Z\n", encoding="utf-8")
    with pytest.raises(CommandError, match="Missing columns: queue"):
        call_command("import_cdr", str(path))
    with pytest.raises(CommandError, match="--batch"):
        call_command("import_cdr", str(path), "--batch", "0")
    assert Contact.objects.count() == 0


@pytest.mark.django_db
def test_a_phone_shared_by_two_accounts_links_neither(frozen):
    AccountFactory(phone="+33611111111")
    AccountFactory(phone="+33611111111")
    result = services.contacts_ingest(
        rows=[answered("call-1", caller="06 11 11 11 11")], source="CDR", now=NOW
    )
    assert result.inserted == 1
    contact = Contact.objects.get()
    assert contact.account is None
    assert contact.customer_key == "tel:+33611111111"


@pytest.mark.django_db
def test_tickets_own_contacts_carry_customer_and_issue(frozen):
    account = AccountFactory()
    ticket = services.ticket_create(
        channel="PORTAL",
        category="METER_READING",
        subject="Relevé",
        body="…",
        now=NOW - timedelta(hours=1),
        account=account,
    )
    contact = ticket.contacts.get()
    assert (contact.customer_key, contact.issue_key, contact.source) == (
        f"acct:{account.pk}",
        "METER_READING",
        "INTERNAL",
    )
    anonymous = services.ticket_create(
        channel="EMAIL",
        category="OTHER",
        subject="Question",
        body="…",
        now=NOW - timedelta(hours=1),
        requester_contact="Jeanne.Dupont@Example.fr",
    )
    assert anonymous.contacts.get().customer_key == "mail:jeanne.dupont@example.fr"


# --- The record format itself (pure) ------------------------------------------------------


def test_csv_cells_are_read_as_text():
    row, errors = rules.contact_row_parse(
        {
            "external_id": " c-1 ",
            "queue": "BILLING",
            "channel": "",
            "offered_at": "2026-03-10T09:00:00+01:00",
            "answered_at": "",
            "abandoned": "FALSE",
            "hold_seconds": "12",
            "first_contact": "",
        },
        now=NOW,
        text=True,
    )
    assert errors == []
    assert (row.external_id, row.channel, row.abandoned, row.hold_seconds) == (
        "c-1",
        "PHONE",
        False,
        12,
    )
    # The same cells as JSON: strings are not numbers or booleans there.
    _, errors = rules.contact_row_parse(
        {
            "external_id": "c-1",
            "queue": "BILLING",
            "offered_at": NOW.isoformat(),
            "hold_seconds": "12",
        },
        now=NOW,
    )
    assert errors == [("hold_seconds", "Must be a whole number of seconds.")]


def test_record_rules():
    base = {"external_id": "c", "queue": "BILLING", "offered_at": "2026-03-10T09:00:00+01:00"}

    def errors_of(**changes):
        return [field for field, _ in rules.contact_row_parse({**base, **changes}, now=NOW)[1]]

    assert errors_of() == []
    assert errors_of(offered_at="2026-03-10T12:04:00+01:00") == []  # within clock drift
    assert errors_of(offered_at="1999-12-31T23:00:00Z") == ["offered_at"]
    assert errors_of(wrap_up_ended_at="2026-03-10T09:05:00+01:00") == ["wrap_up_ended_at"]
    assert errors_of(direction="outbound", abandoned=True) == ["abandoned"]
    assert errors_of(channel="SYSTEM") == ["channel"]
    assert errors_of(queue="INCIDENT") == ["queue"]
    assert errors_of(category="UNKNOWN") == ["category"]
    assert errors_of(ticket_reference="12345") == ["ticket_reference"]
    assert errors_of(agent_email="not-an-email") == ["agent_email"]
    assert errors_of(caller="abc") == ["caller"]
    assert errors_of(talk_seconds=True) == ["talk_seconds"]
    assert errors_of(talk_seconds=86_401) == ["talk_seconds"]
    assert errors_of(external_id="x" * 101) == ["external_id"]
    # An outbound call nobody picked up is not an abandon.
    row, _ = rules.contact_row_parse({**base, "direction": "outbound"}, now=NOW)
    assert (row.inbound, row.abandoned) == (False, False)
    assert rules.customer_key(contact="@jdupont on x") == ""
    assert rules.customer_key(contact="01 23 45 67 89") == "tel:+33123456789"
