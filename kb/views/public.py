"""Public help centre (/help/): categories and search, a category's articles, article
pages with "did this help?" votes, and the sitemap. Anyone may use them.

Language: the active language picks which articles a listing shows; an article page
shows the article in its own language, with a link (and hreflang alternates) to the
other version. Drafts and archived articles are never shown (404).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from ..domain import articles as article_domain
from ..domain.search import MAX_QUERY_CHARS
from ..selectors import articles as selectors
from ..services import articles as services

RESULTS_LIMIT = 10


class SearchForm(forms.Form):
    q = forms.CharField(
        label=gettext_lazy("Rechercher dans l'aide"),
        max_length=MAX_QUERY_CHARS,
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )


class VoteForm(forms.Form):
    helpful = forms.TypedChoiceField(
        label=gettext_lazy("Cet article vous a-t-il aidé ?"),
        choices=[("yes", gettext_lazy("Oui")), ("no", gettext_lazy("Non"))],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        error_messages={"required": gettext_lazy("Indiquez si cet article vous a aidé.")},
    )
    comment = forms.CharField(
        label=gettext_lazy("Un commentaire ? (facultatif)"),
        required=False,
        max_length=services.COMMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "Ne donnez pas d'informations personnelles. 1000 caractères au plus."
        ),
    )


def _language() -> str:
    language = (get_language() or "fr")[:2]
    return language if language in ("fr", "en") else "fr"


def _category_name(category, language: str) -> str:
    return category.name_en if language == "en" else category.name_fr


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    language = _language()
    form = SearchForm(request.GET)
    results = None
    status = 200
    query = ""
    if "q" in request.GET:
        if form.is_valid():
            query = form.cleaned_data["q"].strip()
            if query:
                results = selectors.kb_search(query=query, limit=RESULTS_LIMIT)
        else:
            status = 400
    categories = selectors.categories_with_counts(language=language)
    for category in categories:
        category.name = _category_name(category, language)
    return render(
        request,
        "kb/help/home.html",
        {"form": form, "query": query, "results": results, "categories": categories},
        status=status,
    )


@require_GET
def category(request: HttpRequest, category: str) -> HttpResponse:
    language = _language()
    found = selectors.category_by_slug(slug=category)
    if found is None:
        raise Http404
    return render(
        request,
        "kb/help/category.html",
        {
            "category": found,
            "category_name": _category_name(found, language),
            "articles": list(selectors.category_articles(category=found, language=language)),
            "form": SearchForm(),
        },
    )


def _article_context(request: HttpRequest, article, vote_form=None, voted=None) -> dict:
    translation = selectors.article_translation(article=article)
    yes, no = selectors.article_helpfulness(article_ids=[article.pk])[article.pk]
    if voted is None:
        voted = selectors.visitor_vote(
            article=article, user=request.user, session_key=request.session.session_key or ""
        )
    if vote_form is None:
        initial = {"comment": voted.comment} if voted else {}
        vote_form = VoteForm(initial=initial, auto_id="vote_%s")
    versions = {article.language: request.build_absolute_uri(_url(article))}
    if translation is not None:
        versions[translation.language] = request.build_absolute_uri(_url(translation))
    return {
        "article": article,
        "body_html": mark_safe(article_domain.render_markdown(article.body)),  # noqa: S308
        "category_name": _category_name(article.category, article.language),
        "translation": translation,
        "canonical": versions[article.language],
        "alternates": sorted(versions.items()),
        "x_default": versions.get("fr", versions[article.language]),
        "helpful_yes": yes,
        "helpful_total": yes + no,
        "vote_form": vote_form,
        "voted": voted,
        "vote_url": _vote_url(article),
    }


def _url(article) -> str:
    return selectors.article_url(category_slug=article.category.slug, slug=article.slug)


def _vote_url(article) -> str:
    return reverse("help:vote", kwargs={"category": article.category.slug, "slug": article.slug})


def _find(category: str, slug: str):
    article = selectors.article_published(category_slug=category, slug=slug, language=_language())
    if article is None:
        raise Http404
    return article


@require_GET
def article(request: HttpRequest, category: str, slug: str) -> HttpResponse:
    found = _find(category, slug)
    return render(request, "kb/help/article.html", _article_context(request, found))


@require_POST
def vote(request: HttpRequest, category: str, slug: str) -> HttpResponse:
    found = _find(category, slug)
    htmx = request.headers.get("HX-Request") == "true"
    form = VoteForm(request.POST, auto_id="vote_%s")
    if form.is_valid():
        if not request.session.session_key:
            request.session.save()
        try:
            voted = services.article_vote(
                article_id=found.pk,
                helpful=form.cleaned_data["helpful"],
                comment=form.cleaned_data["comment"],
                user=request.user if request.user.is_authenticated else None,
                session_key=request.session.session_key or "",
                now=timezone.now(),
            )
        except services.ArticleNotFound:
            raise Http404 from None
        except services.InvalidVote as exc:
            for name, message in exc.errors.items():
                form.add_error(name if name in form.fields else None, message)
        else:
            if not htmx:
                messages.success(request, _("Merci pour votre avis."))
                return redirect(_url(found) + "#vote")
            context = _article_context(request, found, voted=voted)
            context["thanks"] = True
            return HttpResponse(render_to_string("kb/help/_vote.html", context, request=request))
    context = _article_context(request, found, vote_form=form)
    if htmx:
        html = render_to_string("kb/help/_vote.html", context, request=request)
        return HttpResponse(html, status=400)
    return render(request, "kb/help/article.html", context, status=400)


@require_GET
def sitemap(request: HttpRequest) -> HttpResponse:
    articles = list(selectors.sitemap_articles())
    by_key: dict[str, dict[str, str]] = {}
    for item in articles:
        by_key.setdefault(item.key, {})[item.language] = request.build_absolute_uri(_url(item))
    entries = [
        {
            "loc": by_key[item.key][item.language],
            "lastmod": item.updated_at.date().isoformat(),
            "alternates": sorted(by_key[item.key].items()) if len(by_key[item.key]) > 1 else [],
        }
        for item in articles
    ]
    xml = render_to_string("kb/help/sitemap.xml", {"entries": entries})
    return HttpResponse(xml, content_type="application/xml; charset=utf-8")
