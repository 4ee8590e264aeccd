"""Incidents, customer reports, crews and their dispatches, restoration estimates,
notifications, interruption records, compensation and post-incident reviews.

Thin data: the rules live in domain/ and services/. An incident's SLA clocks run on
its command ticket in the tickets app; the incident points at the ticket, never the
reverse (see docs/outages.md).
"""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _


class IncidentClass(models.TextChoices):
    P1 = "P1", _("P1 – plusieurs foyers privés de courant")
    P2 = "P2", _("P2 – incident significatif")
    P3 = "P3", _("P3 – un seul client ou information")


class IncidentStatus(models.TextChoices):
    PLANNED = "PLANNED", _("Travaux programmés")
    SUSPECTED = "SUSPECTED", _("Signalée, en cours d'analyse")
    CONFIRMED = "CONFIRMED", _("Panne confirmée")
    RESTORED = "RESTORED", _("Courant rétabli")
    CLOSED = "CLOSED", _("Clôturée")
    CANCELLED = "CANCELLED", _("Annulée")


class Cause(models.TextChoices):
    UNKNOWN = "UNKNOWN", _("En cours de diagnostic")
    WEATHER = "WEATHER", _("Intempéries")
    EQUIPMENT = "EQUIPMENT", _("Défaillance de matériel")
    VEGETATION = "VEGETATION", _("Chute d'arbre ou de branches")
    THIRD_PARTY = "THIRD_PARTY", _("Dégât causé par un tiers")
    OVERLOAD = "OVERLOAD", _("Surcharge du réseau")
    PLANNED_WORK = "PLANNED_WORK", _("Travaux programmés")
    CUSTOMER_INSTALLATION = "CUSTOMER_INSTALLATION", _("Installation intérieure du client")


class ServiceArea(models.Model):
    """A part of the network shown on the map; its shape ships in outages/data."""

    code = models.CharField(max_length=30, unique=True)
    name = models.CharField(max_length=100)
    postcodes = ArrayField(models.CharField(max_length=10))
    area_class = models.CharField(max_length=5)  # accounts.AreaClass
    ring = models.JSONField()  # [[lon, lat], ...] closed ring

    def __str__(self) -> str:
        return self.name


class IncidentSequence(models.Model):
    """Per-year counters behind INC-, SIG- references; gapless under concurrency."""

    prefix = models.CharField(max_length=4)
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["prefix", "year"], name="uniq_outage_sequence")
        ]

    def __str__(self) -> str:
        return f"{self.prefix}{self.year}: {self.last}"


class Incident(models.Model):
    reference = models.CharField(max_length=20, unique=True)
    title = models.CharField(max_length=200)
    klass = models.CharField(max_length=2, choices=IncidentClass.choices)
    proposed_klass = models.CharField(max_length=2, choices=IncidentClass.choices)
    class_override_reason = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10, choices=IncidentStatus.choices)
    planned = models.BooleanField(default=False)
    cause = models.CharField(max_length=24, choices=Cause.choices, default=Cause.UNKNOWN)
    postcodes = ArrayField(models.CharField(max_length=10), default=list)
    feeder = models.CharField(max_length=40, blank=True)
    area_class = models.CharField(max_length=5)  # the worst served: URBAN targets are tighter
    areas = models.ManyToManyField(ServiceArea, related_name="incidents", blank=True)
    # A single-customer incident (a suspect P3 from one report) covers one premise.
    premise = models.ForeignKey(
        "accounts.Premise", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    customers_affected = models.PositiveIntegerField(default=0)
    priority_customers = models.PositiveIntegerField(default=0)
    safety_critical = models.BooleanField(default=False)
    public_message = models.TextField(blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    planned_start = models.DateTimeField(null=True, blank=True)
    planned_end = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    first_notice_at = models.DateTimeField(null=True, blank=True)
    last_update_at = models.DateTimeField(null=True, blank=True)
    next_update_due_at = models.DateTimeField(null=True, blank=True)
    etr = models.DateTimeField(null=True, blank=True)
    etr_source = models.CharField(max_length=8, blank=True)
    etr_confidence = models.CharField(max_length=6, blank=True)
    ticket = models.OneToOneField(
        "tickets.Ticket", null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["status"],
                name="incident_live",
                condition=models.Q(status__in=["PLANNED", "SUSPECTED", "CONFIRMED"]),
            ),
            models.Index(fields=["ended_at"], name="incident_ended"),
        ]

    def __str__(self) -> str:
        return self.reference


class IncidentEvent(models.Model):
    """Every change of an incident or of one of its dispatches: who, when, from, to."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=24)
    actor = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()
    from_value = models.CharField(max_length=40, blank=True)
    to_value = models.CharField(max_length=40, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["incident", "at"])]

    def __str__(self) -> str:
        return f"{self.incident_id} {self.kind} {self.from_value}→{self.to_value}"


class PublicUpdate(models.Model):
    """A message published about an incident; `seq` 1 is the first public notice."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="updates")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=10)  # NOTICE | UPDATE | RESTORED | PLANNED
    at = models.DateTimeField()
    fanned_out_at = models.DateTimeField(null=True, blank=True)
    message = models.TextField()
    etr = models.DateTimeField(null=True, blank=True)
    author = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "seq"], name="uniq_public_update_seq")
        ]
        indexes = [
            models.Index(
                fields=["at"], name="update_to_fan_out", condition=models.Q(fanned_out_at=None)
            )
        ]

    def __str__(self) -> str:
        return f"{self.incident_id} #{self.seq}"


