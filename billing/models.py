"""Billing data: tariffs and their versions, the tariff each supply point is on, invoices
and their lines, the ledger (the balance is its sum, never stored), payment plans,
extensions, energy-assistance credits, and billing disputes (each one a BILLING ticket).
The rules live in `billing.domain`; reads in `selectors`, writes in `services`."""

from datetime import timedelta

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateRangeField, RangeOperators
from django.db import models
from django.db.models import F, Func, Q
from django.utils.translation import gettext_lazy as _


class TariffKind(models.TextChoices):
    BASE = "BASE", _("Base")
    HPHC = "HPHC", _("Heures pleines / heures creuses")
    BUSINESS = "BUSINESS", _("Professionnel")


class Tariff(models.Model):
    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(_("nom"), max_length=100)
    kind = models.CharField(max_length=8, choices=TariffKind.choices)
    description = models.CharField(max_length=255, blank=True)
    for_business = models.BooleanField(default=False)
    # Off-peak hours (local time) for HP/HC tariffs, e.g. [["22:00", "06:00"]].
    offpeak_hours = models.JSONField(default=list, blank=True)
    available = models.BooleanField(_("proposé à la souscription"), default=True)

    def __str__(self) -> str:
        return self.name


class DateRange(Func):
    function = "daterange"
    output_field = DateRangeField()


class TariffVersion(models.Model):
    """Prices excluding VAT, valid from `valid_from` to `valid_to` (exclusive; open if
    empty). Versions of one tariff never overlap (exclusion constraint)."""

    tariff = models.ForeignKey(Tariff, on_delete=models.PROTECT, related_name="versions")
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    standing_per_day = models.DecimalField(max_digits=8, decimal_places=5)
    rate_base = models.DecimalField(max_digits=8, decimal_places=5, null=True, blank=True)
    rate_hp = models.DecimalField(max_digits=8, decimal_places=5, null=True, blank=True)
    rate_hc = models.DecimalField(max_digits=8, decimal_places=5, null=True, blank=True)
    excise_per_kwh = models.DecimalField(max_digits=8, decimal_places=5)
    vat_standing = models.DecimalField(max_digits=5, decimal_places=4)
    vat_energy = models.DecimalField(max_digits=5, decimal_places=4)

    class Meta:
        ordering = ["tariff", "valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=F("valid_from")),
                name="tariff_version_range",
            ),
            ExclusionConstraint(
                name="tariff_versions_do_not_overlap",
                expressions=[
                    ("tariff", RangeOperators.EQUAL),
                    (DateRange("valid_from", "valid_to"), RangeOperators.OVERLAPS),
                ],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tariff} {self.valid_from}"


