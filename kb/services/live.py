"""Writes of the live chat, the agent's side of a handed-over conversation
(docs/self-service.md, "Live chat (agent side)").

- ``conversation_pick_up``: WAITING -> LIVE. One agent wins: the conversation row is
  locked (SELECT ... FOR UPDATE), so a second agent picking the same chat waits for the
  first one's transaction and then gets :class:`AlreadyTaken`. The handoff ticket is
  assigned to the agent through ``tickets.services.ticket_assign``.
- ``conversation_agent_reply``: an AGENT message in the chat, also written on the ticket
  as a public reply (``tickets.services.ticket_reply``) so the ticket keeps the history.
  ``answered_at`` is the agent's first reply (what the customer waited for), not the
  pick-up.
- ``conversation_close``: -> CLOSED, outcome HANDED_OFF, a SYSTEM message, the contact
  record finished for the KPIs, and the handoff ticket resolved through
  ``tickets.services.ticket_transition``, which sends the CSAT survey by the tickets
  app's rules (one per ticket, none while a complaint is open on the account).

Who may do what: only AGENT users pick up and reply (supervisors watch the queue and the
chats). Closing: the agent holding a LIVE chat, or a supervisor/admin (an agent who
left); a WAITING chat can be closed by an agent or a supervisor with a reason.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import Role, User
from tickets import selectors as ticket_selectors
from tickets import services as ticket_services
from tickets.domain import states as ticket_states

from ..domain import chat as chat_domain
from ..models import (
    Conversation,
    ConversationMessage,
    ConversationOutcome,
    ConversationStatus,
    Sender,
)
from .chat import conversation_move

logger = logging.getLogger(__name__)

# Who handles chats (pick up, reply) and who may close one they do not hold.
HANDLER_ROLES = frozenset({Role.AGENT})
SUPERVISING_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
REPLY_MAX = 2000
REASON_MAX = 200

IllegalTransition = chat_domain.IllegalTransition


class LiveChatError(Exception):
    """Base class for refusals of the live-chat services. `field` names the form field
    the message belongs to, when there is one."""

    field: str | None = None


class NotAllowed(LiveChatError):
    """The user's role may not do this."""


class AlreadyTaken(LiveChatError):
    """Another agent picked the conversation up first."""


class NotYourConversation(LiveChatError):
    """The conversation is held by another agent."""


class EmptyReply(LiveChatError):
    field = "body"


class ReasonRequired(LiveChatError):
    field = "reason"


def _locked(conversation_id: int) -> Conversation:
    return Conversation.objects.select_for_update(of=("self",)).get(pk=conversation_id)


def _system_message(conversation: Conversation, *, text: str, now: datetime) -> ConversationMessage:
    return ConversationMessage.objects.create(
        conversation=conversation, sender=Sender.SYSTEM, body=text, created_at=now
    )


def _agent_name(agent: User) -> str:
    # The customer sees the first name only.
    return agent.first_name or _("un conseiller")


def conversation_pick_up(*, conversation_id: int, agent: User, now: datetime) -> Conversation:
    """WAITING -> LIVE for `agent`. Picking up a chat one already holds changes nothing."""
    if agent.role not in HANDLER_ROLES:
        raise NotAllowed(_("Seuls les conseillers prennent les conversations en charge."))
    with transaction.atomic():
        conversation = _locked(conversation_id)
        if conversation.status == ConversationStatus.LIVE:
            if conversation.agent_id == agent.pk:
                return conversation
            raise AlreadyTaken(_("Un autre conseiller a déjà pris cette conversation."))
        conversation_move(conversation, target=ConversationStatus.LIVE, actor=agent, now=now)
        conversation.agent = agent
        conversation.last_activity_at = now
        # A LIVE chat is the agent's to close: the idle sweep no longer applies.
        conversation.idle_due_at = None
        conversation.save(update_fields=["status", "agent", "last_activity_at", "idle_due_at"])
        with translation.override(conversation.language):
            text = _("%(name)s, conseiller Power Next, a rejoint la conversation.") % {
                "name": _agent_name(agent)
            }
        _system_message(conversation, text=text, now=now)
        if conversation.ticket_id:
            ticket_services.ticket_assign(
                ticket=conversation.ticket, agent=agent, actor=agent, now=now
            )
    return conversation