class EtrSource(models.TextChoices):
    SYSTEM = "SYSTEM", _("Estimation automatique")
    CREW = "CREW", _("Équipe sur place")
    OPERATOR = "OPERATOR", _("Opérateur")


class Confidence(models.TextChoices):
    LOW = "LOW", _("Faible")
    MEDIUM = "MEDIUM", _("Moyenne")
    HIGH = "HIGH", _("Élevée")


class EtrRevision(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="etrs")
    estimate = models.DateTimeField()
    source = models.CharField(max_length=8, choices=EtrSource.choices)
    confidence = models.CharField(max_length=6, choices=Confidence.choices)
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    basis = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"{self.incident_id} ETR {self.estimate:%H:%M} ({self.source})"


class ReportKind(models.TextChoices):
    OUTAGE = "OUTAGE", _("Coupure de courant")
    STREETLIGHT = "STREETLIGHT", _("Éclairage public en panne")


class ReportStatus(models.TextChoices):
    RECEIVED = "RECEIVED", _("Reçu")
    LINKED = "LINKED", _("Rattaché à un incident")
    SCHEDULED = "SCHEDULED", _("Réparation programmée")
    FIXED = "FIXED", _("Réparé")
    REJECTED = "REJECTED", _("Sans suite")


class OutageReport(models.Model):
    reference = models.CharField(max_length=20, unique=True)
    kind = models.CharField(max_length=12, choices=ReportKind.choices)
    status = models.CharField(max_length=10, choices=ReportStatus.choices)
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    premise = models.ForeignKey(
        "accounts.Premise", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reporter = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    postcode = models.CharField(max_length=10, db_index=True)
    address = models.CharField(max_length=255)
    phone = models.CharField(max_length=32, blank=True)
    description = models.TextField(blank=True)
    hazards = ArrayField(models.CharField(max_length=12), default=list, blank=True)
    safety_critical = models.BooleanField(default=False)
    breakers_checked = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # The safety ticket a hazard opens, so the urgent queue works it like any other.
    ticket = models.ForeignKey(
        "tickets.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return self.reference


class ReportEvent(models.Model):
    report = models.ForeignKey(OutageReport, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=24)
    actor = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()
    from_value = models.CharField(max_length=40, blank=True)
    to_value = models.CharField(max_length=40, blank=True)
    note = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.report_id} {self.kind}"


class IncidentTicket(models.Model):
    """A customer's ticket about an incident, resolved with it in bulk."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="ticket_links")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    linked_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "ticket"], name="uniq_incident_ticket")
        ]

    def __str__(self) -> str:
        return f"{self.incident_id} ↔ {self.ticket_id}"


class Crew(models.Model):
    name = models.CharField(max_length=80, unique=True)
    skills = ArrayField(models.CharField(max_length=30), default=list, blank=True)
    areas = models.ManyToManyField(ServiceArea, related_name="crews", blank=True)
    members = models.ManyToManyField("accounts.User", related_name="crews", blank=True)
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class DispatchStatus(models.TextChoices):
    DISPATCHED = "DISPATCHED", _("Équipe missionnée")
    EN_ROUTE = "EN_ROUTE", _("Équipe en route")
    ON_SITE = "ON_SITE", _("Équipe sur place")
    RESTORED = "RESTORED", _("Courant rétabli")
    CANCELLED = "CANCELLED", _("Mission annulée")


class Dispatch(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="dispatches")
    crew = models.ForeignKey(Crew, on_delete=models.PROTECT, related_name="dispatches")
    status = models.CharField(max_length=10, choices=DispatchStatus.choices)
    dispatched_at = models.DateTimeField()
    on_site_due_at = models.DateTimeField()
    en_route_at = models.DateTimeField(null=True, blank=True)
    on_site_at = models.DateTimeField(null=True, blank=True)
    restored_at = models.DateTimeField(null=True, blank=True)
    dispatched_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            # One live mission per crew and incident; a cancelled one may be redone.
            models.UniqueConstraint(
                fields=["incident", "crew"],
                name="uniq_live_dispatch",
                condition=~models.Q(status__in=["CANCELLED", "RESTORED"]),
            )
        ]

    def __str__(self) -> str:
        return f"{self.crew} → {self.incident_id} {self.status}"


class FieldNote(models.Model):
    dispatch = models.ForeignKey(Dispatch, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()
    text = models.TextField(blank=True)
    photo = models.FileField(upload_to="private/field/", blank=True)

    def __str__(self) -> str:
        return f"note on {self.dispatch_id}"


class DiagnosticCharge(models.Model):
    """A visit that found a fault inside the home: fee plus parts, told beforehand."""

    dispatch = models.ForeignKey(Dispatch, on_delete=models.PROTECT, related_name="charges")
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    fee = models.DecimalField(max_digits=8, decimal_places=2)
    parts = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    customer_told_at = models.DateTimeField()
    charged_at = models.DateTimeField(null=True, blank=True)
    ledger_source = models.CharField(max_length=80, blank=True)
    recorded_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dispatch", "account"], name="uniq_diagnostic_charge")
        ]

    def __str__(self) -> str:
        return f"diagnostic {self.dispatch_id} {self.account_id}"


class Interruption(models.Model):
    """The raw record behind the reliability indices and compensation: one supply
    point off supply for one incident, from `started_at` to `ended_at`."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="interruptions")
    supply_point = models.ForeignKey(
        "accounts.SupplyPoint", on_delete=models.PROTECT, related_name="+"
    )
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    area = models.ForeignKey(
        ServiceArea, null=True, on_delete=models.SET_NULL, related_name="interruptions"
    )
    priority = models.BooleanField(default=False)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "supply_point"], name="uniq_interruption_point"
            )
        ]
        indexes = [models.Index(fields=["area", "started_at"])]

    def __str__(self) -> str:
        return f"{self.incident_id} {self.supply_point_id}"


