"""Forms of the technicians' phone pages: the next status, a new restoration
estimate, a note or photo, and the diagnostic fee (notice, then charge)."""

from __future__ import annotations

from datetime import date, datetime

from django import forms
from django.forms.utils import from_current_timezone
from django.utils.translation import gettext_lazy as _

from ..domain import states
from ..models import Confidence


class StatusForm(forms.Form):
    # A technician moves his mission forward; cancelling is the dispatcher's call.
    target = forms.ChoiceField(
        choices=[(states.EN_ROUTE, ""), (states.ON_SITE, ""), (states.CREW_RESTORED, "")]
    )
    confirm = forms.BooleanField(
        label=_("Le courant est revenu chez les clients de cette intervention"), required=False
    )

    def clean(self):
        data = super().clean()
        # The last crew's "restored" restores the incident and tells every customer:
        # a tap in a pocket must not do that.
        if data.get("target") == states.CREW_RESTORED and not data.get("confirm"):
            raise forms.ValidationError(
                _("Cochez la case pour confirmer que le courant est rétabli.")
            )
        return data


class FieldEtrForm(forms.Form):
    """A time typed on site; the date is today unless changed (a repair past
    midnight). Read as Paris time."""

    date = forms.DateField(
        label=_("Jour"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    time = forms.TimeField(
        label=_("Heure"),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    confidence = forms.ChoiceField(
        label=_("Confiance"), choices=Confidence.choices, initial=Confidence.MEDIUM
    )

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["date"].initial = today

    def clean(self):
        data = super().clean()
        if data.get("date") and data.get("time"):
            naive = datetime.combine(data["date"], data["time"])
            try:
                data["estimate"] = from_current_timezone(naive)
            except forms.ValidationError as exc:
                self.add_error("time", exc)
        return data


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    photo = forms.FileField(
        label=_("Photo (facultative, 8 Mo maximum)"),
        required=False,
        widget=forms.FileInput(attrs={"accept": "image/*", "capture": "environment"}),
    )


class NoticeForm(forms.Form):
    account = forms.TypedChoiceField(label=_("Client concerné"), coerce=int)

    def __init__(self, *args, accounts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].choices = [("", "—")] + [
            (a.pk, f"{a.number} · {a.name}") for a in accounts
        ]


class ChargeForm(forms.Form):
    charge = forms.TypedChoiceField(label=_("Client prévenu"), coerce=int)
    fee = forms.DecimalField(label=_("Frais de diagnostic (€)"), max_digits=8, decimal_places=2)
    parts = forms.DecimalField(
        label=_("Pièces (€)"),
        required=False,
        min_value=0,
        max_digits=8,
        decimal_places=2,
        initial=0,
    )

    def __init__(self, *args, charges=(), bounds=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["charge"].choices = [
            (c.pk, f"{c.account.number} · {c.account.name}") for c in charges
        ]
        if bounds is not None:
            low, high, default = bounds
            self.fields["fee"].initial = default
            self.fields["fee"].help_text = _("Entre %(low)s € et %(high)s €.") % {
                "low": low,
                "high": high,
            }
            self.fields["fee"].widget.attrs |= {"min": str(low), "max": str(high), "step": "0.01"}
