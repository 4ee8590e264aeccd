"""Public home, health check, static assets, language switch and formatting."""

import json
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from accounts.models import Account, Role


@pytest.mark.django_db
def test_home_lists_channels_offices_and_outage_link(client):
    page = client.get("/").content.decode()
    for text in [
        "+33 1 23 45 67 89",
        "+33 1 98 76 54 32",
        "support@powernext.example",
        "Lundi–vendredi 8h–20h",
        "24h/24, 7j/7",
        "Semaine 7h–22h ; week-end 8h–21h",
        "42 boulevard Voltaire",
        "75011",
        "Signaler une panne",
    ]:
        assert text in page, text
    assert 'lang="fr"' in page


@pytest.mark.django_db
def test_language_switch_to_english(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    page = client.get("/").content.decode()
    assert 'lang="en"' in page
    assert "Report an outage" in page
    assert "Contact us" in page
    assert "+33 1 98 76 54 32" in page


@pytest.mark.django_db
def test_every_page_shows_emergency_number(client, make_user, login):
    for path in ["/", "/accounts/login/", "/page-that-does-not-exist/"]:
        assert "+33 1 98 76 54 32" in client.get(path).content.decode(), path
    login(make_user(Role.CUSTOMER))
    assert "+33 1 98 76 54 32" in client.get("/portal/").content.decode()


@pytest.mark.django_db
def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}, "failed": []}


@pytest.mark.django_db
def test_healthz_reports_redis_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/healthz")
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["status"] == "error"
    assert body["failed"] == ["redis"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("error: ")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/static/vendor/htmx/htmx.min.js",
        "/static/vendor/chartjs/chart.umd.min.js",
        "/static/css/app.css",
    ],
)
def test_vendored_assets_are_served_locally(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert int(response["Content-Length"]) > 1000


@pytest.mark.django_db
def test_pages_load_no_third_party_assets(client):
    page = client.get("/").content.decode()
    assert '<script src="/static/vendor/htmx/htmx.min.js"' in page
    for marker in ["cdn.", "unpkg", "jsdelivr", "googleapis"]:
        assert marker not in page


@pytest.mark.parametrize(
    ("language", "expected"),
    [("fr", "1\u202f234,50\u00a0€"), ("en", "€1,234.50")],
)
def test_money_follows_the_language(language, expected):
    with translation.override(language):
        rendered = Template("{{ amount|money }}").render(Context({"amount": Decimal("1234.5")}))
    assert rendered == expected


def test_dates_follow_the_language():
    from datetime import date

    template = Template('{{ d|date:"DATE_FORMAT" }}')
    with translation.override("fr"):
        assert template.render(Context({"d": date(2026, 3, 29)})) == "29 mars 2026"
    with translation.override("en"):
        assert template.render(Context({"d": date(2026, 3, 29)})) == "March 29, 2026"


@pytest.mark.django_db
def test_console_home_query_count_is_constant(
    client, make_user, login, django_assert_max_num_queries
):
    from tests.factories import MembershipFactory, PremiseFactory

    def add_accounts(n):
        for _ in range(n):
            membership = MembershipFactory()
            PremiseFactory.create_batch(2, account=membership.account)

    login(make_user(Role.AGENT))
    add_accounts(3)
    with django_assert_max_num_queries(12):
        small = client.get("/console/")
    add_accounts(20)
    with django_assert_max_num_queries(12):
        large = client.get("/console/")
    assert small.status_code == large.status_code == 200
    assert Account.objects.count() == 23
    # The console home lists the ten newest accounts under the search box.
    assert large.content.decode().count("<tr>") == 11


@pytest.mark.django_db
def test_portal_home_shows_only_own_accounts(
    client, make_user, login, django_assert_max_num_queries
):
    from tests.factories import MembershipFactory, PremiseFactory

    me = make_user(Role.CUSTOMER)
    mine = MembershipFactory(user=me).account
    PremiseFactory(account=mine, address="1 rue de la Paix")
    other = MembershipFactory().account
    PremiseFactory(account=other, address="99 avenue Secrète")
    login(me)
    with django_assert_max_num_queries(10):
        page = client.get("/portal/").content.decode()
    assert mine.number in page and "1 rue de la Paix" in page
    assert other.number not in page and "99 avenue Secrète" not in page
