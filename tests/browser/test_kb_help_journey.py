"""Playwright: a visitor on a phone finds the help centre from the home page, searches
without accents, opens the article, sends a vote without an answer (field error, nothing
saved), then says it helped, and opens the English version."""

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from kb.models import ArticleVote
from kb.services.articles import kb_content_sync
from tests.factories import UserFactory

from .conftest import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def articles():
    UserFactory(role=Role.ADMIN)
    kb_content_sync(now=datetime(2026, 3, 2, tzinfo=UTC))


def test_visitor_searches_reads_and_votes(live_server, page_factory, shot, articles):
    page = page_factory(PHONE)
    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Aide", exact=True).first.click()
    expect(page.get_by_role("heading", name="Aide et questions fréquentes")).to_be_visible()

    page.get_by_label("Rechercher dans l'aide").fill("que faire pendant une coupure electricite")
    page.get_by_label("Rechercher dans l'aide").press("Enter")
    results = page.get_by_test_id("help-results")
    first = results.locator("li").first
    expect(first).to_contain_text("Coupure de courant")
    # Highlighted words are marks, never escaped tags shown as text.
    expect(results).not_to_contain_text("<mark>")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "kb-help-search-phone")

    first.get_by_role("link").click()
    article = page.get_by_test_id("help-article")
    expect(article).to_be_visible()
    expect(page.locator("link[rel=alternate][hreflang=en]")).to_have_count(1)

    vote = page.get_by_test_id("vote")
    vote.get_by_role("button", name="Envoyer mon avis").click()
    expect(vote).to_contain_text("Indiquez si cet article vous a aidé.")
    assert not ArticleVote.objects.exists()
    vote = page.get_by_test_id("vote")
    vote.get_by_label("Oui").check()
    vote.get_by_label("Un commentaire ? (facultatif)").fill("Clair et rapide, merci.")
    vote.get_by_role("button", name="Envoyer mon avis").click()
    expect(page.get_by_test_id("vote")).to_contain_text("Merci pour votre avis.")
    saved = ArticleVote.objects.get()
    assert saved.helpful and saved.comment == "Clair et rapide, merci."
    shot(page, "kb-help-article-phone")

    # The English version, through the language link.
    page.get_by_test_id("other-language").click()
    expect(page.get_by_test_id("help-article")).to_have_attribute("lang", "en")
    expect(page.get_by_test_id("other-language")).to_have_text("Lire cet article en français")
    shot(page, "kb-help-article-en-phone")
