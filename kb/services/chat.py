"""Writes of the customer's side of the chat: the chatbot and the hand-off to a person
(docs/self-service.md, "Chatbot" and "Handoff").

- ``conversation_start``: a BOT conversation bound to the browser session (and the
  signed-in customer and their account), with the bot's greeting.
- ``conversation_post``: the customer's message, its intent and entities, and the bot's
  replies. Safety first: smoke, sparks, fire, a burning smell or a fallen line is
  answered with the emergency number at once, never with an article. Transactions
  (balance and last invoice, outage status, meter reading, payment extension, ticket
  tracking) go through the other apps' selectors and services and only ever look at
  the conversation's own account; anonymous visitors are asked to sign in. FAQ
  questions are answered from the knowledge base (``kb_search``) and the customer says
  whether that answered; two failed answers in a row, or "talk to a person", hand off.
- ``conversation_hand_off``: BOT -> WAITING and a CHATBOT_HANDOFF ticket carrying the
  transcript, intents, entities, articles shown and who the customer is; outside
  live-chat hours the bot offers to leave a message, and the next message becomes a
  CHAT ticket (normal SLA) and closes the conversation.
- ``conversation_idle_sweep``: closes conversations idle since ``idle_due_at``
  (CONTAINED or ABANDONED) and records the chatbot contact for the KPIs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.db import transaction
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from accounts.company import EMERGENCY_PHONE
from accounts.domain import member_can
from accounts.models import Role, User
from accounts.selectors import account_supply_points, parameter_get, user_memberships
from billing.selectors.account_money import extendable_invoices
from billing.selectors.invoices import account_invoice, account_invoices
from billing.selectors.ledger import account_balance
from billing.services import account_money as money_services
from metering.forms import reason_text
from metering.services import readings as reading_services
from outages import selectors as outage_selectors
from outages.selectors_public import account_premises
from tickets import selectors as ticket_selectors
from tickets import services as ticket_services
from tickets.models import Contact

from ..domain import chat as chat_domain
from ..domain import intents as intent_domain
from ..models import (
    Conversation,
    ConversationEvent,
    ConversationMessage,
    ConversationOutcome,
    ConversationStatus,
    Language,
    Sender,
)
from ..selectors import chat as chat_selectors

logger = logging.getLogger(__name__)

BODY_MAX = 2000
FAQ_LINKS = 3  # the best article and up to two others
BILLING = "view_billing"
SUBMIT_READING = "edit_account"  # the portal's reading form asks the same
CONTACT_PREFIX = "kbchat-"

# The ticket category (hence queue) of a hand-off, by the last transactional intent.
HANDOFF_CATEGORY = {
    intent_domain.BALANCE: "BILL_QUERY",
    intent_domain.LAST_INVOICE: "BILL_QUERY",
    intent_domain.PAYMENT_EXTENSION: "PAYMENT",
    intent_domain.OUTAGE_STATUS: "OUTAGE",
    intent_domain.SAFETY: "OUTAGE",
    intent_domain.SUBMIT_READING: "METER_READING",
}
CATEGORY_QUEUE = {"BILL_QUERY": "BILLING", "PAYMENT": "BILLING", "OUTAGE": "OUTAGE"}
CATEGORY_QUEUE["METER_READING"] = "METERING"


class ChatError(Exception):
    """A refused request; ``field`` names the form field it belongs to."""

    field: str | None = None

    def __init__(self, message: str = "", *, field: str | None = None):
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field


class ConversationNotFound(ChatError):
    pass


class ConversationClosed(ChatError):
    pass


class InvalidMessage(ChatError):
    field = "body"


# --- Small helpers -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Customer:
    """Who is chatting: the account and the member's role on it (None: anonymous)."""

    user: User | None
    account: object | None
    role: str | None

    @property
    def signed_in(self) -> bool:
        return self.account is not None


def _membership(user: User | None, account_id: int | None = None):
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if user.role != Role.CUSTOMER:
        return None
    memberships = list(user_memberships(user=user))
    if account_id is not None:
        return next((m for m in memberships if m.account_id == account_id), None)
    return memberships[0] if memberships else None


def _customer(conversation: Conversation) -> _Customer:
    if conversation.user_id is None or conversation.account_id is None:
        return _Customer(None, None, None)
    membership = _membership(conversation.user, conversation.account_id)
    if membership is None:
        return _Customer(None, None, None)
    return _Customer(conversation.user, membership.account, membership.role)


def _euros(value: Decimal) -> str:
    return formats.number_format(value, decimal_pos=2, use_l10n=True, force_grouping=True) + " €"


