"""Public outage pages: the status board and map, an incident's updates, outage and
streetlight reports with safety triage first, report tracking, subscriptions and
the survey the "restored" message links to.

Anyone may use them. A signed-in customer (past the second factor, as the portal
requires) reports for one of their own premises; everyone else gives a place and
a phone number. Every form works without JavaScript.
"""

from __future__ import annotations

import copy
import time
from urllib.parse import urlencode

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts.access import CUSTOMER_ROLES, decide, portal_membership
from accounts.domain import ShellDecision

from .. import selectors, selectors_public
from ..forms import public as forms
from ..models import ReportKind
from ..services import InvalidInput, NotAllowed
from ..services import notifications as notification_services
from ..services import reports as report_services

# A board is rebuilt when a service bumps the public version, or when it is older
# than this (so that time-driven changes, such as a restored incident leaving the
# "recent" window, show up too).
STATUS_FRESH_SECONDS = 60
# A stale board is kept this long so that a worker always has one to serve.
STATUS_KEEP_SECONDS = 60 * 60
# During a storm every report bumps the version: a board younger than this is served
# anyway, so the page lags by at most a second and a worker is not kept rebuilding
# it (bench/outage_storm.py: +60 % status pages served while reports pour in).
STATUS_MIN_REBUILD_SECONDS = 1.0
# How long one worker may hold the right to rebuild a board before another may try.
REBUILD_LOCK_SECONDS = 10


def _customer(request: HttpRequest):
    """(account, its premises) for a customer who would be let into the portal;
    (None, None) for anyone else, who reports like an anonymous visitor."""
    if not request.user.is_authenticated:
        return None, None
    if decide(request, CUSTOMER_ROLES) is not ShellDecision.ALLOW:
        return None, None
    try:
        membership = portal_membership(request)
    except PermissionDenied:
        return None, None
    if membership is None:
        return None, None
    premises = selectors_public.account_premises(account_id=membership.account_id)
    return membership.account, premises


def _put_errors(form, exc: InvalidInput) -> None:
    for name, message in exc.errors.items():
        form.add_error(name if name in form.fields else None, message)


# --- Status board ----------------------------------------------------------------


# Stands for the visitor's CSRF token in a cached page (the language switch posts it);
# each answer puts the visitor's own token in its place.
CSRF_PLACEHOLDER = "csrf-token-of-this-visitor"


def _status_body(request: HttpRequest, postcode: str) -> str:
    board = selectors_public.status_board(now=timezone.now(), postcode=postcode)
    return render_to_string("outages/public/_status_body.html", {"board": board}, request=request)


def _status_page(request: HttpRequest, form, body: str, *, status: int = 200) -> HttpResponse:
    return render(
        request, "outages/public/status.html", {"form": form, "body": body}, status=status
    )


@require_GET
def status(request: HttpRequest) -> HttpResponse:
    form = forms.PostcodeSearchForm(request.GET)
    valid = form.is_valid()
    postcode = form.cleaned_data["postcode"] if valid else ""
    if request.user.is_authenticated:
        return _status_page(request, form, _status_body(request, postcode))
    body, page = _cached_status(request, postcode)
    if not valid:
        return _status_page(request, form, body, status=400)
    if set(request.GET) <= {"postcode"} and not messages.get_messages(request):
        # The whole page comes from the cache; only the token is the visitor's own.
        return HttpResponse(page.replace(CSRF_PLACEHOLDER, get_token(request)))
    return _status_page(request, form, body)


def _canonical(request: HttpRequest, postcode: str) -> HttpRequest:
    """The request as the page shows it to everyone who gets the cached copy: no query
    parameter but the postcode (the language switch sends the visitor back to it)."""
    clean = copy.copy(request)
    query = urlencode({"postcode": postcode}) if postcode else ""
    clean.META = {**request.META, "QUERY_STRING": query}
    clean.GET = QueryDict(query)
    return clean


