"""The chat widget, customer side (/chat/): the full page (phones, no JavaScript), the
panel the launcher opens with htmx, starting a conversation, sending a message, asking
for a person, and polling for the agent's messages.

A conversation belongs to the browser session that started it (and to the signed-in
customer, if any): any other session or user gets 404 for its public id.

htmx: sending returns a fresh message box, with the new messages appended to the log
and the conversation state (poller, quick replies) swapped out of band; polling (every
3 s while waiting for or talking to a person) returns only the out-of-band parts.
Without JavaScript every form posts normally and redirects to the full page.
"""

from __future__ import annotations

import re

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from ..models import Conversation, ConversationStatus
from ..selectors import chat as selectors
from ..services import chat as services

POLL_SECONDS = 3
LINK_RE = re.compile(r"(?<![\w/])(/[A-Za-z0-9_\-./?=&%]+[A-Za-z0-9_/=])")


class MessageForm(forms.Form):
    body = forms.CharField(
        label=gettext_lazy("Votre message"),
        max_length=services.BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 2, "autocomplete": "off", "autofocus": True}),
        error_messages={"required": gettext_lazy("Écrivez votre message.")},
    )


def _language() -> str:
    language = (get_language() or "fr")[:2]
    return language if language in ("fr", "en") else "fr"


def _session_key(request: HttpRequest, *, create: bool = False) -> str:
    if not request.session.session_key and create:
        request.session.save()
    return request.session.session_key or ""


def _htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _conversation(request: HttpRequest, public_id) -> Conversation:
    return selectors.conversation_for_visitor(
        public_id=public_id, user=request.user, session_key=_session_key(request)
    )


def body_html(text: str) -> str:
    """The message text, escaped, with line breaks and the site's own paths as links."""
    escaped = escape(text)
    linked = LINK_RE.sub(r'<a href="\1">\1</a>', escaped)
    return mark_safe(linked.replace("\n", "<br>"))  # noqa: S308 (escaped above)


def _decorate(messages) -> list:
    out = []
    for message in messages:
        message.body_html = body_html(message.body)
        out.append(message)
    return out


def _after(request: HttpRequest) -> int:
    raw = request.GET.get("after") or request.POST.get("after") or "0"
    return int(raw) if raw.isdigit() else 0


def _state(conversation: Conversation | None, *, last_id: int) -> dict:
    question = None
    if conversation is not None and conversation.status == ConversationStatus.BOT:
        question = selectors.last_bot_question(conversation_id=conversation.pk)
    return {
        "conversation": conversation,
        "last_id": last_id,
        "polling": conversation is not None
        and conversation.status in (ConversationStatus.WAITING, ConversationStatus.LIVE),
        "poll": POLL_SECONDS,
        "ask_yes_no": question is not None
        and question.intent in (selectors.ASK_FEEDBACK, selectors.ASK_EXTENSION),
        "can_hand_off": conversation is not None and conversation.status == ConversationStatus.BOT,
        "closed": conversation is not None and conversation.status == ConversationStatus.CLOSED,
        "yes_no": [("oui", _("Oui")), ("non", _("Non"))],
    }


def _panel_context(request: HttpRequest, conversation: Conversation | None, form=None) -> dict:
    messages = (
        _decorate(selectors.messages_since(conversation_id=conversation.pk))
        if conversation is not None
        else []
    )
    last_id = messages[-1].pk if messages else 0
    return {
        "chat_messages": messages,
        "form": form or MessageForm(),
        **_state(conversation, last_id=last_id),
    }


def _updates(
    request: HttpRequest, conversation: Conversation, *, after: int, form=None, status=200
):
    """The messages after ``after`` and the conversation's state (out of band), with a
    fresh message box (the swap target of a send)."""
    conversation.refresh_from_db()
    messages = _decorate(selectors.messages_since(conversation_id=conversation.pk, after=after))
    last_id = messages[-1].pk if messages else after
    context = {
        "chat_messages": messages,
        "form": form or MessageForm(),
        "compose": form is not None or request.method == "POST",
        **_state(conversation, last_id=last_id),
    }
    return render(request, "kb/chat/_updates.html", context, status=status)


# --- Pages ---------------------------------------------------------------------------------


@require_GET
def page(request: HttpRequest) -> HttpResponse:
    """The full-page chat (phones, no JavaScript): the session's open conversation."""
    conversation = selectors.open_conversation_for_session(
        session_key=_session_key(request), user=request.user
    )
    return render(request, "kb/chat/page.html", _panel_context(request, conversation))


@require_GET
def panel(request: HttpRequest) -> HttpResponse:
    """The panel the launcher opens (htmx); the full page without JavaScript."""
    if not _htmx(request):
        return redirect("chat:page")
    conversation = selectors.open_conversation_for_session(
        session_key=_session_key(request), user=request.user
    )
    return render(request, "kb/chat/_panel.html", _panel_context(request, conversation))


@require_POST
def start(request: HttpRequest) -> HttpResponse:
    """A new conversation; its first message may come with it."""
    form = MessageForm(request.POST)
    has_body = bool((request.POST.get("body") or "").strip())
    if "body" in request.POST and not has_body:
        form.is_valid()
        context = _panel_context(request, None, form=form)
        template = "kb/chat/_panel.html" if _htmx(request) else "kb/chat/page.html"
        return render(request, template, context, status=400)
    now = timezone.now()
    session_key = _session_key(request, create=True)
    conversation = services.conversation_start(
        user=request.user, session_key=session_key, language=_language(), now=now
    )
    if has_body and form.is_valid():
        services.conversation_post(
            conversation_id=conversation.pk,
            body=form.cleaned_data["body"],
            user=request.user,
            session_key=session_key,
            now=now,
        )
    if _htmx(request):
        return render(request, "kb/chat/_panel.html", _panel_context(request, conversation))
    return redirect("chat:page")


@require_POST
def post(request: HttpRequest, public_id) -> HttpResponse:
    conversation = _conversation(request, public_id)
    after = _after(request)
    form = MessageForm(request.POST)
    error = None
    if form.is_valid():
        try:
            services.conversation_post(
                conversation_id=conversation.pk,
                body=form.cleaned_data["body"],
                user=request.user,
                session_key=_session_key(request),
                now=timezone.now(),
            )
        except services.ConversationNotFound as exc:
            raise Http404 from exc
        except (services.InvalidMessage, services.ConversationClosed) as exc:
            error = exc
            form.add_error("body", exc.message)
    if form.errors or error is not None:
        if _htmx(request):
            return _updates(request, conversation, after=after, form=form, status=400)
        context = _panel_context(request, conversation, form=form)
        return render(request, "kb/chat/page.html", context, status=400)
    if _htmx(request):
        return _updates(request, conversation, after=after)
    return redirect("chat:page")


@require_POST
def hand_off(request: HttpRequest, public_id) -> HttpResponse:
    """The "talk to a person" button."""
    conversation = _conversation(request, public_id)
    if conversation.status == ConversationStatus.BOT:
        services.conversation_hand_off(
            conversation_id=conversation.pk, reason="button", now=timezone.now()
        )
    if _htmx(request):
        return _updates(request, conversation, after=_after(request))
    return redirect("chat:page")


@require_GET
def messages(request: HttpRequest, public_id) -> HttpResponse:
    """Every message after ``?after=<id>`` (customer, bot, agent and system), for polling."""
    conversation = _conversation(request, public_id)
    if not _htmx(request):
        return redirect("chat:page")
    services.conversation_keep_waiting(conversation_id=conversation.pk, now=timezone.now())
    return _updates(request, conversation, after=_after(request))