def _day(value) -> str:
    return formats.date_format(value, "SHORT_DATE_FORMAT")


def _local(instant: datetime) -> str:
    return timezone.localtime(instant).strftime("%d/%m/%Y %H:%M")


def _say(
    conversation: Conversation,
    text: str,
    *,
    now: datetime,
    intent: str = "",
    entities: dict | None = None,
    articles: list[int] | None = None,
    sender: str = Sender.BOT,
) -> ConversationMessage:
    return ConversationMessage.objects.create(
        conversation=conversation,
        sender=sender,
        body=text,
        intent=intent,
        entities=entities or {},
        articles=articles or [],
        created_at=now,
    )


def conversation_move(
    conversation: Conversation, *, target: str, now: datetime, actor=None
) -> None:
    """Change a locked conversation's status by the transition table, with its event
    (who, when, from, to). The bot's and the live chat's services both move through it."""
    chat_domain.check_transition(conversation.status, target)
    ConversationEvent.objects.create(
        conversation=conversation,
        from_status=conversation.status,
        to_status=target,
        actor=actor,
        at=now,
    )
    conversation.status = target


def _locked(conversation_id: int) -> Conversation:
    conversation = (
        Conversation.objects.select_for_update(of=("self",)).filter(pk=conversation_id).first()
    )
    if conversation is None:
        raise ConversationNotFound(_("Conversation introuvable."))
    return conversation


def _login_url() -> str:
    return reverse("accounts:login") + "?" + urlencode({"next": reverse("chat:page")})


def _emergency_text() -> str:
    return _(
        "Pour votre sécurité : éloignez-vous, ne touchez à rien et appelez tout de suite "
        "notre ligne d'urgence, 24h/24 : %(phone)s. Si quelqu'un est blessé ou en cas "
        "d'incendie, appelez le 112."
    ) % {"phone": EMERGENCY_PHONE}


def _greeting_text(customer: _Customer) -> str:
    text = _(
        "Bonjour, je suis l'assistant de Power Next. Posez votre question : facture, "
        "solde, panne, relevé de compteur, délai de paiement, suivi d'une demande…"
    )
    if not customer.signed_in:
        text += " " + _("Connectez-vous pour consulter votre compte.")
    return text + " " + _("Urgence électrique, 24h/24 : %(phone)s.") % {"phone": EMERGENCY_PHONE}


# --- Start -------------------------------------------------------------------------------


def conversation_start(*, user, session_key: str, language: str, now: datetime) -> Conversation:
    """A new BOT conversation for this browser session, with the bot's greeting."""
    if not session_key:
        raise ChatError(_("Session manquante."))
    if language not in Language.values:
        language = Language.FR
    signed_in = user is not None and getattr(user, "is_authenticated", False)
    membership = _membership(user) if signed_in else None
    with transaction.atomic():
        conversation = Conversation.objects.create(
            session_key=session_key,
            user=user if signed_in else None,
            account=membership.account if membership else None,
            language=language,
            status=ConversationStatus.BOT,
            started_at=now,
            last_activity_at=now,
            idle_due_at=now + chat_domain.IDLE_AFTER,
        )
        customer = _Customer(
            user if membership else None,
            membership.account if membership else None,
            membership.role if membership else None,
        )
        with translation.override(language):
            _say(conversation, _greeting_text(customer), now=now, intent="GREETING")
    return conversation


# --- Post ---------------------------------------------------------------------------------


def conversation_post(
    *, conversation_id: int, body: str, user, session_key: str, now: datetime
) -> list[ConversationMessage]:
    """Store the customer's message and the bot's replies; returns them in order.

    Refuses (ConversationNotFound) a conversation of another session or user, and
    (InvalidMessage, field "body") an empty or too long message; nothing is written then.
    """
    body = (body or "").strip()
    if not body:
        raise InvalidMessage(_("Écrivez votre message."), field="body")
    if len(body) > BODY_MAX:
        raise InvalidMessage(
            _("Votre message dépasse %(max)s caractères.") % {"max": BODY_MAX}, field="body"
        )
    with transaction.atomic():
        conversation = _locked(conversation_id)
        if not chat_selectors.visitor_owns(conversation, user=user, session_key=session_key):
            raise ConversationNotFound(_("Conversation introuvable."))
        if conversation.status == ConversationStatus.CLOSED:
            raise ConversationClosed(_("Cette conversation est terminée."))
        with translation.override(conversation.language):
            return _post(conversation, body=body, now=now)


def _remember(conversation: Conversation, intent: intent_domain.Intent) -> None:
    conversation.intents = [*conversation.intents, intent.name]
    if intent.entities:
        conversation.entities = {**conversation.entities, **intent.entities}


