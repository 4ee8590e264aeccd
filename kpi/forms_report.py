"""Forms of the monthly report pages (docs/kpi-report.md). They only check the shape of
what was typed; kpi.services.report decides (owner, due date, finding), and its field
errors land back on these fields."""

from __future__ import annotations

from datetime import date

from django import forms
from django.utils.translation import gettext_lazy as _

TEXT_MAX = 5_000


def _owner_label(user) -> str:
    return user.get_full_name() or user.email


class RcaForm(forms.Form):
    """One finding's analysis. Several sit on one page: `auto_id` keeps their ids apart
    while the field names stay the same for the view."""

    commitment = forms.CharField(max_length=60, widget=forms.HiddenInput)
    cause = forms.CharField(
        label=_("Cause"),
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Décrivez la cause.")},
    )
    actions = forms.CharField(
        label=_("Actions"),
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Décrivez les actions décidées.")},
        help_text=_("Ce qui est fait pour que l'engagement soit tenu, et par qui."),
    )
    # An id, checked by the service (active supervisor or admin), not by the choices:
    # a refusal then says why.
    owner = forms.IntegerField(
        label=_("Responsable"),
        widget=forms.Select,
        error_messages={"required": _("Choisissez un responsable.")},
    )
    due_on = forms.DateField(
        label=_("Échéance"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": _("Indiquez une échéance.")},
    )

    def __init__(self, data=None, *, today: date, owners=(), form_id: str = "rca", initial=None):
        super().__init__(data, auto_id=f"{form_id}-%s", initial=initial)
        self.set_owners(owners)
        self.fields["due_on"].widget.attrs["min"] = today.isoformat()

    def set_owners(self, owners) -> None:
        self.fields["owner"].widget.choices = [
            ("", _("— Choisir —")),
            *[(u.pk, _owner_label(u)) for u in owners],
        ]

    def arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "commitment": data["commitment"],
            "cause": data["cause"],
            "actions": data["actions"],
            "owner_id": data["owner"],
            "due_on": data["due_on"],
        }


class ReopenForm(forms.Form):
    reason = forms.CharField(
        label=_("Motif de la réouverture"),
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("Indiquez pourquoi le mois est rouvert.")},
    )

    def __init__(self, data=None):
        super().__init__(data, auto_id="reopen-%s")
