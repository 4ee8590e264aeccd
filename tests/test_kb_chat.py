"""The chatbot and the customer side of the hand-off (issue 9): FAQ answers from the
knowledge base, transactions for a signed-in customer (never for anyone else), safety
first, the hand-off ticket, leave-a-message outside hours, the idle sweep, the widget."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from accounts.company import EMERGENCY_PHONE
from accounts.models import MemberRole, Role, SupplyPoint
from billing.models import Invoice, LedgerEntry, PaymentExtension
from billing.services.ledger import ledger_post
from kb.domain import chat as chat_domain
from kb.models import (
    Article,
    Conversation,
    ConversationEvent,
    ConversationMessage,
    ConversationOutcome,
    ConversationStatus,
    Sender,
)
from kb.services import chat
from kb.services import live as live_services
from kb.services.articles import kb_content_sync
from kb.tasks import kb_conversation_idle_sweep_task
from metering.models import Meter, MeterRegister, Reading
from outages.models import Incident
from tickets import services as ticket_services
from tickets.models import ClockInstance, Contact, Ticket

from .factories import MembershipFactory, PremiseFactory

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
T0 = datetime(2026, 3, 10, 10, 0, tzinfo=PARIS)  # a Tuesday: live chat open
SUNDAY = datetime(2026, 3, 15, 11, 0, tzinfo=PARIS)  # closed
SESSION = "a" * 32
OTHER_SESSION = "b" * 32
_numbers = itertools.count(900)
_prm = itertools.count(41_000_000_000_000)


@pytest.fixture(autouse=True)
def _clock_and_media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    with time_machine.travel(T0, tick=False):
        yield


# --- Builders ------------------------------------------------------------------------------


def invoice_for(account, point, *, due=date(2026, 3, 20), gross="84.50", book=True) -> Invoice:
    invoice = Invoice.objects.create(
        kind="INVOICE",
        number=f"FA-2026-{next(_numbers):06d}",
        status="ISSUED",
        account=account,
        supply_point=point,
        period_start=date(2026, 1, 1),
        period_end=date(2026, 2, 1),
        issue_date=due - timedelta(days=14),
        due_date=due,
        tariff_name="Tarif Base",
        total_gross=D(gross),
        created_at=T0 - timedelta(days=20),
    )
    if book:
        ledger_post(
            account=account,
            kind="CHARGE",
            amount=D(gross),
            description="Facture",
            now=T0 - timedelta(days=14),
            invoice=invoice,
        )
    return invoice


class Home:
    def __init__(self, make_user, *, role=MemberRole.HOLDER):
        self.user = make_user(Role.CUSTOMER)
        self.account = MembershipFactory(user=self.user, role=role).account
        self.premise = PremiseFactory(account=self.account, postcode="75015")
        self.point = SupplyPoint.objects.create(
            premise=self.premise, market="FR_PRM", identifier=f"{next(_prm)}", subscribed_kva=6
        )
        self.meter = Meter.objects.create(
            supply_point=self.point,
            serial=f"M-{next(_numbers)}",
            digits=6,
            installed_at=T0 - timedelta(days=800),
        )
        self.base = MeterRegister.objects.create(meter=self.meter, code="BASE")
        Reading.objects.create(
            register=self.base,
            value=12_000,
            read_at=T0 - timedelta(days=30),
            source="CUSTOMER",
            recorded_at=T0 - timedelta(days=30),
        )
        self.invoice = invoice_for(self.account, self.point)
        self.ticket = ticket_services.ticket_create(
            channel="PORTAL",
            category="BILL_QUERY",
            subject="Question sur ma facture",
            body="Bonjour",
            now=T0 - timedelta(days=2),
            account=self.account,
            requester=self.user,
        )


@pytest.fixture
def home(make_user):
    return Home(make_user)


@pytest.fixture
def other(make_user):
    return Home(make_user)


@pytest.fixture
def kb(make_user):
    make_user(Role.ADMIN)
    kb_content_sync(now=T0)
    assert Article.objects.filter(status="PUBLISHED").exists()


def start(user=None, *, session=SESSION, now=T0, language="fr") -> Conversation:
    return chat.conversation_start(user=user, session_key=session, language=language, now=now)


def say(conversation, body, *, user=None, session=SESSION, now=T0) -> list[ConversationMessage]:
    return chat.conversation_post(
        conversation_id=conversation.pk, body=body, user=user, session_key=session, now=now
    )


def bot_text(messages) -> str:
    return "\n".join(m.body for m in messages if m.sender != Sender.CUSTOMER)


def everything_said(conversation) -> str:
    return "\n".join(conversation.messages.values_list("body", flat=True))


# --- Safety first --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["il y a de la fumée au compteur", "ma facture et il y a de la fumée", "sparks!"],
)
def test_safety_answers_the_emergency_number_at_once_and_never_an_article(kb, text):
    conversation = start()
    replies = say(conversation, text)
    assert [m.sender for m in replies] == [Sender.CUSTOMER, Sender.BOT]
    assert EMERGENCY_PHONE in replies[1].body
    assert replies[1].articles == []
    assert "/help/" not in replies[1].body
    conversation.refresh_from_db()
    assert conversation.articles_shown == []
    assert conversation.intents[-1] == "SAFETY"


def test_safety_is_answered_even_while_waiting_for_a_person(home):
    conversation = start(home.user)
    say(conversation, "parler à un conseiller", user=home.user)
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.WAITING
    replies = say(conversation, "ça sent le brûlé", user=home.user)
    assert EMERGENCY_PHONE in bot_text(replies)


# --- FAQ -----------------------------------------------------------------------------------


def test_faq_answers_with_the_best_article_its_link_and_asks_if_it_helped(kb):
    conversation = start()
    replies = say(conversation, "comment lire mon compteur ?")
    answer = replies[-1]
    assert answer.sender == Sender.BOT
    assert answer.articles, "the articles offered are recorded on the message"
    best = Article.objects.get(pk=answer.articles[0])
    assert best.key == "read-your-meter"
    assert best.summary in answer.body
    assert f"/help/{best.category.slug}/{best.slug}/" in answer.body
    assert "Cela répond-il à votre question ? Oui / Non" in answer.body
    assert len(answer.articles) <= 3
    conversation.refresh_from_db()
    assert conversation.articles_shown == answer.articles

    replies = say(conversation, "oui")
    assert replies[0].intent == "FEEDBACK_YES"
    conversation.refresh_from_db()
    assert conversation.failed_in_row == 0


def test_two_failed_answers_in_a_row_hand_the_chat_over(kb):
    conversation = start()
    say(conversation, "comment lire mon compteur ?")
    say(conversation, "non")
    conversation.refresh_from_db()
    assert (conversation.status, conversation.failed_in_row) == (ConversationStatus.BOT, 1)
    replies = say(conversation, "xyzzy plugh frobnicate")  # nothing found: fails too
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.WAITING
    assert conversation.ticket is not None
    assert conversation.ticket.channel == "CHATBOT_HANDOFF"
    assert replies[-1].sender == Sender.SYSTEM
    assert conversation.ticket.reference in replies[-1].body


def test_an_accepted_answer_resets_the_count_of_failures(kb):
    conversation = start()
    say(conversation, "xyzzy plugh")
    say(conversation, "comment lire mon compteur ?")
    say(conversation, "oui")
    say(conversation, "xyzzy plugh")
    conversation.refresh_from_db()
    assert (conversation.status, conversation.failed_in_row) == (ConversationStatus.BOT, 1)


# --- Transactions for a signed-in customer -------------------------------------------------


def test_balance_and_last_invoice_with_its_pdf_link(home):
    conversation = start(home.user)
    text = bot_text(say(conversation, "quel est mon solde ?", user=home.user))
    assert "84,50" in text
    assert home.invoice.number in text
    assert reverse("portal_invoices:pdf", args=[home.invoice.number]) in text


def test_an_invoice_by_its_number(home):
    older = invoice_for(home.account, home.point, due=date(2026, 2, 1), gross="12.00")
    conversation = start(home.user)
    text = bot_text(say(conversation, f"ma facture {older.number}", user=home.user))
    assert older.number in text
    assert "12,00" in text
    conversation.refresh_from_db()
    assert conversation.entities["invoice"] == older.number


def test_another_customers_invoice_number_gets_the_same_answer_as_a_missing_one(home, other):
    conversation = start(home.user)
    theirs = bot_text(say(conversation, f"facture {other.invoice.number}", user=home.user))
    missing = bot_text(say(conversation, "facture FA-2026-999999", user=home.user))
    assert theirs.replace(other.invoice.number, "X") == missing.replace("FA-2026-999999", "X")
    assert "sur votre compte" in theirs
    assert str(other.invoice.total_gross).replace(".", ",") not in everything_said(conversation)
    # Nor through the extension.
    text = bot_text(
        say(conversation, f"reporter la facture {other.invoice.number}", user=home.user)
    )
    assert "Je ne trouve pas" in text


def test_another_customers_ticket_reference_gets_the_same_answer_as_a_missing_one(home, other):
    conversation = start(home.user)
    theirs = bot_text(say(conversation, f"où en est {other.ticket.reference}", user=home.user))
    missing = bot_text(say(conversation, "où en est PN-2026-999999", user=home.user))
    assert theirs.replace(other.ticket.reference, "X") == missing.replace("PN-2026-999999", "X")
    assert other.ticket.subject not in everything_said(conversation)


def test_track_my_ticket_by_reference(home):
    conversation = start(home.user)
    text = bot_text(say(conversation, f"suivi de {home.ticket.reference}", user=home.user))
    assert home.ticket.subject in text
    assert home.ticket.get_status_display() in text
    assert reverse("portal_tickets:detail", args=[home.ticket.reference]) in text


def test_outage_status_at_my_premise(home):
    conversation = start(home.user)
    text = bot_text(say(conversation, "je n'ai plus de courant", user=home.user))
    assert "aucune coupure en cours" in text
    Incident.objects.create(
        reference="INC-2026-00042",
        title="Panne",
        klass="P2",
        proposed_klass="P2",
        status="CONFIRMED",
        postcodes=["75015"],
        area_class="URBAN",
        started_at=T0 - timedelta(hours=1),
        created_at=T0 - timedelta(hours=1),
        updated_at=T0 - timedelta(hours=1),
        etr=T0 + timedelta(hours=2),
    )
    text = bot_text(say(conversation, "coupure de courant chez moi ?", user=home.user))
    assert "INC-2026-00042" in text
    assert "10/03/2026 12:00" in text


def test_a_reading_is_submitted_through_the_portals_checks(home):
    conversation = start(home.user)
    replies = say(conversation, "je veux transmettre mon relevé", user=home.user)
    assert "Quel index" in replies[-1].body
    say(conversation, "12300", user=home.user)
    reading = Reading.objects.get(value=12_300)
    assert (reading.status, reading.submitted_by) == ("ACCEPTED", home.user)


def test_an_impossible_reading_is_refused_with_the_portals_reason_and_nothing_written(home):
    conversation = start(home.user)
    text = bot_text(say(conversation, "mon index est 11000", user=home.user))
    assert "inférieur au dernier relevé (12000 kWh)" in text
    assert not Reading.objects.filter(value=11_000).exists()


def test_a_viewer_may_not_submit_a_reading_nor_see_the_bills(make_user):
    viewer = Home(make_user, role=MemberRole.VIEWER)
    conversation = start(viewer.user)
    text = bot_text(say(conversation, "mon index est 12400", user=viewer.user))
    text += bot_text(say(conversation, "mon solde", user=viewer.user))
    assert "ne permet pas" in text
    assert not Reading.objects.filter(value=12_400).exists()
    assert viewer.invoice.number not in text


def test_payment_extension_is_proposed_then_granted_on_yes(home):
    conversation = start(home.user)
    text = bot_text(say(conversation, "je voudrais un délai de paiement", user=home.user))
    assert home.invoice.number in text
    assert "19/04/2026" in text  # 20/03 + 30 days
    assert not PaymentExtension.objects.exists()
    say(conversation, "oui", user=home.user)
    extension = PaymentExtension.objects.get(invoice=home.invoice)
    assert extension.new_due == date(2026, 4, 19)


def test_payment_extension_declined_changes_nothing(home):
    conversation = start(home.user)
    say(conversation, "je voudrais un délai de paiement", user=home.user)
    say(conversation, "non", user=home.user)
    assert not PaymentExtension.objects.exists()


@pytest.mark.parametrize(
    "text",
    [
        "quel est mon solde",
        "ma dernière facture",
        "facture FA-2026-000900",
        "je n'ai plus de courant",
        "mon index est 12300",
        "je voudrais un délai de paiement",
        "où en est PN-2026-000001",
    ],
)
def test_anonymous_visitors_are_asked_to_sign_in_and_told_nothing(home, text):
    conversation = start()
    replies = say(conversation, text)
    answer = bot_text(replies)
    assert reverse("accounts:login") + "?next=" in answer
    assert home.invoice.number not in answer
    assert "84,50" not in answer
    assert home.ticket.reference not in answer
    assert not Reading.objects.filter(value=12_300).exists()
    assert not PaymentExtension.objects.exists()


def test_staff_chatting_are_not_customers(make_user, home):
    agent = make_user(Role.AGENT)
    conversation = start(agent)
    assert conversation.account is None
    assert "?next=" in bot_text(say(conversation, "mon solde", user=agent))


# --- Hand-off ------------------------------------------------------------------------------


def test_handoff_ticket_carries_transcript_intents_entities_articles_and_identity(kb, home):
    conversation = start(home.user)
    say(conversation, "comment lire mon compteur ?", user=home.user)
    say(conversation, f"ma facture {home.invoice.number}", user=home.user)
    say(conversation, "parler à un conseiller", user=home.user)
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.WAITING
    assert conversation.handed_off_at == T0
    event = ConversationEvent.objects.get(conversation=conversation)
    assert (event.from_status, event.to_status) == ("BOT", "WAITING")
    ticket = conversation.ticket
    assert (ticket.channel, ticket.queue) == ("CHATBOT_HANDOFF", "BILLING")
    assert ticket.account == home.account
    body = ticket.messages.get().body
    assert "Client authentifié : oui — compte " + home.account.number in body
    assert "FAQ" in body and "LAST_INVOICE" in body and "HUMAN" in body
    assert f"invoice={home.invoice.number}" in body
    article = Article.objects.get(key="read-your-meter", language="fr")
    assert article.title in body
    assert f"/help/{article.category.slug}/{article.slug}/" in body
    for message in conversation.messages.exclude(sender=Sender.SYSTEM):
        first_line = message.body.splitlines()[0]
        assert f"{message.get_sender_display()} : {first_line}" in body
    assert "[10/03/2026 10:00:00] Client : comment lire mon compteur ?" in body
    assert ticket.details["authenticated"] is True
    assert ticket.details["entities"]["invoice"] == home.invoice.number
    contact = Contact.objects.get(ticket=ticket)
    assert conversation.contact == contact
    assert contact.channel == "CHATBOT_HANDOFF"


def test_anonymous_handoff_says_so_and_goes_to_the_general_queue():
    conversation = start()
    say(conversation, "bonjour")
    chat.conversation_hand_off(conversation_id=conversation.pk, reason="button", now=T0)
    conversation.refresh_from_db()
    ticket = conversation.ticket
    assert ticket.queue == "GENERAL"
    assert ticket.account is None
    assert not ticket.safety_critical  # the bot's own words do not make it urgent
    assert "Client authentifié : non" in ticket.messages.get().body
    assert ticket.details["authenticated"] is False


def test_outside_hours_a_left_message_becomes_a_chat_ticket_with_the_sla_clock(home):
    conversation = start(home.user, now=SUNDAY)
    say(conversation, "mon solde", user=home.user, now=SUNDAY)
    replies = say(conversation, "je veux parler à un conseiller", user=home.user, now=SUNDAY)
    assert "Laissez-nous un message" in replies[-1].body
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.BOT
    assert conversation.ticket is None

    later = SUNDAY + timedelta(minutes=1)
    replies = say(conversation, "Merci de me rappeler pour ma facture", user=home.user, now=later)
    conversation.refresh_from_db()
    assert (conversation.status, conversation.outcome) == ("CLOSED", "HANDED_OFF")
    ticket = conversation.ticket
    assert (ticket.channel, ticket.queue) == ("CHAT", "BILLING")
    assert ticket.messages.get().body.startswith("Merci de me rappeler pour ma facture")
    assert ClockInstance.objects.filter(ticket=ticket).exists()
    assert ticket.reference in replies[-1].body
    with pytest.raises(chat.ConversationClosed):
        say(conversation, "encore", user=home.user, now=later)


def test_outside_hours_answering_no_keeps_chatting():
    conversation = start(now=SUNDAY)
    say(conversation, "un conseiller", now=SUNDAY)
    say(conversation, "non", now=SUNDAY)
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.BOT
    assert not Ticket.objects.exists()


def test_the_agents_reply_reaches_the_customers_poll(home, make_user, login, client):
    agent = make_user(Role.AGENT)
    client.force_login(home.user)
    client.post(reverse("chat:start"), {"body": "parler à un conseiller"})
    conversation = Conversation.objects.get()
    assert conversation.status == ConversationStatus.WAITING
    last = conversation.messages.order_by("-id").first().pk
    live_services.conversation_pick_up(conversation_id=conversation.pk, agent=agent, now=T0)
    live_services.conversation_agent_reply(
        conversation_id=conversation.pk, agent=agent, body="Bonjour, je regarde.", now=T0
    )
    response = client.get(
        reverse("chat:messages", args=[conversation.public_id]) + f"?after={last}",
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "Bonjour, je regarde." in response.content.decode()


# --- State machine -------------------------------------------------------------------------

ALL = ["BOT", "WAITING", "LIVE", "CLOSED"]
LEGAL = {("BOT", "WAITING"), ("BOT", "CLOSED"), ("WAITING", "LIVE"), ("WAITING", "CLOSED")}
LEGAL.add(("LIVE", "CLOSED"))


@pytest.mark.parametrize(("source", "target"), [(s, t) for s in ALL for t in ALL])
def test_state_machine(source, target):
    if (source, target) in LEGAL:
        chat_domain.check_transition(source, target)
    else:
        with pytest.raises(chat_domain.IllegalTransition):
            chat_domain.check_transition(source, target)


@pytest.mark.parametrize("status", ["WAITING", "LIVE", "CLOSED"])
def test_only_a_bot_conversation_can_be_handed_off(status):
    conversation = start()
    Conversation.objects.filter(pk=conversation.pk).update(status=status)
    with pytest.raises(chat_domain.IllegalTransition):
        chat.conversation_hand_off(conversation_id=conversation.pk, reason="x", now=T0)
    assert not Ticket.objects.exists()


# --- Live-chat hours (DST) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "open_"),
    [
        # Monday after spring-forward (CEST, UTC+2): opens at 06:00 UTC.
        (datetime(2026, 3, 30, 5, 59, tzinfo=UTC), False),
        (datetime(2026, 3, 30, 6, 0, tzinfo=UTC), True),
        (datetime(2026, 3, 30, 17, 59, tzinfo=UTC), True),
        (datetime(2026, 3, 30, 18, 0, tzinfo=UTC), False),
        # The Friday before it (CET, UTC+1): opens at 07:00 UTC.
        (datetime(2026, 3, 27, 6, 30, tzinfo=UTC), False),
        (datetime(2026, 3, 27, 7, 0, tzinfo=UTC), True),
        # The change days are Sundays: closed all day.
        (datetime(2026, 3, 29, 10, 0, tzinfo=UTC), False),
        (datetime(2026, 10, 25, 10, 0, tzinfo=UTC), False),
        # Saturday before fall-back (CEST) 09:00-13:00 = 07:00-11:00 UTC; Monday after (CET).
        (datetime(2026, 10, 24, 7, 0, tzinfo=UTC), True),
        (datetime(2026, 10, 24, 11, 0, tzinfo=UTC), False),
        (datetime(2026, 10, 26, 6, 30, tzinfo=UTC), False),
        (datetime(2026, 10, 26, 7, 0, tzinfo=UTC), True),
        (datetime(2026, 10, 26, 19, 0, tzinfo=UTC), False),
        # A public holiday (1 May, a Friday).
        (datetime(2026, 5, 1, 10, 0, tzinfo=UTC), False),
    ],
)
def test_live_chat_hours_in_paris_time_across_dst(instant, open_):
    assert chat_domain.live_chat_open(instant) is open_


# --- Idle sweep ----------------------------------------------------------------------------

LATER = T0 + timedelta(minutes=16)


def test_idle_bot_conversation_with_an_accepted_answer_is_contained(kb):
    conversation = start()
    say(conversation, "comment lire mon compteur ?")
    say(conversation, "oui")
    assert chat.conversation_idle_sweep(now=T0 + timedelta(minutes=14)) == 0
    assert chat.conversation_idle_sweep(now=LATER) == 1
    conversation.refresh_from_db()
    assert (conversation.status, conversation.outcome) == ("CLOSED", "CONTAINED")
    contact = conversation.contact
    assert (contact.channel, contact.offered_at, contact.abandoned) == ("CHATBOT", T0, False)
    # Idempotent: nothing more closed, no second contact.
    assert chat.conversation_idle_sweep(now=LATER + timedelta(minutes=5)) == 0
    assert kb_conversation_idle_sweep_task(now_iso=LATER.isoformat()) == 0
    assert Contact.objects.filter(channel="CHATBOT").count() == 1


def test_idle_bot_conversation_whose_last_answer_was_refused_is_abandoned(kb):
    conversation = start()
    say(conversation, "comment lire mon compteur ?")
    say(conversation, "non")
    chat.conversation_idle_sweep(now=LATER)
    conversation.refresh_from_db()
    assert conversation.outcome == ConversationOutcome.ABANDONED
    assert conversation.contact.channel == "CHATBOT"
    assert conversation.contact.abandoned is True


def test_idle_conversation_without_a_question_is_abandoned_and_not_a_contact():
    conversation = start()
    chat.conversation_idle_sweep(now=LATER)
    conversation.refresh_from_db()
    assert conversation.outcome == ConversationOutcome.ABANDONED
    assert conversation.contact is None
    assert not Contact.objects.exists()


def test_idle_waiting_conversation_never_picked_up_is_abandoned():
    conversation = start()
    say(conversation, "un conseiller svp")
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.WAITING
    contact = conversation.contact
    assert contact.channel == "CHATBOT_HANDOFF"
    chat.conversation_idle_sweep(now=LATER)
    conversation.refresh_from_db()
    assert (conversation.status, conversation.outcome) == ("CLOSED", "ABANDONED")
    assert conversation.contact == contact
    assert Contact.objects.count() == 1


def test_a_live_conversation_is_not_swept(make_user):
    agent = make_user(Role.AGENT)
    conversation = start()
    say(conversation, "un conseiller svp")
    live_services.conversation_pick_up(conversation_id=conversation.pk, agent=agent, now=T0)
    chat.conversation_idle_sweep(now=T0 + timedelta(hours=2))
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.LIVE


def test_a_new_message_pushes_the_idle_deadline(kb):
    conversation = start()
    say(conversation, "bonjour", now=T0 + timedelta(minutes=10))
    assert chat.conversation_idle_sweep(now=LATER) == 0
    conversation.refresh_from_db()
    assert conversation.idle_due_at == T0 + timedelta(minutes=25)


def test_a_waiting_customers_poll_keeps_the_wait_alive_until_the_tab_closes(client):
    client.post(reverse("chat:start"), {"body": "un conseiller"})
    conversation = Conversation.objects.get()
    assert conversation.status == ConversationStatus.WAITING
    url = reverse("chat:messages", args=[conversation.public_id]) + "?after=0"
    # Twenty minutes of polling: the wait is still on.
    for minute in (5, 10, 14, 20):
        with time_machine.travel(T0 + timedelta(minutes=minute), tick=False):
            client.get(url, HTTP_HX_REQUEST="true")
    conversation.refresh_from_db()
    assert conversation.idle_due_at == T0 + timedelta(minutes=35)
    assert chat.conversation_idle_sweep(now=T0 + timedelta(minutes=30)) == 0
    # Two polls within the minute write once.
    assert (
        chat.conversation_keep_waiting(
            conversation_id=conversation.pk, now=T0 + timedelta(minutes=20, seconds=30)
        )
        is False
    )
    # The tab is closed: no more polls, abandoned once the deadline passes.
    assert chat.conversation_idle_sweep(now=T0 + timedelta(minutes=36)) == 1
    conversation.refresh_from_db()
    assert (conversation.status, conversation.outcome) == ("CLOSED", "ABANDONED")


# --- Service guards ------------------------------------------------------------------------


def test_another_session_or_user_cannot_post(home, make_user):
    conversation = start(home.user)
    with pytest.raises(chat.ConversationNotFound):
        say(conversation, "mon solde", user=home.user, session=OTHER_SESSION)
    intruder = make_user(Role.CUSTOMER)
    with pytest.raises(chat.ConversationNotFound):
        say(conversation, "mon solde", user=intruder)
    assert conversation.messages.count() == 1  # the greeting only


@pytest.mark.parametrize("body", ["", "   ", "x" * (chat.BODY_MAX + 1)])
def test_empty_or_too_long_messages_are_refused_and_nothing_written(body):
    conversation = start()
    with pytest.raises(chat.InvalidMessage) as error:
        say(conversation, body)
    assert error.value.field == "body"
    assert conversation.messages.count() == 1


# --- Views ---------------------------------------------------------------------------------


def test_full_page_chat_without_javascript(client, home):
    client.force_login(home.user)
    page = client.get(reverse("chat:page"))
    assert page.status_code == 200
    assert 'action="/chat/start/"' in page.content.decode()
    response = client.post(reverse("chat:start"), {"body": "quel est mon solde ?"})
    assert response.status_code == 302
    page = client.get(reverse("chat:page")).content.decode()
    assert '<ul class="messages"' not in page  # chat messages are not flash messages
    assert "84,50" in page
    assert f'href="{reverse("portal_invoices:pdf", args=[home.invoice.number])}"' in page
    conversation = Conversation.objects.get()
    response = client.post(reverse("chat:post", args=[conversation.public_id]), {"body": "merci"})
    assert response.status_code == 302
    assert conversation.messages.filter(sender=Sender.CUSTOMER).count() == 2


def test_htmx_send_returns_the_new_messages_and_a_fresh_box(client):
    client.post(reverse("chat:start"))
    conversation = Conversation.objects.get()
    last = conversation.messages.get().pk
    response = client.post(
        reverse("chat:post", args=[conversation.public_id]),
        {"body": "quel est mon solde", "after": last},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'hx-swap-oob="beforeend:#chat-log"' in html
    assert "quel est mon solde" in html
    assert "?next=" in html
    assert 'id="chat-compose"' in html
    assert f'id="chat-msg-{last}"' not in html  # only what is new


def test_an_empty_message_is_a_400_with_the_field_error(client):
    client.post(reverse("chat:start"))
    conversation = Conversation.objects.get()
    url = reverse("chat:post", args=[conversation.public_id])
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        response = client.post(url, {"body": "  "}, **headers)
        assert response.status_code == 400
        assert "Écrivez votre message." in response.content.decode()
    assert conversation.messages.count() == 1
    response = client.post(reverse("chat:start"), {"body": ""})
    assert response.status_code == 400
    assert Conversation.objects.count() == 1


def test_another_session_gets_404_for_the_conversation(client, django_user_model):
    from django.test import Client

    client.post(reverse("chat:start"))
    conversation = Conversation.objects.get()
    stranger = Client()
    stranger.get(reverse("chat:page"))
    for method, name, data in (
        ("post", "chat:post", {"body": "bonjour"}),
        ("post", "chat:hand_off", {}),
        ("get", "chat:messages", {}),
    ):
        url = reverse(name, args=[conversation.public_id])
        response = getattr(stranger, method)(url, data, HTTP_HX_REQUEST="true")
        assert response.status_code == 404
    assert conversation.messages.count() == 1
    assert not Ticket.objects.exists()


def test_another_user_gets_404_even_with_the_same_session(client, home, make_user):
    client.force_login(home.user)
    client.post(reverse("chat:start"))
    conversation = Conversation.objects.get()
    # Same session row, another user: the conversation is bound to its user too.
    Conversation.objects.filter(pk=conversation.pk).update(user=make_user(Role.CUSTOMER))
    response = client.get(
        reverse("chat:messages", args=[conversation.public_id]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 404


def test_the_button_hands_off(client):
    client.post(reverse("chat:start"))
    conversation = Conversation.objects.get()
    response = client.post(
        reverse("chat:hand_off", args=[conversation.public_id]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.WAITING
    assert "every 3s" in response.content.decode()


def test_poll_queries_stay_constant_as_messages_grow(client, django_assert_max_num_queries):
    client.post(reverse("chat:start"), {"body": "un conseiller"})
    conversation = Conversation.objects.get()
    url = reverse("chat:messages", args=[conversation.public_id]) + "?after=0"

    def add(n):
        for i in range(n):
            ConversationMessage.objects.create(
                conversation=conversation, sender=Sender.AGENT, body=f"m{i}", created_at=T0
            )

    add(2)
    with django_assert_max_num_queries(7):
        small = client.get(url, HTTP_HX_REQUEST="true")
    add(40)
    with django_assert_max_num_queries(7):
        big = client.get(url, HTTP_HX_REQUEST="true")
    assert big.content.decode().count("chat-msg-agent") == 42
    assert small.status_code == big.status_code == 200


def test_the_launcher_is_on_public_and_portal_pages_not_the_console(client, home, make_user):
    assert 'data-testid="chat-launcher"' in client.get(reverse("home")).content.decode()
    client.force_login(home.user)
    assert 'data-testid="chat-launcher"' in client.get(reverse("portal:home")).content.decode()
    client.force_login(make_user(Role.AGENT, totp=True))
    html = client.get(reverse("chat:page")).content.decode()
    assert 'data-testid="chat-launcher"' not in html


def test_the_panel_opens_with_htmx_and_redirects_without(client):
    response = client.get(reverse("chat:panel"), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'role="dialog"' in html and 'aria-live="polite"' in html
    assert '<label for="id_body">' in html
    assert client.get(reverse("chat:panel")).status_code == 302


def test_ledger_untouched_by_reading_balance(home):
    conversation = start(home.user)
    before = LedgerEntry.objects.count()
    say(conversation, "mon solde", user=home.user)
    assert LedgerEntry.objects.count() == before