def _post(conversation: Conversation, *, body: str, now: datetime) -> list[ConversationMessage]:
    question = chat_selectors.last_bot_question(conversation_id=conversation.pk)
    intent = intent_domain.detect_intent(body)
    answer = intent_domain.yes_or_no(body) if question is not None else None
    recorded = intent.name
    if question is not None and question.intent == chat_selectors.ASK_FEEDBACK:
        if answer is True and intent.name != intent_domain.SAFETY:
            recorded = chat_selectors.FEEDBACK_YES
        elif answer is False and intent.name != intent_domain.SAFETY:
            recorded = chat_selectors.FEEDBACK_NO
    message = ConversationMessage.objects.create(
        conversation=conversation,
        sender=Sender.CUSTOMER,
        author=conversation.user,
        body=body,
        intent=recorded,
        entities=intent.entities,
        created_at=now,
    )
    if recorded == intent.name and answer is None:
        _remember(conversation, intent)
    conversation.last_activity_at = now
    if conversation.status in chat_domain.IDLE_SWEPT:
        conversation.idle_due_at = now + chat_domain.IDLE_AFTER
    out = [message]

    if intent.name == intent_domain.SAFETY:
        if answer is not None:
            _remember(conversation, intent)
        out.append(_say(conversation, _emergency_text(), now=now, intent=intent_domain.SAFETY))
        conversation.failed_in_row = 0
    elif conversation.status != ConversationStatus.BOT:
        pass  # a person has it (or will): the agent reads it on the console
    elif question is not None and (
        question.intent == chat_selectors.ASK_LEAVE_MESSAGE
        or (answer is not None and question.intent != chat_selectors.ASK_READING)
        or (question.intent == chat_selectors.ASK_READING and "reading" in _numbers(body))
    ):
        out += _answer_question(conversation, question, body=body, answer=answer, now=now)
    else:
        out += _reply(conversation, intent, body=body, now=now)
    conversation.save()
    return out


def _numbers(body: str) -> dict:
    return intent_domain.extract_entities(body)


def _answer_question(
    conversation: Conversation,
    question: ConversationMessage,
    *,
    body: str,
    answer: bool | None,
    now: datetime,
) -> list[ConversationMessage]:
    kind = question.intent
    if kind == chat_selectors.ASK_LEAVE_MESSAGE:
        if answer is False:
            return [_say(conversation, _("Entendu. Puis-je vous aider autrement ?"), now=now)]
        return _leave_message(conversation, body=body, now=now)
    if kind == chat_selectors.ASK_FEEDBACK:
        if answer:
            conversation.failed_in_row = 0
            return [
                _say(
                    conversation,
                    _("Parfait ! Avez-vous une autre question ?"),
                    now=now,
                )
            ]
        return _failed(conversation, now=now, text=_("Désolé de ne pas avoir bien répondu."))
    if kind == chat_selectors.ASK_EXTENSION:
        if not answer:
            return [_say(conversation, _("D'accord, je ne change rien."), now=now)]
        return _extension_confirm(conversation, question, now=now)
    if kind == chat_selectors.ASK_READING:
        value = _numbers(body).get("reading")
        return _reading_submit(conversation, value=value, now=now)
    return []


def _failed(conversation: Conversation, *, now: datetime, text: str) -> list[ConversationMessage]:
    """One more answer that did not help: two in a row hand the chat over."""
    conversation.failed_in_row += 1
    if chat_domain.should_hand_off(failed_in_row=conversation.failed_in_row):
        said = _say(conversation, text, now=now)
        return [said, *_hand_off(conversation, reason="failed_answers", now=now)]
    return [
        _say(
            conversation,
            text
            + " "
            + _(
                "Pouvez-vous reformuler votre question ? Vous pouvez aussi demander à "
                "parler à un conseiller."
            ),
            now=now,
        )
    ]


