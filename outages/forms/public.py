"""Forms of the public outage pages: postcode search, safety triage, outage and
streetlight reports, report tracking, subscriptions and the post-restoration survey.

The services check the rules (postcode, phone, address, premise ownership) again
and their InvalidInput errors are put back on these fields; the forms check the
shape of the input and offer only the reporter's own premises.
"""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from ..domain.rules import HAZARDS

POSTCODE_RE = r"^\d{5}$"
REFERENCE_RE = re.compile(r"^(SIG|EP)-\d{4}-\d{5}$")

HAZARD_LABELS = {
    "SMOKE": _("De la fumée"),
    "SPARKS": _("Des étincelles"),
    "HUMMING": _("Un bourdonnement ou un grésillement"),
    "FALLEN_LINE": _("Un câble tombé ou à terre"),
    "FIRE": _("Du feu ou une odeur de brûlé"),
}
HAZARD_CHOICES = [(h, HAZARD_LABELS.get(h, h)) for h in HAZARDS]

POSTCODE_ERROR = _("Saisissez un code postal à 5 chiffres.")


def _postcode_field(required: bool = True) -> forms.RegexField:
    return forms.RegexField(
        label=_("Code postal"),
        regex=POSTCODE_RE,
        max_length=5,
        required=required,
        error_messages={"invalid": POSTCODE_ERROR, "required": POSTCODE_ERROR},
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "postal-code", "pattern": r"\d{5}"}
        ),
    )


class PostcodeSearchForm(forms.Form):
    postcode = _postcode_field(required=False)

    def clean_postcode(self) -> str:
        return (self.cleaned_data.get("postcode") or "").strip()


class TriageForm(forms.Form):
    """Step one: what the reporter sees or hears. No tick means no hazard."""

    hazards = forms.MultipleChoiceField(
        label=_("Voyez-vous ou entendez-vous l'un de ces dangers ?"),
        choices=HAZARD_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": _("Choisissez parmi les dangers proposés.")},
    )
    postcode = forms.CharField(required=False, max_length=5, widget=forms.HiddenInput)


def _hazards_carried() -> forms.MultipleChoiceField:
    """The triage answer, carried to step two in hidden inputs."""
    return forms.MultipleChoiceField(
        choices=HAZARD_CHOICES,
        required=False,
        widget=forms.MultipleHiddenInput,
        error_messages={"invalid_choice": _("Choisissez parmi les dangers proposés.")},
    )


class ReportForm(forms.Form):
    """Step two. A signed-in customer picks one of their premises; anyone else gives
    the place and a phone number."""

    hazards = _hazards_carried()
    premise = forms.ModelChoiceField(
        label=_("Logement concerné"),
        queryset=None,
        required=True,
        empty_label=None,
        widget=forms.RadioSelect,
        error_messages={
            "invalid_choice": _("Ce logement n'est pas rattaché à votre compte."),
            "required": _("Choisissez le logement concerné."),
        },
    )
    postcode = _postcode_field()
    address = forms.CharField(
        label=_("Adresse (numéro et rue)"),
        max_length=255,
        widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
    )
    phone = forms.CharField(
        label=_("Téléphone pour vous tenir informé"),
        max_length=32,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    breakers_checked = forms.BooleanField(
        label=_("J'ai vérifié mon disjoncteur et mes fusibles"), required=False
    )
    description = forms.CharField(
        label=_("Précisions (facultatif)"),
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, premises=None, phone_required: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if "phone" in self.fields:
            self.fields["phone"].required = phone_required
        if premises is not None:
            # Only the reporter's own homes are offered, and only they validate.
            self.fields["premise"].queryset = premises
            self.fields["premise"].label_from_instance = lambda p: (
                f"{p.address}, {p.postcode} {p.city}"
            )
            for name in ("postcode", "address", "phone"):
                del self.fields[name]
        else:
            del self.fields["premise"]

    @property
    def uses_premise(self) -> bool:
        return "premise" in self.fields


class StreetlightForm(forms.Form):
    hazards = _hazards_carried()
    postcode = _postcode_field()
    address = forms.CharField(
        label=_("Adresse ou emplacement du lampadaire"),
        help_text=_("Par exemple : devant le 12 rue des Lilas, ou l'angle de deux rues."),
        max_length=255,
    )
    description = forms.CharField(
        label=_("Ce que vous constatez (facultatif)"),
        help_text=_("Numéro inscrit sur le poteau, lampe éteinte, clignotante, allumée le jour…"),
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    phone = forms.CharField(
        label=_("Téléphone pour vous tenir informé"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )

    def __init__(self, *args, phone_required: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["phone"].required = phone_required


class TrackForm(forms.Form):
    reference = forms.CharField(
        label=_("Référence du signalement"),
        help_text=_("SIG-… pour une coupure, EP-… pour l'éclairage public."),
        max_length=20,
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "spellcheck": "false"}),
    )

    def clean_reference(self) -> str:
        value = self.cleaned_data["reference"].strip().upper()
        if not REFERENCE_RE.match(value):
            raise forms.ValidationError(
                _("Une référence ressemble à SIG-2026-00042 ou EP-2026-00042.")
            )
        return value


CHANNEL_CHOICES = [("SMS", _("SMS")), ("EMAIL", _("E-mail"))]


class SubscribeForm(forms.Form):
    """A postcode for anyone; a signed-in customer may follow one of their homes."""

    premise = forms.ModelChoiceField(
        label=_("Logement suivi"),
        queryset=None,
        required=False,
        empty_label=_("Un code postal"),
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": _("Ce logement n'est pas rattaché à votre compte.")},
    )
    postcode = _postcode_field(required=False)
    channel = forms.ChoiceField(
        label=_("Recevoir les nouvelles par"),
        choices=CHANNEL_CHOICES,
        widget=forms.RadioSelect,
        initial="SMS",
    )
    destination = forms.CharField(label=_("Numéro de mobile ou adresse e-mail"), max_length=200)

    def __init__(self, *args, premises=None, **kwargs):
        super().__init__(*args, **kwargs)
        if premises is not None:
            self.fields["premise"].queryset = premises
            self.fields["premise"].label_from_instance = lambda p: (
                f"{p.address}, {p.postcode} {p.city}"
            )
        else:
            del self.fields["premise"]

    def clean(self):
        data = super().clean()
        if not data.get("premise") and not data.get("postcode") and "postcode" not in self.errors:
            self.add_error("postcode", POSTCODE_ERROR)
        return data


class FeedbackForm(forms.Form):
    csat = forms.TypedChoiceField(
        label=_("Êtes-vous satisfait de notre gestion de cette coupure ?"),
        choices=[(n, str(n)) for n in range(1, 6)],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choisissez une note de 1 à 5.")},
    )
    comment = forms.CharField(
        label=_("Un commentaire (facultatif)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