class Subscription(models.Model):
    """Someone who asked for SMS or e-mail updates about a postcode or a premise."""

    channel = models.CharField(max_length=5)  # EMAIL | SMS
    destination = models.CharField(max_length=200)
    postcode = models.CharField(max_length=10, blank=True, db_index=True)
    premise = models.ForeignKey(
        "accounts.Premise", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField()
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "destination", "postcode"],
                name="uniq_subscription_postcode",
                condition=models.Q(premise__isnull=True),
            ),
            models.UniqueConstraint(
                fields=["channel", "destination", "premise"],
                name="uniq_subscription_premise",
                condition=models.Q(premise__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.postcode or self.premise_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "PENDING", _("À envoyer")
    SENDING = "SENDING", _("En cours d'envoi")
    SENT = "SENT", _("Envoyé")
    FAILED = "FAILED", _("Échec")


class Notification(models.Model):
    """One message to one recipient. The unique key makes a second sweep, or a
    concurrent one, a no-op: a message is queued once and sent at most once."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="notifications")
    update = models.ForeignKey(PublicUpdate, on_delete=models.CASCADE, related_name="+")
    recipient_key = models.CharField(max_length=60)  # acct:<id> | sub:<id>
    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=5)
    destination = models.CharField(max_length=200)
    language = models.CharField(max_length=2, default="fr")
    priority = models.BooleanField(default=False)
    status = models.CharField(
        max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    due_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)
    provider_id = models.CharField(max_length=80, blank=True)

    class Meta:
        constraints = [
            # Keyed by where it goes: a subscriber who is also the account holder
            # gets one message, not two.
            models.UniqueConstraint(
                fields=["update", "channel", "destination"], name="uniq_notification"
            )
        ]
        indexes = [
            models.Index(
                fields=["-priority", "due_at"],
                name="notification_pending",
                condition=models.Q(status="PENDING"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.update_id} → {self.recipient_key} {self.status}"


class CallListEntry(models.Model):
    """A priority-register customer no message reached: an agent phones them."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="call_list")
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=200)
    added_at = models.DateTimeField()
    called_at = models.DateTimeField(null=True, blank=True)
    called_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "account"], name="uniq_call_list_entry")
        ]

    def __str__(self) -> str:
        return f"call {self.account_id} for {self.incident_id}"