def _reply(
    conversation: Conversation, intent: intent_domain.Intent, *, body: str, now: datetime
) -> list[ConversationMessage]:
    name = intent.name
    if name == intent_domain.HUMAN:
        return _hand_off(conversation, reason="asked", now=now)
    if name == intent_domain.GREETING:
        return [
            _say(conversation, _("Bonjour ! Quelle est votre question ?"), now=now, intent=name)
        ]
    if name == intent_domain.THANKS:
        conversation.failed_in_row = 0
        return [
            _say(
                conversation,
                _("Avec plaisir. Bonne journée ! Avez-vous une autre question ?"),
                now=now,
                intent=name,
            )
        ]
    if name in intent_domain.TRANSACTIONAL:
        customer = _customer(conversation)
        if not customer.signed_in:
            return [
                _say(
                    conversation,
                    _(
                        "Pour cette demande, connectez-vous à votre espace client : %(url)s "
                        "Je pourrai ensuite vous répondre ici."
                    )
                    % {"url": _login_url()},
                    now=now,
                    intent="LOGIN_REQUIRED",
                )
            ]
        conversation.failed_in_row = 0
        handler = {
            intent_domain.BALANCE: _balance,
            intent_domain.LAST_INVOICE: _balance,
            intent_domain.OUTAGE_STATUS: _outage_status,
            intent_domain.SUBMIT_READING: _reading,
            intent_domain.PAYMENT_EXTENSION: _extension,
            intent_domain.TRACK_TICKET: _track,
        }[name]
        return handler(conversation, customer, intent, now=now)
    return _faq(conversation, body=body, now=now)


# --- FAQ -----------------------------------------------------------------------------------


def _faq(conversation: Conversation, *, body: str, now: datetime) -> list[ConversationMessage]:
    from ..selectors.articles import kb_search

    hits = kb_search(query=body, language=conversation.language, limit=FAQ_LINKS)
    if not hits:
        hits = kb_search(query=body, language=None, limit=FAQ_LINKS)
    if not hits:
        return _failed(
            conversation, now=now, text=_("Je n'ai pas trouvé de réponse à cette question.")
        )
    best, others = hits[0], hits[1:]
    lines = [f"{best.title} — {best.summary}", _("Lire l'article : %(url)s") % {"url": best.url}]
    if others:
        lines.append(_("Voir aussi :"))
        lines += [f"- {hit.title} : {hit.url}" for hit in others]
    lines.append(_("Cela répond-il à votre question ? Oui / Non"))
    ids = [hit.article_id for hit in hits]
    conversation.articles_shown = [*conversation.articles_shown, *ids]
    return [
        _say(
            conversation,
            "\n".join(lines),
            now=now,
            intent=chat_selectors.ASK_FEEDBACK,
            articles=ids,
        )
    ]


# --- Transactions --------------------------------------------------------------------------


def _not_on_account(reference: str) -> str:
    # The same words whether the number does not exist or belongs to someone else.
    return _("Je ne trouve pas %(ref)s sur votre compte. Vérifiez le numéro.") % {"ref": reference}


def _refuse_role() -> str:
    return _("Votre accès à ce compte ne permet pas cette opération.")


def _balance(conversation, customer: _Customer, intent, *, now) -> list[ConversationMessage]:
    if not member_can(customer.role, BILLING):
        return [_say(conversation, _refuse_role(), now=now, intent=intent.name)]
    account_id = customer.account.pk
    number = intent.entities.get("invoice")
    if number:
        invoice = account_invoice(account_id=account_id, number=number)
        if invoice is None:
            return [_say(conversation, _not_on_account(number), now=now, intent=intent.name)]
    else:
        invoice = account_invoices(account_id=account_id).first()
    balance = account_balance(account_id=account_id)
    if balance > 0:
        lines = [_("Votre solde : %(amount)s à payer.") % {"amount": _euros(balance)}]
    elif balance < 0:
        lines = [_("Votre solde : %(amount)s en votre faveur.") % {"amount": _euros(-balance)}]
    else:
        lines = [_("Votre solde est à zéro : rien à payer.")]
    if invoice is None:
        lines.append(_("Vous n'avez pas encore de facture."))
    else:
        label = _("Facture %(number)s") if number else _("Dernière facture : %(number)s")
        lines.append(
            (label % {"number": invoice.number})
            + " — "
            + _("émise le %(day)s, %(amount)s")
            % {"day": _day(invoice.issue_date), "amount": _euros(invoice.total_gross)}
            + (
                ", " + _("échéance le %(day)s") % {"day": _day(invoice.due_date)}
                if invoice.due_date
                else ""
            )
            + "."
        )
        lines.append(
            _("PDF : %(url)s") % {"url": reverse("portal_invoices:pdf", args=[invoice.number])}
        )
    return [_say(conversation, "\n".join(lines), now=now, intent=intent.name)]


