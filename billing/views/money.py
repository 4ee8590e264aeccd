"""The customer's money pages (balance, history, plan, extension), the tariff switch in
three steps, the console's assistance entry and the supervisor's approval queue."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors as account_selectors
from accounts.access import (
    console_required,
    customer_required,
    portal_membership,
    step_up_required,
    supervisor_required,
)
from accounts.domain import member_can
from billing import domain
from billing.forms import money as forms
from billing.models import Invoice
from billing.selectors import account_money as selectors
from billing.selectors.ledger import account_balance
from billing.services import account_money as services
from billing.services import switching

BILLING = "view_billing"
SWITCH = switching.SWITCH_PERMISSION


def _membership(request: HttpRequest, require: str):
    membership = portal_membership(request, require=require)
    if membership is None:
        raise Http404
    return membership


def _home_context(request: HttpRequest, membership, *, today: date, extension_form=None) -> dict:
    account = membership.account
    balance = account_balance(account_id=account.pk)
    invoices = selectors.extendable_invoices(account_id=account.pk, today=today)
    if extension_form is None:
        extension_form = forms.ExtensionForm(invoices=invoices)
    return {
        "account": account,
        "balance": balance,
        "credit": -balance,
        "history": selectors.ledger_history(account_id=account.pk),
        "plan": selectors.active_plan(account_id=account.pk),
        "extension_form": extension_form,
        # Payments are booked against the account: with nothing owed, nothing to extend.
        "can_extend": balance > 0 and invoices.exists(),
        "can_switch": member_can(membership.role, SWITCH),
    }


@customer_required
def money_home(request: HttpRequest) -> HttpResponse:
    membership = _membership(request, BILLING)
    today = timezone.localdate()
    return render(
        request, "billing/money/home.html", _home_context(request, membership, today=today)
    )


@customer_required
@require_http_methods(["GET", "POST"])
def plan_new(request: HttpRequest) -> HttpResponse:
    """Choose the count, see the schedule, confirm: the schedule shown is recomputed from
    the balance at confirmation, so it is the one that is written."""
    membership = _membership(request, BILLING)
    account = membership.account
    now = timezone.now()
    today = timezone.localdate(now)
    form = forms.PlanForm(request.POST or None, today=today)
    schedule = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            count, first_due = form.cleaned_data["count"], form.cleaned_data["first_due"]
            try:
                if request.POST.get("action") == "confirm":
                    services.payment_plan_create(
                        account=account,
                        count=count,
                        first_due=first_due,
                        now=now,
                        actor=request.user,
                    )
                    messages.success(request, _("Votre échéancier est en place."))
                    return redirect("portal_money:home")
                schedule = services.plan_schedule(
                    total=account_balance(account_id=account.pk), count=count, first_due=first_due
                )
            except services.PlanRefused as exc:
                form.add_error(exc.field, exc.message)
        if form.errors:
            status = 400
    return render(
        request,
        "billing/money/plan.html",
        {
            "form": form,
            "schedule": schedule,
            "balance": account_balance(account_id=account.pk),
            "has_plan": selectors.active_plan(account_id=account.pk) is not None,
        },
        status=status,
    )


@customer_required
@require_POST
def extension_request(request: HttpRequest) -> HttpResponse:
    membership = _membership(request, BILLING)
    account = membership.account
    number = request.POST.get("invoice", "")
    if not Invoice.objects.filter(account=account, number=number).exists():
        raise Http404
    now = timezone.now()
    today = timezone.localdate(now)
    invoices = selectors.extendable_invoices(account_id=account.pk, today=today)
    form = forms.ExtensionForm(request.POST, invoices=invoices)
    if form.is_valid():
        try:
            services.payment_extension_request(
                invoice=form.cleaned_data["invoice"],
                new_due=form.cleaned_data["new_due"],
                now=now,
                actor=request.user,
            )
        except services.ExtensionRefused as exc:
            form.add_error(exc.field, exc.message)
        else:
            messages.success(request, _("Le report d'échéance est accordé."))
            return redirect("portal_money:home")
    context = _home_context(request, membership, today=today, extension_form=form)
    context["can_extend"] = True  # keep the form and its errors on screen
    return render(request, "billing/money/home.html", context, status=400)


# --- Tariff switch: compare, choose the date, confirm -------------------------------


def _point(membership, point_id: int | None):
    points = account_selectors.account_supply_points(account_id=membership.account_id)
    if point_id is None:
        if not points:
            raise Http404
        return points[0], points
    point = next((p for p in points if p.pk == point_id), None)
    if point is None:
        raise Http404
    return point, points


@customer_required
def switch_compare(request: HttpRequest) -> HttpResponse:
    membership = _membership(request, SWITCH)
    raw = request.GET.get("point")
    point, points = _point(membership, int(raw) if raw and raw.isdigit() else None)
    today = timezone.localdate()
    comparison = selectors.tariff_comparison(
        account=membership.account, supply_point_id=point.pk, today=today
    )
    return render(
        request,
        "billing/money/switch_compare.html",
        {"point": point, "points": points, "comparison": comparison, "step": 1},
    )


def _switch_target(request: HttpRequest, point_id: int, code: str, today: date):
    membership = _membership(request, SWITCH)
    point, _points = _point(membership, point_id)
    tariff = selectors.switchable_tariff(account=membership.account, code=code, today=today)
    if tariff is None:
        raise Http404
    return membership, point, tariff


@customer_required
@require_http_methods(["GET", "POST"])
def switch_date(request: HttpRequest, point_id: int, code: str) -> HttpResponse:
    today = timezone.localdate()
    _m, point, tariff = _switch_target(request, point_id, code, today)
    form = forms.SwitchDateForm(request.POST or None, today=today)
    if request.method == "POST" and form.is_valid():
        query = urlencode({"effective": form.cleaned_data["effective"].isoformat()})
        return redirect(
            f"{reverse('portal_money:switch_confirm', args=[point.pk, tariff.code])}?{query}"
        )
    return render(
        request,
        "billing/money/switch_date.html",
        {"point": point, "tariff": tariff, "form": form, "step": 2},
        status=400 if form.errors else 200,
    )


@customer_required
@step_up_required
@require_http_methods(["GET", "POST"])
def switch_confirm(request: HttpRequest, point_id: int, code: str) -> HttpResponse:
    now = timezone.now()
    today = timezone.localdate(now)
    _m, point, tariff = _switch_target(request, point_id, code, today)
    data = request.POST if request.method == "POST" else request.GET
    form = forms.SwitchDateForm(data, today=today)
    current = selectors.current_subscription(supply_point_id=point.pk)
    if form.is_valid() and request.method == "POST":
        try:
            switching.tariff_switch(
                supply_point=point,
                tariff=tariff,
                effective=form.cleaned_data["effective"],
                now=now,
                actor=request.user,
            )
        except switching.SwitchRefused as exc:
            form.add_error(exc.field if exc.field == "effective" else None, exc.message)
        else:
            messages.success(
                request,
                _("C'est fait : l'offre « %(name)s » s'appliquera à partir du %(day)s.")
                % {"name": tariff.name, "day": form.cleaned_data["effective"].strftime("%d/%m/%Y")},
            )
            return redirect("portal_money:home")
    if not form.is_valid():
        # A bad or stale date goes back to step 2 with its error.
        return render(
            request,
            "billing/money/switch_date.html",
            {"point": point, "tariff": tariff, "form": form, "step": 2},
            status=400,
        )
    return render(
        request,
        "billing/money/switch_confirm.html",
        {
            "point": point,
            "tariff": tariff,
            "current": current,
            "form": form,
            "effective": form.cleaned_data["effective"],
            "step": 3,
        },
        status=400 if form.errors else 200,
    )


# --- Console: enter an assistance credit --------------------------------------------


@console_required
@require_http_methods(["GET", "POST"])
def assistance_new(request: HttpRequest) -> HttpResponse:
    account = account_selectors.account_by_number(number=request.GET.get("account", ""))
    if account is None:
        raise Http404
    now = timezone.now()
    form = forms.AssistanceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.assistance_credit_enter(
                account=account,
                amount=form.cleaned_data["amount"],
                scheme=form.cleaned_data["scheme"],
                now=now,
                actor=request.user,
            )
        except services.MoneyError as exc:
            form.add_error(exc.field, exc.message)
        else:
            messages.success(
                request, _("Aide enregistrée : elle attend l'approbation d'un superviseur.")
            )
            return redirect(
                f"{reverse('console_money:assistance_new')}?{urlencode({'account': account.number})}"
            )
    season = domain.assistance_season(timezone.localdate(now))
    return render(
        request,
        "billing/money/console_assistance.html",
        {
            "account": account,
            "form": form,
            "season": season,
            "committed": selectors.assistance_season_committed(
                account_id=account.pk, season=season
            ),
            "credits": selectors.assistance_for_account(account_id=account.pk, season=season),
        },
        status=400 if form.errors else 200,
    )


# --- Supervisor: approve or reject -------------------------------------------------


@supervisor_required
def assistance_queue(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "billing/money/supervisor_assistance.html",
        {"credits": selectors.assistance_pending()},
    )


@supervisor_required
@require_POST
def assistance_decide(request: HttpRequest, credit_id: int) -> HttpResponse:
    decision = request.POST.get("decision")
    if decision not in {"approve", "reject"}:
        messages.error(request, _("Choisissez d'approuver ou de refuser."))
        return redirect("supervisor_money:assistance")
    try:
        credit = services.assistance_credit_decide(
            credit_id=credit_id,
            approve=decision == "approve",
            now=timezone.now(),
            actor=request.user,
        )
    except services.AssistanceCredit.DoesNotExist as exc:
        raise Http404 from exc
    except services.AssistanceAlreadyDecided:
        messages.warning(request, _("Cette aide a déjà été traitée par un autre superviseur."))
    else:
        if decision == "approve":
            messages.success(
                request,
                _("Aide approuvée et créditée (transaction %(txn)s).")
                % {"txn": credit.entry.txn_id},
            )
        else:
            messages.success(request, _("Aide refusée."))
    return redirect("supervisor_money:assistance")
