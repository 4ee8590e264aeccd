"""Writes of the knowledge base (docs/self-service.md, "Knowledge base").

- ``kb_content_sync``: loads kb/content (categories.csv and ``<key>.<lang>.md`` files)
  idempotently. A new article is created, given an owner (the first active admin, else
  a supervisor) and a review date 180 days out, and published; a changed file updates
  its article (text, category, slug) without touching its status, so an article staff
  archived stays archived. A second run with the same files writes nothing.
- ``article_transition``: DRAFT/PUBLISHED/ARCHIVED by the table in kb.domain.articles,
  with an ArticleEvent row per change.
- ``article_vote``: "did this help?" — one vote per article and visitor (signed-in user,
  else session); voting again replaces the earlier vote.
- ``article_search_refresh``: recomputes the weighted search vector in SQL (title A,
  keywords and summary B, body C) with the language's unaccented configuration.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User

from ..domain import articles as domain
from ..models import Article, ArticleEvent, ArticleStatus, ArticleVote, Category

CONTENT_DIR = Path(settings.BASE_DIR) / "kb" / "content"
REVIEW_AFTER = timedelta(days=180)
COMMENT_MAX = 1000
SEARCH_CONFIGS = {"fr": "kb_french", "en": "kb_english"}

IllegalTransition = domain.IllegalTransition
ContentError = domain.ContentError


class KbError(Exception):
    """Base class for refusals of the knowledge-base services."""


class ArticleNotFound(KbError):
    pass


class NoOwner(KbError):
    """No active admin or supervisor to own the synced articles."""


class InvalidVote(KbError):
    """Bad values for a vote; `errors` maps field names to messages."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


# --- Search vector -------------------------------------------------------------------------

_VECTOR_SQL = """
UPDATE kb_article SET search_vector =
    setweight(to_tsvector(cfg.c, coalesce(title, '')), 'A')
    || setweight(to_tsvector(cfg.c, coalesce(keywords, '') || ' ' || coalesce(summary, '')), 'B')
    || setweight(to_tsvector(cfg.c, coalesce(body, '')), 'C')
FROM (SELECT CASE WHEN a.language = 'en' THEN 'kb_english'::regconfig
                  ELSE 'kb_french'::regconfig END AS c, a.id AS article_id
      FROM kb_article a WHERE a.id = ANY(%s)) AS cfg
WHERE kb_article.id = cfg.article_id
"""


def article_search_refresh(*, article_ids: list[int]) -> None:
    """Recompute the search vector of these articles (after their text changed)."""
    if not article_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(_VECTOR_SQL, [list(article_ids)])


# --- Status ---------------------------------------------------------------------------------


@transaction.atomic
def article_transition(
    *, article_id: int, to_status: str, actor: User | None, now: datetime
) -> Article:
    """Move an article along the status table; raises IllegalTransition otherwise."""
    article = Article.objects.select_for_update().filter(pk=article_id).first()
    if article is None:
        raise ArticleNotFound(article_id)
    from_status = article.status
    domain.transition_check(from_status, to_status)
    article.status = to_status
    fields = ["status"]
    if to_status == ArticleStatus.PUBLISHED:
        article.published_at = now
        fields.append("published_at")
    article.save(update_fields=fields)
    ArticleEvent.objects.create(
        article=article, from_status=from_status, to_status=to_status, actor=actor, at=now
    )
    return article


# --- Votes ------------------------------------------------------------------------------------


@transaction.atomic
def article_vote(
    *,
    article_id: int,
    helpful: bool,
    comment: str,
    user: User | None,
    session_key: str,
    now: datetime,
) -> ArticleVote:
    """Record (or replace) the visitor's vote on a published article."""
    errors: dict[str, str] = {}
    if not isinstance(helpful, bool):
        errors["helpful"] = _("Indiquez si cet article vous a aidé.")
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        errors["comment"] = _("Votre commentaire dépasse %(max)d caractères.") % {
            "max": COMMENT_MAX
        }
    if user is not None and not user.is_authenticated:
        user = None
    if user is None and not session_key:
        errors["helpful"] = _("Activez les cookies pour voter.")
    if errors:
        raise InvalidVote(errors)
    article = (
        Article.objects.filter(pk=article_id, status=ArticleStatus.PUBLISHED).only("pk").first()
    )
    if article is None:
        raise ArticleNotFound(article_id)

    votes = ArticleVote.objects.select_for_update().filter(article=article)
    existing = None
    if user is not None:
        existing = votes.filter(user=user).first()
    if existing is None and session_key:
        existing = votes.filter(session_key=session_key).first()
    if existing is not None:
        existing.helpful = helpful
        existing.comment = comment
        existing.created_at = now
        if user is not None:
            existing.user = user
        existing.save(update_fields=["helpful", "comment", "created_at", "user"])
        return existing
    try:
        with transaction.atomic():
            return ArticleVote.objects.create(
                article=article,
                helpful=helpful,
                comment=comment,
                user=user,
                session_key=session_key or "",
                created_at=now,
            )
    except IntegrityError:
        # The same session voted concurrently: its row now exists, replace it.
        vote = votes.get(session_key=session_key)
        vote.helpful, vote.comment, vote.created_at = helpful, comment, now
        vote.save(update_fields=["helpful", "comment", "created_at"])
        return vote