def _outage_status(conversation, customer: _Customer, intent, *, now) -> list[ConversationMessage]:
    lines = []
    for premise in account_premises(account_id=customer.account.pk):
        incident = outage_selectors.live_incident_for(
            postcode=premise.postcode, premise_id=premise.pk
        )
        if incident is None:
            lines.append(
                _("%(address)s : aucune coupure en cours connue.") % {"address": str(premise)}
            )
            continue
        text = _("%(address)s : coupure en cours (%(ref)s).") % {
            "address": str(premise),
            "ref": incident.reference,
        }
        if incident.etr:
            text += " " + _("Rétablissement estimé : %(when)s.") % {"when": _local(incident.etr)}
        text += " " + reverse("outages_public:incident", args=[incident.reference])
        lines.append(text)
    if not lines:
        lines.append(_("Aucune adresse n'est rattachée à votre compte."))
    lines.append(
        _(
            "Pas de courant et aucune coupure connue ? Vérifiez votre disjoncteur, puis "
            "signalez-la : %(url)s"
        )
        % {"url": reverse("outages_public:report")}
    )
    return [_say(conversation, "\n".join(lines), now=now, intent=intent.name)]


def _single_point(customer: _Customer, prm: str | None):
    points = account_supply_points(account_id=customer.account.pk)
    if prm:
        points = [p for p in points if p.identifier == prm]
    return points[0] if len(points) == 1 else None


def _reading(conversation, customer: _Customer, intent, *, now) -> list[ConversationMessage]:
    if not member_can(customer.role, SUBMIT_READING):
        return [_say(conversation, _refuse_role(), now=now, intent=intent.name)]
    value = intent.entities.get("reading")
    if value is None:
        return [
            _say(
                conversation,
                _("Quel index affiche votre compteur (en kWh, sans les décimales) ?"),
                now=now,
                intent=chat_selectors.ASK_READING,
            )
        ]
    return _reading_submit(conversation, value=value, now=now)


def _reading_form_url() -> str:
    return reverse("portal_readings:index")


def _reading_submit(conversation, *, value: int | None, now) -> list[ConversationMessage]:
    customer = _customer(conversation)
    if not customer.signed_in or not member_can(customer.role, SUBMIT_READING):
        return [_say(conversation, _refuse_role(), now=now)]
    name = intent_domain.SUBMIT_READING
    point = _single_point(customer, conversation.entities.get("prm"))
    if point is None:
        return [
            _say(
                conversation,
                _("Votre compte a plusieurs points de livraison : utilisez le formulaire : %(url)s")
                % {"url": _reading_form_url()},
                now=now,
                intent=name,
            )
        ]
    try:
        meter = reading_services.meter_in_service(supply_point=point, at=now)
    except reading_services.NoMeter:
        return [_say(conversation, _("Aucun compteur en service sur ce point."), now=now)]
    codes = sorted(r.code for r in meter.registers.all())
    if len(codes) != 1:
        return [
            _say(
                conversation,
                _(
                    "Votre compteur a plusieurs index (heures pleines / heures creuses) : "
                    "transmettez-les avec le formulaire : %(url)s"
                )
                % {"url": reverse("portal_readings:submit", args=[point.pk])},
                now=now,
                intent=name,
            )
        ]
    try:
        # The portal's reading form calls the same service with the same checks.
        with transaction.atomic():
            result = reading_services.readings_submit(
                supply_point=point,
                account=customer.account,
                values={codes[0]: int(value)},
                read_at=now,
                submitted_by=customer.user,
                now=now,
            )
    except reading_services.ReadingRejected as exc:
        text = " ".join(reason_text(p) for p in exc.problems)
        return [
            _say(
                conversation,
                _("Relevé refusé : %(why)s") % {"why": text},
                now=now,
                intent=chat_selectors.ASK_READING,
            )
        ]
    except reading_services.ConfirmationNeeded as exc:
        text = " ".join(reason_text(p) for p in exc.problems)
        return [
            _say(
                conversation,
                _(
                    "Cet index semble inhabituel : %(why)s Si l'index est juste, transmettez-le "
                    "avec une photo du compteur : %(url)s"
                )
                % {"why": text, "url": reverse("portal_readings:submit", args=[point.pk])},
                now=now,
                intent=name,
            )
        ]
    except reading_services.MeteringError:
        return [
            _say(
                conversation,
                _("Je n'ai pas pu enregistrer ce relevé. Utilisez le formulaire : %(url)s")
                % {"url": _reading_form_url()},
                now=now,
                intent=name,
            )
        ]
    text = _("Relevé de %(value)s kWh enregistré. Merci !") % {"value": value}
    if result.ticket is not None:
        text += " " + _("Un conseiller va le vérifier (demande %(ref)s).") % {
            "ref": result.ticket.reference
        }
    return [_say(conversation, text, now=now, intent=name, entities={"reading": value})]