class TariffSubscription(models.Model):
    """Which tariff a supply point is on, from `start` to `end` (exclusive)."""

    supply_point = models.ForeignKey(
        "accounts.SupplyPoint", on_delete=models.CASCADE, related_name="tariff_subscriptions"
    )
    tariff = models.ForeignKey(Tariff, on_delete=models.PROTECT, related_name="+")
    start = models.DateField()
    end = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["supply_point", "start"]
        constraints = [
            ExclusionConstraint(
                name="tariff_subscriptions_do_not_overlap",
                expressions=[
                    ("supply_point", RangeOperators.EQUAL),
                    (DateRange("start", "end"), RangeOperators.OVERLAPS),
                ],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.supply_point_id} {self.tariff} {self.start}"


class InvoiceSequence(models.Model):
    """The last number used in a year, locked while an invoice is numbered (gapless)."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class InvoiceKind(models.TextChoices):
    INVOICE = "INVOICE", _("Facture")
    CREDIT_NOTE = "CREDIT_NOTE", _("Avoir")


class InvoiceStatus(models.TextChoices):
    DRAFT = "DRAFT", _("Brouillon")
    ISSUED = "ISSUED", _("Émise")
    CANCELLED = "CANCELLED", _("Annulée")


class Invoice(models.Model):
    kind = models.CharField(max_length=12, choices=InvoiceKind.choices, default="INVOICE")
    number = models.CharField(max_length=20, unique=True, null=True, blank=True)
    status = models.CharField(max_length=10, choices=InvoiceStatus.choices, default="DRAFT")
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    supply_point = models.ForeignKey(
        "accounts.SupplyPoint", on_delete=models.PROTECT, related_name="+"
    )
    period_start = models.DateField()
    period_end = models.DateField()  # exclusive
    issue_date = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True, db_index=True)
    estimated = models.BooleanField(default=False)
    tariff_name = models.CharField(max_length=200)
    consumption_kwh = models.DecimalField(max_digits=12, decimal_places=3, default=0)
    last_year_kwh = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    written_off_kwh = models.DecimalField(max_digits=12, decimal_places=3, default=0)
    total_net = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    total_vat = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    total_gross = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    credited_invoice = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="credit_notes"
    )
    needs_rebill = models.BooleanField(default=False)
    rebill_reason = models.CharField(max_length=200, blank=True)
    pdf = models.FileField(upload_to="private/invoices/%Y/", blank=True)
    pdf_built_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-issue_date", "-id"]
        indexes = [
            models.Index(fields=["account", "-issue_date"], name="invoice_account_date"),
            models.Index(fields=["supply_point", "period_start"], name="invoice_point_period"),
            models.Index(
                fields=["supply_point"], name="invoice_rebill", condition=Q(needs_rebill=True)
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"brouillon {self.pk}"

    @property
    def period_last_day(self):
        """The period is stored half-open; people read the last day included."""
        return self.period_end - timedelta(days=1)


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=12)
    label = models.CharField(max_length=120)
    quantity = models.DecimalField(max_digits=12, decimal_places=3)
    unit = models.CharField(max_length=8)
    unit_price = models.DecimalField(max_digits=10, decimal_places=5)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    vat_rate = models.DecimalField(max_digits=5, decimal_places=4)
    start = models.DateField()
    end = models.DateField()

    class Meta:
        ordering = ["invoice", "position"]

    def __str__(self) -> str:
        return f"{self.invoice_id}/{self.position} {self.label}"

    @property
    def unit_display(self) -> str:
        # Days are counted, kWh are not: "30 jours" but "462 kWh".
        if self.unit == "jour" and self.quantity != 1:
            return "jours"
        return self.unit


class InvoiceEvent(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.from_status} → {self.to_status}"


class BillingRun(models.Model):
    """A batch: every supply point due for a bill of the period, issued and rendered by
    the workers. Counters are updated by the per-invoice tasks."""

    period_start = models.DateField()
    period_end = models.DateField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    planned = models.PositiveIntegerField(default=0)
    issued = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.period_start}–{self.period_end} ({self.issued}/{self.planned})"


# --- The ledger -------------------------------------------------------------------------


class EntryKind(models.TextChoices):
    CHARGE = "CHARGE", _("Facture")
    PAYMENT = "PAYMENT", _("Paiement")
    CREDIT = "CREDIT", _("Avoir")
    REFUND = "REFUND", _("Remboursement")
    DEPOSIT = "DEPOSIT", _("Dépôt de garantie")
    RECONNECTION_FEE = "RECONNECTION", _("Frais de remise en service")
    ASSISTANCE_CREDIT = "ASSISTANCE", _("Aide à l'énergie")
    COMPENSATION = "COMPENSATION", _("Indemnisation")
    DIAGNOSTIC_FEE = "DIAGNOSTIC", _("Frais de diagnostic")


class LedgerEntry(models.Model):
    """One movement, never changed or deleted. `amount` is signed from the customer's
    side: positive is owed (a charge), negative is paid or credited. The balance is the
    sum of an account's entries."""

    txn_id = models.CharField(max_length=24, unique=True)
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=12, choices=EntryKind.choices)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    at = models.DateTimeField()
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="entries"
    )
    description = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What the entry settles (e.g. "dispute:12", "credit-request:7", "plan-instalment:3"):
    # unique, so the same thing can never be booked twice whoever tries.
    source = models.CharField(max_length=60, unique=True, null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["account", "at"], name="ledger_account_at")]
        verbose_name_plural = "ledger entries"

    def __str__(self) -> str:
        return f"{self.txn_id} {self.kind} {self.amount}"


class PlanStatus(models.TextChoices):
    ACTIVE = "ACTIVE", _("En cours")
    COMPLETED = "COMPLETED", _("Soldé")
    BROKEN = "BROKEN", _("Interrompu")
    CANCELLED = "CANCELLED", _("Annulé")


class PaymentPlan(models.Model):
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    total = models.DecimalField(max_digits=12, decimal_places=2)
    count = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=PlanStatus.choices, default="ACTIVE")
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account"], condition=Q(status="ACTIVE"), name="one_active_plan"
            ),
            models.CheckConstraint(condition=Q(count__gte=3, count__lte=12), name="plan_count"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.count} × {self.status}"