def _cached_status(request: HttpRequest, postcode: str) -> tuple[str, str]:
    """Storm traffic is anonymous: the board, and the page around it, are rendered
    once per version of the public data, language and postcode, and served from Redis.

    During a storm every report bumps the version. A board is rebuilt at most once a
    second, by one worker while the others keep serving the previous rendering, so
    the page lags by a second or so instead of every request rebuilding it."""
    version = selectors.public_version()
    key = f"outages:public:status:{get_language()}:{postcode}"
    now = time.time()
    cached = cache.get(key)  # (version, built at, board, page)
    if cached is not None:
        age = now - cached[1]
        current = cached[0] == version or age < STATUS_MIN_REBUILD_SECONDS
        if current and age < STATUS_FRESH_SECONDS:
            return cached[2], cached[3]
    lock = f"{key}:rebuilding"
    locked = cache.add(lock, 1, REBUILD_LOCK_SECONDS)
    if not locked and cached is not None:
        return cached[2], cached[3]
    try:
        body = _status_body(request, postcode)
        page = render_to_string(
            "outages/public/status.html",
            {
                "form": forms.PostcodeSearchForm({"postcode": postcode}),
                "body": body,
                "csrf_token": CSRF_PLACEHOLDER,
                "messages": (),  # the visitor's own, never in the shared copy
            },
            request=_canonical(request, postcode),
        )
        cache.set(key, (version, now, body, page), STATUS_KEEP_SECONDS)
    finally:
        if locked:
            cache.delete(lock)
    return body, page


@require_GET
def incident(request: HttpRequest, reference: str) -> HttpResponse:
    page = selectors_public.incident_page(reference=reference)
    if page is None:
        raise Http404
    return render(request, "outages/public/incident.html", {"page": page})


# --- Reports -----------------------------------------------------------------------


def _valid_hazards(values: list[str]) -> list[str]:
    return [h for h in values if h in dict(forms.HAZARD_CHOICES)]


def _report_form(kind: str, data=None, *, account, premises, initial=None):
    if kind == ReportKind.STREETLIGHT:
        return forms.StreetlightForm(data, initial=initial, phone_required=account is None)
    if premises is not None and not premises.exists():
        premises = None
    return forms.ReportForm(
        data, initial=initial, premises=premises, phone_required=account is None
    )


def _report(request: HttpRequest, *, kind: str) -> HttpResponse:
    account, premises = _customer(request)
    page = {"kind": kind, "streetlight": kind == ReportKind.STREETLIGHT}
    if request.method == "POST":
        form = _report_form(kind, request.POST, account=account, premises=premises)
        if form.is_valid():
            data = form.cleaned_data
            try:
                report = report_services.report_submit(
                    kind=kind,
                    now=timezone.now(),
                    postcode=data.get("postcode", ""),
                    address=data.get("address", ""),
                    phone=data.get("phone", ""),
                    description=data.get("description", ""),
                    hazards=data["hazards"],
                    breakers_checked=data.get("breakers_checked", False),
                    account=account,
                    premise=data.get("premise"),
                    reporter=request.user if request.user.is_authenticated else None,
                )
            except InvalidInput as exc:
                _put_errors(form, exc)
            else:
                return redirect("outages_public:report_done", reference=report.reference)
        hazards = _valid_hazards(request.POST.getlist("hazards"))
        return render(
            request,
            "outages/public/report_form.html",
            {**page, "form": form, "hazards": hazards},
            status=400,
        )
    if "triage" not in request.GET:
        triage = forms.TriageForm(initial={"postcode": request.GET.get("postcode", "")[:5]})
        return render(request, "outages/public/report_triage.html", {**page, "triage": triage})
    triage = forms.TriageForm(request.GET)
    if not triage.is_valid():
        return render(
            request, "outages/public/report_triage.html", {**page, "triage": triage}, status=400
        )
    hazards = triage.cleaned_data["hazards"]
    initial = {"hazards": hazards, "postcode": triage.cleaned_data["postcode"]}
    if premises is not None:
        own = list(premises[:2])
        if len(own) == 1:
            initial["premise"] = own[0].pk
    form = _report_form(kind, account=account, premises=premises, initial=initial)
    return render(
        request, "outages/public/report_form.html", {**page, "form": form, "hazards": hazards}
    )


