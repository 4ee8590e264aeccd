"""Live chat, agent side: pick-up, replies, close, the console pages (issue 9)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from kb.models import (
    Conversation,
    ConversationEvent,
    ConversationMessage,
    ConversationOutcome,
    ConversationStatus,
    Sender,
)
from kb.selectors import live as live_selectors
from kb.services import live
from tests.concurrency import race
from tickets import services as ticket_services
from tickets.models import Channel, Contact, Message, Survey, Ticket

from .factories import AccountFactory, MembershipFactory

PARIS = ZoneInfo("Europe/Paris")
# A Tuesday, live chat open.
T0 = datetime(2026, 3, 10, 10, 0, tzinfo=PARIS)


# --- Helpers ------------------------------------------------------------------------


def waiting_conversation(*, customer=None, account=None, at=T0, intents=None, bot_turns=2):
    """A conversation the bot handed over (WAITING) with its CHATBOT_HANDOFF ticket,
    built directly: what kb.services.chat.conversation_hand_off leaves behind."""
    started = at - timedelta(minutes=3)
    conversation = Conversation.objects.create(
        session_key="s" * 32,
        user=customer,
        account=account,
        language="fr",
        status=ConversationStatus.WAITING,
        intents=intents if intents is not None else ["balance", "human"],
        entities={"invoice_number": "F-2026-000123"},
        articles_shown=[],
        started_at=started,
        last_activity_at=at,
        handed_off_at=at,
        idle_due_at=at + timedelta(minutes=15),
    )
    for turn in range(bot_turns):
        ConversationMessage.objects.create(
            conversation=conversation,
            sender=Sender.CUSTOMER,
            body=f"Question {turn}",
            intent="balance",
            created_at=started + timedelta(seconds=10 * turn),
        )
        ConversationMessage.objects.create(
            conversation=conversation,
            sender=Sender.BOT,
            body=f"Réponse {turn}",
            created_at=started + timedelta(seconds=10 * turn + 1),
        )
    ConversationEvent.objects.create(
        conversation=conversation, from_status="BOT", to_status="WAITING", at=at
    )
    ticket = ticket_services.ticket_create(
        channel=Channel.CHATBOT_HANDOFF,
        category="OTHER",
        subject="Chat : demande à parler à un conseiller",
        body="Transcription…",
        now=at,
        account=account,
        requester=customer,
    )
    conversation.ticket = ticket
    conversation.save(update_fields=["ticket"])
    return conversation


@pytest.fixture
def customer(make_user):
    user = make_user(Role.CUSTOMER, email="client@example.fr")
    account = AccountFactory(name="Famille Martin")
    MembershipFactory(account=account, user=user)
    return user, account


@pytest.fixture
def agent(make_user):
    return make_user(Role.AGENT, first_name="Camille", email="camille@powernext.example")


@pytest.fixture
def agent2(make_user):
    return make_user(Role.AGENT, first_name="Noé", email="noe@powernext.example")


@pytest.fixture
def supervisor(make_user):
    return make_user(Role.SUPERVISOR, email="sup@powernext.example")


@pytest.fixture
def waiting(customer):
    user, account = customer
    return waiting_conversation(customer=user, account=account)


def _live(conversation, agent, at=T0 + timedelta(minutes=1)):
    live.conversation_pick_up(conversation_id=conversation.pk, agent=agent, now=at)
    conversation.refresh_from_db()
    return conversation


# --- Services -------------------------------------------------------------------------


def test_pick_up_takes_the_chat_and_assigns_its_ticket(waiting, agent):
    at = T0 + timedelta(minutes=2)
    live.conversation_pick_up(conversation_id=waiting.pk, agent=agent, now=at)

    waiting.refresh_from_db()
    assert waiting.status == ConversationStatus.LIVE
    assert waiting.agent == agent
    assert waiting.idle_due_at is None
    # answered_at is the agent's first reply, not the pick-up.
    assert waiting.answered_at is None
    event = ConversationEvent.objects.filter(conversation=waiting).order_by("pk").last()
    assert (event.from_status, event.to_status, event.actor, event.at) == (
        "WAITING",
        "LIVE",
        agent,
        at,
    )
    joined = waiting.messages.filter(sender=Sender.SYSTEM).get()
    assert "Camille" in joined.body and agent.last_name not in joined.body
    ticket = Ticket.objects.get(pk=waiting.ticket_id)
    assert ticket.assignee == agent
    assert ticket.events.filter(kind="ASSIGNED", to_value=agent.email).exists()


def test_picking_up_twice_by_the_same_agent_changes_nothing(waiting, agent):
    _live(waiting, agent)
    live.conversation_pick_up(conversation_id=waiting.pk, agent=agent, now=T0 + timedelta(hours=1))
    assert ConversationEvent.objects.filter(conversation=waiting, to_status="LIVE").count() == 1
    assert waiting.messages.filter(sender=Sender.SYSTEM).count() == 1


def test_a_second_agent_cannot_pick_up_a_live_chat(waiting, agent, agent2):
    _live(waiting, agent)
    with pytest.raises(live.AlreadyTaken):
        live.conversation_pick_up(conversation_id=waiting.pk, agent=agent2, now=T0)
    waiting.refresh_from_db()
    assert waiting.agent == agent


@pytest.mark.parametrize("role", [Role.CUSTOMER, Role.SUPERVISOR, Role.FIELD_TECHNICIAN])
def test_only_agents_pick_up(waiting, make_user, role):
    with pytest.raises(live.NotAllowed):
        live.conversation_pick_up(conversation_id=waiting.pk, agent=make_user(role), now=T0)
    waiting.refresh_from_db()
    assert waiting.status == ConversationStatus.WAITING


def _race(*calls):
    return race(*calls, expected=live.LiveChatError)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_two_agents_picking_the_same_chat_one_wins(customer, agent, agent2, round_):
    user, account = customer
    conversation = waiting_conversation(customer=user, account=account)
    at = T0 + timedelta(minutes=1)

    results, errors = _race(
        lambda: live.conversation_pick_up(conversation_id=conversation.pk, agent=agent, now=at),
        lambda: live.conversation_pick_up(conversation_id=conversation.pk, agent=agent2, now=at),
    )

    assert len(results) == 1
    assert [type(e) for e in errors] == [live.AlreadyTaken]
    conversation.refresh_from_db()
    assert conversation.agent_id == results[0].agent_id
    assert (
        ConversationEvent.objects.filter(conversation=conversation, to_status="LIVE").count() == 1
    )
    assert Ticket.objects.get(pk=conversation.ticket_id).assignee_id == conversation.agent_id


def test_reply_reaches_the_conversation_and_the_ticket(waiting, agent):
    _live(waiting, agent)
    first = T0 + timedelta(minutes=2)
    message = live.conversation_agent_reply(
        conversation_id=waiting.pk, agent=agent, body="  Bonjour, je regarde.  ", now=first
    )
    live.conversation_agent_reply(
        conversation_id=waiting.pk,
        agent=agent,
        body="Votre solde est à jour.",
        now=first + timedelta(minutes=1),
    )

    assert (message.sender, message.author, message.body) == (
        Sender.AGENT,
        agent,
        "Bonjour, je regarde.",
    )
    waiting.refresh_from_db()
    assert waiting.answered_at == first  # the first reply, kept on the second
    ticket_messages = Message.objects.filter(ticket_id=waiting.ticket_id, author=agent)
    assert list(ticket_messages.order_by("pk").values_list("body", "visibility")) == [
        ("Bonjour, je regarde.", "PUBLIC"),
        ("Votre solde est à jour.", "PUBLIC"),
    ]
    ticket = Ticket.objects.get(pk=waiting.ticket_id)
    assert ticket.first_response_at == first
    assert ticket.status == "OPEN"
    # The customer's widget reads every message since an id: the agent's is there.
    assert [m.pk for m in live_selectors.messages_since(conversation_id=waiting.pk, after_id=0)][
        -2:
    ] == list(
        waiting.messages.filter(sender=Sender.AGENT).order_by("pk").values_list("pk", flat=True)
    )


def test_another_agent_cannot_reply(waiting, agent, agent2):
    _live(waiting, agent)
    with pytest.raises(live.NotYourConversation):
        live.conversation_agent_reply(
            conversation_id=waiting.pk, agent=agent2, body="Coucou", now=T0
        )
    assert not waiting.messages.filter(sender=Sender.AGENT).exists()


@pytest.mark.parametrize("body", ["", "   ", "\n\t"])
def test_empty_reply_is_refused(waiting, agent, body):
    _live(waiting, agent)
    with pytest.raises(live.EmptyReply) as caught:
        live.conversation_agent_reply(conversation_id=waiting.pk, agent=agent, body=body, now=T0)
    assert caught.value.field == "body"
    assert not waiting.messages.filter(sender=Sender.AGENT).exists()


def test_close_ends_the_chat_contact_and_sends_the_survey(waiting, agent):
    _live(waiting, agent)
    answered = T0 + timedelta(minutes=2)
    live.conversation_agent_reply(
        conversation_id=waiting.pk, agent=agent, body="Bonjour", now=answered
    )
    end = T0 + timedelta(minutes=7)
    live.conversation_close(conversation_id=waiting.pk, actor=agent, now=end)

    waiting.refresh_from_db()
    assert waiting.status == ConversationStatus.CLOSED
    assert waiting.outcome == ConversationOutcome.HANDED_OFF
    assert waiting.ended_at == end
    last = waiting.messages.order_by("pk").last()
    assert last.sender == Sender.SYSTEM and "terminée" in last.body
    assert ConversationEvent.objects.filter(
        conversation=waiting, from_status="LIVE", to_status="CLOSED", actor=agent
    ).exists()
    contact = Contact.objects.get(pk=waiting.contact_id)
    assert contact.channel == Channel.CHATBOT_HANDOFF and contact.inbound
    assert (contact.agent, contact.offered_at, contact.answered_at, contact.ended_at) == (
        agent,
        T0,
        answered,
        end,
    )
    assert contact.talk_seconds == 300
    ticket = Ticket.objects.get(pk=waiting.ticket_id)
    assert ticket.status == "RESOLVED"
    assert Survey.objects.filter(ticket=ticket).count() == 1

    # Idempotent: closing again writes nothing more.
    live.conversation_close(conversation_id=waiting.pk, actor=agent, now=end + timedelta(hours=1))
    waiting.refresh_from_db()
    assert waiting.ended_at == end
    assert waiting.messages.filter(sender=Sender.SYSTEM).count() == 2  # joined, ended
    assert Survey.objects.filter(ticket=ticket).count() == 1


def test_no_survey_while_a_complaint_is_open(waiting, agent):
    ticket_services.complaint_flag(
        ticket=waiting.ticket, actor=agent, source="AGENT", summary="Pas content", now=T0
    )
    _live(waiting, agent)
    live.conversation_close(conversation_id=waiting.pk, actor=agent, now=T0 + timedelta(minutes=5))

    waiting.refresh_from_db()
    assert waiting.status == ConversationStatus.CLOSED
    assert not Survey.objects.filter(ticket_id=waiting.ticket_id).exists()
    assert Ticket.objects.get(pk=waiting.ticket_id).events.filter(kind="SURVEY_SUPPRESSED").exists()


def test_keep_ticket_open_sends_no_survey_yet(waiting, agent):
    _live(waiting, agent)
    live.conversation_close(
        conversation_id=waiting.pk, actor=agent, now=T0 + timedelta(minutes=5), resolve_ticket=False
    )
    ticket = Ticket.objects.get(pk=waiting.ticket_id)
    assert ticket.status != "RESOLVED"
    assert not Survey.objects.filter(ticket=ticket).exists()


def test_closing_a_waiting_chat_needs_a_reason(waiting, agent):
    with pytest.raises(live.ReasonRequired) as caught:
        live.conversation_close(conversation_id=waiting.pk, actor=agent, now=T0)
    assert caught.value.field == "reason"
    waiting.refresh_from_db()
    assert waiting.status == ConversationStatus.WAITING

    live.conversation_close(
        conversation_id=waiting.pk,
        actor=agent,
        now=T0 + timedelta(minutes=1),
        reason="Client parti",
    )
    waiting.refresh_from_db()
    assert (waiting.status, waiting.outcome) == ("CLOSED", "HANDED_OFF")
    ticket = Ticket.objects.get(pk=waiting.ticket_id)
    assert ticket.status == "NEW"  # left for the normal SLA
    assert ticket.messages.filter(visibility="INTERNAL", body__contains="Client parti").exists()
    assert not Survey.objects.filter(ticket=ticket).exists()
    contact = Contact.objects.get(pk=waiting.contact_id)
    assert contact.answered_at is None and contact.ended_at == T0 + timedelta(minutes=1)


def test_only_the_holder_or_a_supervisor_closes_a_live_chat(waiting, agent, agent2, supervisor):
    _live(waiting, agent)
    with pytest.raises(live.NotYourConversation):
        live.conversation_close(conversation_id=waiting.pk, actor=agent2, now=T0)
    live.conversation_close(
        conversation_id=waiting.pk, actor=supervisor, now=T0 + timedelta(hours=2)
    )
    waiting.refresh_from_db()
    assert waiting.status == ConversationStatus.CLOSED


def _set_status(conversation, status):
    Conversation.objects.filter(pk=conversation.pk).update(status=status)


@pytest.mark.parametrize(
    ("status", "action"),
    [
        ("BOT", "pick_up"),
        ("CLOSED", "pick_up"),
        ("BOT", "reply"),
        ("WAITING", "reply"),
        ("CLOSED", "reply"),
        ("BOT", "close"),
    ],
)
def test_illegal_transitions_raise(waiting, agent, status, action):
    _set_status(waiting, status)
    Conversation.objects.filter(pk=waiting.pk).update(agent=agent)
    events = ConversationEvent.objects.count()
    calls = {
        "pick_up": lambda: live.conversation_pick_up(
            conversation_id=waiting.pk, agent=agent, now=T0
        ),
        "reply": lambda: live.conversation_agent_reply(
            conversation_id=waiting.pk, agent=agent, body="x", now=T0
        ),
        "close": lambda: live.conversation_close(
            conversation_id=waiting.pk, actor=agent, now=T0, reason="x"
        ),
    }
    with pytest.raises(live.IllegalTransition):
        calls[action]()
    assert ConversationEvent.objects.count() == events
    assert Conversation.objects.get(pk=waiting.pk).status == status


# --- Console pages ------------------------------------------------------------------


def _urls(conversation):
    pk = conversation.pk
    return {
        "queue": ("get", reverse("console_chats:queue")),
        "queue_live": ("get", reverse("console_chats:queue_live")),
        "chat": ("get", reverse("console_chats:chat", args=[pk])),
        "messages": ("get", reverse("console_chats:messages", args=[pk]) + "?after=0"),
        "pick_up": ("post", reverse("console_chats:pick_up", args=[pk])),
        "reply": ("post", reverse("console_chats:reply", args=[pk])),
        "close": ("post", reverse("console_chats:close", args=[pk])),
    }


@pytest.mark.parametrize(
    "name", ["queue", "queue_live", "chat", "messages", "pick_up", "reply", "close"]
)
def test_anonymous_and_customers_are_refused(client, login, waiting, customer, name):
    method, url = _urls(waiting)[name]
    response = getattr(client, method)(url, {"body": "x"} if method == "post" else None)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]

    login(customer[0])
    response = getattr(client, method)(url, {"body": "x"} if method == "post" else None)
    assert response.status_code == 403
    assert b"Question 0" not in response.content
    waiting.refresh_from_db()
    assert waiting.status == ConversationStatus.WAITING
    assert not waiting.messages.filter(sender=Sender.AGENT).exists()


def test_queue_page_lists_waiting_chats_oldest_first(client, login, agent, customer):
    user, account = customer
    newer = waiting_conversation(customer=None, at=T0 + timedelta(minutes=5), intents=["outage"])
    older = waiting_conversation(customer=user, account=account, at=T0)
    login(agent)
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        response = client.get(reverse("console_chats:queue"))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index(f"/console/chats/{older.pk}/") < html.index(f"/console/chats/{newer.pk}/")
    assert "10 min 00 s" in html and "5 min 00 s" in html
    assert "Connecté" in html and "Anonyme" in html and "outage" in html
    assert "Prendre en charge" in html
    assert 'hx-trigger="every 5s"' in html
    assert reverse("console_chats:queue") in html  # the nav entry


def test_supervisor_views_but_does_not_pick_up(client, login, supervisor, waiting):
    login(supervisor)
    assert "Prendre en charge" not in client.get(reverse("console_chats:queue")).content.decode()
    page = client.get(reverse("console_chats:chat", args=[waiting.pk]))
    assert page.status_code == 200 and "Question 0" in page.content.decode()
    response = client.post(reverse("console_chats:pick_up", args=[waiting.pk]))
    assert response.status_code == 403
    waiting.refresh_from_db()
    assert waiting.status == ConversationStatus.WAITING


def test_pick_up_button_then_the_chat_page(client, login, agent, waiting):
    login(agent)
    response = client.post(reverse("console_chats:pick_up", args=[waiting.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("console_chats:chat", args=[waiting.pk])
    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="bot-part"' in html and 'data-testid="live-part"' in html
    bot_html = html[html.index('data-testid="bot-part"') : html.index('data-testid="live-part"')]
    assert "Question 0" in bot_html and "Réponse 1" in bot_html
    assert "a rejoint" not in bot_html  # the pick-up is the live part
    assert "F-2026-000123" in html and "balance" in html  # entities, intents
    assert "Client connecté" in html
    assert 'data-testid="customer-context"' in html and "Famille Martin" in html
    assert waiting.ticket.reference in html
    assert 'name="body"' in html and 'hx-trigger="every 3s' in html


def test_pick_up_of_a_chat_already_taken_says_so(client, login, agent, agent2, waiting):
    _live(waiting, agent2)
    login(agent)
    response = client.post(reverse("console_chats:pick_up", args=[waiting.pk]), follow=True)
    assert "Un autre conseiller a déjà pris cette conversation." in response.content.decode()
    waiting.refresh_from_db()
    assert waiting.agent == agent2


def test_reply_form_without_js_and_with_htmx(client, login, agent, waiting):
    _live(waiting, agent)
    login(agent)
    url = reverse("console_chats:reply", args=[waiting.pk])
    response = client.post(url, {"body": "Bonjour !"})
    assert response.status_code == 302
    response = client.post(url, {"body": "Autre chose ?"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Trigger"] == "kb-chat-refresh"
    assert 'id="chat-reply"' in response.content.decode()
    assert list(
        waiting.messages.filter(sender=Sender.AGENT).order_by("pk").values_list("body", flat=True)
    ) == ["Bonjour !", "Autre chose ?"]


@pytest.mark.parametrize("htmx", [False, True])
def test_empty_reply_is_a_400_field_error_and_writes_nothing(client, login, agent, waiting, htmx):
    _live(waiting, agent)
    login(agent)
    messages_before = ConversationMessage.objects.count()
    ticket_messages_before = Message.objects.count()
    extra = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = client.post(
        reverse("console_chats:reply", args=[waiting.pk]), {"body": "   "}, **extra
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_body_error"' in html and "Écrivez un message." in html
    assert ConversationMessage.objects.count() == messages_before
    assert Message.objects.count() == ticket_messages_before


def test_another_agent_replying_gets_403(client, login, agent, agent2, waiting):
    _live(waiting, agent)
    login(agent2)
    response = client.post(reverse("console_chats:reply", args=[waiting.pk]), {"body": "Coucou"})
    assert response.status_code == 403
    assert not waiting.messages.filter(sender=Sender.AGENT).exists()
    page = client.get(reverse("console_chats:chat", args=[waiting.pk])).content.decode()
    assert 'name="body"' not in page and "suivie par un autre conseiller" in page


def test_unknown_conversation_is_404(client, login, agent):
    login(agent)
    assert client.get(reverse("console_chats:chat", args=[999999])).status_code == 404
    assert client.post(reverse("console_chats:pick_up", args=[999999])).status_code == 404
    assert client.get(reverse("console_chats:messages", args=[999999])).status_code == 404


def test_messages_poll_returns_only_the_new_ones(client, login, agent, waiting):
    _live(waiting, agent)
    login(agent)
    last = waiting.messages.order_by("pk").last().pk
    ConversationMessage.objects.create(
        conversation=waiting, sender=Sender.CUSTOMER, body="Vous êtes là ?", created_at=T0
    )
    url = reverse("console_chats:messages", args=[waiting.pk])
    html = client.get(url, {"after": last}).content.decode()
    assert "Vous êtes là ?" in html and "Question 0" not in html
    new_last = waiting.messages.order_by("pk").last().pk
    assert f"?after={new_last}" in html  # the next poll starts after it
    assert client.get(url, {"after": "abc"}).status_code == 400

    live.conversation_close(conversation_id=waiting.pk, actor=agent, now=T0 + timedelta(hours=1))
    html = client.get(url, {"after": new_last}).content.decode()
    assert "terminée" in html and "hx-trigger" not in html  # polling stops


def test_close_from_the_page(client, login, agent, waiting):
    _live(waiting, agent)
    login(agent)
    response = client.post(reverse("console_chats:close", args=[waiting.pk]), {"reason": ""})
    assert response.status_code == 302
    waiting.refresh_from_db()
    assert waiting.status == ConversationStatus.CLOSED


def test_closing_a_waiting_chat_from_the_page_without_reason_is_400(client, login, agent, waiting):
    login(agent)
    response = client.post(reverse("console_chats:close", args=[waiting.pk]), {"reason": ""})
    assert response.status_code == 400
    assert 'id="id_reason_error"' in response.content.decode()
    waiting.refresh_from_db()
    assert waiting.status == ConversationStatus.WAITING


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_queue_page_queries_do_not_grow(
    client, login, agent, customer, django_assert_max_num_queries
):
    user, account = customer
    login(agent)
    for minute in range(2):
        c = waiting_conversation(customer=user, account=account, at=T0 + timedelta(minutes=minute))
        if minute == 0:
            _live(c, agent)
    url = reverse("console_chats:queue")
    baseline = _count(client, url)
    for minute in range(2, 10):
        c = waiting_conversation(customer=user, account=account, at=T0 + timedelta(minutes=minute))
        if minute % 2:
            _live(c, agent)
    with django_assert_max_num_queries(baseline):
        response = client.get(url)
    html = response.content.decode()
    assert html.count('data-testid="waiting-row"') == 5  # 1 + 4 still waiting
    assert html.count('data-testid="my-chat"') == 5  # and 5 live chats of mine


def test_chat_page_queries_do_not_grow(
    client, login, agent, customer, django_assert_max_num_queries
):
    user, account = customer
    conversation = waiting_conversation(customer=user, account=account, bot_turns=1)
    _live(conversation, agent)
    login(agent)
    url = reverse("console_chats:chat", args=[conversation.pk])
    baseline = _count(client, url)
    for turn in range(10):
        live.conversation_agent_reply(
            conversation_id=conversation.pk, agent=agent, body=f"Réponse {turn}", now=T0
        )
        ConversationMessage.objects.create(
            conversation=conversation, sender=Sender.CUSTOMER, body=f"Merci {turn}", created_at=T0
        )
    for _ in range(3):
        ticket_services.ticket_create(
            channel=Channel.PORTAL,
            category="OTHER",
            subject="Autre",
            body="x",
            now=T0,
            account=account,
            requester=user,
        )
    with django_assert_max_num_queries(baseline):
        response = client.get(url)
    assert response.content.decode().count('data-testid="msg-agent"') == 10


def test_wait_time_across_the_october_dst_change_is_real_time(client, login, agent):
    # 01:30 CEST (UTC+2) then 02:30 CET (UTC+1) on 25 October 2026: two real hours,
    # though the wall clock moved by one.
    handed = datetime(2026, 10, 25, 1, 30, tzinfo=PARIS)
    now = datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=PARIS)
    assert handed.utcoffset() == timedelta(hours=2) and now.utcoffset() == timedelta(hours=1)
    waiting_conversation(at=handed)
    rows = live_selectors.waiting_queue(now=now)
    assert [r.wait_seconds for r in rows] == [7200]
    login(agent)
    with time_machine.travel(now, tick=False):
        html = client.get(reverse("console_chats:queue")).content.decode()
    assert "2 h 00 min" in html


# --- With the chatbot's own hand-off (kb.services.chat) ------------------------------


def _agent_client(agent):
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY

    from .factories import add_totp

    staff = Client()
    staff.force_login(agent)
    session = staff.session
    session[DEVICE_ID_SESSION_KEY] = add_totp(agent).persistent_id
    session.save()
    return staff


def test_handed_off_chat_agent_reply_reaches_the_customer_widget(client, login, customer, agent):
    from kb.services import chat as chat_services

    user, account = customer
    login(user)
    session = client.session
    session.save()
    with time_machine.travel(T0, tick=False):
        conversation = chat_services.conversation_start(
            user=user, session_key=session.session_key, language="fr", now=T0
        )
        chat_services.conversation_post(
            conversation_id=conversation.pk,
            body="Quel est mon solde ?",
            user=user,
            session_key=session.session_key,
            now=T0,
        )
        chat_services.conversation_hand_off(
            conversation_id=conversation.pk, reason="asked", now=T0 + timedelta(seconds=30)
        )
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.WAITING and conversation.ticket_id
    assert conversation.account == account
    staff = _agent_client(agent)
    last_seen = conversation.messages.order_by("pk").last().pk

    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        queue = staff.get(reverse("console_chats:queue")).content.decode()
        assert f"/console/chats/{conversation.pk}/" in queue and "30 s" in queue
        staff.post(reverse("console_chats:pick_up", args=[conversation.pk]))
        page = staff.get(reverse("console_chats:chat", args=[conversation.pk])).content.decode()
        assert "Quel est mon solde ?" in page and "Famille Martin" in page
        staff.post(
            reverse("console_chats:reply", args=[conversation.pk]),
            {"body": "Bonjour, je suis Camille."},
        )
        poll = client.get(
            reverse("chat:messages", args=[conversation.public_id]),
            {"after": last_seen},
            HTTP_HX_REQUEST="true",
        )
    assert poll.status_code == 200
    assert "Bonjour, je suis Camille." in poll.content.decode()
    ticket = Ticket.objects.get(pk=conversation.ticket_id)
    assert ticket.messages.filter(body="Bonjour, je suis Camille.", visibility="PUBLIC").exists()

    with time_machine.travel(T0 + timedelta(minutes=6), tick=False):
        staff.post(reverse("console_chats:close", args=[conversation.pk]), {"reason": ""})
    conversation.refresh_from_db()
    assert (conversation.status, conversation.outcome) == ("CLOSED", "HANDED_OFF")
    contact = Contact.objects.get(pk=conversation.contact_id)
    assert contact.ticket_id == ticket.pk and contact.channel == Channel.CHATBOT_HANDOFF
    assert contact.answered_at == T0 + timedelta(minutes=1)
    assert contact.ended_at == T0 + timedelta(minutes=6)
    assert Survey.objects.filter(ticket=ticket).count() == 1
