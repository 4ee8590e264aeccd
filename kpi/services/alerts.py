"""Interval alerts: the live ASA and queue length checked against their thresholds every
minute (docs/kpi.md, "Interval alerts").

An alert is raised by the first check that sees its figure above the threshold and
cleared by the first that sees it back at or under it. The partial unique index on open
alerts (one per metric and scope) makes the raise an INSERT … ON CONFLICT DO NOTHING, so
two concurrent checks raise one alert; the e-mail goes to whoever claims `notified_at`
first, so it is sent once. A check run twice at the same instant changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils.translation import gettext as _

from .. import selectors
from ..models import KpiAlert

logger = logging.getLogger(__name__)

_TABLE = KpiAlert._meta.db_table
# The conflict target names the partial index's predicate, so it matches only the open
# alert of the same metric and scope.
_RAISE_SQL = f"""
INSERT INTO {_TABLE} (metric, scope, raised_at, value_at_raise, threshold)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (metric, scope) WHERE cleared_at IS NULL DO NOTHING
RETURNING id"""  # noqa: S608 (the table name is a constant; values are bound)


@dataclass
class AlertCheckResult:
    checked: int = 0  # figures compared with their threshold
    raised: list[int] = field(default_factory=list)  # ids of the alerts raised
    cleared: list[int] = field(default_factory=list)
    notified: list[int] = field(default_factory=list)  # ids whose e-mail went out


def _raise(figure: selectors.AlertFigure, now: datetime) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute(
            _RAISE_SQL, [figure.metric, figure.scope, now, figure.value, figure.threshold]
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _clear(alert_id: int, figure: selectors.AlertFigure, now: datetime) -> bool:
    # `cleared_at IS NULL` in the WHERE: a concurrent check that cleared it first wins.
    return bool(
        KpiAlert.objects.filter(pk=alert_id, cleared_at__isnull=True).update(
            cleared_at=now, value_at_clear=figure.value
        )
    )


def _notify(now: datetime) -> list[int]:
    """E-mail the alerts not yet notified, once. Claiming `notified_at` before sending
    keeps a concurrent check from sending the same alert; a failed send releases the
    claim so the next check tries again."""
    with transaction.atomic():
        claimed = list(
            KpiAlert.objects.select_for_update(skip_locked=True)
            .filter(cleared_at__isnull=True, notified_at__isnull=True)
            .order_by("raised_at", "pk")
        )
        if not claimed:
            return []
        KpiAlert.objects.filter(pk__in=[a.pk for a in claimed]).update(notified_at=now)
    recipients = selectors.alert_recipients()
    if not recipients:
        return [a.pk for a in claimed]
    lines = [
        selectors.alert_text(
            metric=a.metric, scope=a.scope, value=a.value_at_raise, threshold=a.threshold
        )
        for a in claimed
    ]
    subject = _("Alerte KPI : %(first)s") % {"first": lines[0]}
    if len(lines) > 1:
        subject = _("Alertes KPI : %(count)d seuils dépassés") % {"count": len(lines)}
    body = (
        "\n".join(f"- {line}" for line in lines)
        + "\n\n"
        + _("Le tableau de bord superviseur montre les alertes en cours jusqu'à leur levée.")
    )
    try:
        send_mail(subject, body, None, recipients)
    except Exception:
        logger.exception("kpi alert e-mail failed; released for the next check")
        KpiAlert.objects.filter(pk__in=[a.pk for a in claimed]).update(notified_at=None)
        return []
    return [a.pk for a in claimed]


def kpi_alerts_check(*, now: datetime) -> AlertCheckResult:
    """Compare every live figure with its threshold: raise the breached ones that have no
    open alert, clear the open ones whose figure is back at or under it (or undefined),
    then e-mail the supervisors about the alerts not yet notified."""
    figures = selectors.kpi_alert_figures(now=now)
    result = AlertCheckResult(checked=len(figures))
    with transaction.atomic():
        open_ids = {
            (metric, scope): pk
            for pk, metric, scope in KpiAlert.objects.filter(cleared_at__isnull=True).values_list(
                "pk", "metric", "scope"
            )
        }
        for figure in figures:
            key = (figure.metric, figure.scope)
            if figure.breached and key not in open_ids:
                alert_id = _raise(figure, now)
                if alert_id is not None:
                    result.raised.append(alert_id)
            elif not figure.breached and key in open_ids and _clear(open_ids[key], figure, now):
                result.cleared.append(open_ids[key])
    result.notified = _notify(now)
    return result
