"""Portal: the signed-in customer downloads a supply point's consumption, as CSV or as a
Green Button "Download My Data" feed (ESPI 3.3 XML).

`GET /portal/consumption/<supply point id>/download?format=csv|xml&group_by=hour|day|month
&period_from=&period_to=` (default: day, the last 24 local months). A supply point outside the
customer's current account is a 404; hourly data without an active HOURLY_DATA consent
covering "export" is a 403 that says why.
"""

from __future__ import annotations

from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseForbidden,
    StreamingHttpResponse,
)
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.access import customer_required, portal_membership

from . import exports, selectors

FORMATS = ("csv", "xml")


@require_GET
@customer_required
def consumption_download(request: HttpRequest, pk: int) -> HttpResponse:
    now = timezone.now()
    membership = portal_membership(request)
    point = None
    if membership is not None:
        point = selectors.api_supply_point(
            api_client=None,
            user=request.user,
            number=membership.account.number,
            supply_point_id=pk,
        )
    if point is None:
        raise Http404
    fmt = request.GET.get("format", "csv")
    data = request.GET.dict()
    default_from, default_to = exports.default_period(today=timezone.localdate(now))
    data.setdefault("period_from", default_from)
    data.setdefault("period_to", default_to)
    query = exports.ConsumptionQuerySerializer(data=data)
    valid = query.is_valid()
    if fmt not in FORMATS or not valid:
        errors = {} if fmt in FORMATS else {"format": ["csv or xml"]}
        errors.update({k: [str(m) for m in v] for k, v in query.errors.items()})
        lines = [f"{field}: {' '.join(messages)}" for field, messages in errors.items()]
        return HttpResponseBadRequest("\n".join(lines), content_type="text/plain; charset=utf-8")
    params = query.validated_data
    start, end, group_by = params["period_from"], params["period_to"], params["group_by"]
    if group_by == "hour" and not selectors.hourly_consent_active(
        supply_point_id=point.pk, channel="export", now=now
    ):
        return HttpResponseForbidden(
            "Vous n'avez pas donné votre accord pour la collecte de vos données horaires "
            "pour ce point de livraison : seuls les totaux journaliers et mensuels sont "
            "disponibles.",
            content_type="text/plain; charset=utf-8",
        )
    name = exports.export_filename(
        supply_point=point, start=start, end=end, group_by=group_by, ext=fmt
    )
    if fmt == "csv":
        response = StreamingHttpResponse(
            exports.consumption_csv(
                supply_point_id=point.pk, start=start, end=end, group_by=group_by
            ),
            content_type="text/csv; charset=utf-8",
        )
    else:
        rows = selectors.consumption(
            supply_point_id=point.pk, start=start, end=end, group_by=group_by
        )
        feed = exports.green_button_feed(
            supply_point=point,
            rows=rows,
            group_by=group_by,
            start=start,
            end=end,
            now=now,
            base_url=request.build_absolute_uri("/"),
        )
        response = HttpResponse(feed, content_type="application/atom+xml")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
