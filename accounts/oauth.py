"""OAuth2 glue: a client may only ask for the scopes its ApiClient was granted."""

from django.conf import settings
from oauth2_provider.scopes import BaseScopes


class ApiClientScopes(BaseScopes):
    def get_all_scopes(self):
        return settings.API_SCOPES

    def get_available_scopes(self, application=None, request=None, *args, **kwargs):
        client = getattr(application, "api_client", None) if application else None
        if client is None or client.revoked_at is not None:
            return []
        return client.scope_list

    def get_default_scopes(self, application=None, request=None, *args, **kwargs):
        return self.get_available_scopes(application, request)
