"""Social webhook: signed JSON from the Facebook / X connector becomes SOCIAL tickets."""

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from tickets import inbound, services
from tickets.models import Message, Ticket

PARIS = ZoneInfo("Europe/Paris")
URL = "/webhooks/social/"
SECRET = "test-social-secret"


def paris(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS)


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.SOCIAL_WEBHOOK_SECRET = SECRET


def payload(**overrides) -> dict:
    data = {
        "platform": "x",
        "message_id": "1001",
        "thread_id": "1000",
        "author": {"handle": "jdupont", "name": "Jeanne Dupont"},
        "text": "Ma facture a doublé, quelqu'un peut m'expliquer ?",
        "sent_at": "2026-06-03T09:58:41+02:00",
        "url": "https://x.com/jdupont/status/1001",
    }
    data.update(overrides)
    return data


def post(client, data, *, secret=SECRET, signature=None):
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    if signature is None:
        signature = inbound.social_signature(secret=secret, body=body)
    headers = {"HTTP_X_POWERNEXT_SIGNATURE": signature} if signature else {}
    return client.post(URL, body, content_type="application/json", **headers)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert (error["status"], error["code"]) == (status, code)
    assert error["message"]
    return error["fields"]


@pytest.mark.django_db
def test_a_new_thread_opens_a_social_ticket(client):
    with time_machine.travel(paris("2026-06-03T10:00:00"), tick=False):
        response = post(client, payload())
    assert response.status_code == 201, response.content
    assert response.json()["result"] == "created"
    ticket = Ticket.objects.get(reference=response.json()["reference"])
    assert (ticket.channel, ticket.category, ticket.account) == ("SOCIAL", "OTHER", None)
    assert ticket.requester_name == "Jeanne Dupont"
    assert ticket.requester_contact == "@jdupont on x"
    assert ticket.details["social_thread"] == "1000"
    assert ticket.details["social_platform"] == "x"
    assert ticket.details["social_message_id"] == "social:x:1001"
    assert ticket.details["social_sent_at"] == "2026-06-03T09:58:41+02:00"
    assert ticket.subject.startswith("X @jdupont : Ma facture a doublé")
    first = ticket.messages.get()
    assert first.from_customer and first.channel == "SOCIAL"
    assert first.body == (
        "Ma facture a doublé, quelqu'un peut m'expliquer ?\n\nhttps://x.com/jdupont/status/1001"
    )
    assert ticket.policy.code == "SOCIAL"


@pytest.mark.django_db
def test_a_message_on_a_known_thread_is_a_customer_reply(client):
    created = post(client, payload()).json()["reference"]
    response = post(
        client,
        payload(message_id="1002", text="Toujours rien ?", url="https://x.com/j/status/1002"),
    )
    assert response.status_code == 200
    assert response.json() == {"result": "threaded", "reference": created}
    reply = Message.objects.get(email_message_id="social:x:1002")
    assert reply.ticket.reference == created
    assert reply.from_customer and reply.author is None and reply.channel == "SOCIAL"
    assert Ticket.objects.count() == 1


@pytest.mark.django_db
def test_the_same_thread_id_on_another_platform_is_another_thread(client):
    post(client, payload())
    response = post(client, payload(platform="facebook", message_id="1002"))
    assert response.status_code == 201
    assert Ticket.objects.count() == 2


@pytest.mark.django_db
def test_a_repeated_message_is_ignored(client):
    post(client, payload())
    post(client, payload(message_id="1002"))
    counts = (Ticket.objects.count(), Message.objects.count())
    for message_id in ("1001", "1002"):  # the one that opened the ticket, and a reply
        response = post(client, payload(message_id=message_id))
        assert response.status_code == 200
        assert response.json() == {"result": "skipped", "reference": None}
    assert (Ticket.objects.count(), Message.objects.count()) == counts


@pytest.mark.django_db
def test_a_reply_reopens_a_recently_resolved_ticket_and_a_closed_one_gets_a_new_ticket(client):
    with time_machine.travel(paris("2026-06-03T10:00:00"), tick=False):
        ticket = Ticket.objects.get(reference=post(client, payload()).json()["reference"])
        services.ticket_transition(
            ticket=ticket, target="RESOLVED", actor=None, now=paris("2026-06-03T10:00:00")
        )
    with time_machine.travel(paris("2026-06-05T10:00:00"), tick=False):
        assert post(client, payload(message_id="1002")).json()["result"] == "threaded"
        assert Ticket.objects.get(pk=ticket.pk).status == "OPEN"
        services.ticket_transition(
            ticket=ticket, target="RESOLVED", actor=None, now=paris("2026-06-05T10:00:00")
        )
        services.ticket_transition(
            ticket=ticket, target="CLOSED", actor=None, now=paris("2026-06-05T10:00:00")
        )
        response = post(client, payload(message_id="1003"))
    assert response.status_code == 201
    follow = Ticket.objects.get(reference=response.json()["reference"])
    assert follow.details["follows"] == ticket.reference
    # The thread now answers to its newest ticket.
    assert post(client, payload(message_id="1004")).json()["reference"] == follow.reference