def _extension(conversation, customer: _Customer, intent, *, now) -> list[ConversationMessage]:
    if not member_can(customer.role, BILLING):
        return [_say(conversation, _refuse_role(), now=now, intent=intent.name)]
    account_id = customer.account.pk
    today = timezone.localdate(now)
    invoices = extendable_invoices(account_id=account_id, today=today)
    number = intent.entities.get("invoice")
    if number:
        invoice = invoices.filter(number=number).first()
        if invoice is None:
            if account_invoice(account_id=account_id, number=number) is None:
                return [_say(conversation, _not_on_account(number), now=now, intent=intent.name)]
            return [
                _say(
                    conversation,
                    _("La facture %(number)s ne peut plus être reportée.") % {"number": number},
                    now=now,
                    intent=intent.name,
                )
            ]
    else:
        invoice = invoices.first()
    if invoice is None or account_balance(account_id=account_id) <= 0:
        return [
            _say(
                conversation,
                _("Aucune facture à reporter : votre compte ne présente pas de montant dû."),
                now=now,
                intent=intent.name,
            )
        ]
    days = int(parameter_get(key="extension_max_days"))
    new_due = invoice.due_date + timedelta(days=days)
    return [
        _say(
            conversation,
            _(
                "Je peux reporter l'échéance de la facture %(number)s (%(amount)s) du %(due)s "
                "au %(new)s. Confirmez-vous ? Oui / Non"
            )
            % {
                "number": invoice.number,
                "amount": _euros(invoice.total_gross),
                "due": _day(invoice.due_date),
                "new": _day(new_due),
            },
            now=now,
            intent=chat_selectors.ASK_EXTENSION,
            entities={"invoice": invoice.number, "new_due": new_due.isoformat()},
        )
    ]


def _extension_confirm(conversation, question, *, now) -> list[ConversationMessage]:
    from datetime import date

    customer = _customer(conversation)
    if not customer.signed_in or not member_can(customer.role, BILLING):
        return [_say(conversation, _refuse_role(), now=now)]
    number = question.entities.get("invoice", "")
    invoice = (
        extendable_invoices(account_id=customer.account.pk, today=timezone.localdate(now))
        .filter(number=number)
        .first()
    )
    name = intent_domain.PAYMENT_EXTENSION
    if invoice is None:
        return [_say(conversation, _not_on_account(number), now=now, intent=name)]
    new_due = date.fromisoformat(question.entities["new_due"])
    try:
        with transaction.atomic():
            money_services.payment_extension_request(
                invoice=invoice, new_due=new_due, now=now, actor=customer.user
            )
    except money_services.ExtensionRefused as exc:
        return [_say(conversation, str(exc.message), now=now, intent=name)]
    return [
        _say(
            conversation,
            _("C'est fait : la facture %(number)s est à payer au plus tard le %(day)s.")
            % {"number": number, "day": _day(new_due)},
            now=now,
            intent=name,
            entities={"invoice": number},
        )
    ]


def _track(conversation, customer: _Customer, intent, *, now) -> list[ConversationMessage]:
    reference = intent.entities.get("ticket")
    tickets = ticket_selectors.customer_tickets(account_id=customer.account.pk)
    if reference:
        ticket = tickets.filter(reference=reference).first()
        if ticket is None:
            return [_say(conversation, _not_on_account(reference), now=now, intent=intent.name)]
        chosen = [ticket]
    else:
        chosen = list(tickets[:3])
        if not chosen:
            return [
                _say(conversation, _("Vous n'avez aucune demande."), now=now, intent=intent.name)
            ]
    lines = [] if reference else [_("Vos dernières demandes :")]
    for ticket in chosen:
        lines.append(
            _("%(ref)s « %(subject)s » : %(status)s (mise à jour le %(when)s) %(url)s")
            % {
                "ref": ticket.reference,
                "subject": ticket.subject,
                "status": ticket.get_status_display(),
                "when": _local(ticket.last_activity_at),
                "url": reverse("portal_tickets:detail", args=[ticket.reference]),
            }
        )
    return [_say(conversation, "\n".join(lines), now=now, intent=intent.name)]


# --- Hand-off ------------------------------------------------------------------------------


def conversation_hand_off(*, conversation_id: int, reason: str, now: datetime) -> Conversation:
    """BOT -> WAITING with a CHATBOT_HANDOFF ticket during live-chat hours; outside them,
    the bot offers to leave a message (the conversation stays with the bot)."""
    with transaction.atomic():
        conversation = _locked(conversation_id)
        if conversation.status != ConversationStatus.BOT:
            chat_domain.check_transition(conversation.status, ConversationStatus.WAITING)
        with translation.override(conversation.language):
            _hand_off(conversation, reason=reason, now=now)
        conversation.last_activity_at = now
        conversation.save()
    return conversation


