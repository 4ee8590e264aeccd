"""Reads of the knowledge base: search, categories, article pages, helpfulness, reviews.

Search (``kb_search``) uses PostgreSQL full-text search: the query becomes a tsquery in
the language's unaccented, stemming configuration (kb_french / kb_english) with the
synonyms of kb.domain.search, matched against the weighted ``search_vector`` (title A,
keywords and summary B, body C) of published articles. The tsquery is the OR of the
query's units (a word with its synonyms, or a phrase), so an article matching any unit
is found; the rank is ``(1 + units matched) × ts_rank_cd`` — an article that covers
more of what was asked comes first, and among equals the denser match (weights A > B >
C). By relevance only, never by date; ties go by title. One SQL query per language
tried. (This ranking was chosen on kb/eval/questions.csv: plain ts_rank_cd gave top-1
0.695, with coverage 0.831, top-3 0.975 both — see docs/self-service.md.)
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from ..domain import search as search_domain
from ..models import Article, ArticleStatus, ArticleVote, Category

SEARCH_CONFIGS = {"fr": "kb_french", "en": "kb_english"}
LANGUAGES = ("fr", "en")
# ts_headline selection marks: characters that never occur in the articles, swapped
# for <mark> after the snippet is escaped.
_START, _STOP = "\u27e6", "\u27e7"
_HEADLINE_OPTIONS = (
    f"StartSel={_START}, StopSel={_STOP}, MaxWords=22, MinWords=10, ShortWord=2, "
    'MaxFragments=2, FragmentDelimiter=" … "'
)


@dataclass(frozen=True)
class SearchHit:
    article_id: int
    key: str
    language: str
    slug: str
    title: str
    summary: str
    snippet: SafeString  # escaped HTML; the matched words are in <mark>
    rank: float
    url: str


def article_url(*, category_slug: str, slug: str) -> str:
    return reverse("help:article", kwargs={"category": category_slug, "slug": slug})


def _language(language: str | None) -> str:
    language = (language or "")[:2]
    if language in LANGUAGES:
        return language
    active = (get_language() or "fr")[:2]
    return active if active in LANGUAGES else "fr"


_SEARCH_SQL = """
SELECT a.id, a.key, a.language, a.slug, a.title, a.summary, c.slug,
       (1 + (SELECT count(*) FROM unnest(q.units) AS u(unit) WHERE a.search_vector @@ u.unit))
           * ts_rank_cd(a.search_vector, q.query) AS rank,
       ts_headline(q.cfg, a.body, q.query, %(options)s) AS headline
FROM kb_article a
JOIN kb_category c ON c.id = a.category_id
CROSS JOIN (SELECT to_tsquery(%(cfg)s::regconfig, %(query)s) AS query,
                   ARRAY(SELECT to_tsquery(%(cfg)s::regconfig, t)
                         FROM unnest(%(units)s::text[]) AS t) AS units,
                   %(cfg)s::regconfig AS cfg) q
WHERE a.status = %(published)s AND a.language = %(language)s
  AND a.search_vector @@ q.query
