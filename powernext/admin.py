from functools import wraps

from django.http import HttpRequest, HttpResponse
from django_otp.admin import OTPAdminSite

from accounts.access import decide, respond
from accounts.models import Role

ADMIN_ROLES = frozenset({Role.ADMIN})


class PowerNextAdminSite(OTPAdminSite):
    """The admin behind the same login and second factor as the other shells."""

    site_header = "Power Next — administration"
    site_title = "Power Next"

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        @wraps(view)
        def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            response = respond(request, decide(request, ADMIN_ROLES))
            return response if response is not None else inner(request, *args, **kwargs)

        return guarded

    def login(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        response = respond(request, decide(request, ADMIN_ROLES))
        if response is not None:
            return response
        return super().login(request, extra_context)
