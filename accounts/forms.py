from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


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
