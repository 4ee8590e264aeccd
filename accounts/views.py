from __future__ import annotations

import base64
import io

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp import match_token

from . import forms, selectors, services
from .access import (
    CURRENT_ACCOUNT_SESSION_KEY,
    LANDING_BY_ROLE,
    console_required,
    customer_required,
    portal_membership,
    step_up_mark,
    step_up_required,
)
from .domain import member_can
from .forms import EmailLoginForm, OtpTokenForm
from .models import (
    Account,
    AccountMembership,
    ApiClient,
    AuditChannel,
    DataExport,
    Document,
    ErasureRequest,
)


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
            step_up_mark(request, now=timezone.now())
            return redirect(next_url)
        form.add_error("token", _("Ce code n'est pas valide ou a déjà été utilisé."))
    return render(request, "accounts/otp_verify.html", {"form": form, "next": next_url})


@login_required
@require_http_methods(["GET", "POST"])
def otp_step_up(request: HttpRequest) -> HttpResponse:
    """Ask for a fresh code before a sensitive change, even in a verified session."""
    next_url = _safe_next(request, reverse("accounts:landing"))
    if not selectors.user_has_confirmed_device(user=request.user):
        return redirect(f"{reverse('accounts:otp_enrol')}?{urlencode({'next': next_url})}")
    form = OtpTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = match_token(request.user, form.cleaned_data["token"])
        if device is not None:
            otp_login(request, device)
            step_up_mark(request, now=timezone.now())
            return redirect(next_url)
        form.add_error("token", _("Ce code n'est pas valide ou a déjà été utilisé."))
    return render(request, "accounts/otp_step_up.html", {"form": form, "next": next_url})


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
            step_up_mark(request, now=timezone.now())
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
    memberships = list(selectors.user_memberships(user=request.user))
    current = portal_membership(request) if memberships else None
    account = (
        selectors.user_accounts(user=request.user).filter(pk=current.account_id).first()
        if current
        else None
    )
    return render(
        request,
        "portal/home.html",
        {
            "account": account,
            "membership": current,
            "memberships": memberships,
            "has_totp": selectors.user_has_confirmed_device(user=request.user),
            "can": {
                a: member_can(current.role, a)
                for a in ("edit_account", "manage_users", "manage_api_clients", "export")
            }
            if current
            else {},
        },
    )


@customer_required
def portal_security(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "portal/security.html",
        {"has_totp": selectors.user_has_confirmed_device(user=request.user)},
    )


# --- Portal: the customer's own account --------------------------------------


def _now():
    return timezone.now()


def _membership_or_403(request: HttpRequest, require: str = "view"):
    membership = portal_membership(request, require=require)
    if membership is None:
        raise Http404
    return membership


@customer_required
@require_POST
def portal_switch_account(request: HttpRequest, number: str) -> HttpResponse:
    account = selectors.account_for_member(user=request.user, number=number)
    request.session[CURRENT_ACCOUNT_SESSION_KEY] = account.number
    return redirect("portal:home")


@customer_required
def portal_profile(request: HttpRequest) -> HttpResponse:
    membership = _membership_or_403(request)
    account = membership.account
    can_edit = member_can(membership.role, "edit_account")
    initial = {f: getattr(account, f) for f in forms.ContactPreferencesForm.base_fields}
    form = forms.ContactPreferencesForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        if form.is_valid():
            services.account_contact_update(
                account=account,
                actor=request.user,
                channel=AuditChannel.PORTAL,
                now=_now(),
                **form.cleaned_data,
            )
            messages.success(request, _("Vos préférences sont enregistrées."))
            return redirect("portal:profile")
    return render(
        request,
        "portal/profile.html",
        {
            "form": form,
            "account": account,
            "membership": membership,
            "can_edit": can_edit,
            "bank": getattr(account, "bank_details", None),
        },
    )


def _form_page(request: HttpRequest, form, title: str, intro: str = "") -> HttpResponse:
    """The one-form portal page behind each protected change."""
    return render(
        request,
        "portal/form_page.html",
        {"form": form, "title": title, "submit": _("Enregistrer"), "intro": intro},
    )