def conversation_agent_reply(
    *, conversation_id: int, agent: User, body: str, now: datetime
) -> ConversationMessage:
    """The holding agent's message in a LIVE chat, mirrored on the ticket."""
    text = (body or "").strip()
    if not text:
        raise EmptyReply(_("Écrivez un message."))
    if len(text) > REPLY_MAX:
        raise EmptyReply(_("%(max)d caractères au plus.") % {"max": REPLY_MAX})
    if agent.role not in HANDLER_ROLES:
        raise NotAllowed(_("Seuls les conseillers répondent dans le chat."))
    with transaction.atomic():
        conversation = _locked(conversation_id)
        if conversation.status != ConversationStatus.LIVE:
            raise IllegalTransition(conversation.status, ConversationStatus.LIVE)
        if conversation.agent_id != agent.pk:
            raise NotYourConversation(_("Cette conversation est suivie par un autre conseiller."))
        message = ConversationMessage.objects.create(
            conversation=conversation,
            sender=Sender.AGENT,
            author=agent,
            body=text,
            created_at=now,
        )
        fields = ["last_activity_at"]
        conversation.last_activity_at = now
        if conversation.answered_at is None:
            conversation.answered_at = now
            fields.append("answered_at")
        conversation.save(update_fields=fields)
        if conversation.ticket_id:
            ticket = conversation.ticket
            if ticket.status == ticket_states.CLOSED:
                logger.warning("kb live reply: ticket %s is closed, not mirrored", ticket.pk)
            else:
                ticket_services.ticket_reply(
                    ticket=ticket, author=agent, body=text, now=now, live_chat=True
                )
    return message


def _contact_finish(conversation: Conversation, *, now: datetime) -> None:
    """Fill the handoff contact (written by ticket_create at hand-off, channel
    CHATBOT_HANDOFF) with the agent, the answer and the end, for ASA/AHT."""
    contact_id = conversation.contact_id
    if contact_id is None and conversation.ticket_id:
        contact_id = ticket_selectors.first_contact_id(ticket_id=conversation.ticket_id)
        conversation.contact_id = contact_id
    if contact_id is None:
        return
    talk = 0
    if conversation.answered_at is not None:
        talk = max(0, int((now - conversation.answered_at).total_seconds()))
    ticket_services.contact_finish(
        contact_id=contact_id,
        agent=conversation.agent,
        answered_at=conversation.answered_at,
        ended_at=now,
        talk_seconds=talk,
    )


def conversation_close(
    *,
    conversation_id: int,
    actor: User,
    now: datetime,
    reason: str = "",
    resolve_ticket: bool = True,
) -> Conversation:
    """End a LIVE chat (or a WAITING one, with a reason). Closing a closed conversation
    changes nothing. `resolve_ticket=False` leaves the handoff ticket open for a
    follow-up; its survey then goes when it is resolved."""
    reason = (reason or "").strip()[:REASON_MAX]
    with transaction.atomic():
        conversation = _locked(conversation_id)
        if conversation.status == ConversationStatus.CLOSED:
            return conversation
        supervising = actor.role in SUPERVISING_ROLES
        if conversation.status == ConversationStatus.LIVE:
            if conversation.agent_id != actor.pk and not supervising:
                raise NotYourConversation(
                    _("Cette conversation est suivie par un autre conseiller.")
                )
        elif conversation.status != ConversationStatus.WAITING:
            # A BOT conversation is the chatbot's to close (CONTAINED or ABANDONED).
            raise IllegalTransition(conversation.status, ConversationStatus.CLOSED)
        else:
            if actor.role not in HANDLER_ROLES and not supervising:
                raise NotAllowed(_("Seuls les conseillers ferment une conversation."))
            if not reason:
                raise ReasonRequired(_("Indiquez pourquoi la conversation est fermée."))
        was_live = conversation.status == ConversationStatus.LIVE
        conversation_move(conversation, target=ConversationStatus.CLOSED, actor=actor, now=now)
        conversation.outcome = ConversationOutcome.HANDED_OFF
        conversation.ended_at = now
        conversation.last_activity_at = now
        conversation.idle_due_at = None
        _contact_finish(conversation, now=now)
        conversation.save(
            update_fields=[
                "status",
                "outcome",
                "ended_at",
                "last_activity_at",
                "idle_due_at",
                "contact",
            ]
        )
        with translation.override(conversation.language):
            text = _("La conversation est terminée. Merci de votre confiance.")
        _system_message(conversation, text=text, now=now)
        ticket = conversation.ticket if conversation.ticket_id else None
        if ticket is not None and reason:
            ticket_services.ticket_reply(
                ticket=ticket,
                author=actor,
                body=_("Chat fermé : %(reason)s") % {"reason": reason},
                internal=True,
                now=now,
            )
        if ticket is not None and was_live and resolve_ticket:
            ticket.refresh_from_db(fields=["status"])
        if (
            ticket is not None
            and was_live
            and resolve_ticket
            and ticket.status not in (ticket_states.RESOLVED, ticket_states.CLOSED)
        ):
            ticket_services.ticket_transition(
                ticket=ticket,
                target=ticket_states.RESOLVED,
                actor=actor,
                now=now,
                note="live chat ended",
            )
    return conversation
