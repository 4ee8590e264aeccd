"""PDF documents of the complaints process, rendered with WeasyPrint."""

from __future__ import annotations

from datetime import datetime

from django.template.loader import render_to_string
from django.utils import translation

from .models import Complaint, Ticket


def _pdf(template: str, context: dict) -> bytes:
    from weasyprint import HTML

    with translation.override("fr"):
        html = render_to_string(template, context)
    return HTML(string=html).write_pdf()


def deadlock_letter_pdf(*, complaint: Complaint, now: datetime) -> bytes:
    return _pdf(
        "tickets/pdf/deadlock_letter.html",
        {
            "complaint": complaint,
            "ticket": complaint.ticket,
            "account": complaint.ticket.account,
            "now": now,
        },
    )


def case_dossier_pdf(*, ticket: Ticket, now: datetime) -> bytes:
    timeline = sorted(
        [
            ("message", m.created_at, m)
            for m in ticket.messages.filter(visibility="PUBLIC").order_by("created_at")
        ]
        + [("event", e.at, e) for e in ticket.events.order_by("at")],
        key=lambda row: row[1],
    )
    related = (
        list(
            Ticket.objects.filter(account_id=ticket.account_id)
            .exclude(pk=ticket.pk)
            .order_by("created_at")[:20]
        )
        if ticket.account_id
        else []
    )
    return _pdf(
        "tickets/pdf/dossier.html",
        {
            "ticket": ticket,
            "timeline": timeline,
            "related": related,
            "now": now,
            "complaint": getattr(ticket, "complaint", None),
        },
    )