# --- Content sync -----------------------------------------------------------------------------


@dataclass
class SyncReport:
    categories_created: int = 0
    categories_updated: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    published: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.categories_created
            or self.categories_updated
            or self.created
            or self.updated
            or self.published
        )

    def __str__(self) -> str:
        return (
            f"{self.created} articles created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.published} published; categories "
            f"{self.categories_created} created, {self.categories_updated} updated"
        )


def _owner() -> User:
    for role in (Role.ADMIN, Role.SUPERVISOR):
        user = User.objects.filter(role=role, is_active=True).order_by("pk").first()
        if user is not None:
            return user
    raise NoOwner("kb_content_sync needs an active admin or supervisor to own the articles")


def _sync_categories(directory: Path, report: SyncReport) -> dict[str, Category]:
    path = directory / "categories.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    existing = {c.slug: c for c in Category.objects.all()}
    for row in rows:
        slug = row["slug"].strip()
        values = {
            "position": int(row["position"]),
            "name_fr": row["name_fr"].strip(),
            "name_en": row["name_en"].strip(),
        }
        category = existing.get(slug)
        if category is None:
            existing[slug] = Category.objects.create(slug=slug, **values)
            report.categories_created += 1
        elif any(getattr(category, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(category, k, v)
            category.save(update_fields=list(values))
            report.categories_updated += 1
    return existing


def _read_articles(directory: Path) -> list[domain.ContentArticle]:
    parsed = []
    for path in sorted(directory.glob("*.md")):
        item = domain.parse_content(path.read_text(encoding="utf-8"), name=path.name)
        expected = f"{item.key}.{item.language}.md"
        if path.name != expected:
            raise ContentError(f"{path.name}: key/language say it should be named {expected}")
        parsed.append(item)
    seen: set[tuple[str, str]] = set()
    for item in parsed:
        if (item.language, item.slug) in seen:
            raise ContentError(f"slug {item.slug!r} is used twice in {item.language}")
        seen.add((item.language, item.slug))
    return parsed


TEXT_FIELDS = ("slug", "title", "summary", "keywords", "body")


@transaction.atomic
def kb_content_sync(*, now: datetime, directory: Path | None = None) -> SyncReport:
    """Load the content files into articles; idempotent (see the module docstring).
    Raises ContentError (nothing written) when a file is malformed."""
    directory = Path(directory or CONTENT_DIR)
    report = SyncReport()
    categories = _sync_categories(directory, report)
    items = _read_articles(directory)
    unknown = sorted({i.category for i in items} - set(categories))
    if unknown:
        raise ContentError(f"unknown categories: {', '.join(unknown)}")
    existing = {(a.language, a.key): a for a in Article.objects.all()}
    owner: User | None = None
    refresh: list[int] = []
    to_publish: list[int] = []
    # Slugs can move between articles; free them first so the unique constraint holds.
    for item in items:
        article = existing.get((item.language, item.key))
        clash = next(
            (
                a
                for a in existing.values()
                if a.language == item.language and a.slug == item.slug and a.key != item.key
            ),
            None,
        )
        if clash is not None:
            clash.slug = f"{clash.slug}-{clash.pk}"[:120]
            clash.save(update_fields=["slug"])
        if article is None:
            owner = owner or _owner()
            article = Article.objects.create(
                key=item.key,
                language=item.language,
                category=categories[item.category],
                owner=owner,
                review_on=timezone.localdate(now + REVIEW_AFTER),
                updated_at=now,
                status=ArticleStatus.DRAFT,
                **{f: getattr(item, f) for f in TEXT_FIELDS},
            )
            existing[(item.language, item.key)] = article
            report.created += 1
            refresh.append(article.pk)
            to_publish.append(article.pk)
            continue
        changed = [f for f in TEXT_FIELDS if getattr(article, f) != getattr(item, f)]
        if article.category_id != categories[item.category].pk:
            article.category = categories[item.category]
            changed.append("category")
        if changed:
            for f in TEXT_FIELDS:
                setattr(article, f, getattr(item, f))
            article.updated_at = now
            article.save(update_fields=[*changed, "updated_at"])
            report.updated += 1
            refresh.append(article.pk)
        else:
            report.unchanged += 1
            if article.search_vector is None:
                refresh.append(article.pk)
    article_search_refresh(article_ids=refresh)
    for article_id in to_publish:
        article_transition(
            article_id=article_id, to_status=ArticleStatus.PUBLISHED, actor=None, now=now
        )
        report.published += 1
    return report
