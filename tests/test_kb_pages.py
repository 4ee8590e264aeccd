"""Help centre pages (/help/), votes, the article status machine, the content sync and
the safe Markdown renderer."""

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command

from accounts.models import Role
from kb.domain import articles as article_domain
from kb.models import Article, ArticleEvent, ArticleStatus, ArticleVote, Category
from kb.selectors.articles import articles_review_due
from kb.services import articles as services

FIXTURES = Path(__file__).parent / "fixtures" / "kb"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BILL_FR = "/help/bills/comprendre-sa-facture/"
BILL_EN = "/help/bills/understand-your-bill/"
VOTE_FR = BILL_FR + "vote/"


@pytest.fixture
def kb(make_user):
    make_user(Role.ADMIN)
    services.kb_content_sync(now=NOW, directory=FIXTURES)
    return {(a.key, a.language): a for a in Article.objects.all()}


def english(client):
    client.cookies["django_language"] = "en"
    return client


def _more_articles(n: int, *, owner, category: Category, start: int = 0) -> None:
    for i in range(start, start + n):
        article = Article.objects.create(
            key=f"extra-{i}",
            language="fr",
            slug=f"extra-{i}",
            category=category,
            title=f"Article supplémentaire {i}",
            summary="Résumé",
            body="Texte sur la facture.",
            owner=owner,
            review_on=date(2026, 9, 1),
            updated_at=NOW,
        )
        services.article_search_refresh(article_ids=[article.pk])
        services.article_transition(
            article_id=article.pk, to_status=ArticleStatus.PUBLISHED, actor=None, now=NOW
        )


# --- Status machine ------------------------------------------------------------------------------

ALL = [ArticleStatus.DRAFT, ArticleStatus.PUBLISHED, ArticleStatus.ARCHIVED]
ALLOWED = {
    (ArticleStatus.DRAFT, ArticleStatus.PUBLISHED),
    (ArticleStatus.PUBLISHED, ArticleStatus.DRAFT),
    (ArticleStatus.PUBLISHED, ArticleStatus.ARCHIVED),
    (ArticleStatus.ARCHIVED, ArticleStatus.DRAFT),
}


def test_domain_table_is_the_documented_one():
    assert {(a.value, b.value) for a, b in ALLOWED} == article_domain.TRANSITIONS
    assert article_domain.allowed_targets("PUBLISHED") == ["ARCHIVED", "DRAFT"]


@pytest.mark.django_db
@pytest.mark.parametrize("from_status", ALL)
@pytest.mark.parametrize("to_status", ALL)
def test_article_transition(kb, make_user, from_status, to_status):
    article = kb[("power-cut", "fr")]
    Article.objects.filter(pk=article.pk).update(status=from_status, published_at=None)
    ArticleEvent.objects.all().delete()
    actor = make_user(Role.SUPERVISOR)
    later = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # the night clocks go forward in Paris
    if (from_status, to_status) in ALLOWED:
        services.article_transition(
            article_id=article.pk, to_status=to_status, actor=actor, now=later
        )
        article.refresh_from_db()
        assert article.status == to_status
        event = ArticleEvent.objects.get()
        assert (event.from_status, event.to_status, event.actor, event.at) == (
            from_status,
            to_status,
            actor,
            later,
        )
        assert article.published_at == (later if to_status == ArticleStatus.PUBLISHED else None)
    else:
        with pytest.raises(services.IllegalTransition):
            services.article_transition(
                article_id=article.pk, to_status=to_status, actor=actor, now=later
            )
        article.refresh_from_db()
        assert article.status == from_status
        assert not ArticleEvent.objects.exists()


