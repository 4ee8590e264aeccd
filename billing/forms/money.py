"""Forms of the money pages: a payment plan, a payment extension, an assistance credit,
and the date of a tariff switch. The rules themselves live in the services; the forms
check shapes and the windows shown to the user."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django import forms
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from billing.services.account_money import plan_bounds, plan_first_due_window
from billing.services.switching import switch_window


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


def _window_error(earliest: date, latest: date) -> str:
    return _("Choisissez une date entre le %(a)s et le %(b)s.") % {
        "a": date_format(earliest, "SHORT_DATE_FORMAT"),
        "b": date_format(latest, "SHORT_DATE_FORMAT"),
    }


class PlanForm(forms.Form):
    count = forms.TypedChoiceField(label=_("Nombre de mensualités"), coerce=int)
    first_due = forms.DateField(label=_("Date de la première mensualité"), widget=DateInput())

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        low, high = plan_bounds()
        self.fields["count"].choices = [(n, str(n)) for n in range(low, high + 1)]
        self.window = plan_first_due_window(today)
        self.fields["first_due"].widget.attrs.update(
            min=self.window[0].isoformat(), max=self.window[1].isoformat()
        )
        self.fields["first_due"].help_text = _window_error(*self.window)
        self.initial.setdefault("count", low)
        self.initial.setdefault("first_due", self.window[0])

    def clean_first_due(self) -> date:
        value = self.cleaned_data["first_due"]
        if not self.window[0] <= value <= self.window[1]:
            raise forms.ValidationError(_window_error(*self.window))
        return value


class ExtensionForm(forms.Form):
    invoice = forms.ModelChoiceField(
        label=_("Facture"), queryset=None, empty_label=None, to_field_name="number"
    )
    new_due = forms.DateField(label=_("Nouvelle date d'échéance"), widget=DateInput())

    def __init__(self, *args, invoices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["invoice"].queryset = invoices
        self.fields["invoice"].label_from_instance = lambda inv: (
            _("%(number)s — échéance du %(due)s")
            % {"number": inv.number, "due": date_format(inv.due_date, "SHORT_DATE_FORMAT")}
        )


SCHEMES = [
    ("Chèque énergie", _("Chèque énergie")),
    ("FSL", _("Fonds de solidarité pour le logement (FSL)")),
    ("CCAS", _("Aide du CCAS")),
    ("Autre", _("Autre dispositif")),
]


class AssistanceForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Montant (€)"),
        max_digits=8,
        decimal_places=2,
        min_value=Decimal("0.01"),
        localize=True,
    )
    scheme = forms.ChoiceField(label=_("Dispositif"), choices=SCHEMES)


class SwitchDateForm(forms.Form):
    effective = forms.DateField(label=_("Date d'effet de la nouvelle offre"), widget=DateInput())

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.window = switch_window(today)
        self.fields["effective"].widget.attrs.update(
            min=self.window[0].isoformat(), max=self.window[1].isoformat()
        )
        self.fields["effective"].help_text = _window_error(*self.window)
        self.initial.setdefault("effective", self.window[0])

    def clean_effective(self) -> date:
        value = self.cleaned_data["effective"]
        if not self.window[0] <= value <= self.window[1]:
            raise forms.ValidationError(_window_error(*self.window))
        return value