class PlanInstalment(models.Model):
    plan = models.ForeignKey(PaymentPlan, on_delete=models.CASCADE, related_name="instalments")
    position = models.PositiveSmallIntegerField()
    due_on = models.DateField()
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    paid_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    missed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["plan", "position"]
        indexes = [
            # The beat sweep reads only instalments still to be paid, by due day.
            models.Index(fields=["due_on"], name="instalment_due", condition=Q(paid_at=None))
        ]

    def __str__(self) -> str:
        return f"{self.plan_id}/{self.position} {self.due_on} {self.amount}"


class PaymentExtension(models.Model):
    invoice = models.OneToOneField(Invoice, on_delete=models.PROTECT, related_name="extension")
    original_due = models.DateField()
    new_due = models.DateField()
    requested_at = models.DateTimeField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.original_due} → {self.new_due}"


class ApprovalStatus(models.TextChoices):
    PENDING = "PENDING", _("À approuver")
    APPROVED = "APPROVED", _("Approuvé")
    REJECTED = "REJECTED", _("Refusé")


class AssistanceCredit(models.Model):
    """An energy-assistance credit, entered by an agent, booked once a supervisor
    approves it (at most `assistance_season_cap` € per account and season)."""

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    season = models.CharField(max_length=9)  # "2026-2027"
    amount = models.DecimalField(max_digits=8, decimal_places=2)
    scheme = models.CharField(max_length=80)
    status = models.CharField(max_length=8, choices=ApprovalStatus.choices, default="PENDING")
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    entered_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    entry = models.OneToOneField(
        LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.account_id} {self.season} {self.amount} {self.status}"


# --- Disputes -----------------------------------------------------------------------------


class DisputeStatus(models.TextChoices):
    SUBMITTED = "SUBMITTED", _("Déposée")
    ACKNOWLEDGED = "ACKNOWLEDGED", _("Prise en compte")
    INVESTIGATING = "INVESTIGATING", _("En cours d'examen")
    ESCALATED = "ESCALATED", _("Transmise à un superviseur")
    UPHELD = "UPHELD", _("Fondée")
    CREDITED = "CREDITED", _("Avoir émis")
    REFUNDED = "REFUNDED", _("Remboursée")
    REJECTED = "REJECTED", _("Non fondée")


class Dispute(models.Model):
    """A billing dispute. Its ticket (BILLING queue, category BILL_DISPUTE) carries the
    conversation and the SLA clocks; billing points at the ticket, never the reverse."""

    ticket = models.OneToOneField(
        "tickets.Ticket", on_delete=models.PROTECT, related_name="billing_dispute"
    )
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    supply_point = models.ForeignKey(
        "accounts.SupplyPoint", on_delete=models.PROTECT, related_name="+"
    )
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="disputes")
    problem_date = models.DateField()
    description = models.TextField()
    evidence = models.FileField(upload_to="private/disputes/%Y/", blank=True)
    evidence_type = models.CharField(max_length=40, blank=True)
    status = models.CharField(
        max_length=14, choices=DisputeStatus.choices, default=DisputeStatus.SUBMITTED
    )
    claimed_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    resolution_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    rejection_reason = models.TextField(blank=True)
    letter = models.FileField(upload_to="private/disputes/letters/%Y/", blank=True)
    credit_note = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["account"],
                name="dispute_open",
                condition=Q(
                    status__in=["SUBMITTED", "ACKNOWLEDGED", "INVESTIGATING", "ESCALATED", "UPHELD"]
                ),
            )
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.status}"


class DisputeEvent(models.Model):
    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_status = models.CharField(max_length=14, blank=True)
    to_status = models.CharField(max_length=14)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.dispute_id} {self.from_status} → {self.to_status}"


class CreditRequest(models.Model):
    """A credit or refund to book. Above `credit_approval_threshold` € it waits for a
    supervisor; its ledger entry's unique `source` makes booking it twice impossible."""

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    dispute = models.ForeignKey(
        Dispute, null=True, blank=True, on_delete=models.PROTECT, related_name="credit_requests"
    )
    kind = models.CharField(max_length=12, choices=EntryKind.choices)  # CREDIT or REFUND
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    reason = models.CharField(max_length=200)
    status = models.CharField(max_length=8, choices=ApprovalStatus.choices, default="PENDING")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    entry = models.OneToOneField(
        LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.status}"