@customer_required
@step_up_required
def portal_email(request: HttpRequest) -> HttpResponse:
    form = forms.EmailChangeForm(request.POST or None, initial={"email": request.user.email})
    if request.method == "POST" and form.is_valid():
        try:
            services.user_email_change(
                user=request.user,
                new_email=form.cleaned_data["email"],
                actor=request.user,
                channel=AuditChannel.PORTAL,
                now=_now(),
            )
        except services.EmailTaken:
            form.add_error("email", _("Cette adresse est déjà utilisée par un autre identifiant."))
        else:
            messages.success(request, _("Votre adresse e-mail est modifiée."))
            return redirect("portal:profile")
    return _form_page(request, form, _("Changer d'adresse e-mail"))


@customer_required
@step_up_required
def portal_phone(request: HttpRequest) -> HttpResponse:
    membership = _membership_or_403(request, "edit_account")
    form = forms.PhoneChangeForm(request.POST or None, initial={"phone": membership.account.phone})
    if request.method == "POST" and form.is_valid():
        services.account_contact_update(
            account=membership.account,
            actor=request.user,
            channel=AuditChannel.PORTAL,
            now=_now(),
            phone=form.cleaned_data["phone"],
        )
        messages.success(request, _("Votre numéro de téléphone est modifié."))
        return redirect("portal:profile")
    return _form_page(request, form, _("Changer de numéro de téléphone"))


@customer_required
@step_up_required
def portal_bank(request: HttpRequest) -> HttpResponse:
    membership = _membership_or_403(request, "edit_account")
    form = forms.BankDetailsForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.bank_details_set(
            account=membership.account,
            actor=request.user,
            channel=AuditChannel.PORTAL,
            now=_now(),
            **form.cleaned_data,
        )
        messages.success(request, _("Vos coordonnées bancaires sont enregistrées."))
        return redirect("portal:profile")
    return _form_page(
        request,
        form,
        _("Coordonnées bancaires"),
        intro=_(
            "Elles servent au prélèvement de vos factures. Nous n'affichons jamais l'IBAN en entier."
        ),
    )


def _priority_initial(account) -> dict:
    registration = getattr(account, "priority_registration", None)
    if registration is None:
        return {"dependency_level": "NONE", "review_date": (timezone.localdate().replace(day=1))}
    return {f: getattr(registration, f) for f in forms.PriorityRegistrationForm.base_fields}


@customer_required
@step_up_required
def portal_priority(request: HttpRequest) -> HttpResponse:
    membership = _membership_or_403(request, "edit_account")
    account = membership.account
    form = forms.PriorityRegistrationForm(request.POST or None, initial=_priority_initial(account))
    if request.method == "POST" and form.is_valid():
        services.priority_registration_set(
            account=account,
            actor=request.user,
            channel=AuditChannel.PORTAL,
            now=_now(),
            **form.cleaned_data,
        )
        messages.success(request, _("Votre inscription au registre prioritaire est enregistrée."))
        return redirect("portal:profile")
    return _form_page(
        request,
        form,
        _("Registre des clients prioritaires"),
        intro=_(
            "En cas de coupure, les personnes inscrites sont prévenues en premier et leur alimentation est rétablie en priorité."
        ),
    )


@customer_required
def portal_users(request: HttpRequest) -> HttpResponse:
    membership = _membership_or_403(request, "manage_users")
    return _users_page(request, membership.account, forms.MemberAddForm())


def _users_page(request: HttpRequest, account, form, status: int = 200) -> HttpResponse:
    return render(
        request,
        "portal/users.html",
        {
            "account": account,
            "members": account.memberships.select_related("user").order_by("id"),
            "form": form,
        },
        status=status,
    )