@require_http_methods(["GET", "POST"])
def report(request: HttpRequest) -> HttpResponse:
    return _report(request, kind=ReportKind.OUTAGE)


@require_http_methods(["GET", "POST"])
def streetlight(request: HttpRequest) -> HttpResponse:
    return _report(request, kind=ReportKind.STREETLIGHT)


@require_GET
def report_done(request: HttpRequest, reference: str) -> HttpResponse:
    found = selectors.report_by_reference(reference=reference)
    if found is None:
        raise Http404
    return render(request, "outages/public/report_done.html", {"report": found})


@require_GET
def track(request: HttpRequest) -> HttpResponse:
    if "reference" not in request.GET:
        return render(request, "outages/public/track.html", {"form": forms.TrackForm()})
    form = forms.TrackForm(request.GET)
    if not form.is_valid():
        return render(request, "outages/public/track.html", {"form": form}, status=400)
    found = selectors.report_by_reference(reference=form.cleaned_data["reference"])
    if found is None:
        form.add_error("reference", _("Aucun signalement ne porte cette référence."))
        return render(request, "outages/public/track.html", {"form": form}, status=404)
    return render(request, "outages/public/track.html", {"form": form, "report": found})


# --- Subscriptions and survey ----------------------------------------------------------


@require_http_methods(["GET", "POST"])
def subscribe(request: HttpRequest) -> HttpResponse:
    account, premises = _customer(request)
    if premises is not None and not premises.exists():
        premises = None
    if request.method == "POST":
        form = forms.SubscribeForm(request.POST, premises=premises)
        if form.is_valid():
            data = form.cleaned_data
            try:
                subscription = notification_services.subscription_create(
                    channel=data["channel"],
                    destination=data["destination"],
                    now=timezone.now(),
                    postcode=data.get("postcode") or "",
                    premise=data.get("premise"),
                    account=account,
                )
            except InvalidInput as exc:
                _put_errors(form, exc)
            else:
                return redirect(
                    "outages_public:subscribed",
                    token=notification_services.unsubscribe_token(subscription),
                )
        return render(request, "outages/public/subscribe.html", {"form": form}, status=400)
    initial = {"postcode": request.GET.get("postcode", "")[:5], "channel": "SMS"}
    if account is not None and account.phone:
        initial["destination"] = account.phone
    form = forms.SubscribeForm(initial=initial, premises=premises)
    return render(request, "outages/public/subscribe.html", {"form": form})


@require_GET
def subscribed(request: HttpRequest, token: str) -> HttpResponse:
    return render(request, "outages/public/subscribed.html", {"token": token})


@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "GET":
        return render(request, "outages/public/unsubscribe.html", {"token": token})
    try:
        notification_services.subscription_cancel(token=token)
    except NotAllowed as exc:
        return _message(request, title=_("Désabonnement impossible"), text=str(exc), status=400)
    return _message(
        request,
        title=_("Vous êtes désabonné"),
        text=_("Vous ne recevrez plus de nouvelles des coupures par ce canal."),
    )


@require_http_methods(["GET", "POST"])
def feedback(request: HttpRequest, token: str) -> HttpResponse:
    form = forms.FeedbackForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                notification_services.feedback_answer(
                    token=token,
                    csat=form.cleaned_data["csat"],
                    comment=form.cleaned_data["comment"],
                    now=timezone.now(),
                )
            except InvalidInput as exc:
                _put_errors(form, exc)
            except NotAllowed as exc:
                return _message(request, title=_("Lien non valide"), text=str(exc), status=400)
            else:
                return _message(
                    request,
                    title=_("Merci pour votre réponse !"),
                    text=_("Votre avis nous aide à mieux gérer les prochaines coupures."),
                )
        return render(request, "outages/public/feedback.html", {"form": form}, status=400)
    return render(request, "outages/public/feedback.html", {"form": form})


def _message(request: HttpRequest, *, title: str, text: str, status: int = 200) -> HttpResponse:
    return render(
        request, "outages/public/message.html", {"title": title, "text": text}, status=status
    )