# --- Content sync --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_sync_creates_publishes_and_is_idempotent(make_user):
    admin = make_user(Role.ADMIN)
    make_user(Role.SUPERVISOR)
    # 22:30 UTC on 24 October is 00:30 on 25 October in Paris, the day clocks go back:
    # the review date counts from the Paris date.
    now = datetime(2026, 10, 24, 22, 30, tzinfo=UTC)
    report = services.kb_content_sync(now=now, directory=FIXTURES)
    assert (report.created, report.published, report.categories_created) == (5, 5, 2)
    article = Article.objects.get(key="understand-bill", language="fr")
    assert article.status == ArticleStatus.PUBLISHED
    assert article.owner == admin
    assert article.review_on == date(2027, 4, 23)
    assert article.search_vector is not None
    assert ArticleEvent.objects.filter(article=article, to_status="PUBLISHED").count() == 1

    snapshot = list(Article.objects.order_by("pk").values())
    events = ArticleEvent.objects.count()
    again = services.kb_content_sync(now=datetime(2026, 11, 1, tzinfo=UTC), directory=FIXTURES)
    assert not again.changed
    assert again.unchanged == 5
    assert list(Article.objects.order_by("pk").values()) == snapshot
    assert ArticleEvent.objects.count() == events


@pytest.mark.django_db
def test_sync_updates_changed_text_and_keeps_status(make_user, tmp_path):
    make_user(Role.ADMIN)
    services.kb_content_sync(now=NOW, directory=FIXTURES)
    article = Article.objects.get(key="power-cut", language="fr")
    services.article_transition(
        article_id=article.pk, to_status=ArticleStatus.ARCHIVED, actor=None, now=NOW
    )
    for path in FIXTURES.iterdir():
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    target = tmp_path / "power-cut.fr.md"
    target.write_text(
        target.read_text(encoding="utf-8").replace("plus de jus", "zyxkeyword"), encoding="utf-8"
    )
    later = datetime(2026, 4, 1, tzinfo=UTC)
    report = services.kb_content_sync(now=later, directory=tmp_path)
    assert (report.created, report.updated, report.unchanged) == (0, 1, 4)
    article.refresh_from_db()
    assert article.keywords == "zyxkeyword"
    assert article.updated_at == later
    assert article.status == ArticleStatus.ARCHIVED  # staff's decision stands


@pytest.mark.django_db
def test_sync_refuses_a_bad_file_and_writes_nothing(make_user, tmp_path):
    make_user(Role.ADMIN)
    for path in FIXTURES.iterdir():
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "broken.fr.md").write_text("no front matter\n", encoding="utf-8")
    with pytest.raises(services.ContentError, match=r"broken\.fr\.md"):
        services.kb_content_sync(now=NOW, directory=tmp_path)
    assert not Article.objects.exists() and not Category.objects.exists()


@pytest.mark.django_db
def test_sync_needs_an_owner():
    with pytest.raises(services.NoOwner):
        services.kb_content_sync(now=NOW, directory=FIXTURES)


@pytest.mark.django_db
def test_kb_sync_command_and_demo_seed(make_user):
    make_user(Role.ADMIN)
    from io import StringIO

    from kb import demo

    out = StringIO()
    call_command("kb_sync", stdout=out)
    assert "published" in out.getvalue()
    count = Article.objects.count()
    assert count >= 30
    assert "0 articles created, 0 updated" in demo.seed(now=NOW)
    assert Article.objects.count() == count


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("key: x\n", "must start"),
        ("---\nkey: x\n", "closing"),
        ("---\nkey: x\nlanguage: fr\n---\nbody", "missing"),
        (
            "---\nkey: a\nlanguage: de\ncategory: c\nslug: s\ntitle: t\nsummary: s\n---\nb",
            "fr or en",
        ),
        (
            "---\nkey: A B\nlanguage: fr\ncategory: c\nslug: s\ntitle: t\nsummary: s\n---\nb",
            "not a slug",
        ),
        ("---\nkey: a\nlanguage: fr\ncategory: c\nslug: s\ntitle: t\nsummary: s\n---\n", "empty"),
    ],
)
def test_parse_content_errors(text, error):
    with pytest.raises(article_domain.ContentError, match=error):
        article_domain.parse_content(text, name="x.md")


def test_parse_content_reads_front_matter():
    item = article_domain.parse_content(
        "---\nkey: k\nlanguage: en\ncategory: bills\nslug: s\ntitle: 'A: title'\n"
        "summary: Sum\nkeywords: a ,b,, c\n---\n\nBody\n"
    )
    assert (item.title, item.keywords, item.body) == ("A: title", "a, b, c", "Body")


