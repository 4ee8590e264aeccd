"""Reads of the live chat (agent side): the waiting queue, an agent's chats, one
conversation with its transcript and the customer's 360° context, and the messages
since an id for polling. Every read is a fixed number of queries, whatever the number
of conversations or messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from accounts import selectors as account_selectors
from billing.models import Invoice, InvoiceStatus
from billing.selectors.ledger import account_balance
from tickets import selectors as ticket_selectors
from tickets.domain import states as ticket_states

from ..models import Article, Conversation, ConversationMessage, ConversationStatus, Sender

QUEUE_LIMIT = 100


@dataclass(frozen=True)
class QueueRow:
    conversation: Conversation
    wait_seconds: int
    intents: list[str]
    authenticated: bool

    @property
    def wait_text(self) -> str:
        return duration_text(self.wait_seconds)


def duration_text(seconds: int) -> str:
    """ "1 h 02 min", "3 min 05 s", "45 s"."""
    hours, rest = divmod(max(0, int(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def wait_seconds(*, since: datetime | None, now: datetime) -> int:
    """Whole seconds between two aware instants: the subtraction is done on absolute
    time (UTC), so a wait across a DST change is its real length."""
    if since is None:
        return 0
    return max(0, int((now - since).total_seconds()))


def distinct_intents(values: list) -> list[str]:
    seen: list[str] = []
    for value in values or []:
        if isinstance(value, str) and value and value not in seen:
            seen.append(value)
    return seen


def waiting_queue(*, now: datetime, limit: int = QUEUE_LIMIT) -> list[QueueRow]:
    """WAITING conversations, the longest waiting first (one query)."""
    rows = (
        Conversation.objects.filter(status=ConversationStatus.WAITING)
        .select_related("account", "ticket")
        .order_by("handed_off_at", "id")[:limit]
    )
    return [
        QueueRow(
            conversation=c,
            wait_seconds=wait_seconds(since=c.handed_off_at or c.started_at, now=now),
            intents=distinct_intents(c.intents),
            authenticated=c.user_id is not None,
        )
        for c in rows
    ]


def waiting_count() -> int:
    return Conversation.objects.filter(status=ConversationStatus.WAITING).count()


def agent_live_chats(*, agent_id: int) -> QuerySet[Conversation]:
    return (
        Conversation.objects.filter(status=ConversationStatus.LIVE, agent_id=agent_id)
        .select_related("account", "ticket")
        .order_by("handed_off_at", "id")
    )


def conversation_for_agent(*, conversation_id: int) -> Conversation:
    """One conversation (any status) with its messages and their authors: 2 queries."""
    return get_object_or_404(
        Conversation.objects.select_related("user", "account", "agent", "ticket").prefetch_related(
            Prefetch(
                "messages",
                queryset=ConversationMessage.objects.select_related("author").order_by(
                    "created_at", "id"
                ),
            )
        ),
        pk=conversation_id,
    )


def transcript_parts(
    conversation: Conversation,
) -> tuple[list[ConversationMessage], list[ConversationMessage]]:
    """(the bot part, the live part): everything before the first agent or pick-up
    message is the bot's part of the conversation."""
    messages = list(conversation.messages.all())
    handed = conversation.handed_off_at
    for index, message in enumerate(messages):
        if message.sender == Sender.AGENT or (handed is not None and message.created_at > handed):
            return messages[:index], messages[index:]
    return messages, []


def articles_shown(*, article_ids: list) -> list[Article]:
    """The articles the bot offered, in the order shown (one query)."""
    ids = [i for i in article_ids or [] if isinstance(i, int)]
    if not ids:
        return []
    found = {a.pk: a for a in Article.objects.filter(pk__in=ids).select_related("category")}
    ordered: list[Article] = []
    for pk in ids:
        if pk in found and found[pk] not in ordered:
            ordered.append(found[pk])
    return ordered


def customer_context(*, account_id: int | None) -> dict | None:
    """What the ticket workspace shows beside a ticket (accounts' customer_summary),
    plus the open tickets, the balance and the last invoices: a fixed number of queries."""
    if account_id is None:
        return None
    open_tickets = list(
        ticket_selectors.customer_tickets(account_id=account_id).filter(
            status__in=ticket_states.ACTIVE
        )[:5]
    )
    invoices = list(
        Invoice.objects.filter(account_id=account_id, status=InvoiceStatus.ISSUED)
        .exclude(number=None)
        .order_by("-issue_date", "-id")[:3]
    )
    return {
        "account": account_selectors.customer_summary(account_id=account_id),
        "open_tickets": open_tickets,
        "balance": account_balance(account_id=account_id),
        "invoices": invoices,
    }


def messages_since(*, conversation_id: int, after_id: int) -> list[ConversationMessage]:
    return list(
        ConversationMessage.objects.filter(conversation_id=conversation_id, id__gt=after_id)
        .select_related("author")
        .order_by("id")
    )
