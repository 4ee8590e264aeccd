from __future__ import annotations

from datetime import date

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import RegisterCode
from .services import readings

REGISTER_LABELS = {
    RegisterCode.BASE: gettext_lazy("Index Base (kWh)"),
    RegisterCode.HP: gettext_lazy("Index Heures pleines (kWh)"),
    RegisterCode.HC: gettext_lazy("Index Heures creuses (kWh)"),
}


def reason_text(problem: readings.Problem) -> str:
    """Why a value was refused or needs confirming, for the customer."""
    texts = {
        "future": _("La date du relevé ne peut pas être dans le futur."),
        "duplicate": _("Ce relevé a déjà été transmis."),
        "out_of_range": _("Votre compteur affiche au plus %(digits)s chiffres.")
        % {"digits": problem.digits},
        "before_previous": _(
            "Un relevé plus récent existe déjà (%(previous)s kWh) : vérifiez la date."
        )
        % {"previous": problem.previous},
        "lower_than_previous": _("Cet index est inférieur au dernier relevé (%(previous)s kWh).")
        % {"previous": problem.previous},
        "spike": _("Cela ferait une consommation de %(consumption)s kWh, bien plus que d'habitude.")
        % {"consumption": problem.consumption},
    }
    return texts.get(problem.reason, _("Cet index paraît inhabituel."))


def photo_error_text(code: str) -> str:
    if code.startswith("too_large"):
        return _("La photo dépasse %(mb)s Mo.") % {"mb": code.partition(":")[2] or "10"}
    return _("Le fichier n'est pas une photo JPEG ou PNG lisible.")


class ReadingForm(forms.Form):
    read_on = forms.DateField(
        label=gettext_lazy("Date du relevé"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    photo = forms.FileField(
        label=gettext_lazy("Photo du compteur"),
        required=False,
        help_text=gettext_lazy("JPEG ou PNG, 10 Mo au plus. Sa position GPS est effacée."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png"}),
    )
    confirm = forms.BooleanField(
        label=gettext_lazy("Je confirme ces index : ils correspondent à la photo jointe."),
        required=False,
    )

    def __init__(self, *args, registers: list[str], today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.registers = registers
        self.fields["read_on"].initial = today
        fields = {}
        for code in registers:
            fields[f"index_{code}"] = forms.IntegerField(
                label=REGISTER_LABELS[code],
                min_value=0,
                widget=forms.NumberInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
            )
        # Register values first, then the date, the photo and the confirmation.
        self.fields = {**fields, **self.fields}

    def clean_photo(self):
        photo = self.cleaned_data.get("photo")
        if photo:
            try:
                readings.photo_clean(photo)
            except readings.PhotoRejected as exc:
                raise forms.ValidationError(photo_error_text(str(exc))) from None
        return photo

    def clean(self):
        data = super().clean()
        if data.get("confirm") and not data.get("photo"):
            self.add_error("photo", _("Joignez une photo du compteur pour confirmer ces index."))
        return data

    def values(self) -> dict[str, int]:
        return {code: self.cleaned_data[f"index_{code}"] for code in self.registers}

    def add_problems(self, problems: list[readings.Problem], *, confirmable: bool) -> None:
        for problem in problems:
            field = "read_on" if problem.reason in ("future", "before_previous") else None
            field = field or f"index_{problem.register}"
            message = reason_text(problem)
            if confirmable:
                message += " " + _(
                    "Si l'index est juste, cochez la confirmation et joignez une photo du compteur."
                )
            self.add_error(field, message)