# --- Markdown subset -------------------------------------------------------------------------------


def test_markdown_subset():
    html = article_domain.render_markdown(
        "Intro **gras** et [lien](/help/bills/) et [ext](https://example.org/a?b=1&c=2).\n"
        "suite\n\n## Titre\n\n- un\n- deux\n\n1. premier\n2. second\n"
    )
    assert html == (
        '<p>Intro <strong>gras</strong> et <a href="/help/bills/">lien</a> et '
        '<a href="https://example.org/a?b=1&amp;c=2">ext</a>. suite</p>\n'
        "<h2>Titre</h2>\n<ul><li>un</li><li>deux</li></ul>\n<ol><li>premier</li><li>second</li></ol>"
    )


@pytest.mark.parametrize(
    "evil",
    [
        "<script>alert(1)</script>",
        "[x](javascript:alert(1))",
        "[x](//evil.example/)",
        '[x](/ok" onmouseover="alert(1))',
        "<img src=x onerror=alert(1)>",
        "[x](data:text/html,hi)",
    ],
)
def test_markdown_escapes_everything_else(evil):
    html = article_domain.render_markdown(evil)
    assert "<script" not in html and "<img" not in html
    assert 'href="javascript' not in html and 'href="data' not in html
    assert not re.search(r'href="(?!/[^/]|https://)', html)
    assert '" onmouseover' not in html


# --- Public pages -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_public_home_links_to_help(client):
    assert 'href="/help/"' in client.get("/").content.decode()


@pytest.mark.django_db
def test_help_home_lists_categories_in_the_visitors_language(client, kb):
    page = client.get("/help/").content.decode()
    assert "Factures" in page and "Pannes et coupures" in page
    assert 'href="/help/bills/"' in page
    assert 'name="q"' in page and 'for="id_q"' in page
    page = english(client).get("/help/").content.decode()
    assert "Bills" in page and "Power cuts" in page


@pytest.mark.django_db
def test_help_search_shows_results_with_snippets(client, kb):
    response = client.get("/help/", {"q": "disjoncteur"})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="help-results"' in page
    assert '<a href="/help/outages/coupure-de-courant/">' in page
    assert "<mark>disjoncteur</mark>" in page


@pytest.mark.django_db
def test_help_search_without_results_and_hostile_input(client, kb):
    page = client.get("/help/", {"q": "<script>alert(1)</script> & | !"}).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
    assert "Aucun article ne correspond" in page


@pytest.mark.django_db
def test_help_search_too_long_is_400_with_field_error(client, kb):
    response = client.get("/help/", {"q": "facture " * 40})
    assert response.status_code == 400
    assert 'id="id_q_error"' in response.content.decode()


@pytest.mark.django_db
def test_category_page_lists_articles_in_the_active_language(client, kb):
    page = client.get("/help/bills/").content.decode()
    assert "Comprendre votre facture" in page and "Payer sa facture" in page
    assert "Understanding your electricity bill" not in page
    page = english(client).get("/help/bills/").content.decode()
    assert "Understanding your electricity bill" in page and "Payer sa facture" not in page
    assert client.get("/help/nope/").status_code == 404


@pytest.mark.django_db
def test_article_page_meta_canonical_hreflang_breadcrumbs(client, kb):
    response = client.get(BILL_FR)
    assert response.status_code == 200
    page = response.content.decode()
    assert "<title>Comprendre votre facture d&#x27;électricité · Power Next</title>" in page
    assert (
        '<meta name="description" content="Les lignes de votre facture expliquées, '
        'de l&#x27;abonnement aux taxes.">' in page
    )
    assert f'<link rel="canonical" href="http://testserver{BILL_FR}">' in page
    assert f'<link rel="alternate" hreflang="fr" href="http://testserver{BILL_FR}">' in page
    assert f'<link rel="alternate" hreflang="en" href="http://testserver{BILL_EN}">' in page
    assert f'hreflang="x-default" href="http://testserver{BILL_FR}"' in page
    crumbs = re.search(r'<nav class="breadcrumb".*?</nav>', page, re.S).group(0)
    assert 'aria-label="Fil d' in crumbs
    assert 'href="/help/"' in crumbs and 'href="/help/bills/"' in crumbs
    assert '<li aria-current="page">Comprendre votre facture' in crumbs
    assert 'data-testid="other-language"' in page and f'href="{BILL_EN}"' in page
    assert '<article class="help-article" lang="fr"' in page
    assert "<strong>facture</strong>" in page  # Markdown rendered
    # The English article shows in English even on the French site.
    page = client.get(BILL_EN).content.decode()
    assert '<article class="help-article" lang="en"' in page
    assert f'<link rel="canonical" href="http://testserver{BILL_EN}">' in page


