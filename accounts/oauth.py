"""OAuth2 glue for API clients (client credentials, django-oauth-toolkit).

- A client may only ask for the scopes its ApiClient was granted (`ApiClientScopes`).
- Only the application of an active ApiClient may get a token or use one
  (`ApiClientValidator`): without it, a revoked client asking for no scope in particular
  would still be issued a token with an empty scope. A staff client is active only while
  its owner is an active supervisor or admin, so demoting or deactivating the owner stops
  its tokens at once.
- `api_client_of` tells a business endpoint which business ApiClient a request acts for
  (there is no user with client credentials: `request.auth` is the AccessToken); staff
  clients are never one, so they can never act for a customer account.
  `staff_api_client_of` is its counterpart for the staff endpoints (KPI), and
  `request_api_client` gives either, for what applies to every client (the rate limit).
"""

from __future__ import annotations

from django.conf import settings
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import BaseScopes

from .models import ApiClient, ApiClientKind, may_own_staff_client


def _active_api_client(application) -> ApiClient | None:
    client = getattr(application, "api_client", None) if application is not None else None
    if client is None or client.revoked_at is not None:
        return None
    if client.kind == ApiClientKind.STAFF and not may_own_staff_client(client.owner):
        return None
    return client


class ApiClientScopes(BaseScopes):
    def get_all_scopes(self):
        return {**settings.API_SCOPES, **settings.STAFF_API_SCOPES}

    def get_available_scopes(self, application=None, request=None, *args, **kwargs):
        client = _active_api_client(application)
        return client.scope_list if client is not None else []

    def get_default_scopes(self, application=None, request=None, *args, **kwargs):
        return self.get_available_scopes(application, request)


class ApiClientValidator(OAuth2Validator):
    """Refuse applications that are not an active ApiClient, at the token endpoint and after."""

    def authenticate_client(self, request, *args, **kwargs):
        if not super().authenticate_client(request, *args, **kwargs):
            return False
        # A revoked client fails like a wrong secret: 401 invalid_client, no token.
        return _active_api_client(request.client) is not None

    def validate_bearer_token(self, token, scopes, request):
        if not super().validate_bearer_token(token, scopes, request):
            return False
        # `api_client_revoke` deletes the tokens; this also covers one issued meanwhile,
        # and the tokens of a staff client whose owner lost the role.
        if _active_api_client(request.access_token.application) is not None:
            return True
        request.access_token = None
        request.client = None
        request.oauth2_error = {
            "error": "invalid_token",
            "error_description": "The API access of this client was revoked.",
        }
        return False


def request_api_client(request) -> ApiClient | None:
    """The active ApiClient of any kind a DRF request was authenticated as, or None."""
    token = getattr(request, "auth", None)
    application = getattr(token, "application", None)
    if application is None or not hasattr(token, "scope"):
        return None
    return _active_api_client(application)


def api_client_of(request) -> ApiClient | None:
    """The business ApiClient a DRF request acts for, or None (session, anonymous, staff
    client)."""
    client = request_api_client(request)
    return client if client is not None and client.kind == ApiClientKind.BUSINESS else None


def staff_api_client_of(request) -> ApiClient | None:
    """The staff ApiClient a DRF request was authenticated as, or None."""
    client = request_api_client(request)
    return client if client is not None and client.kind == ApiClientKind.STAFF else None