def _last_topic(conversation: Conversation) -> str:
    for name in reversed(conversation.intents):
        if name in HANDOFF_CATEGORY:
            return name
    return ""


def _hand_off(
    conversation: Conversation, *, reason: str, now: datetime
) -> list[ConversationMessage]:
    if not chat_domain.live_chat_open(now):
        return [
            _say(
                conversation,
                _(
                    "Nos conseillers sont joignables par chat du lundi au vendredi de 8 h à "
                    "20 h et le samedi de 9 h à 13 h. Laissez-nous un message : écrivez-le "
                    "ci-dessous et nous vous répondrons (ou répondez « non »)."
                ),
                now=now,
                intent=chat_selectors.ASK_LEAVE_MESSAGE,
            )
        ]
    category = HANDOFF_CATEGORY.get(_last_topic(conversation), "OTHER")
    ticket = _ticket(
        conversation,
        channel="CHATBOT_HANDOFF",
        category=category,
        subject=_("Chat transmis par l'assistant"),
        lead="",
        reason=reason,
        now=now,
    )
    conversation_move(conversation, target=ConversationStatus.WAITING, now=now)
    conversation.ticket = ticket
    conversation.handed_off_at = now
    conversation.idle_due_at = now + chat_domain.IDLE_AFTER
    conversation.contact_id = ticket_selectors.first_contact_id(ticket_id=ticket.pk)
    return [
        _say(
            conversation,
            _(
                "Je vous mets en relation avec un conseiller (demande %(ref)s). Il verra "
                "notre échange : inutile de tout répéter. Restez sur cette page."
            )
            % {"ref": ticket.reference},
            now=now,
            sender=Sender.SYSTEM,
            intent="HANDOFF",
        )
    ]


def _leave_message(conversation: Conversation, *, body: str, now: datetime):
    category = HANDOFF_CATEGORY.get(_last_topic(conversation), "OTHER")
    ticket = _ticket(
        conversation,
        channel="CHAT",
        category=category,
        subject=_("Message laissé sur le chat"),
        lead=body,
        reason="left_message",
        now=now,
    )
    conversation_move(conversation, target=ConversationStatus.CLOSED, now=now)
    conversation.ticket = ticket
    conversation.outcome = ConversationOutcome.HANDED_OFF
    conversation.ended_at = now
    conversation.idle_due_at = None
    conversation.contact_id = ticket_selectors.first_contact_id(ticket_id=ticket.pk)
    return [
        _say(
            conversation,
            _(
                "Merci, votre message est enregistré (demande %(ref)s). Un conseiller vous "
                "répondra dès l'ouverture."
            )
            % {"ref": ticket.reference},
            now=now,
            sender=Sender.SYSTEM,
            intent="LEFT_MESSAGE",
        )
    ]


SENDER_LABEL = {
    Sender.CUSTOMER: "Client",
    Sender.BOT: "Assistant",
    Sender.AGENT: "Conseiller",
    Sender.SYSTEM: "Système",
}


def handoff_body(conversation: Conversation, *, lead: str = "", reason: str = "") -> str:
    """What the agent reads on the ticket: who, what was detected, what was shown, and
    every message with its time and sender."""
    customer = _customer(conversation)
    lines = []
    if lead:
        lines += [lead, ""]
    lines.append(f"Conversation : {conversation.public_id}")
    if reason:
        lines.append(f"Motif du transfert : {reason}")
    if customer.signed_in:
        lines.append(f"Client authentifié : oui — compte {customer.account.number}")
    else:
        lines.append("Client authentifié : non")
    intents = list(dict.fromkeys(conversation.intents))
    lines.append("Intentions détectées : " + (", ".join(intents) if intents else "aucune"))
    entities = conversation.entities or {}
    lines.append(
        "Entités : "
        + (", ".join(f"{k}={v}" for k, v in sorted(entities.items())) if entities else "aucune")
    )
    shown = chat_selectors.articles_shown(article_ids=conversation.articles_shown)
    lines.append("Articles déjà proposés :" + ("" if shown else " aucun"))
    lines += [f"- {a['title']} — {a['url']}" for a in shown]
    lines += ["", "Transcription :"]
    for message in chat_selectors.transcript(conversation_id=conversation.pk):
        stamp = timezone.localtime(message.created_at).strftime("%d/%m/%Y %H:%M:%S")
        lines.append(
            f"[{stamp}] {SENDER_LABEL.get(message.sender, message.sender)} : {message.body}"
        )
    return "\n".join(lines)