ORDER BY rank DESC, a.title ASC, a.id ASC
LIMIT %(limit)s
"""

_MD_NOISE = re.compile(r"\]\([^)\s]*\)?|\*\*|#{1,3}\s|[\[\]]|^\s*-\s")


def _snippet(headline: str, summary: str) -> SafeString:
    if _START not in headline:
        return mark_safe(html.escape(summary))  # noqa: S308 - escaped just now
    text = _MD_NOISE.sub("", headline.replace("\n", " "))
    text = re.sub(r"\s+", " ", text).strip()
    escaped = html.escape(text).replace(_START, "<mark>").replace(_STOP, "</mark>")
    return mark_safe(escaped)  # noqa: S308 - escaped just now, only <mark> added


def _search_language(units: list[str], language: str, limit: int) -> list[SearchHit]:
    with connection.cursor() as cursor:
        cursor.execute(
            _SEARCH_SQL,
            {
                "options": _HEADLINE_OPTIONS,
                "cfg": SEARCH_CONFIGS[language],
                "query": " | ".join(units),
                "units": units,
                "published": ArticleStatus.PUBLISHED,
                "language": language,
                "limit": limit,
            },
        )
        rows = cursor.fetchall()
    return [
        SearchHit(
            article_id=row[0],
            key=row[1],
            language=row[2],
            slug=row[3],
            title=row[4],
            summary=row[5],
            snippet=_snippet(row[8] or "", row[5]),
            rank=float(row[7]),
            url=article_url(category_slug=row[6], slug=row[3]),
        )
        for row in rows
    ]


def kb_search(*, query: str, language: str | None = None, limit: int = 3) -> list[SearchHit]:
    """Published articles that match `query`, most relevant first.

    With `language` the search stays in that language. Without it the language is
    guessed from the query (the active language when nothing tells); when the guess
    finds nothing, the other language is tried."""
    limit = max(1, min(int(limit), 50))
    units = search_domain.build_units(query or "")
    if not units:
        return []
    if language:
        return _search_language(units, _language(language), limit)
    first = search_domain.guess_language(query, default=_language(None))
    hits = _search_language(units, first, limit)
    if hits:
        return hits
    other = "en" if first == "fr" else "fr"
    return _search_language(units, other, limit)


# --- Categories and article pages -----------------------------------------------------------


def published(language: str | None = None) -> QuerySet[Article]:
    qs = Article.objects.filter(status=ArticleStatus.PUBLISHED)
    return qs.filter(language=language) if language else qs


def categories_with_counts(*, language: str) -> list[Category]:
    """Every category with `article_count` published articles in `language` (one query);
    categories without any are left out."""
    qs = Category.objects.annotate(
        article_count=Count(
            "articles",
            filter=Q(articles__status=ArticleStatus.PUBLISHED, articles__language=language),
        )
    ).order_by("position", "slug")
    return [c for c in qs if c.article_count]


def category_by_slug(*, slug: str) -> Category | None:
    return Category.objects.filter(slug=slug).first()


def category_articles(*, category: Category, language: str) -> QuerySet[Article]:
    return (
        published(language)
        .filter(category=category)
        .select_related("category")
        .only("pk", "key", "language", "slug", "title", "summary", "category__slug")
        .order_by("title", "pk")
    )


def article_published(*, category_slug: str, slug: str, language: str) -> Article | None:
    """The published article at /help/<category>/<slug>/; when both languages use the
    same slug, the one in `language` wins."""
    candidates = list(
        published()
        .filter(category__slug=category_slug, slug=slug)
        .select_related("category", "owner")
    )
    if not candidates:
        return None
    candidates.sort(key=lambda a: a.language != language)
    return candidates[0]


def article_translation(*, article: Article) -> Article | None:
    """The published version of the same article in the other language (hreflang)."""
    return (
        published()
        .filter(key=article.key)
        .exclude(language=article.language)
        .select_related("category")
        .first()
    )


def article_helpfulness(*, article_ids: list[int]) -> dict[int, tuple[int, int]]:
    """{article id: (helpful votes, unhelpful votes)} in one query."""
    rows = (
        ArticleVote.objects.filter(article_id__in=article_ids)
        .values("article_id")
        .annotate(yes=Count("pk", filter=Q(helpful=True)), no=Count("pk", filter=Q(helpful=False)))
    )
    counts = dict.fromkeys(article_ids, (0, 0))
    counts.update({r["article_id"]: (r["yes"], r["no"]) for r in rows})
    return counts


def visitor_vote(*, article: Article, user, session_key: str) -> ArticleVote | None:
    votes = ArticleVote.objects.filter(article=article)
    if user is not None and user.is_authenticated:
        vote = votes.filter(user=user).first()
        if vote is not None:
            return vote
    if session_key:
        return votes.filter(session_key=session_key).first()
    return None


def articles_review_due(*, today: date, within_days: int = 30) -> QuerySet[Article]:
    """Articles not archived whose review date is past or within `within_days`,
    soonest first, with their owner (for staff)."""
    return (
        Article.objects.exclude(status=ArticleStatus.ARCHIVED)
        .filter(review_on__lte=today + timedelta(days=within_days))
        .select_related("owner", "category")
        .order_by("review_on", "title")
    )


def sitemap_articles() -> QuerySet[Article]:
    return (
        published()
        .select_related("category")
        .only("pk", "key", "language", "slug", "updated_at", "category__slug")
        .order_by("category__position", "language", "slug")
    )
