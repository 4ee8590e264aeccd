"""Portal: consumption charts for the customer's supply points (Chart.js, vendored)."""

from __future__ import annotations

from datetime import date, timedelta

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from accounts.access import customer_required, portal_membership

from . import selectors
from .domain import local_day_bounds, month_bounds


def _kwh(wh: float) -> float:
    return round(wh / 1000, 3)


def _kwh_or_none(wh: float | None) -> float | None:
    # None draws a gap in Chart.js: no average is better than a wrong one.
    return None if wh is None else _kwh(wh)


# Worded to follow "en zone …" and "de …" in the page's sentence.
AREA_WORDS = {"URBAN": gettext_lazy("urbaine"), "RURAL": gettext_lazy("rurale")}
BAND_WORDS = {
    "3-6": gettext_lazy("3 à 6 kVA"),
    "9-12": gettext_lazy("9 à 12 kVA"),
    "15-18": gettext_lazy("15 à 18 kVA"),
    "24-36": gettext_lazy("24 à 36 kVA"),
    "36+": gettext_lazy("plus de 36 kVA"),
}


@require_GET
@customer_required
def consumption_home(request: HttpRequest) -> HttpResponse:
    membership = portal_membership(request)
    if membership is None:
        raise Http404
    points = selectors.portal_supply_points(account_id=membership.account_id)
    if len(points) == 1:
        return redirect("portal_consumption:charts", pk=points[0].pk)
    return render(request, "metering/consumption_points.html", {"points": points})


def _parse_month(text: str | None, today: date) -> tuple[int, int]:
    try:
        year, month = (int(p) for p in (text or "").split("-"))
        if 1 <= month <= 12 and 2000 <= year <= 2100:
            return year, month
    except ValueError:
        pass
    return today.year, today.month


def _parse_day(text: str | None, today: date) -> date:
    try:
        return date.fromisoformat(text or "")
    except ValueError:
        return today - timedelta(days=1)


@require_GET
@customer_required
def consumption_charts(request: HttpRequest, pk: int) -> HttpResponse:
    now = timezone.now()
    today = timezone.localdate(now)
    membership = portal_membership(request)
    point = None
    if membership is not None:
        point = selectors.api_supply_point(
            api_client=None, user=request.user, number=membership.account.number, supply_point_id=pk
        )
    if point is None:
        raise Http404
    months = selectors.monthly_totals(supply_point_id=point.pk, today=today, months=24)
    year, month = _parse_month(request.GET.get("month"), today)
    m_start, m_end = month_bounds(year, month)
    days = selectors.consumption(supply_point_id=point.pk, start=m_start, end=m_end, group_by="day")
    split = selectors.peak_offpeak_monthly(
        supply_point_id=point.pk, start=months[0].start, end=months[-1].end
    )
    hourly_allowed = selectors.hourly_consent_active(
        supply_point_id=point.pk, channel="portal", now=now
    )
    day = _parse_day(request.GET.get("day"), today)
    hours = []
    if hourly_allowed:
        d_start, d_end = local_day_bounds(day)
        hours = selectors.consumption(
            supply_point_id=point.pk, start=d_start, end=d_end, group_by="hour"
        )
    last12 = months[12:]
    previous12 = months[:12]
    similar = selectors.similar_homes(
        supply_point_id=point.pk,
        periods=[
            (last12[0].start.date(), last12[-1].end.date()),
            (m_start.astimezone(selectors.PARIS).date(), m_end.astimezone(selectors.PARIS).date()),
        ],
    )
    chart = {
        "months": {
            "labels": [m.start.strftime("%Y-%m") for m in last12],
            "current": [_kwh(m.wh) for m in last12],
            "previous": [_kwh(m.wh) for m in previous12],
            "similar": [
                _kwh_or_none(similar.month_wh(m.start.year, m.start.month)) for m in last12
            ],
        },
        "days": {
            "labels": [d.start.strftime("%d") for d in days],
            "values": [_kwh(d.wh) for d in days],
            "similar": [_kwh_or_none(similar.daily.get(d.start.date())) for d in days],
        },
        "similar_label": _("Moyenne des foyers similaires"),
        "split": {
            "labels": [s["month"].strftime("%Y-%m") for s in split[-12:]],
            "hp": [_kwh(s["hp_wh"]) for s in split[-12:]],
            "hc": [_kwh(s["hc_wh"]) for s in split[-12:]],
        },
        "hours": {
            "labels": [h.start.strftime("%H:%M") for h in hours],
            "values": [_kwh(h.wh) for h in hours],
        },
    }
    return render(
        request,
        "metering/consumption_charts.html",
        {
            "point": point,
            "chart": chart,
            "month": f"{year:04d}-{month:02d}",
            "day": day,
            "hourly_allowed": hourly_allowed,
            "similar": similar,
            "similar_shown": any(
                v is not None for v in chart["months"]["similar"] + chart["days"]["similar"]
            ),
            "similar_area": AREA_WORDS.get(similar.area_class, similar.area_class),
            "similar_band": BAND_WORDS.get(similar.power_band, similar.power_band),
            "year_total": _kwh(sum(m.wh for m in last12)),
            "previous_total": _kwh(sum(m.wh for m in previous12)),
            "month_total": _kwh(sum(d.wh for d in days)),
        },
    )