def _ticket(conversation, *, channel, category, subject, lead, reason, now):
    customer = _customer(conversation)
    shown = chat_selectors.articles_shown(article_ids=conversation.articles_shown)
    return ticket_services.ticket_create(
        channel=channel,
        category=category,
        subject=subject,
        body=handoff_body(conversation, lead=lead, reason=reason),
        now=now,
        account=customer.account,
        requester=customer.user,
        declared_safety=intent_domain.SAFETY in conversation.intents,
        details={
            "conversation": str(conversation.public_id),
            "intents": list(conversation.intents),
            "entities": dict(conversation.entities),
            "articles": shown,
            "authenticated": customer.signed_in,
            "account": customer.account.number if customer.signed_in else "",
            "reason": reason,
        },
    )


# --- Idle sweep ----------------------------------------------------------------------------


def _queue_of(conversation: Conversation) -> str:
    category = HANDOFF_CATEGORY.get(_last_topic(conversation), "OTHER")
    return CATEGORY_QUEUE.get(category, "GENERAL")


def _record_bot_contact(conversation: Conversation, *, outcome: str, now: datetime) -> None:
    """The chatbot session as a contact (channel CHATBOT) for the KPIs, through the tickets
    app's contact ingestion, idempotent on the conversation's id."""
    external_id = f"{CONTACT_PREFIX}{conversation.public_id}"
    contained = outcome == ConversationOutcome.CONTAINED
    row = {
        "external_id": external_id,
        "channel": "CHATBOT",
        "queue": _queue_of(conversation),
        "offered_at": conversation.started_at.isoformat(),
        "ended_at": now.isoformat(),
        "abandoned": not contained,
        "first_contact": True,
        "resolved": contained,
    }
    if contained:
        # The bot answers at once.
        row["answered_at"] = conversation.started_at.isoformat()
    result = ticket_services.contacts_ingest(rows=[row], source="CDR", now=now)
    if result.errors:
        logger.warning("chat contact %s not recorded: %s", external_id, result.errors)
    conversation.contact_id = (
        Contact.objects.filter(channel="CHATBOT", external_id=external_id)
        .values_list("id", flat=True)
        .first()
    )


def conversation_keep_waiting(*, conversation_id: int, now: datetime) -> bool:
    """A customer waiting for a person with the chat open (its poll is running) is not
    idle: push the idle deadline on, at most once a minute (one UPDATE, no lock). A
    closed tab stops polling, and the sweep abandons the wait IDLE_AFTER later."""
    return bool(
        Conversation.objects.filter(
            pk=conversation_id,
            status=ConversationStatus.WAITING,
            idle_due_at__lt=now + chat_domain.IDLE_AFTER - chat_domain.KEEP_WAITING_STEP,
        ).update(idle_due_at=now + chat_domain.IDLE_AFTER)
    )


def conversation_idle_close(conversation: Conversation, *, now: datetime) -> None:
    """Close one idle BOT or WAITING conversation (locked by the caller)."""
    counts = chat_selectors.message_counts(conversation_id=conversation.pk)
    outcome = chat_domain.idle_outcome(
        status=conversation.status,
        customer_messages=counts["customer"],
        accepted=counts["accepted"],
        failed_in_row=conversation.failed_in_row,
    )
    was_bot = conversation.status == ConversationStatus.BOT
    conversation_move(conversation, target=ConversationStatus.CLOSED, now=now)
    conversation.outcome = outcome
    conversation.ended_at = now
    conversation.idle_due_at = None
    if was_bot and counts["customer"]:
        _record_bot_contact(conversation, outcome=outcome, now=now)
    with translation.override(conversation.language):
        _say(
            conversation,
            _("Conversation terminée faute d'activité. Vous pouvez en commencer une nouvelle."),
            now=now,
            sender=Sender.SYSTEM,
        )
    conversation.save()


def conversation_idle_sweep(*, now: datetime, batch: int = 200) -> int:
    """Close the BOT and WAITING conversations whose ``idle_due_at`` has passed. Rows
    another worker holds are skipped (they are being closed or written to); running it
    twice closes nothing more. Returns how many were closed."""
    closed = 0
    with transaction.atomic():
        due = list(
            Conversation.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                status__in=list(chat_domain.IDLE_SWEPT),
                idle_due_at__isnull=False,
                idle_due_at__lte=now,
            )
            .order_by("idle_due_at", "id")[:batch]
        )
        for conversation in due:
            conversation_idle_close(conversation, now=now)
            closed += 1
    return closed
