from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from .models import ApiTier, DependencyLevel, DocumentKind, MemberRole, NotifyChannel


class EmailLoginForm(AuthenticationForm):
    username = forms.EmailField(
        label=_("Adresse e-mail"),
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Mot de passe"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()

    error_messages = {
        "invalid_login": _("Adresse e-mail ou mot de passe incorrect."),
        "inactive": _("Ce compte est désactivé."),
    }


class OtpTokenForm(forms.Form):
    token = forms.CharField(
        label=_("Code à usage unique"),
        help_text=_("Le code à 6 chiffres de votre application, ou un code de secours."),
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def clean_token(self) -> str:
        return self.cleaned_data["token"].strip().replace(" ", "")


class ContactPreferencesForm(forms.Form):
    language = forms.ChoiceField(
        label=_("Langue des courriers"), choices=[("fr", "Français"), ("en", "English")]
    )
    billing_address = forms.CharField(
        label=_("Adresse de facturation"), widget=forms.Textarea(attrs={"rows": 3}), max_length=500
    )
    notify_billing = forms.ChoiceField(label=_("Factures"), choices=NotifyChannel.choices)
    notify_outages = forms.ChoiceField(label=_("Pannes et travaux"), choices=NotifyChannel.choices)
    notify_tickets = forms.ChoiceField(
        label=_("Suivi de vos demandes"), choices=NotifyChannel.choices
    )
    marketing_opt_in = forms.BooleanField(
        label=_("J'accepte les offres commerciales"), required=False
    )


class EmailChangeForm(forms.Form):
    email = forms.EmailField(label=_("Nouvelle adresse e-mail"))


class PhoneChangeForm(forms.Form):
    phone = forms.CharField(
        label=_("Téléphone"),
        max_length=32,
        help_text=_("Au format international, par exemple +33 6 12 34 56 78."),
    )

    def clean_phone(self) -> str:
        phone = self.cleaned_data["phone"].strip()
        digits = phone.replace(" ", "").replace(".", "")
        if not digits.lstrip("+").isdigit() or not 9 <= len(digits.lstrip("+")) <= 15:
            raise forms.ValidationError(_("Saisissez un numéro de téléphone valide."))
        return phone


class BankDetailsForm(forms.Form):
    holder_name = forms.CharField(label=_("Titulaire du compte bancaire"), max_length=120)
    iban = forms.CharField(
        label=_("IBAN"), max_length=42, help_text=_("Exemple : FR76 3000 6000 0112 3456 7890 189")
    )

    def clean_iban(self) -> str:
        from stdnum import iban
        from stdnum.exceptions import ValidationError as StdnumError

        try:
            return iban.validate(self.cleaned_data["iban"])
        except StdnumError:
            raise forms.ValidationError(
                _("Cet IBAN n'est pas valide : vérifiez sa longueur et sa clé.")
            ) from None


class PriorityRegistrationForm(forms.Form):
    medical_equipment = forms.BooleanField(
        label=_("Un équipement médical fonctionne à l'électricité"), required=False
    )
    dependency_level = forms.ChoiceField(
        label=_("Niveau de dépendance"), choices=DependencyLevel.choices
    )
    backup_autonomy_hours = forms.IntegerField(
        label=_("Autonomie de secours (heures)"), required=False, min_value=0, max_value=240
    )
    age_over_75 = forms.BooleanField(label=_("Plus de 75 ans"), required=False)
    disability = forms.BooleanField(label=_("Situation de handicap"), required=False)
    hearing_impairment = forms.BooleanField(label=_("Déficience auditive"), required=False)
    sight_impairment = forms.BooleanField(label=_("Déficience visuelle"), required=False)
    carer_name = forms.CharField(label=_("Nom de l'aidant"), required=False, max_length=120)
    carer_phone = forms.CharField(label=_("Téléphone de l'aidant"), required=False, max_length=32)
    carer_email = forms.EmailField(label=_("E-mail de l'aidant"), required=False)
    consent_field_sharing = forms.BooleanField(
        label=_("J'accepte que ces informations soient partagées avec les équipes d'intervention"),
        required=False,
    )
    review_date = forms.DateField(
        label=_("À revoir le"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        data = super().clean()
        if data.get("medical_equipment") and data.get("dependency_level") == DependencyLevel.NONE:
            self.add_error(
                "dependency_level", _("Indiquez le niveau de dépendance à l'équipement.")
            )
        if data.get("medical_equipment") and data.get("backup_autonomy_hours") is None:
            self.add_error(
                "backup_autonomy_hours", _("Indiquez l'autonomie de la batterie de secours.")
            )
        return data


class ConsoleConsentForm(forms.Form):
    customer_consent = forms.BooleanField(
        label=_("Le client a donné son accord pour cet enregistrement"), required=True
    )


class MemberAddForm(forms.Form):
    email = forms.EmailField(label=_("E-mail de l'utilisateur"))
    role = forms.ChoiceField(
        label=_("Rôle"),
        choices=[(r.value, r.label) for r in MemberRole if r != MemberRole.HOLDER],
    )


class ApiClientForm(forms.Form):
    name = forms.CharField(label=_("Nom de l'application"), max_length=100)
    scopes = forms.MultipleChoiceField(
        label=_("Autorisations"), widget=forms.CheckboxSelectMultiple, choices=[]
    )
    tier = forms.ChoiceField(label=_("Offre"), choices=ApiTier.choices)

    def __init__(self, *args, **kwargs):
        from django.conf import settings

        super().__init__(*args, **kwargs)
        # Business scopes only: STAFF_API_SCOPES (kpi:read) are never a customer's to pick.
        self.fields["scopes"].choices = [(k, f"{k} — {v}") for k, v in settings.API_SCOPES.items()]


MAX_DOCUMENT_BYTES = 10 * 1024 * 1024


class DocumentUploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("Type de document"), choices=DocumentKind.choices)
    file = forms.FileField(label=_("Fichier (PDF, JPEG ou PNG, 10 Mo maximum)"))


class SearchForm(forms.Form):
    q = forms.CharField(
        label=_("Rechercher un client"),
        min_length=2,
        max_length=100,
        help_text=_("Nom, n° de compte, PRM ou MPAN, e-mail, téléphone ou code postal"),
    )
