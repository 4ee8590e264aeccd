from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from oauth2_provider import urls as oauth2_urls

from tickets import webhooks

from . import views

# OAuth2 for business integrations (client credentials only): token, revocation and
# introspection. The authorisation-code and device flows are not offered.
OAUTH2_ROUTES = {"token", "revoke-token", "introspect"}
oauth2_patterns = [p for p in oauth2_urls.base_urlpatterns if p.name in OAUTH2_ROUTES]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("accounts.urls")),
    path("portal/tickets/", include("tickets.portal_urls")),
    path("portal/consumption/", include("metering.portal_urls_exports")),
    path("portal/readings/", include("metering.portal_urls")),
    path("portal/invoices/", include("billing.portal_urls_invoices")),
    path("portal/disputes/", include("billing.portal_urls_disputes")),
    path("portal/money/", include("billing.portal_urls_money")),
    path("portal/", include("accounts.portal_urls")),
    path("console/metering/", include("metering.console_urls")),
    path("console/billing/money/", include("billing.console_urls_money")),
    path("console/billing/", include("billing.console_urls")),
    path("console/", include("tickets.console_urls")),
    path("console/", include("accounts.console_urls")),
    path("supervisor/escalations/", include("tickets.supervisor_urls")),
    path("supervisor/billing/money/", include("billing.supervisor_urls_money")),
    path("supervisor/billing/", include("billing.supervisor_urls")),
    path("survey/", include("tickets.public_urls")),
    path("supervisor/", include("kpi.urls")),
    path("field/", include("outages.field_urls")),
    path("outages/", include("outages.public_urls")),
    path("console/outages/", include("outages.console_urls")),
    path("console/chats/", include("kb.console_urls")),
    path("help/", include("kb.urls")),
    path("chat/", include("kb.urls_chat")),
    path("supervisor/outages/", include("outages.supervisor_urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("powernext.api_urls")),
    # Signed by an HMAC of the body, not a session: see docs/social-webhook.md.
    path("webhooks/social/", webhooks.social_webhook, name="webhook-social"),
    path("webhooks/telephony/cdr/", webhooks.cdr_webhook, name="webhook-cdr"),
    path("o/", include((oauth2_patterns, "oauth2_provider"), namespace="oauth2_provider")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
