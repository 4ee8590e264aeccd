"""Inbound e-mail: fetch_mail threads replies into tickets and opens tickets for the rest."""

import mailbox
import shutil
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command

from accounts.models import MemberRole, Role
from tickets import inbound, services
from tickets.management.commands import fetch_mail
from tickets.models import Message, Ticket

from .factories import MembershipFactory, UserFactory

PARIS = ZoneInfo("Europe/Paris")
FIXTURE = Path(__file__).parent / "fixtures" / "maildir"
NOW = datetime(2026, 6, 3, 10, 0, tzinfo=PARIS)


def paris(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS)


def run(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("fetch_mail", *args, stdout=out)
    return out.getvalue().strip()


def mail(**headers) -> bytes:
    body = headers.pop("body", "Bonjour, une question.")
    message = EmailMessage()
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


@pytest.fixture
def world(db):
    """Claire (holder of an account) has a ticket resolved yesterday and another one
    that already holds one of her e-mails; Nina is a customer with an account too."""
    claire = UserFactory(role=Role.CUSTOMER, email="client@example.fr")
    account = MembershipFactory(user=claire, role=MemberRole.HOLDER).account
    nina = UserFactory(role=Role.CUSTOMER, email="nouveau@example.fr")
    nina_account = MembershipFactory(user=nina, role=MemberRole.HOLDER).account
    resolved = services.ticket_create(
        channel="EMAIL",
        category="BILL_QUERY",
        subject="Facture trop élevée",
        body="Ma facture de mai est trop élevée.",
        account=account,
        requester=claire,
        now=paris("2026-06-01T09:00:00"),
    )
    services.ticket_transition(
        ticket=resolved, target="RESOLVED", actor=None, now=paris("2026-06-02T09:00:00")
    )
    meter = services.ticket_create(
        channel="EMAIL",
        category="METER_FAULT",
        subject="Compteur qui clignote",
        body="Mon compteur clignote.",
        account=account,
        requester=claire,
        now=paris("2026-06-01T08:00:00"),
    )
    services.ticket_reply(
        ticket=meter,
        author=claire,
        body="Mon compteur clignote depuis hier.",
        from_customer=True,
        channel="EMAIL",
        email_message_id="<earlier-1@mail.client.example>",
        now=paris("2026-06-02T08:00:00"),
    )
    return {
        "claire": claire,
        "account": account,
        "nina": nina,
        "nina_account": nina_account,
        "resolved": resolved,
        "meter": meter,
    }


@pytest.fixture
def maildir(tmp_path, world):
    """A copy of the fixture Maildir, with the reference of the resolved ticket filled in."""
    path = tmp_path / "support"
    shutil.copytree(FIXTURE, path)
    for message in path.glob("*/*.fixture*"):
        message.write_text(
            message.read_text().replace("{{REFERENCE}}", world["resolved"].reference)
        )
    return path


def test_fetch_mail_threads_replies_and_opens_tickets(maildir, world):
    before = set(Ticket.objects.values_list("pk", flat=True))
    with time_machine.travel(NOW, tick=False):
        summary = run("--maildir", str(maildir))
    assert summary == "threaded 3, created 2, skipped 1, failed 0"

    # (a) By the reference in the subject: a reply from a member of the account, with the
    # quoted history cut off; the ticket resolved yesterday is open again.
    resolved = Ticket.objects.get(pk=world["resolved"].pk)
    reply = resolved.messages.get(email_message_id="<reply-1@mail.client.example>")
    assert reply.from_customer and reply.channel == "EMAIL"
    assert reply.author == world["claire"]
    assert reply.body == (
        "Bonjour,\n\nCe n'est pas résolu : le remboursement n'est toujours pas arrivé.\n\nClaire"
    )
    assert resolved.status == "OPEN"
    assert resolved.events.filter(kind="STATUS", from_value="RESOLVED", to_value="OPEN").exists()

    # (b) By In-Reply-To: threaded although the sender is no member of the account, so
    # with no author and the sender written at the top of the body.
    neighbour = world["meter"].messages.get(email_message_id="<reply-2@voisin.example.net>")
    assert neighbour.author is None and neighbour.from_customer
    assert neighbour.body == (
        "De : Victor Voisin <voisin@example.net>\n\n"
        "I have the same problem next door, the meter keeps blinking."
    )

    new = Ticket.objects.exclude(pk__in=before).order_by("id")
    assert new.count() == 2
    # (c) No reference: a new EMAIL ticket on the sender's account, from the HTML part.
    moving, unknown = new
    assert (moving.channel, moving.category) == ("EMAIL", "OTHER")
    assert moving.account == world["nina_account"] and moving.requester == world["nina"]
    assert moving.requester_contact == "nouveau@example.fr"
    assert moving.subject == "Déménagement le 15 juin"
    first = moving.messages.order_by("id").first()
    assert first.body == "Bonjour,\n\nJe déménage le 15 juin, pouvez-vous prévoir le relevé ?"
    assert moving.details["email_message_id"] == "<new-3@example.fr>"
    assert moving.clocks.filter(status="RUNNING").exists()
    # ... and the follow-up that only names it in References is threaded into it.
    follow_up = moving.messages.get(email_message_id="<followup-5@example.fr>")
    assert follow_up.author == world["nina"]

    # (d) A reference that does not exist: a new ticket, without an account; the plain
    # part is preferred, and the attachment is named.
    assert unknown.account is None and unknown.requester is None
    assert unknown.requester_name == "Ursula Unknown"
    assert unknown.requester_contact == "ursula@unknown.example"
    assert unknown.messages.get().body == (
        "Je reprends mon ancienne demande : ma facture est fausse.\n\n"
        "[Pièces jointes non importées : facture.pdf]"
    )

    # The automatic reply is not imported; the message already read is left alone.
    assert not Message.objects.filter(body__contains="absente").exists()
    assert not Ticket.objects.filter(subject__startswith="Already read").exists()

    # Handled messages moved to cur/ and flagged seen; new/ is empty.
    box = mailbox.Maildir(str(maildir), factory=None, create=False)
    assert not list((maildir / "new").iterdir())
    assert len(box) == 7
    assert all(
        box.get_message(key).get_subdir() == "cur" and "S" in box.get_message(key).get_flags()
        for key in box.iterkeys()
    )


def test_running_again_changes_nothing(maildir, world):
    with time_machine.travel(NOW, tick=False):
        run("--maildir", str(maildir))
        counts = (Ticket.objects.count(), Message.objects.count())
        assert run("--maildir", str(maildir)) == "threaded 0, created 0, skipped 0, failed 0"
        # Even if the files come back as unread, their Message-IDs are known.
        for path in (maildir / "cur").iterdir():
            if not path.name.startswith("1779999999"):  # the one read by a person
                path.rename(maildir / "new" / path.name.split(":")[0])
        assert run("--maildir", str(maildir)) == "threaded 0, created 0, skipped 6, failed 0"
    assert (Ticket.objects.count(), Message.objects.count()) == counts


def test_reply_long_after_resolution_or_to_a_closed_ticket_opens_a_new_one(world):
    resolved = world["resolved"]
    raw = mail(
        Message_ID="<late@mail.client.example>",
        From="client@example.fr",
        Subject=f"Re: [{resolved.reference}] Facture",
        body="Encore moi.",
    )
    later = paris("2026-06-20T10:00:00")  # resolved on 2 June: the 7 days have passed
    result = inbound.mail_ingest(raw=raw, now=later)
    assert result.outcome == "created"
    follow = Ticket.objects.get(reference=result.reference)
    assert follow.details["follows"] == resolved.reference
    assert follow.account == world["account"]
    assert Ticket.objects.get(pk=resolved.pk).status == "RESOLVED"

    services.ticket_transition(ticket=follow, target="RESOLVED", actor=None, now=later)
    services.ticket_transition(ticket=follow, target="CLOSED", actor=None, now=later)
    raw = mail(
        Message_ID="<closed@mail.client.example>",
        From="client@example.fr",
        Subject=f"Re: [{follow.reference}] Facture",
    )
    result = inbound.mail_ingest(raw=raw, now=later)
    assert result.outcome == "created"
    assert Ticket.objects.get(reference=result.reference).details["follows"] == follow.reference


def test_reply_to_a_merged_ticket_goes_to_the_surviving_one(world):
    agent = UserFactory(role=Role.AGENT)
    meter = world["meter"]
    services.ticket_merge(duplicate=meter, into=world["resolved"], actor=agent, now=NOW)
    raw = mail(
        Message_ID="<merged@mail.client.example>",
        From="client@example.fr",
        Subject=f"Re: [{meter.reference}] Compteur",
    )
    result = inbound.mail_ingest(raw=raw, now=NOW)
    assert (result.outcome, result.reference) == ("threaded", world["resolved"].reference)


def test_a_message_without_message_id_is_still_imported_once(world):
    raw = mail(From="someone@example.org", Subject="Question", body="Bonjour")
    assert inbound.mail_ingest(raw=raw, now=NOW).outcome == "created"
    assert inbound.mail_ingest(raw=raw, now=NOW).outcome == "skipped"


def test_our_own_notifications_are_not_imported(world, settings):
    settings.DEFAULT_FROM_EMAIL = "Power Next <support@powernext.example>"
    raw = mail(
        Message_ID="<own@powernext.example>",
        From="Power Next <Support@PowerNext.example>",
        Subject=f"[{world['meter'].reference}] Nouvelle réponse à votre demande",
    )
    assert inbound.mail_ingest(raw=raw, now=NOW).reason == "own notification"
    assert not Message.objects.filter(email_message_id="<own@powernext.example>").exists()


def test_missing_maildir_and_bad_options_are_command_errors(tmp_path, db):
    with pytest.raises(CommandError, match="No Maildir"):
        run("--maildir", str(tmp_path / "nope"))
    with pytest.raises(CommandError, match="either"):
        run()
    with pytest.raises(CommandError, match="imap-user"):
        run("--imap-host", "imap.example")


def test_a_failing_message_stays_unread_and_the_others_go_on(maildir, world, monkeypatch):
    real = inbound.mail_ingest

    def flaky(*, raw, now):
        if b"Message-ID: <new-3@example.fr>" in raw:
            raise RuntimeError("boom")
        return real(raw=raw, now=now)

    monkeypatch.setattr(inbound, "mail_ingest", flaky)
    with time_machine.travel(NOW, tick=False), pytest.raises(CommandError, match="1 message"):
        run("--maildir", str(maildir))
    assert [p.name for p in (maildir / "new").iterdir()] == ["1780000003.M3P100.fixture"]


# --- IMAP, through a fake server ------------------------------------------------------


class FakeImap:
    """Just enough of imaplib.IMAP4_SSL: UID SEARCH UNSEEN, FETCH, STORE +FLAGS."""

    def __init__(self, messages: dict[bytes, bytes]):
        self.messages = messages
        self.seen: set[bytes] = set()
        self.calls: list[tuple] = []

    def __call__(self, host, port):
        self.calls.append(("connect", host, port))
        return self

    def login(self, user, password):
        self.calls.append(("login", user, password))
        return "OK", [b"Logged in"]

    def select(self, folder):
        self.calls.append(("select", folder))
        return "OK", [str(len(self.messages)).encode()]

    def uid(self, command, *args):
        if command == "SEARCH":
            unseen = [uid for uid in self.messages if uid not in self.seen]
            return "OK", [b" ".join(unseen)]
        if command == "FETCH":
            uid = args[0]
            assert args[1] == "(BODY.PEEK[])"
            return "OK", [(uid + b" (UID " + uid + b" BODY[] {1}", self.messages[uid]), b")"]
        if command == "STORE":
            assert args[1:] == ("+FLAGS", "(\\Seen)")
            self.seen.add(args[0].encode())
            return "OK", []
        raise AssertionError(command)

    def close(self):
        return "OK", []

    def logout(self):
        return "BYE", []


def test_imap_source_shares_the_parsing_and_flags_handled_messages(world, monkeypatch):
    server = FakeImap(
        {
            b"7": mail(
                Message_ID="<imap-7@example.org>",
                From="Paul <paul@example.org>",
                Subject="Panne rue des Lilas",
                body="Plus de courant.",
            ),
            b"8": mail(
                Message_ID="<imap-8@mail.client.example>",
                From="client@example.fr",
                Subject=f"Re: [{world['meter'].reference}] Compteur",
                In_Reply_To="<x@y>",
                body="Toujours pareil.\n\nOn Tue, Jun 2, 2026, Power Next wrote:\n> Bonjour",
            ),
        }
    )
    monkeypatch.setattr(
        fetch_mail.ImapSource, "__init__", _with_connect(fetch_mail.ImapSource.__init__, server)
    )
    args = ["--imap-host", "imap.example", "--imap-user", "support", "--imap-folder", "Support"]
    monkeypatch.setenv(fetch_mail.IMAP_PASSWORD_ENV, "s3cret")
    with time_machine.travel(NOW, tick=False):
        assert run(*args) == "threaded 1, created 1, skipped 0, failed 0"
        assert run(*args) == "threaded 0, created 0, skipped 0, failed 0"
    assert server.seen == {b"7", b"8"}
    assert ("login", "support", "s3cret") in server.calls
    assert ("select", '"Support"') in server.calls
    assert world["meter"].messages.filter(body="Toujours pareil.").exists()
    assert Ticket.objects.filter(subject="Panne rue des Lilas", channel="EMAIL").exists()


def _with_connect(init, server):
    def patched(self, **kwargs):
        init(self, **kwargs, connect=server)

    return patched


# --- Parsing, without a database ---------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Merci !\n\nLe 2 juin 2026 à 10:00, Power Next <s@p.example> a écrit :\n> Bonjour",
        "Merci !\n\nLe mar. 2 juin 2026 à 10:00, Power Next <s@p.example> a\nécrit :\n> x",
        "Merci !\n\nOn Tue, Jun 2, 2026 at 10:00 AM Power Next <s@p.example> wrote:\n> x",
        "Merci !\n\n-----Original Message-----\nFrom: Power Next\nSent: Tuesday\nHello",
        "Merci !\n\nDe : Power Next <s@p.example>\nEnvoyé : mardi 2 juin 2026 10:00\nÀ : moi",
        "> Bonjour, une réponse ?\nMerci !\n> signature citée",
    ],
)
def test_quoted_history_is_cut(text):
    assert inbound.strip_quoted(text) == "Merci !"


def test_a_reply_made_only_of_quotes_keeps_its_text():
    assert inbound.strip_quoted("> seulement cité") == "> seulement cité"


def test_reference_is_found_anywhere_in_the_subject():
    assert inbound.find_reference("TR: RE: [pn-2026-000042] Facture") == "PN-2026-000042"
    assert inbound.find_reference("Commande PN-2026-0000421") is None
    assert inbound.find_reference("Sans référence") is None


def test_html_is_turned_into_text():
    html = "<p>Un&nbsp;<b>texte</b></p><style>x{}</style><br>Deux<blockquote>cité</blockquote>"
    assert inbound.html_to_text(html) == "Un texte\n\nDeux"
