"""Console pages of the live chat (agent side): the waiting queue, pick-up, the live
chat with the customer's context, replies, polling and close (docs/self-service.md).

Agents, supervisors and admins may view (console_required); only agents pick up and
reply (kb.services.live.HANDLER_ROLES). Every form works without JavaScript; htmx
polls the queue (5 s) and the messages (3 s) and posts replies in place."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from accounts.access import console_required

from ..models import Conversation, ConversationStatus
from ..selectors import live as selectors
from ..services import live as services

QUEUE_POLL_SECONDS = 5
MESSAGES_POLL_SECONDS = 3


class ReplyForm(forms.Form):
    body = forms.CharField(
        label=gettext_lazy("Votre message"),
        max_length=services.REPLY_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": gettext_lazy("Écrivez un message.")},
    )

    def clean_body(self) -> str:
        body = self.cleaned_data["body"].strip()
        if not body:
            raise forms.ValidationError(_("Écrivez un message."))
        return body


class CloseForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Motif (obligatoire si la conversation attend encore)"),
        max_length=services.REASON_MAX,
        required=False,
    )
    keep_ticket_open = forms.BooleanField(
        label=gettext_lazy("Laisser la demande ouverte pour un suivi"), required=False
    )


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _queue_context(request: HttpRequest) -> dict:
    now = timezone.now()
    return {
        "rows": selectors.waiting_queue(now=now),
        "mine": selectors.agent_live_chats(agent_id=request.user.pk),
        "can_handle": request.user.role in services.HANDLER_ROLES,
        "poll": QUEUE_POLL_SECONDS,
    }


@console_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    return render(request, "kb/console/queue.html", _queue_context(request))


@console_required
@require_GET
def queue_live(request: HttpRequest) -> HttpResponse:
    """The queue panel alone, for the htmx poll."""
    return render(request, "kb/console/_queue_live.html", _queue_context(request))


@console_required
@require_POST
def pick_up(request: HttpRequest, conversation_id: int) -> HttpResponse:
    try:
        services.conversation_pick_up(
            conversation_id=conversation_id, agent=request.user, now=timezone.now()
        )
    except Conversation.DoesNotExist as exc:
        raise Http404 from exc
    except services.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except services.AlreadyTaken as exc:
        messages.error(request, str(exc))
        return redirect("console_chats:queue")
    except services.IllegalTransition:
        messages.error(request, _("Cette conversation n'attend plus de conseiller."))
        return redirect("console_chats:queue")
    return redirect("console_chats:chat", conversation_id=conversation_id)


def _chat_context(request: HttpRequest, conversation: Conversation) -> dict:
    bot_part, live_part = selectors.transcript_parts(conversation)
    messages_all = bot_part + live_part
    holder = (
        conversation.status == ConversationStatus.LIVE and conversation.agent_id == request.user.pk
    )
    return {
        "conversation": conversation,
        "bot_part": bot_part,
        "live_part": live_part,
        "last_id": max((m.pk for m in messages_all), default=0),
        "articles": selectors.articles_shown(article_ids=conversation.articles_shown),
        "intents": selectors.distinct_intents(conversation.intents),
        "customer": selectors.customer_context(account_id=conversation.account_id),
        "can_reply": holder,
        "can_pick_up": conversation.status == ConversationStatus.WAITING
        and request.user.role in services.HANDLER_ROLES,
        "can_close": conversation.status in (ConversationStatus.WAITING, ConversationStatus.LIVE)
        and (
            holder
            or request.user.role in services.SUPERVISING_ROLES
            or (
                conversation.status == ConversationStatus.WAITING
                and request.user.role in services.HANDLER_ROLES
            )
        ),
        "poll": MESSAGES_POLL_SECONDS,
        "wait_text": selectors.duration_text(
            selectors.wait_seconds(
                since=conversation.handed_off_at,
                now=conversation.answered_at or conversation.ended_at or timezone.now(),
            )
        ),
    }


def _render_chat(
    request: HttpRequest,
    conversation_id: int,
    *,
    reply_form: ReplyForm | None = None,
    close_form: CloseForm | None = None,
    status: int = 200,
) -> HttpResponse:
    conversation = selectors.conversation_for_agent(conversation_id=conversation_id)
    context = _chat_context(request, conversation)
    context["form"] = reply_form or ReplyForm()
    context["close_form"] = close_form or CloseForm()
    return render(request, "kb/console/chat.html", context, status=status)


@console_required
@require_GET
def chat(request: HttpRequest, conversation_id: int) -> HttpResponse:
    return _render_chat(request, conversation_id)


@console_required
@require_POST
def reply(request: HttpRequest, conversation_id: int) -> HttpResponse:
    form = ReplyForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            services.conversation_agent_reply(
                conversation_id=conversation_id,
                agent=request.user,
                body=form.cleaned_data["body"],
                now=timezone.now(),
            )
        except Conversation.DoesNotExist as exc:
            raise Http404 from exc
        except (services.NotAllowed, services.NotYourConversation) as exc:
            raise PermissionDenied(str(exc)) from exc
        except services.IllegalTransition:
            form.add_error(None, _("La conversation n'est pas en cours : impossible de répondre."))
            status = 409
        except services.LiveChatError as exc:
            form.add_error(exc.field, str(exc))
        else:
            if _is_htmx(request):
                response = render(
                    request,
                    "kb/console/_reply_form.html",
                    {"form": ReplyForm(), "conversation_id": conversation_id},
                )
                response["HX-Trigger"] = "kb-chat-refresh"
                return response
            return redirect("console_chats:chat", conversation_id=conversation_id)
    if _is_htmx(request):
        return render(
            request,
            "kb/console/_reply_form.html",
            {"form": form, "conversation_id": conversation_id},
            status=status,
        )
    return _render_chat(request, conversation_id, reply_form=form, status=status)


@console_required
@require_GET
def messages_since(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """New messages after `after` (an id) and the next poll, for htmx."""
    try:
        after = int(request.GET.get("after", "0"))
    except ValueError:
        return HttpResponse(_("Paramètre « after » invalide."), status=400)
    status = (
        Conversation.objects.filter(pk=conversation_id).values_list("status", flat=True).first()
    )
    if status is None:
        raise Http404
    rows = selectors.messages_since(conversation_id=conversation_id, after_id=after)
    return render(
        request,
        "kb/console/_messages.html",
        {
            "messages_list": rows,
            "conversation_id": conversation_id,
            "last_id": rows[-1].pk if rows else after,
            "polling": status != ConversationStatus.CLOSED,
            "poll": MESSAGES_POLL_SECONDS,
        },
    )


@console_required
@require_POST
def close(request: HttpRequest, conversation_id: int) -> HttpResponse:
    form = CloseForm(request.POST)
    if form.is_valid():
        try:
            services.conversation_close(
                conversation_id=conversation_id,
                actor=request.user,
                now=timezone.now(),
                reason=form.cleaned_data["reason"],
                resolve_ticket=not form.cleaned_data["keep_ticket_open"],
            )
        except Conversation.DoesNotExist as exc:
            raise Http404 from exc
        except (services.NotAllowed, services.NotYourConversation) as exc:
            raise PermissionDenied(str(exc)) from exc
        except services.LiveChatError as exc:
            form.add_error(exc.field, str(exc))
        except services.IllegalTransition as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Conversation terminée."))
            return redirect("console_chats:queue")
    return _render_chat(request, conversation_id, close_form=form, status=400)
