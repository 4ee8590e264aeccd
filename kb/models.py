"""Self-service records: knowledge-base articles and their votes, chatbot conversations
with their messages, and the handoff to a person (docs/self-service.md)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Language(models.TextChoices):
    FR = "fr", _("Français")
    EN = "en", _("Anglais")


# --- Knowledge base ----------------------------------------------------------------------


class Category(models.Model):
    slug = models.SlugField(max_length=60, unique=True)
    name_fr = models.CharField(max_length=120)
    name_en = models.CharField(max_length=120)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("catégorie")
        verbose_name_plural = _("catégories")
        ordering = ["position", "slug"]

    def __str__(self) -> str:
        return self.name_fr


class ArticleStatus(models.TextChoices):
    DRAFT = "DRAFT", _("Brouillon")
    PUBLISHED = "PUBLISHED", _("Publié")
    ARCHIVED = "ARCHIVED", _("Archivé")


class Article(models.Model):
    """One article in one language. The French and English versions of the same article
    share a `key`; `slug` is unique per language and makes the public URL."""

    key = models.SlugField(max_length=80)
    language = models.CharField(max_length=2, choices=Language.choices)
    slug = models.SlugField(max_length=120)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="articles")
    title = models.CharField(_("titre"), max_length=200)
    summary = models.CharField(_("résumé"), max_length=300)
    body = models.TextField(_("texte"))
    # Extra words customers use for this article (misspellings, slang), searched too.
    keywords = models.CharField(_("mots-clés"), max_length=500, blank=True)
    status = models.CharField(
        max_length=10, choices=ArticleStatus.choices, default=ArticleStatus.DRAFT
    )
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    review_on = models.DateField(_("à revoir le"))
    published_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()
    # Weighted tsvector (title A, keywords and summary B, body C) in the language's
    # unaccented configuration; written by the service that saves the article.
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        verbose_name = _("article")
        verbose_name_plural = _("articles")
        ordering = ["category__position", "title"]
        constraints = [
            models.UniqueConstraint(fields=["language", "slug"], name="kb_article_slug"),
            models.UniqueConstraint(fields=["language", "key"], name="kb_article_key"),
        ]
        indexes = [
            GinIndex(fields=["search_vector"], name="kb_article_search"),
            models.Index(fields=["status", "review_on"], name="kb_article_review"),
        ]

    def __str__(self) -> str:
        return f"{self.language}: {self.title}"


class ArticleEvent(models.Model):
    """Every status change of an article: who, when, from, to."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=10, choices=ArticleStatus.choices)
    to_status = models.CharField(max_length=10, choices=ArticleStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.article_id} {self.from_status}→{self.to_status}"


class ArticleVote(models.Model):
    """ "Did this help?" with an optional comment; one vote per article and visitor
    (signed-in user or anonymous session)."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="votes")
    helpful = models.BooleanField()
    comment = models.TextField(blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    session_key = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["article", "session_key"],
                condition=~Q(session_key=""),
                name="kb_vote_once_per_session",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.article_id} {'+' if self.helpful else '-'}"


# --- Chatbot and live chat -----------------------------------------------------------------


class ConversationStatus(models.TextChoices):
    BOT = "BOT", _("Avec l'assistant")
    WAITING = "WAITING", _("En attente d'un conseiller")
    LIVE = "LIVE", _("Avec un conseiller")
    CLOSED = "CLOSED", _("Terminée")


class ConversationOutcome(models.TextChoices):
    CONTAINED = "CONTAINED", _("Résolue par l'assistant")
    HANDED_OFF = "HANDED_OFF", _("Transmise à un conseiller")
    ABANDONED = "ABANDONED", _("Abandonnée")


class Conversation(models.Model):
    """One chat session, from the widget's first message to its end. `public_id` is the
    only identifier the browser sees (with the session that started it)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    session_key = models.CharField(max_length=64, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.FR)
    status = models.CharField(
        max_length=8, choices=ConversationStatus.choices, default=ConversationStatus.BOT
    )
    outcome = models.CharField(
        max_length=10, choices=ConversationOutcome.choices, blank=True, default=""
    )
    # Answers in a row the customer did not accept (two hand over to a person).
    failed_in_row = models.PositiveSmallIntegerField(default=0)
    intents = models.JSONField(default=list)  # every intent detected, in order
    entities = models.JSONField(default=dict)  # invoice number, PRM, reading, reference…
    articles_shown = models.JSONField(default=list)  # article ids, in order
    ticket = models.ForeignKey(
        "tickets.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    contact = models.ForeignKey(
        "tickets.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField()
    last_activity_at = models.DateTimeField()
    handed_off_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)  # an agent's first reply
    ended_at = models.DateTimeField(null=True, blank=True)
    # Deadline row: when an idle conversation is closed by the sweep (ABANDONED, or
    # CONTAINED when the bot's last answer was not refused).
    idle_due_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(
                fields=["idle_due_at"],
                condition=~Q(status="CLOSED"),
                name="kb_conversation_idle_due",
            ),
            models.Index(
                fields=["status", "handed_off_at"],
                condition=Q(status__in=["WAITING", "LIVE"]),
                name="kb_conversation_queue",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.status}"


class ConversationEvent(models.Model):
    """Every status change of a conversation: who, when, from, to."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=8, choices=ConversationStatus.choices)
    to_status = models.CharField(max_length=8, choices=ConversationStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.conversation_id} {self.from_status}→{self.to_status}"


class Sender(models.TextChoices):
    CUSTOMER = "CUSTOMER", _("Client")
    BOT = "BOT", _("Assistant")
    AGENT = "AGENT", _("Conseiller")
    SYSTEM = "SYSTEM", _("Système")


class ConversationMessage(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    sender = models.CharField(max_length=8, choices=Sender.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    intent = models.CharField(max_length=40, blank=True)
    entities = models.JSONField(default=dict, blank=True)
    articles = models.JSONField(default=list, blank=True)  # article ids offered
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["conversation", "id"], name="kb_message_since")]

    def __str__(self) -> str:
        return f"{self.conversation_id} {self.sender} {self.created_at:%H:%M}"