@pytest.mark.django_db
def test_the_social_clock_runs_on_the_social_calendar(client):
    # Saturday 6 June 2026, 23:00 in Paris: after the weekend coverage (08:00-21:00).
    received = paris("2026-06-06T23:00:00")
    with time_machine.travel(received, tick=False):
        reference = post(client, payload(sent_at="2026-06-06T22:59:00+02:00")).json()["reference"]
    clock = Ticket.objects.get(reference=reference).clocks.get(name="Réponse dans la journée")
    assert clock.calendar.code == "SOCIAL"
    assert clock.started_at == received
    # "1 WORKING_DAYS" (add_working_days): Saturday itself never counts; the next date
    # with coverage is Sunday 7 June (08:00-21:00; the SOCIAL calendar has no holidays),
    # and the deadline keeps the start's wall-clock time on it: Sunday 23:00, after
    # Sunday's coverage has ended, i.e. by the end of the next coverage day.
    assert clock.due_at == paris("2026-06-07T23:00:00")


# --- Refusals -------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "signature",
    [
        "",  # missing
        "sha256=" + "0" * 64,
        "sha1=abcdef",
        inbound.social_signature(secret="another-secret", body=b"{}"),
    ],
)
def test_a_bad_signature_is_403_and_writes_nothing(client, signature):
    response = post(client, payload(), signature=signature)
    assert assert_error(response, 403, "permission_denied") == {}
    assert not Ticket.objects.exists()


@pytest.mark.django_db
def test_signature_covers_the_raw_body(client):
    body = json.dumps(payload()).encode()
    signature = inbound.social_signature(secret=SECRET, body=body)
    tampered = body.replace(b"doubl", b"tripl")
    assert_error(post(client, tampered, signature=signature), 403, "permission_denied")


@pytest.mark.django_db
def test_without_a_configured_secret_everything_is_refused(client, settings):
    settings.SOCIAL_WEBHOOK_SECRET = ""
    response = post(client, payload(), secret="")
    assert_error(response, 403, "permission_denied")
    del settings.SOCIAL_WEBHOOK_SECRET
    assert_error(post(client, payload(), secret=""), 403, "permission_denied")


@pytest.mark.django_db
@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_400(client, body):
    assert assert_error(post(client, body), 400, "parse_error") == {}


@pytest.mark.django_db
def test_missing_and_invalid_fields_are_400_with_field_errors(client):
    data = payload(platform="tiktok", sent_at="2026-06-03T10:00:00", url="ftp://x", text="  ")
    del data["thread_id"]
    data["author"] = {"name": "Jeanne"}
    fields = assert_error(post(client, data), 400, "invalid")
    assert set(fields) == {"platform", "thread_id", "author.handle", "text", "sent_at", "url"}
    assert fields["thread_id"] == ["This field is required."]
    assert fields["sent_at"] == ["Give a time zone offset (or Z)."]
    assert not Ticket.objects.exists()

    fields = assert_error(post(client, payload(author="jdupont", message_id=12)), 400, "invalid")
    assert fields == {"author": ["Must be an object."], "message_id": ["Must be a string."]}


@pytest.mark.django_db
def test_only_post_and_no_csrf_token_needed():
    strict = Client(enforce_csrf_checks=True)
    assert post(strict, payload()).status_code == 201
    response = strict.get(URL)
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "POST"


@pytest.mark.django_db
def test_a_handle_given_with_its_at_sign_is_stored_once(client):
    response = post(client, payload(author={"handle": "@jdupont", "name": ""}))
    ticket = Ticket.objects.get(reference=response.json()["reference"])
    assert ticket.requester_contact == "@jdupont on x"
    assert ticket.requester_name == "@jdupont"


@pytest.mark.django_db
def test_no_email_is_sent_to_a_social_handle(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post(client, payload())
    assert [m.to for m in mailoutbox] == []


@pytest.mark.django_db(transaction=True)
def test_two_messages_of_a_new_thread_at_once_open_one_ticket():
    import threading

    from django.db import connection

    barrier = threading.Barrier(6)
    results, errors = [], []

    def deliver(message_id: str):
        barrier.wait()
        try:
            message = inbound.social_payload_parse(
                json.dumps(payload(message_id=message_id)).encode()
            )
            results.append(inbound.social_ingest(message=message, now=paris("2026-06-03T10:00:00")))
        except Exception as exc:  # noqa: BLE001 - any failure is asserted on below
            errors.append(exc)
        finally:
            connection.close()

    # Three messages, each delivered twice (a retry racing the first attempt).
    threads = [threading.Thread(target=deliver, args=(str(i % 3),)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(r.outcome for r in results) == [
        "created",
        "skipped",
        "skipped",
        "skipped",
        "threaded",
        "threaded",
    ]
    assert Ticket.objects.filter(channel="SOCIAL").count() == 1
    assert Message.objects.filter(ticket__channel="SOCIAL").count() == 3