@pytest.mark.django_db
def test_article_without_translation_has_no_other_language_link(client, kb):
    page = client.get("/help/bills/payer-sa-facture/").content.decode()
    assert 'data-testid="other-language"' not in page
    assert 'hreflang="en"' not in page


@pytest.mark.django_db
@pytest.mark.parametrize("status", [ArticleStatus.DRAFT, ArticleStatus.ARCHIVED])
def test_drafts_and_archived_are_404(client, kb, status):
    article = kb[("understand-bill", "fr")]
    services.article_transition(article_id=article.pk, to_status=status, actor=None, now=NOW)
    assert client.get(BILL_FR).status_code == 404
    assert client.post(VOTE_FR, {"helpful": "yes"}).status_code == 404
    assert "Comprendre votre facture" not in client.get("/help/bills/").content.decode()
    # The English version no longer links to it.
    assert 'hreflang="fr"' not in client.get(BILL_EN).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    ["/help/bills/unknown/", "/help/outages/comprendre-sa-facture/", "/help/x/y/z/"],
)
def test_unknown_article_is_404(client, kb, path):
    assert client.get(path).status_code == 404


@pytest.mark.django_db
def test_sitemap_lists_published_articles_with_alternates(client, kb):
    services.article_transition(
        article_id=kb[("pay-bill", "fr")].pk, to_status="DRAFT", actor=None, now=NOW
    )
    response = client.get("/help/sitemap.xml")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    body = response.content.decode()
    assert body.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert f"<loc>http://testserver{BILL_FR}</loc>" in body
    assert f"<loc>http://testserver{BILL_EN}</loc>" in body
    assert "payer-sa-facture" not in body
    assert body.count("<url>") == 4
    assert f'hreflang="en" href="http://testserver{BILL_EN}"' in body


# --- Votes ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_vote_without_js_redirects(client, kb):
    response = client.post(VOTE_FR, {"helpful": "yes", "comment": "  Clair, merci.  "})
    assert response.status_code == 302
    assert response["Location"] == BILL_FR + "#vote"
    vote = ArticleVote.objects.get()
    assert (vote.helpful, vote.comment, vote.user) == (True, "Clair, merci.", None)
    assert vote.session_key == client.session.session_key
    page = client.get(BILL_FR).content.decode()
    assert "Merci pour votre avis." in page
    assert "1 personne sur 1 a trouvé cet article utile." in page


@pytest.mark.django_db
def test_vote_twice_in_one_session_replaces_the_first(client, kb):
    client.post(VOTE_FR, {"helpful": "yes"})
    response = client.post(VOTE_FR, {"helpful": "no", "comment": "Pas assez précis"})
    assert response.status_code == 302
    vote = ArticleVote.objects.get()
    assert (vote.helpful, vote.comment) == (False, "Pas assez précis")
    assert "Vous avez répondu « non »" in client.get(BILL_FR).content.decode()


