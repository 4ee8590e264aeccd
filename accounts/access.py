"""Guards for the shells: who may open which page, and what to ask first."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from .domain import ShellDecision, shell_decision
from .models import STAFF_ROLES, Role
from .selectors import user_has_confirmed_device

CUSTOMER_ROLES = frozenset({Role.CUSTOMER})
CONSOLE_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})
SUPERVISOR_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
FIELD_ROLES = frozenset({Role.FIELD_TECHNICIAN, Role.SUPERVISOR, Role.ADMIN})

LANDING_BY_ROLE = {
    Role.CUSTOMER: "portal:home",
    Role.AGENT: "console:home",
    Role.SUPERVISOR: "supervisor:home",
    Role.FIELD_TECHNICIAN: "field:home",
    Role.ADMIN: "admin:index",
}


def decide(request: HttpRequest, allowed_roles: frozenset[str]) -> ShellDecision:
    user = request.user
    authenticated = user.is_authenticated
    return shell_decision(
        is_authenticated=authenticated,
        role=getattr(user, "role", None),
        allowed_roles=allowed_roles,
        is_staff_role=authenticated and user.role in STAFF_ROLES,
        has_confirmed_device=authenticated and user_has_confirmed_device(user=user),
        is_verified=authenticated and user.is_verified(),
    )


def _with_next(url_name: str, request: HttpRequest) -> str:
    return f"{reverse(url_name)}?{urlencode({'next': request.get_full_path()})}"


def respond(request: HttpRequest, decision: ShellDecision) -> HttpResponse | None:
    if decision is ShellDecision.ALLOW:
        return None
    if decision is ShellDecision.LOGIN:
        return redirect_to_login(request.get_full_path())
    if decision is ShellDecision.FORBID:
        raise PermissionDenied
    if decision is ShellDecision.VERIFY:
        return redirect(_with_next("accounts:otp_verify", request))
    return redirect(_with_next("accounts:otp_enrol", request))


def shell_required(roles: Iterable[str]) -> Callable:
    """Decorate a view so that only `roles`, with their second factor, reach it."""
    allowed = frozenset(roles)

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            response = respond(request, decide(request, allowed))
            if response is not None:
                return response
            return view(request, *args, **kwargs)

        wrapper.shell_roles = allowed
        return wrapper

    return decorator


customer_required = shell_required(CUSTOMER_ROLES)
console_required = shell_required(CONSOLE_ROLES)
supervisor_required = shell_required(SUPERVISOR_ROLES)
field_required = shell_required(FIELD_ROLES)


# --- Current account in the portal -----------------------------------------

CURRENT_ACCOUNT_SESSION_KEY = "pn_account"


def portal_membership(request: HttpRequest, *, require: str = "view"):
    """The membership the customer is acting through; 403 if its role may not `require`."""
    from .domain import member_can
    from .selectors import user_memberships

    memberships = list(user_memberships(user=request.user))
    if not memberships:
        return None
    wanted = request.session.get(CURRENT_ACCOUNT_SESSION_KEY)
    current = next((m for m in memberships if m.account.number == wanted), memberships[0])
    if not member_can(current.role, require):
        raise PermissionDenied
    return current


# --- Step-up: a fresh second-factor check before sensitive changes --------

STEP_UP_SESSION_KEY = "pn_otp_verified_at"


def step_up_mark(request: HttpRequest, *, now) -> None:
    request.session[STEP_UP_SESSION_KEY] = now.isoformat()


def step_up_fresh(request: HttpRequest, *, now) -> bool:
    from .domain import step_up_is_fresh
    from .selectors import parameter_get

    return step_up_is_fresh(
        verified_at_iso=request.session.get(STEP_UP_SESSION_KEY),
        now_iso=now.isoformat(),
        max_age_seconds=int(parameter_get(key="step_up_max_age_seconds")),
    )


def step_up_required(view: Callable) -> Callable:
    """Refuse the view, on GET and POST alike, without a recent TOTP check."""
    from django.contrib import messages
    from django.utils import timezone
    from django.utils.translation import gettext as _

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        target = request.get_full_path() if request.method == "GET" else request.path
        if not user_has_confirmed_device(user=request.user):
            messages.info(
                request,
                _(
                    "Cette modification est protégée : activez d'abord la vérification en deux étapes."
                ),
            )
            return redirect(_with_next_url("accounts:otp_enrol", target))
        if not step_up_fresh(request, now=timezone.now()):
            return redirect(_with_next_url("accounts:otp_step_up", target))
        return view(request, *args, **kwargs)

    return wrapper


def _with_next_url(url_name: str, next_url: str) -> str:
    return f"{reverse(url_name)}?{urlencode({'next': next_url})}"