@customer_required
@step_up_required
@require_POST
def portal_user_add(request: HttpRequest) -> HttpResponse:
    membership = _membership_or_403(request, "manage_users")
    form = forms.MemberAddForm(request.POST)
    if form.is_valid():
        try:
            services.business_member_add(
                account=membership.account,
                actor=request.user,
                channel=AuditChannel.PORTAL,
                now=_now(),
                **form.cleaned_data,
            )
        except services.MemberRefused as exc:
            form.add_error("email", str(exc))
        else:
            messages.success(request, _("Utilisateur ajouté."))
            return redirect("portal:users")
    return _users_page(request, membership.account, form, status=400)


@customer_required
@step_up_required
@require_POST
def portal_user_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = _membership_or_403(request)
    # A foreign membership is a 404 for everyone; only then does the role matter.
    get_object_or_404(AccountMembership, pk=membership_id, account=membership.account)
    if not member_can(membership.role, "manage_users"):
        raise PermissionDenied
    try:
        services.business_member_remove(
            account=membership.account,
            membership_id=membership_id,
            actor=request.user,
            channel=AuditChannel.PORTAL,
            now=_now(),
        )
    except AccountMembership.DoesNotExist as exc:
        raise Http404 from exc
    except services.MemberRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Utilisateur retiré."))
    return redirect("portal:users")


@customer_required
def portal_api_clients(request: HttpRequest) -> HttpResponse:
    membership = _membership_or_403(request, "manage_api_clients")
    return render(
        request,
        "portal/api_clients.html",
        {
            "account": membership.account,
            "clients": membership.account.api_clients.select_related("application").order_by(
                "-created_at"
            ),
            "form": forms.ApiClientForm(),
        },
    )


@customer_required
@step_up_required
@require_POST
def portal_api_client_create(request: HttpRequest) -> HttpResponse:
    membership = _membership_or_403(request, "manage_api_clients")
    form = forms.ApiClientForm(request.POST)
    if form.is_valid():
        try:
            client, secret = services.api_client_create(
                account=membership.account, actor=request.user, now=_now(), **form.cleaned_data
            )
        except services.ApiClientRefused as exc:
            form.add_error(None, str(exc))
        else:
            return render(
                request, "portal/api_client_secret.html", {"client": client, "secret": secret}
            )
    return render(
        request,
        "portal/api_clients.html",
        {
            "account": membership.account,
            "clients": membership.account.api_clients.select_related("application").order_by(
                "-created_at"
            ),
            "form": form,
        },
        status=400,
    )


@customer_required
@require_POST
def portal_api_client_revoke(request: HttpRequest, client_id: int) -> HttpResponse:
    membership = _membership_or_403(request)
    client = get_object_or_404(ApiClient, pk=client_id, account=membership.account)
    if not member_can(membership.role, "manage_api_clients"):
        raise PermissionDenied
    services.api_client_revoke(client=client, actor=request.user, now=_now())
    messages.success(request, _("Accès révoqué."))
    return redirect("portal:api_clients")


@customer_required
def portal_documents(request: HttpRequest) -> HttpResponse:
    membership = _membership_or_403(request, "edit_account")
    account = membership.account
    form = forms.DocumentUploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.document_upload(
                    account=account,
                    kind=form.cleaned_data["kind"],
                    uploaded=form.cleaned_data["file"],
                    actor=request.user,
                    now=_now(),
                )
            except services.DocumentRejected as exc:
                form.add_error("file", str(exc))
            else:
                messages.success(request, _("Document reçu : un conseiller va le vérifier."))
                return redirect("portal:documents")
        status = 400
    return render(
        request,
        "portal/documents.html",
        {
            "form": form,
            "documents": account.documents.order_by("-uploaded_at"),
        },
        status=status,
    )


@customer_required
def portal_privacy(request: HttpRequest) -> HttpResponse:
    membership = _membership_or_403(request, "export")
    account = membership.account
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "export":
            services.data_export_request(account=account, user=request.user, now=_now())
            messages.success(
                request, _("Export demandé : vous recevrez un e-mail quand il sera prêt.")
            )
        elif action == "erase" and member_can(membership.role, "erase"):
            services.erasure_request_open(account=account, user=request.user, now=_now())
            messages.success(
                request, _("Demande d'effacement enregistrée : un conseiller la traitera.")
            )
        else:
            return HttpResponseBadRequest()
        return redirect("portal:privacy")
    return render(
        request,
        "portal/privacy.html",
        {
            "exports": account.exports.filter(requested_by=request.user).order_by("-requested_at")[
                :10
            ],
            "erasures": account.erasure_requests.order_by("-requested_at")[:5],
            "can_erase": member_can(membership.role, "erase"),
        },
    )


