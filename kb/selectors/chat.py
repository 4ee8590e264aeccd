"""Reads of the customer's side of the chat (docs/self-service.md, "Chatbot")."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from ..models import Article, Conversation, ConversationMessage, Sender

# The customer's answer to "did this answer your question?", stored as the intent of
# their message.
FEEDBACK_YES = "FEEDBACK_YES"
FEEDBACK_NO = "FEEDBACK_NO"
# Open questions the bot asked, stored as the intent of its message.
ASK_FEEDBACK = "FAQ"
ASK_LEAVE_MESSAGE = "LEAVE_MESSAGE"
ASK_EXTENSION = "EXTENSION_CONFIRM"
ASK_READING = "READING_ASK"
PENDING = frozenset({ASK_FEEDBACK, ASK_LEAVE_MESSAGE, ASK_EXTENSION, ASK_READING})


def conversation_for_visitor(*, public_id, user, session_key: str) -> Conversation:
    """The conversation of this browser session (and, once signed in, this user); 404
    for anyone else, whether it exists or not."""
    if not session_key:
        raise Http404
    user_id = user.pk if user is not None and user.is_authenticated else None
    conversation = (
        Conversation.objects.filter(public_id=public_id, session_key=session_key)
        .filter(Q(user__isnull=True) | Q(user_id=user_id))
        .first()
    )
    if conversation is None:
        raise Http404
    return conversation


def visitor_owns(conversation: Conversation, *, user, session_key: str) -> bool:
    if not session_key or conversation.session_key != session_key:
        return False
    if conversation.user_id is None:
        return True
    return bool(user is not None and user.is_authenticated and user.pk == conversation.user_id)


def open_conversation_for_session(*, session_key: str, user) -> Conversation | None:
    """The newest conversation of this session that is not closed (the widget resumes it)."""
    if not session_key:
        return None
    user_id = user.pk if user is not None and user.is_authenticated else None
    return (
        Conversation.objects.filter(session_key=session_key)
        .filter(Q(user__isnull=True) | Q(user_id=user_id))
        .exclude(status="CLOSED")
        .order_by("-started_at", "-id")
        .first()
    )


def messages_since(*, conversation_id: int, after: int = 0) -> QuerySet[ConversationMessage]:
    """Every message after the id ``after``, oldest first: one query whatever their number
    (the agent's name is joined)."""
    return (
        ConversationMessage.objects.filter(conversation_id=conversation_id, pk__gt=after)
        .select_related("author")
        .order_by("created_at", "id")
    )


def last_bot_question(*, conversation_id: int) -> ConversationMessage | None:
    """The bot's last message, if it is still waiting for the customer's answer (no
    customer message after it)."""
    last = (
        ConversationMessage.objects.filter(
            conversation_id=conversation_id, sender__in=[Sender.BOT, Sender.CUSTOMER]
        )
        .order_by("-created_at", "-id")
        .first()
    )
    if last is None or last.sender != Sender.BOT or last.intent not in PENDING:
        return None
    return last


def message_counts(*, conversation_id: int) -> dict[str, int]:
    return ConversationMessage.objects.filter(conversation_id=conversation_id).aggregate(
        customer=Count("id", filter=Q(sender=Sender.CUSTOMER)),
        accepted=Count("id", filter=Q(sender=Sender.CUSTOMER, intent=FEEDBACK_YES)),
    )


def articles_shown(*, article_ids: list[int]) -> list[dict]:
    """Title and public URL of the articles already offered, in the order offered."""
    from .articles import article_url

    if not article_ids:
        return []
    articles = {
        a.pk: a for a in Article.objects.filter(pk__in=article_ids).select_related("category")
    }
    shown = []
    for pk in dict.fromkeys(article_ids):
        article = articles.get(pk)
        if article is None:
            continue
        try:
            url = article_url(category_slug=article.category.slug, slug=article.slug)
        except Exception:  # noqa: BLE001 (the help URLs are not mounted)
            url = f"/help/{article.category.slug}/{article.slug}/"
        shown.append({"id": pk, "title": article.title, "url": url})
    return shown


def transcript(*, conversation_id: int) -> list[ConversationMessage]:
    return list(messages_since(conversation_id=conversation_id, after=0))
