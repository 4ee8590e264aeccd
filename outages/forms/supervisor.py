"""Forms of the supervisor's outage pages: the month (and area) a report covers, and
the post-incident review."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django import forms
from django.utils.translation import gettext_lazy as _

PARIS = ZoneInfo("Europe/Paris")
MONTH = re.compile(r"^(\d{4})-(\d{2})$")
FIRST_MONTH = date(2000, 1, 1)


def current_month(now: datetime) -> date:
    return now.astimezone(PARIS).date().replace(day=1)


class PeriodForm(forms.Form):
    """`?month=2026-03` (default: this month in Paris) and, on the reliability page,
    `?area=CODE` for the trend (default: the whole network; an unknown code too)."""

    month = forms.CharField(
        label=_("Mois"),
        required=False,
        widget=forms.TextInput(attrs={"type": "month"}),
        help_text=_("Au format AAAA-MM."),
    )
    area = forms.CharField(label=_("Zone"), required=False, max_length=30)

    def __init__(self, data=None, *, now: datetime):
        super().__init__(data)
        self.today_month = current_month(now)
        self.fields["month"].widget.attrs["max"] = f"{self.today_month:%Y-%m}"

    def clean_month(self) -> date:
        raw = (self.cleaned_data.get("month") or "").strip()
        if not raw:
            return self.today_month
        match = MONTH.match(raw)
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise forms.ValidationError(_("Choisissez un mois au format AAAA-MM."))
        month = date(int(match.group(1)), int(match.group(2)), 1)
        if month > self.today_month:
            raise forms.ValidationError(_("Choisissez un mois passé ou le mois en cours."))
        if month < FIRST_MONTH:
            raise forms.ValidationError(_("Choisissez un mois à partir de janvier 2000."))
        return month

    @property
    def period(self) -> dict:
        """The month and area asked for, once valid; this month otherwise."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return {"month": data.get("month", self.today_month), "area": data.get("area", "")}


def _event_line(event) -> str:
    at = event.at.astimezone(PARIS).strftime("%d/%m/%Y %H:%M")
    change = " → ".join(v for v in (event.from_value, event.to_value) if v)
    parts = [at, event.kind, change, event.note.replace("\n", " ").strip()]
    return " — ".join(p for p in parts if p)


def timeline_draft(events) -> str:
    """The incident's events, one line each, as a first draft of the timeline."""
    return "\n".join(_event_line(e) for e in events)


# The three parts are checked together by the service (settlement.review_complete), so
# that one submission reports every missing part at once; the form only bounds sizes.
_REQUIRED = {"aria-required": "true"}


class ReviewForm(forms.Form):
    timeline = forms.CharField(
        label=_("Chronologie"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 10, **_REQUIRED}),
        max_length=20_000,
        help_text=_(
            "Préremplie avec les événements de l'incident : complétez-la (décisions, "
            "appels, arrivée des équipes)."
        ),
    )
    cause = forms.CharField(
        label=_("Cause et raison du dépassement"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, **_REQUIRED}),
        max_length=10_000,
    )
    actions = forms.CharField(
        label=_("Actions décidées (qui, quoi, pour quand)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, **_REQUIRED}),
        max_length=10_000,
    )

    @classmethod
    def for_review(cls, review, data=None) -> ReviewForm:
        """Unbound, the form starts from what is saved, or from the events."""
        if data is not None:
            return cls(data)
        return cls(
            initial={
                "timeline": review.timeline
                or timeline_draft(getattr(review.incident, "timeline_events", [])),
                "cause": review.cause,
                "actions": review.actions,
            }
        )