@customer_required
def portal_export_download(request: HttpRequest, export_id: int) -> FileResponse:
    membership = _membership_or_403(request)
    export = get_object_or_404(
        DataExport,
        pk=export_id,
        account=membership.account,
        requested_by=request.user,
        status="READY",
        expires_at__gt=_now(),
    )
    if not member_can(membership.role, "export"):
        raise PermissionDenied
    return FileResponse(
        export.file.open("rb"),
        as_attachment=True,
        filename=f"powernext-{membership.account.number}.zip",
    )


# --- Console: search, 360° view, reviews ------------------------------------


@console_required
def console_search(request: HttpRequest) -> HttpResponse:
    form = forms.SearchForm(request.GET or None)
    results = None
    if form.is_valid():
        results = selectors.customer_search(query=form.cleaned_data["q"])
    return render(
        request,
        "console/search.html",
        {
            "form": form,
            "results": results,
            "recent": selectors.accounts_recent(limit=10) if results is None else None,
        },
    )


@console_required
def console_customer(request: HttpRequest, number: str) -> HttpResponse:
    account = selectors.customer_360(number=number)
    return render(
        request,
        "console/customer.html",
        {
            "account": account,
            "priority": getattr(account, "priority_registration", None),
            "bank": getattr(account, "bank_details", None),
            "consent_form": forms.ConsoleConsentForm(),
        },
    )


@console_required
@step_up_required
def console_priority(request: HttpRequest, number: str) -> HttpResponse:
    account = get_object_or_404(Account, number=number)
    form = forms.PriorityRegistrationForm(request.POST or None, initial=_priority_initial(account))
    consent = forms.ConsoleConsentForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and consent.is_valid():
        services.priority_registration_set(
            account=account,
            actor=request.user,
            channel=AuditChannel.CONSOLE,
            now=_now(),
            **form.cleaned_data,
        )
        messages.success(request, _("Registre prioritaire mis à jour."))
        return redirect("console:customer", number=number)
    return render(
        request,
        "console/priority.html",
        {"form": form, "consent": consent, "account": account},
        status=400 if request.method == "POST" else 200,
    )


@console_required
@require_POST
def console_document_review(request: HttpRequest, document_id: int) -> HttpResponse:
    document = get_object_or_404(Document.objects.select_related("account"), pk=document_id)
    accept = request.POST.get("decision") == "accept"
    try:
        services.document_review(
            document=document,
            reviewer=request.user,
            accept=accept,
            note=request.POST.get("note", ""),
            now=_now(),
        )
    except services.AccountsError as exc:
        messages.error(request, str(exc))
    return redirect("console:customer", number=document.account.number)


@console_required
def console_document_file(request: HttpRequest, document_id: int) -> FileResponse:
    document = get_object_or_404(Document, pk=document_id)
    return FileResponse(
        document.file.open("rb"),
        content_type=document.content_type,
        filename=document.original_name,
    )


@console_required
@require_POST
def console_erasure_process(request: HttpRequest, request_id: int) -> HttpResponse:
    erasure = get_object_or_404(ErasureRequest.objects.select_related("account"), pk=request_id)
    try:
        done = services.erasure_process(request_id=erasure.pk, agent=request.user, now=_now())
    except services.ErasureRefused as exc:
        messages.error(request, str(exc))
    else:
        if done.status == "REFUSED":
            messages.error(request, _("Effacement refusé : %(reason)s") % {"reason": done.outcome})
        else:
            messages.success(request, _("Données personnelles anonymisées."))
    return redirect("console:customer", number=erasure.account.number)