class ReviewStatus(models.TextChoices):
    OPEN = "OPEN", _("À rédiger")
    DONE = "DONE", _("Terminée")


class PostIncidentReview(models.Model):
    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="review")
    reason = models.CharField(max_length=200)
    status = models.CharField(max_length=4, choices=ReviewStatus.choices, default="OPEN")
    opened_at = models.DateTimeField()
    due_at = models.DateTimeField(db_index=True)
    timeline = models.TextField(blank=True)
    cause = models.TextField(blank=True)
    actions = models.TextField(blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"review of {self.incident_id}"


class CompensationRule(models.Model):
    """How long outages are compensated, per market; an admin edits the figures."""

    market = models.CharField(max_length=8, unique=True)  # accounts.SupplyMarket
    threshold_minutes = models.PositiveIntegerField()
    slice_minutes = models.PositiveIntegerField()
    amount_per_kva = models.DecimalField(max_digits=6, decimal_places=2)
    max_slices = models.PositiveSmallIntegerField()
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.market}: {self.amount_per_kva}/kVA per {self.slice_minutes} min"


class Compensation(models.Model):
    """What one supply point is owed for one incident, credited once."""

    interruption = models.OneToOneField(
        Interruption, on_delete=models.PROTECT, related_name="compensation"
    )
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    minutes_off = models.PositiveIntegerField()
    slices = models.PositiveSmallIntegerField()
    kva = models.DecimalField(max_digits=6, decimal_places=1)
    amount = models.DecimalField(max_digits=9, decimal_places=2)
    computed_at = models.DateTimeField()
    credited_at = models.DateTimeField(null=True, blank=True)
    ledger_source = models.CharField(max_length=80)

    def __str__(self) -> str:
        return f"{self.amount} for {self.interruption_id}"


class OutageFeedback(models.Model):
    """The short survey the "restored" message invites, one per message."""

    notification = models.OneToOneField(
        Notification, on_delete=models.CASCADE, related_name="feedback"
    )
    csat = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True)
    answered_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"feedback {self.notification_id}: {self.csat}"


class AvailabilityCredit(models.Model):
    """An ENTERPRISE account's month below its availability target: one credit."""

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    month = models.DateField()  # first day of the month
    availability_percent = models.DecimalField(max_digits=7, decimal_places=4)
    target_percent = models.DecimalField(max_digits=5, decimal_places=2)
    amount = models.DecimalField(max_digits=9, decimal_places=2)
    computed_at = models.DateTimeField()
    ledger_source = models.CharField(max_length=80)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "month"], name="uniq_availability_month")
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.month:%Y-%m}"
