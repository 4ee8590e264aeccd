"""Forms of the dispatchers' pages: open an incident or announce works, and one small
form per action on an incident, a streetlight report or a call-list entry.

Field names follow the keys of the services' InvalidInput errors, so a refusal lands
on the field it is about."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ..domain import states
from ..models import Cause, Confidence, Crew, DispatchStatus, Incident, IncidentClass

POSTCODE_TOKEN = re.compile(r"^[0-9A-Z]{2,10}$")
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"
UNPLANNED_CAUSES = [(v, label) for v, label in Cause.choices if v != Cause.PLANNED_WORK]


def local_datetime_field(label, *, required: bool = True, help_text: str = "") -> forms.Field:
    """A datetime-local input read as Paris time (the project's time zone): Django
    makes it aware, and refuses an hour skipped by the change to summer time."""
    return forms.DateTimeField(
        label=label,
        required=required,
        help_text=help_text,
        input_formats=[DATETIME_LOCAL, "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )


def split_postcodes(raw: str) -> list[str]:
    tokens = [t for t in re.split(r"[\s,;]+", (raw or "").upper()) if t]
    bad = [t for t in tokens if not POSTCODE_TOKEN.match(t)]
    if bad:
        raise forms.ValidationError(
            _("Codes postaux non reconnus : %(bad)s."), params={"bad": ", ".join(bad)}
        )
    return list(dict.fromkeys(tokens))


class PostcodesField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 2000)
        kwargs.setdefault(
            "help_text", _("Séparés par des virgules ou des espaces, par exemple 75015, 75014.")
        )
        super().__init__(**kwargs)

    def to_python(self, value):
        return split_postcodes(super().to_python(value))


class IncidentOpenForm(forms.Form):
    title = forms.CharField(label=_("Titre"), max_length=200)
    postcodes = PostcodesField(label=_("Codes postaux touchés"))
    cause = forms.ChoiceField(label=_("Cause"), choices=UNPLANNED_CAUSES, initial=Cause.UNKNOWN)
    started_at = local_datetime_field(
        _("Début de la coupure (heure de Paris)"),
        required=False,
        help_text=_("Laissez vide si la coupure commence maintenant."),
    )
    feeder = forms.CharField(label=_("Départ (facultatif)"), max_length=40, required=False)
    safety_critical = forms.BooleanField(
        label=_("Danger pour les personnes (câble à terre, feu, étincelles)"), required=False
    )


class PlannedOutageForm(forms.Form):
    title = forms.CharField(label=_("Titre des travaux"), max_length=200)
    postcodes = PostcodesField(label=_("Codes postaux concernés"))
    planned_start = local_datetime_field(_("Début des travaux (heure de Paris)"))
    planned_end = local_datetime_field(_("Fin prévue (heure de Paris)"))
    message = forms.CharField(
        label=_("Avis envoyé aux clients"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    feeder = forms.CharField(label=_("Départ (facultatif)"), max_length=40, required=False)


class ConfirmForm(forms.Form):
    postcodes = PostcodesField(
        label=_("Codes postaux à ajouter (facultatif)"),
        required=False,
        help_text=_("Tous les points de livraison de ces codes postaux seront comptés."),
    )
    cause = forms.ChoiceField(
        label=_("Cause (facultatif)"), choices=[("", "—"), *UNPLANNED_CAUSES], required=False
    )


class ClassOverrideForm(forms.Form):
    klass = forms.ChoiceField(label=_("Classe retenue"), choices=IncidentClass.choices)
    reason = forms.CharField(
        label=_("Motif"), max_length=300, widget=forms.Textarea(attrs={"rows": 2})
    )


class PublishForm(forms.Form):
    message = forms.CharField(
        label=_("Message publié"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class EtrForm(forms.Form):
    estimate = local_datetime_field(_("Rétablissement estimé (heure de Paris)"))
    confidence = forms.ChoiceField(
        label=_("Confiance"), choices=Confidence.choices, initial=Confidence.MEDIUM
    )
    message = forms.CharField(
        label=_("Message publié (facultatif)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Sans message, l'avis annonce la nouvelle heure."),
    )


class CrewChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Crew) -> str:
        return f"{obj.name} ★" if getattr(obj, "covers", False) else obj.name


class DispatchForm(forms.Form):
    crew = CrewChoiceField(
        label=pgettext_lazy("crew", "Équipe"),
        queryset=Crew.objects.filter(active=True).order_by("name"),
        help_text=_("★ : l'équipe couvre une zone de l'incident (proposée en premier)."),
    )

    def __init__(self, *args, crews=None, **kwargs):
        super().__init__(*args, **kwargs)
        if crews is not None:
            # Shown in the selector's order, the crews covering the area first.
            self.fields["crew"].choices = [("", "—")] + [
                (c.pk, self.fields["crew"].label_from_instance(c)) for c in crews
            ]


class DispatchMoveForm(forms.Form):
    target = forms.ChoiceField(
        label=_("Nouveau statut de la mission"),
        choices=[
            (v, label) for v, label in DispatchStatus.choices if v != DispatchStatus.DISPATCHED
        ],
    )


class IncidentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Incident) -> str:
        return f"{obj.reference} · {obj.klass} · {obj.title}"


class MergeForm(forms.Form):
    into = IncidentChoiceField(
        label=_("Regrouper dans l'incident"),
        queryset=Incident.objects.filter(status__in=states.OFF_SUPPLY).order_by(
            "klass", "reference"
        ),
        to_field_name="reference",
    )

    def __init__(self, *args, targets=None, **kwargs):
        super().__init__(*args, **kwargs)
        if targets is not None:
            self.fields["into"].choices = [("", "—")] + [
                (i.reference, self.fields["into"].label_from_instance(i)) for i in targets
            ]


class LinkTicketForm(forms.Form):
    reference = forms.CharField(label=_("Référence de la demande client"), max_length=30)


class RestoreForm(forms.Form):
    message = forms.CharField(
        label=_("Message de rétablissement (facultatif)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Motif de l'annulation"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )


class CloseForm(forms.Form):
    pass


class StreetlightForm(forms.Form):
    note = forms.CharField(label=_("Note (facultative)"), max_length=500, required=False)


class CallDoneForm(forms.Form):
    outcome = forms.CharField(label=_("Résultat de l'appel"), max_length=200)
