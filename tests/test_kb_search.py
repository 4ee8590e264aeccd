"""Knowledge-base search: PostgreSQL full-text search with the unaccented French and
English configurations, stemming, synonyms, relevance ranking, published only, and
tsquery-injection safety. Controlled cases use tests/fixtures/kb; quality cases use the
shipped content (kb/content)."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from accounts.models import Role
from kb.domain import search as search_domain
from kb.models import Article, ArticleStatus
from kb.selectors.articles import kb_search
from kb.services.articles import article_search_refresh, article_transition, kb_content_sync

FIXTURES = Path(__file__).parent / "fixtures" / "kb"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def fixture_kb(make_user):
    make_user(Role.ADMIN)
    with time_machine.travel(NOW, tick=False):
        kb_content_sync(now=NOW, directory=FIXTURES)
    return {(a.key, a.language): a for a in Article.objects.all()}


@pytest.fixture
def shipped_kb(make_user):
    make_user(Role.ADMIN)
    kb_content_sync(now=NOW)


def keys(hits):
    return [h.key for h in hits]


# --- Domain: normalisation, language guess, synonyms, tsquery safety ----------------------------


def test_fold_and_tokens():
    assert search_domain.fold("Électricité Œuvre") == "electricite oeuvre"
    assert search_domain.tokens("L'index du compteur, SVP !") == [
        "l",
        "index",
        "du",
        "compteur",
        "svp",
    ]


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("ma facture est trop élevée", "fr"),
        ("coupure de courant depuis ce matin", "fr"),
        ("electricite coupee", "fr"),
        ("my bill is too high", "en"),
        ("how do I read my meter", "en"),
        ("power cut in my street", "en"),
    ],
)
def test_guess_language(text, language):
    assert search_domain.guess_language(text) == language


def test_guess_language_falls_back_to_default():
    assert search_domain.guess_language("linky", default="en") == "en"
    assert search_domain.guess_language("linky", default="fr") == "fr"


def test_synonyms_expand_words_and_phrases():
    query = search_domain.build_tsquery("plus de jus")
    assert "coupure" in query and "panne" in query and "blackout" in query
    query = search_domain.build_tsquery("fuse box")
    assert "disjoncteur" in query
    query = search_domain.build_tsquery("échelonner ma facture")
    assert "(plan <-> de <-> paiement)" in query and "instalments" in query and "bill" in query
    # The longest phrase wins: "lecture compteur" is one unit (readings), not two.
    query = search_domain.build_tsquery("lecture compteur")
    assert "releve" in query and "linky" not in query
    assert search_domain.build_tsquery("compteur").startswith("(compteur | meter | linky")


@pytest.mark.parametrize(
    "text",
    [
        "a & | ! (",
        "':* <-> !!",
        "facture) | (coupure",
        "x:*A",
        "\\' ; DROP TABLE kb_article; --",
        "",
    ],
)
def test_tsquery_uses_only_safe_characters(text):
    query = search_domain.build_tsquery(text)
    assert set(query) <= set("abcdefghijklmnopqrstuvwxyz0123456789 |<->()")
    assert query.count("(") == query.count(")")


def test_tsquery_is_bounded():
    query = search_domain.build_tsquery(" ".join(f"mot{i}" for i in range(200)))
    assert len(search_domain.expand(" ".join(f"mot{i}" for i in range(200)))) == 16
    assert "mot15" in query and "mot16" not in query


# --- Database search on controlled fixtures ----------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query", ["électricité facture", "electricite facture", "ÉLECTRICITÉ FACTURE"]
)
def test_accented_and_unaccented_french_find_the_same_article(fixture_kb, query):
    hits = kb_search(query=query, language="fr")
    assert keys(hits)[0] == "understand-bill"
    assert hits[0].language == "fr"
    assert hits[0].url == "/help/bills/comprendre-sa-facture/"


@pytest.mark.django_db
def test_stemming_plural_finds_singular(fixture_kb):
    plural = kb_search(query="factures", language="fr")
    assert "understand-bill" in keys(plural)
    assert keys(plural) == keys(kb_search(query="facture", language="fr"))


@pytest.mark.django_db
def test_english_query_finds_english_article(fixture_kb):
    hits = kb_search(query="my bill")
    assert keys(hits)[0] == "understand-bill"
    assert hits[0].language == "en"
    assert hits[0].url == "/help/bills/understand-your-bill/"


@pytest.mark.django_db
def test_synonyms_find_articles_without_the_word(fixture_kb):
    # "blackout" is neither in the French article nor in its keywords.
    assert keys(kb_search(query="blackout", language="fr")) == ["power-cut"]
    # "fuse box" reaches "disjoncteur"/"breaker".
    assert keys(kb_search(query="fuse box", language="en")) == ["power-cut"]
    # "no power" reaches "power cut".
    assert keys(kb_search(query="no power", language="en"))[0] == "power-cut"


@pytest.mark.django_db
def test_snippet_marks_matched_words_and_escapes(fixture_kb):
    hit = kb_search(query="disjoncteur", language="fr")[0]
    assert "<mark>disjoncteur</mark>" in hit.snippet
    assert "**" not in hit.snippet
    assert "'" not in hit.snippet  # escaped as &#x27;


@pytest.mark.django_db
def test_rank_by_relevance_not_date(fixture_kb):
    # "Payer sa facture" is the newest article, but the bill article says "facture" in its
    # title, summary and body: it must come first.
    newest = fixture_kb[("pay-bill", "fr")]
    Article.objects.filter(pk=newest.pk).update(
        published_at=NOW + timedelta(days=30), updated_at=NOW + timedelta(days=30)
    )
    hits = kb_search(query="comprendre facture", language="fr")
    assert keys(hits) == ["understand-bill", "pay-bill"]
    assert hits[0].rank > hits[1].rank
    # Reversed query: "payer" makes the pay article the most relevant.
    assert keys(kb_search(query="payer facture", language="fr"))[0] == "pay-bill"


@pytest.mark.django_db
def test_equal_rank_ties_by_title(fixture_kb):
    for article in Article.objects.filter(language="fr", key__in=["pay-bill", "understand-bill"]):
        Article.objects.filter(pk=article.pk).update(
            title=f"{'Zèbre' if article.key == 'pay-bill' else 'Abeille'} facture",
            summary="facture",
            body="facture",
            keywords="",
        )
    article_search_refresh(article_ids=list(Article.objects.values_list("pk", flat=True)))
    hits = kb_search(query="facture", language="fr")
    assert [h.title for h in hits] == ["Abeille facture", "Zèbre facture"]
    assert hits[0].rank == hits[1].rank


@pytest.mark.django_db
@pytest.mark.parametrize("to_status", [ArticleStatus.DRAFT, ArticleStatus.ARCHIVED])
def test_drafts_and_archived_are_never_returned(fixture_kb, to_status):
    article = fixture_kb[("power-cut", "fr")]
    article_transition(article_id=article.pk, to_status=to_status, actor=None, now=NOW)
    assert kb_search(query="coupure disjoncteur", language="fr") == []
    # Without a language the French guess finds nothing, and the English fallback
    # returns only the English version.
    assert [(h.key, h.language) for h in kb_search(query="coupure")] == [("power-cut", "en")]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    ["a & | ! (", "':* <-> !!", "facture) | (coupure", "!!!", "   ", "&", "\x00", "é" * 500],
)
def test_injection_like_input_is_harmless(fixture_kb, query):
    hits = kb_search(query=query)
    assert isinstance(hits, list)


@pytest.mark.django_db
def test_operators_in_query_are_plain_separators(fixture_kb):
    assert keys(kb_search(query="facture) | (!coupure", language="fr"))[:1] in (
        ["understand-bill"],
        ["pay-bill"],
        ["power-cut"],
    )
    assert "power-cut" in keys(kb_search(query="facture) | (!coupure", language="fr", limit=5))


@pytest.mark.django_db
def test_limit_and_one_query(fixture_kb, django_assert_num_queries):
    with django_assert_num_queries(1):
        hits = kb_search(query="facture coupure", language="fr", limit=2)
    assert len(hits) == 2


# --- Quality on the shipped content --------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "language", "key"),
    [
        ("électricité coupée", "fr", "what-to-do-power-cut"),
        ("electricite coupee", "fr", "what-to-do-power-cut"),
        ("relevé compteur", "fr", "submit-meter-reading"),
        ("releve compteur", "fr", "submit-meter-reading"),
        ("étaler le paiement de ma facture", "fr", "payment-plans"),
        ("etaler le paiement de ma facture", "fr", "payment-plans"),
        ("le disjoncteur saute", "fr", "check-breakers-first"),
        ("contester ma facture", "fr", "dispute-your-bill"),
        ("my bill is wrong", "en", "dispute-your-bill"),
        ("no power in my house", "en", "what-to-do-power-cut"),
        ("pay in instalments", "en", "payment-plans"),
        ("fridge food during outage", "en", "food-safety-outage"),
    ],
)
def test_shipped_content_top_three(shipped_kb, query, language, key):
    assert key in keys(kb_search(query=query))[:3]
    assert key in keys(kb_search(query=query, language=language))[:3]