@pytest.mark.django_db
def test_htmx_vote_returns_the_fragment(client, kb):
    response = client.post(VOTE_FR, {"helpful": "no"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert body.startswith('<section id="vote"')
    assert "Merci pour votre avis." in body and "<html" not in body
    assert ArticleVote.objects.get().helpful is False


@pytest.mark.django_db
def test_signed_in_customer_vote_is_theirs(client, kb, make_user, login):
    user = make_user(Role.CUSTOMER)
    login(user)
    client.post(VOTE_FR, {"helpful": "yes"})
    client.post(VOTE_FR, {"helpful": "no"})
    vote = ArticleVote.objects.get()
    assert (vote.user, vote.helpful) == (user, False)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"helpful": "yes", "comment": "x" * 1001}, "comment"),
        ({"comment": "no choice"}, "helpful"),
        ({"helpful": "maybe"}, "helpful"),
    ],
)
@pytest.mark.parametrize("htmx", [False, True])
def test_bad_vote_is_400_with_field_error_and_nothing_written(client, kb, data, field, htmx):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = client.post(VOTE_FR, data, **headers)
    assert response.status_code == 400
    body = response.content.decode()
    assert f'id="vote_{field}_error"' in body
    assert ("<html" in body) is not htmx
    assert not ArticleVote.objects.exists()


def test_vote_service_validates_too(db, kb):
    article = kb[("understand-bill", "fr")]
    with pytest.raises(services.InvalidVote) as caught:
        services.article_vote(
            article_id=article.pk,
            helpful=True,
            comment="x" * 1001,
            user=None,
            session_key="s1",
            now=NOW,
        )
    assert set(caught.value.errors) == {"comment"}
    with pytest.raises(services.InvalidVote) as caught:
        services.article_vote(
            article_id=article.pk, helpful=True, comment="", user=None, session_key="", now=NOW
        )
    assert set(caught.value.errors) == {"helpful"}
    assert not ArticleVote.objects.exists()


# --- Query counts -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_query_counts_do_not_grow_with_articles(client, kb, django_assert_max_num_queries):
    owner = kb[("pay-bill", "fr")].owner
    bills = Category.objects.get(slug="bills")
    pages = ["/help/", "/help/bills/", "/help/?q=facture", BILL_FR, "/help/sitemap.xml"]
    counts = {}
    for path in pages:
        client.get(path)  # warm the session
        with django_assert_max_num_queries(12) as captured:
            assert client.get(path).status_code == 200
        counts[path] = len(captured)
    _more_articles(15, owner=owner, category=bills)
    for i in range(5):
        services.article_vote(
            article_id=kb[("understand-bill", "fr")].pk,
            helpful=bool(i % 2),
            comment="",
            user=None,
            session_key=f"s{i}",
            now=NOW,
        )
    for path in pages:
        with django_assert_max_num_queries(counts[path]):
            assert client.get(path).status_code == 200
    assert "Article supplémentaire 14" in client.get("/help/bills/").content.decode()


# --- Staff: review list and admin actions -------------------------------------------------------------


@pytest.mark.django_db
def test_review_due_list(kb):
    due = kb[("power-cut", "fr")]
    Article.objects.filter(pk=due.pk).update(review_on=date(2026, 3, 10))
    archived = kb[("power-cut", "en")]
    Article.objects.filter(pk=archived.pk).update(review_on=date(2026, 3, 1))
    services.article_transition(
        article_id=archived.pk, to_status=ArticleStatus.ARCHIVED, actor=None, now=NOW
    )
    assert list(articles_review_due(today=date(2026, 3, 2), within_days=30)) == [due]


@pytest.mark.django_db
def test_admin_actions_go_through_the_service(client, kb, make_user, login):
    admin = make_user(Role.ADMIN, is_staff=True, is_superuser=True)
    login(admin)
    article = kb[("understand-bill", "fr")]
    with time_machine.travel(NOW, tick=False):
        response = client.post(
            "/admin/kb/article/",
            {"action": "archive", "_selected_action": [article.pk, kb[("pay-bill", "fr")].pk]},
        )
    assert response.status_code == 302
    article.refresh_from_db()
    assert article.status == ArticleStatus.ARCHIVED
    event = ArticleEvent.objects.filter(article=article).last()
    assert (event.from_status, event.to_status, event.actor) == ("PUBLISHED", "ARCHIVED", admin)
    # Archived cannot be published directly: refused, not forced.
    client.post("/admin/kb/article/", {"action": "publish", "_selected_action": [article.pk]})
    article.refresh_from_db()
    assert article.status == ArticleStatus.ARCHIVED
    assert client.get(f"/admin/kb/article/{article.pk}/change/").status_code == 200
    assert client.get("/admin/kb/articlevote/").status_code == 200
