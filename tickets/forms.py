from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .models import CannedResponse, Status

CUSTOMER_CATEGORIES = [
    ("BILL_QUERY", _("Question sur une facture")),
    ("BILL_DISPUTE", _("Contester une facture")),
    ("PAYMENT", _("Paiement, échéancier")),
    ("METER_READING", _("Relevé de compteur")),
    ("METER_FAULT", _("Compteur en panne")),
    ("MOVE", _("Déménagement")),
    ("TARIFF", _("Offre et tarif")),
    ("COMPLAINT", _("Réclamation")),
    ("OTHER", _("Autre demande")),
]
STAFF_CATEGORIES = [
    *CUSTOMER_CATEGORIES,
    ("OUTAGE", _("Panne")),
    ("SAFETY", pgettext_lazy("safety", "Sécurité")),
    ("STREETLIGHT", _("Éclairage public")),
    ("CONTRACT", _("Contrat professionnel")),
]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


class TicketCreateForm(forms.Form):
    category = forms.ChoiceField(label=_("Votre demande concerne"), choices=CUSTOMER_CATEGORIES)
    subject = forms.CharField(label=_("Objet"), max_length=200)
    supply_point = forms.ChoiceField(label=_("Point de livraison"), required=False)
    invoice_number = forms.CharField(
        label=_("Numéro de la dernière facture"), required=False, max_length=30
    )
    problem_date = forms.DateField(
        label=_("Date du problème"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    reading_value = forms.IntegerField(label=_("Index relevé (kWh)"), required=False, min_value=0)
    body = forms.CharField(
        label=_("Votre message"), widget=forms.Textarea(attrs={"rows": 6}), max_length=5000
    )
    attachments = MultipleFileField(label=_("Pièces jointes (PDF, JPEG, PNG ; 10 Mo maximum)"))

    # A billing enquiry needs these to be answered at first contact.
    REQUIRED_BY_CATEGORY = {
        "BILL_QUERY": ("supply_point", "invoice_number", "problem_date"),
        "BILL_DISPUTE": ("supply_point", "invoice_number", "problem_date"),
        "METER_READING": ("supply_point", "reading_value", "problem_date"),
        "METER_FAULT": ("supply_point", "problem_date"),
    }

    def __init__(self, *args, supply_points=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["supply_point"].choices = [("", "—")] + [
            (str(sp.pk), f"{sp.identifier} — {sp.premise.address}, {sp.premise.city}")
            for sp in supply_points
        ]

    def clean(self):
        data = super().clean()
        for name in self.REQUIRED_BY_CATEGORY.get(data.get("category"), ()):
            if data.get(name) in (None, ""):
                self.add_error(name, _("Ce champ est nécessaire pour ce type de demande."))
        return data


class ReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Votre réponse"), widget=forms.Textarea(attrs={"rows": 4}), max_length=5000
    )
    attachments = MultipleFileField(label=_("Pièces jointes (PDF, JPEG, PNG ; 10 Mo maximum)"))


class AgentReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Message"), widget=forms.Textarea(attrs={"rows": 5}), max_length=10000
    )
    internal = forms.BooleanField(label=_("Note interne (invisible du client)"), required=False)
    canned = forms.ModelChoiceField(
        label=_("Réponse type"), queryset=CannedResponse.objects.order_by("title"), required=False
    )
    then_status = forms.ChoiceField(
        label=_("Puis passer la demande en"),
        required=False,
        choices=[
            ("", _("— inchangé —")),
            (Status.WAITING_CUSTOMER, Status.WAITING_CUSTOMER.label),
            (Status.WAITING_THIRD_PARTY, Status.WAITING_THIRD_PARTY.label),
            (Status.RESOLVED, Status.RESOLVED.label),
        ],
    )
    attachments = MultipleFileField(label=_("Pièces jointes"))


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Statut"), choices=Status.choices)


class ReferenceForm(forms.Form):
    reference = forms.RegexField(
        label=_("Référence"),
        regex=r"^PN-\d{4}-\d{6}$",
        error_messages={"invalid": _("Format attendu : PN-2026-000123.")},
    )


class PhoneCallForm(forms.Form):
    account_number = forms.CharField(label=_("N° de compte client"), required=False, max_length=10)
    category = forms.ChoiceField(label=_("Motif"), choices=STAFF_CATEGORIES)
    subject = forms.CharField(label=_("Objet"), max_length=200)
    notes = forms.CharField(label=_("Notes d'appel"), widget=forms.Textarea(attrs={"rows": 4}))
    talk_seconds = forms.IntegerField(label=_("Conversation (s)"), min_value=0, max_value=36000)
    hold_seconds = forms.IntegerField(
        label=_("Mise en attente (s)"), min_value=0, max_value=36000, initial=0
    )
    wrap_seconds = forms.IntegerField(
        label=_("Post-appel (s)"), min_value=0, max_value=36000, initial=0
    )
    resolved = forms.BooleanField(label=_("Résolu pendant l'appel"), required=False)


class SurveyForm(forms.Form):
    csat = forms.TypedChoiceField(
        label=_("Êtes-vous satisfait de la réponse apportée ? (1 = pas du tout, 5 = tout à fait)"),
        choices=[(i, str(i)) for i in range(1, 6)],
        coerce=int,
        widget=forms.RadioSelect,
    )
    nps = forms.TypedChoiceField(
        label=_(
            "Recommanderiez-vous Power Next à un proche ? (0 = pas du tout, 10 = certainement)"
        ),
        choices=[(i, str(i)) for i in range(11)],
        coerce=int,
        widget=forms.RadioSelect,
        required=False,
        empty_value=None,
    )
    comment = forms.CharField(
        label=_("Un commentaire ?"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
    )


class ReferralForm(forms.Form):
    reference = forms.CharField(label=_("Référence du médiateur"), max_length=60)
    decision = forms.CharField(label=_("Décision"), widget=forms.Textarea(attrs={"rows": 3}))
    remedy_amount = forms.DecimalField(
        label=_("Montant accordé (€)"), required=False, min_value=0, max_digits=9, decimal_places=2
    )
