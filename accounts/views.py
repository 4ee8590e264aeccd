from __future__ import annotations

import base64
import io

import qrcode
import qrcode.image.svg
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp import match_token

from . import selectors, services
from .access import LANDING_BY_ROLE, console_required, customer_required
from .forms import EmailLoginForm, OtpTokenForm


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = EmailLoginForm
    redirect_authenticated_user = True


def _safe_next(request: HttpRequest, default: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


@login_required
def landing(request: HttpRequest) -> HttpResponse:
    return redirect(LANDING_BY_ROLE.get(request.user.role, "home"))


@login_required
@require_http_methods(["GET", "POST"])
def otp_verify(request: HttpRequest) -> HttpResponse:
    next_url = _safe_next(request, reverse("accounts:landing"))
    if request.user.is_verified():
        return redirect(next_url)
    if not selectors.user_has_confirmed_device(user=request.user):
        return redirect(f"{reverse('accounts:otp_enrol')}?{urlencode({'next': next_url})}")
    form = OtpTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = match_token(request.user, form.cleaned_data["token"])
        if device is not None:
            otp_login(request, device)
            return redirect(next_url)
        form.add_error("token", _("Ce code n'est pas valide ou a déjà été utilisé."))
    return render(request, "accounts/otp_verify.html", {"form": form, "next": next_url})


def _qr_svg(data: str) -> str:
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()


@login_required
@require_http_methods(["GET", "POST"])
def otp_enrol(request: HttpRequest) -> HttpResponse:
    next_url = _safe_next(request, reverse("accounts:landing"))
    verified = request.user.is_verified()
    try:
        device = services.totp_enrolment_start(user=request.user, is_verified=verified)
    except services.EnrolmentNotAllowed:
        return redirect(f"{reverse('accounts:otp_verify')}?{urlencode({'next': next_url})}")
    form = OtpTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            confirmed, codes = services.totp_enrolment_confirm(
                user=request.user, token=form.cleaned_data["token"], is_verified=verified
            )
        except services.InvalidOtpToken as exc:
            form.add_error("token", str(exc))
        else:
            otp_login(request, confirmed)
            return render(
                request, "accounts/otp_backup_codes.html", {"codes": codes, "next": next_url}
            )
    secret_b32 = _base32(device.bin_key)
    return render(
        request,
        "accounts/otp_enrol.html",
        {
            "form": form,
            "next": next_url,
            "qr_svg": _qr_svg(device.config_url),
            "secret": " ".join(secret_b32[i : i + 4] for i in range(0, len(secret_b32), 4)),
        },
    )


def _base32(key: bytes) -> str:
    return base64.b32encode(key).decode().rstrip("=")


@customer_required
def portal_home(request: HttpRequest) -> HttpResponse:
    accounts = list(selectors.user_accounts(user=request.user))
    return render(
        request,
        "portal/home.html",
        {
            "accounts": accounts,
            "has_totp": selectors.user_has_confirmed_device(user=request.user),
        },
    )


@customer_required
def portal_security(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "portal/security.html",
        {"has_totp": selectors.user_has_confirmed_device(user=request.user)},
    )


@console_required
def console_home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "console/home.html",
        {"accounts": selectors.accounts_recent(limit=25)},
    )
