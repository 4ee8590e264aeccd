"""Forms of billing disputes: the customer's dispute form, and the console's one form per
move (acknowledge, investigate, escalate, uphold, reject) and settlement proposal."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.identifiers import IdentifierError, normalise
from billing.models import EntryKind
from billing.selectors import disputes as selectors


class DisputeForm(forms.Form):
    account_number = forms.CharField(label=_("Numéro de compte"), max_length=20)
    meter_point = forms.CharField(
        label=_("Identifiant du point de livraison (PRM, MPAN ou EIC)"), max_length=40
    )
    invoice_number = forms.CharField(label=_("Numéro de la facture contestée"), max_length=20)
    problem_date = forms.DateField(
        label=_("Date du problème"), widget=forms.DateInput(attrs={"type": "date"})
    )
    description = forms.CharField(
        label=_("Ce qui ne va pas"), widget=forms.Textarea(attrs={"rows": 6}), max_length=5000
    )
    claimed_amount = forms.DecimalField(
        label=_("Montant contesté en euros (facultatif)"),
        required=False,
        min_value=Decimal("0.01"),
        max_digits=10,
        decimal_places=2,
    )
    evidence = forms.FileField(
        label=_("Justificatif (photo ou PDF, 10 Mo maximum, facultatif)"), required=False
    )

    def __init__(
        self, *args, account, supply_points, today: date, window_days: int, max_bytes: int, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.account = account
        self.supply_points = list(supply_points)
        self.today = today
        self.window_days = window_days
        self.max_bytes = max_bytes
        self.fields["evidence"].widget.attrs["accept"] = "application/pdf,image/jpeg,image/png"
        self.fields["problem_date"].widget.attrs["max"] = today.isoformat()

    def clean_account_number(self) -> str:
        value = "".join(self.cleaned_data["account_number"].split())
        if value != self.account.number:
            raise forms.ValidationError(
                _("Ce n'est pas le numéro du compte sur lequel vous êtes connecté.")
            )
        return value

    def clean_meter_point(self):
        typed = self.cleaned_data["meter_point"]
        for point in self.supply_points:
            try:
                if normalise(point.market, typed) == point.identifier:
                    return point
            except IdentifierError:
                continue
        raise forms.ValidationError(_("Ce point de livraison n'est pas rattaché à votre compte."))

    def clean_problem_date(self) -> date:
        value = self.cleaned_data["problem_date"]
        if value > self.today:
            raise forms.ValidationError(_("La date du problème ne peut pas être dans le futur."))
        return value

    def clean_evidence(self):
        from accounts.domain import sniff_file_type

        upload = self.cleaned_data.get("evidence")
        if not upload:
            return None
        if upload.size > self.max_bytes:
            raise forms.ValidationError(
                _("Le fichier dépasse %(mb)s Mo.") % {"mb": self.max_bytes // (1024 * 1024)}
            )
        head = upload.read(16)
        upload.seek(0)
        # The content decides, not the name: a renamed executable is still refused.
        if sniff_file_type(head) is None:
            raise forms.ValidationError(_("Seuls les fichiers PDF, JPEG et PNG sont acceptés."))
        return upload

    def clean(self):
        data = super().clean()
        number = data.get("invoice_number")
        if not number:
            return data
        invoice = selectors.disputable_invoice(account_id=self.account.pk, number=number)
        if invoice is None:
            self.add_error("invoice_number", _("Aucune facture de ce numéro sur votre compte."))
            return data
        point = data.get("meter_point")
        if point is not None and invoice.supply_point_id != point.pk:
            self.add_error(
                "invoice_number", _("Cette facture concerne un autre point de livraison.")
            )
        elif invoice.issue_date < self.today - timedelta(days=self.window_days):
            self.add_error(
                "invoice_number",
                _(
                    "Une facture se conteste dans les %(days)s jours suivant sa date "
                    "(celle-ci date du %(date)s)."
                )
                % {"days": self.window_days, "date": invoice.issue_date.strftime("%d/%m/%Y")},
            )
        elif selectors.open_dispute_exists(invoice_id=invoice.pk):
            self.add_error(
                "invoice_number", _("Une contestation de cette facture est déjà en cours.")
            )
        data["invoice"] = invoice
        return data


class NoteForm(forms.Form):
    note = forms.CharField(
        label=_("Note (facultative)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Motif"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


SETTLEMENT_CHOICES = [
    (EntryKind.CREDIT, _("Avoir sur le compte")),
    (EntryKind.REFUND, _("Remboursement")),
]


class SettlementForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Montant en euros (TTC)"),
        min_value=Decimal("0.01"),
        max_digits=10,
        decimal_places=2,
    )
    kind = forms.ChoiceField(label=_("Règlement"), choices=SETTLEMENT_CHOICES)
    note = forms.CharField(
        label=_("Note (facultative)"),
        required=False,
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
