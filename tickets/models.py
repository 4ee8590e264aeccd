"""Tickets, their events and messages, SLA policies and running clocks, complaints,
surveys and contact records. Thin data: the rules live in domain/ and services.py."""

from django.db import models
from django.db.models.fields.json import KeyTransform
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    PHONE = "PHONE", _("Téléphone")
    EMAIL = "EMAIL", _("E-mail")
    PORTAL = "PORTAL", _("Espace client")
    CHAT = "CHAT", _("Chat")
    CHATBOT_HANDOFF = "CHATBOT_HANDOFF", _("Relais du chatbot")
    # A session the chatbot handled on its own (no human): counts for containment.
    CHATBOT = "CHATBOT", _("Chatbot")
    SOCIAL = "SOCIAL", _("Réseaux sociaux")
    APP = "APP", _("Application")
    LETTER = "LETTER", _("Courrier")
    IN_PERSON = "IN_PERSON", _("En agence")
    # Raised by the platform itself (an incident's command ticket), not by a customer.
    SYSTEM = "SYSTEM", _("Système")


class Queue(models.TextChoices):
    BILLING = "BILLING", _("Facturation")
    METERING = "METERING", _("Comptage")
    OUTAGE = "OUTAGE", _("Pannes")
    COMMERCIAL = "COMMERCIAL", _("Professionnels")
    COMPLAINTS = "COMPLAINTS", _("Réclamations")
    GENERAL = "GENERAL", _("Général")
    INCIDENT = "INCIDENT", _("Incidents réseau")


class Priority(models.TextChoices):
    LOW = "LOW", _("Basse")
    NORMAL = "NORMAL", _("Normale")
    HIGH = "HIGH", _("Haute")
    URGENT = "URGENT", _("Urgente")


class Status(models.TextChoices):
    NEW = "NEW", _("Nouvelle")
    OPEN = "OPEN", _("En cours")
    WAITING_CUSTOMER = "WAITING_CUSTOMER", _("En attente du client")
    WAITING_THIRD_PARTY = "WAITING_THIRD_PARTY", _("En attente d'un tiers")
    RESOLVED = "RESOLVED", _("Résolue")
    CLOSED = "CLOSED", _("Clôturée")


class EscalationLevel(models.TextChoices):
    AGENT = "AGENT", _("Conseiller")
    SUPERVISOR = "SUPERVISOR", _("Superviseur")
    COMPLAINTS = "COMPLAINTS", _("Service réclamations")


class TicketSequence(models.Model):
    """Gapless per-year counter behind the PN-YYYY-NNNNNN references."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class Ticket(models.Model):
    reference = models.CharField(max_length=20, unique=True)
    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="tickets"
    )
    supply_point = models.ForeignKey(
        "accounts.SupplyPoint", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requester = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    requester_name = models.CharField(max_length=150, blank=True)
    requester_contact = models.CharField(max_length=200, blank=True)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    queue = models.CharField(max_length=12, choices=Queue.choices)
    category = models.CharField(max_length=40)
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    # Sort key for "take next": urgent, then safety, then oldest.
    urgency_rank = models.PositiveSmallIntegerField(default=0, db_index=True)
    safety_critical = models.BooleanField(default=False)
    is_complaint = models.BooleanField(default=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    escalation_level = models.CharField(
        max_length=10, choices=EscalationLevel.choices, default=EscalationLevel.AGENT
    )
    subject = models.CharField(max_length=200)
    details = models.JSONField(default=dict, blank=True)
    assignee = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
    )
    policy = models.ForeignKey("SlaPolicy", null=True, on_delete=models.PROTECT, related_name="+")
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged"
    )
    created_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["queue", "status"]),
            models.Index(
                fields=["-urgency_rank", "created_at"],
                name="ticket_take_next",
                condition=models.Q(assignee__isnull=True, status__in=["NEW", "OPEN"]),
            ),
            # Inbound mail and social messages find their ticket by these keys.
            models.Index(KeyTransform("email_message_id", "details"), name="ticket_email_msgid"),
            models.Index(KeyTransform("social_thread", "details"), name="ticket_social_thread"),
        ]

    def __str__(self) -> str:
        return self.reference


class TicketEvent(models.Model):
    """Every change to a ticket: who, when, what from, what to."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=20)
    from_value = models.CharField(max_length=200, blank=True)
    to_value = models.CharField(max_length=200, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["ticket", "at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_value}→{self.to_value}"


class Visibility(models.TextChoices):
    PUBLIC = "PUBLIC", _("Réponse publique")
    INTERNAL = "INTERNAL", _("Note interne")


class Message(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_customer = models.BooleanField(default=False)
    visibility = models.CharField(max_length=8, choices=Visibility.choices)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    body = models.TextField()
    created_at = models.DateTimeField()
    email_message_id = models.CharField(max_length=250, blank=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.visibility} {self.created_at:%Y-%m-%d %H:%M}"


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to="private/tickets/%Y/%m/")
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=60)
    size = models.PositiveIntegerField()

    def __str__(self) -> str:
        return self.name


class TicketLink(models.Model):
    from_ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="links_out")
    to_ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="links_in")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["from_ticket", "to_ticket"], name="uniq_ticket_link")
        ]

    def __str__(self) -> str:
        return f"{self.from_ticket_id}→{self.to_ticket_id}"


class CannedResponse(models.Model):
    title = models.CharField(max_length=100)
    queue = models.CharField(max_length=12, choices=Queue.choices, blank=True)
    language = models.CharField(max_length=2, default="fr")
    body = models.TextField(
        help_text="Placeholders: {customer_name}, {reference}, {agent_name}, {account_number}"
    )

    def __str__(self) -> str:
        return self.title


# --- SLA engine ------------------------------------------------------------------


class Calendar(models.Model):
    """Opening hours as data: time zone, windows per weekday, holidays, closed days."""

    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    tz = models.CharField(max_length=40, default="Europe/Paris")
    # {"0": [["08:00", "20:00"]], ..., "6": []}; "00:00"-"00:00" is a whole day.
    windows = models.JSONField()
    holiday_country = models.CharField(max_length=2, blank=True, default="FR")
    holiday_subdivision = models.CharField(max_length=10, blank=True)
    extra_closed_dates = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return self.name


class SlaPolicy(models.Model):
    """Chosen by the first matching rule, lowest `rank` first; empty match = any."""

    code = models.CharField(max_length=40)
    version = models.PositiveSmallIntegerField(default=1)
    active = models.BooleanField(default=True)
    name = models.CharField(max_length=100)
    rank = models.PositiveSmallIntegerField(default=100)
    match_queue = models.CharField(max_length=12, choices=Queue.choices, blank=True)
    match_priority = models.CharField(max_length=8, choices=Priority.choices, blank=True)
    match_channel = models.CharField(max_length=16, choices=Channel.choices, blank=True)
    match_sla_package = models.CharField(max_length=20, blank=True)
    match_priority_register = models.BooleanField(null=True, blank=True)
    match_safety = models.BooleanField(null=True, blank=True)
    match_complaint = models.BooleanField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="uniq_policy_version")
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class ClockUnitChoice(models.TextChoices):
    CLOCK_HOURS = "CLOCK_HOURS", _("Heures calendaires")
    BUSINESS_HOURS = "BUSINESS_HOURS", _("Heures ouvrées")
    WORKING_DAYS = "WORKING_DAYS", _("Jours ouvrés")


class ClockDefinition(models.Model):
    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="clocks")
    name = models.CharField(max_length=40)
    start_event = models.CharField(max_length=20, default="CREATED")
    stop_event = models.CharField(max_length=20)
    unit = models.CharField(max_length=16, choices=ClockUnitChoice.choices)
    amount = models.DecimalField(max_digits=7, decimal_places=2)
    calendar = models.ForeignKey(Calendar, on_delete=models.PROTECT, related_name="+")
    pauses_when_waiting = models.BooleanField(default=True)
    warn_ratio = models.DecimalField(max_digits=4, decimal_places=2, default=0.80)
    escalate_to = models.CharField(max_length=10, choices=EscalationLevel.choices, blank=True)
    restarts_on_activity = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.policy} / {self.name}"


class ClockStatus(models.TextChoices):
    RUNNING = "RUNNING", _("En cours")
    PAUSED = "PAUSED", _("En pause")
    MET = "MET", _("Tenu")
    BREACHED = "BREACHED", _("Dépassé")
    CANCELLED = "CANCELLED", _("Annulé")


class ClockInstance(models.Model):
    """One running commitment. Its terms are copied at start, so editing the policy
    later never rewrites a clock already running."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="clocks")
    definition = models.ForeignKey(ClockDefinition, on_delete=models.PROTECT, related_name="+")
    policy_version = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=40)
    stop_event = models.CharField(max_length=20)
    unit = models.CharField(max_length=16, choices=ClockUnitChoice.choices)
    amount = models.DecimalField(max_digits=7, decimal_places=2)
    calendar = models.ForeignKey(Calendar, on_delete=models.PROTECT, related_name="+")
    pauses_when_waiting = models.BooleanField()
    warn_ratio = models.DecimalField(max_digits=4, decimal_places=2)
    escalate_to = models.CharField(max_length=10, blank=True)
    restarts_on_activity = models.BooleanField(default=False)
    status = models.CharField(
        max_length=10, choices=ClockStatus.choices, default=ClockStatus.RUNNING
    )
    started_at = models.DateTimeField()
    pauses = models.JSONField(default=list, blank=True)  # [[start_iso, end_iso_or_null], ...]
    warn_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    warned_at = models.DateTimeField(null=True, blank=True)
    met_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The sweep reads only running clocks whose next deadline has come.
            models.Index(
                fields=["due_at"],
                name="clock_due",
                condition=models.Q(status="RUNNING", breached_at__isnull=True),
            ),
            models.Index(
                fields=["warn_at"],
                name="clock_warn",
                condition=models.Q(status="RUNNING", warned_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.name} {self.status}"


class ClockAlert(models.Model):
    """A warning or breach, written once per clock (unique), whatever the sweep does."""

    clock = models.ForeignKey(ClockInstance, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=8)  # WARNING | BREACH
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["clock", "kind"], name="uniq_clock_alert")]

    def __str__(self) -> str:
        return f"{self.clock_id} {self.kind}"


class Escalation(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="escalations")
    level = models.CharField(max_length=10, choices=EscalationLevel.choices)
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField()
    ack_due_at = models.DateTimeField()
    acknowledged_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    timed_out_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # Only escalations still waiting are swept, however many are stored.
            models.Index(
                fields=["ack_due_at"],
                name="escalation_waiting",
                condition=models.Q(acknowledged_at__isnull=True, timed_out_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} → {self.level}"


# --- Complaints ------------------------------------------------------------------


class Jurisdiction(models.TextChoices):
    FR = "FR", _("France (2 mois)")
    GB = "GB", _("Grande-Bretagne (8 semaines)")


class Complaint(models.Model):
    """Any expression of dissatisfaction, with the fields the regulator asks for."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="complaint")
    received_at = models.DateTimeField()
    channel = models.CharField(max_length=16, choices=Channel.choices)
    complainant = models.CharField(max_length=150)
    summary = models.TextField()
    action_taken = models.TextField(blank=True)
    resolved = models.BooleanField(default=False)
    jurisdiction = models.CharField(max_length=2, choices=Jurisdiction.choices, default="FR")
    flagged_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    flag_source = models.CharField(max_length=10)  # AGENT | KEYWORD | CATEGORY
    deadline_at = models.DateTimeField()
    deadlock_letter_at = models.DateTimeField(null=True, blank=True)
    deadlock_letter = models.FileField(upload_to="private/complaints/", blank=True)
    ombudsman_reference = models.CharField(max_length=60, blank=True)
    ombudsman_decision = models.TextField(blank=True)
    ombudsman_remedy_amount = models.DecimalField(
        max_digits=9, decimal_places=2, null=True, blank=True
    )
    remedy_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    remedy_done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["deadline_at"],
                name="complaint_awaiting_letter",
                condition=models.Q(resolved=False, deadlock_letter_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"complaint on {self.ticket_id}"


# --- Surveys and contacts ------------------------------------------------------------


class Survey(models.Model):
    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="survey")
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    csat = models.PositiveSmallIntegerField(null=True, blank=True)
    nps = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"survey {self.ticket_id}"


class ContactOutcome(models.TextChoices):
    """What became of an attempt to reach us (the contact success rate, docs/kpi.md)."""

    REACHED_QUEUE = "REACHED_QUEUE", _("Mis en file")
    BUSY = "BUSY", _("Occupé")
    BLOCKED = "BLOCKED", _("Rejeté")
    CLOSED = "CLOSED", _("Hors horaires")


class ContactSource(models.TextChoices):
    INTERNAL = "INTERNAL", _("Plateforme Power Next")
    CDR = "CDR", _("Téléphonie (webhook)")
    CSV = "CSV", _("Import CSV")


class Contact(models.Model):
    """One interaction, the raw record behind ASA, AHT, FCR and friends (docs/kpi.md)."""

    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )
    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    queue = models.CharField(max_length=12, choices=Queue.choices)
    agent = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    inbound = models.BooleanField(default=True)
    external_id = models.CharField(max_length=100, blank=True)
    offered_at = models.DateTimeField(db_index=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    wrap_up_ended_at = models.DateTimeField(null=True, blank=True)
    talk_seconds = models.PositiveIntegerField(default=0)
    hold_seconds = models.PositiveIntegerField(default=0)
    wrap_seconds = models.PositiveIntegerField(default=0)
    abandoned = models.BooleanField(default=False)
    first_contact = models.BooleanField(default=False)
    resolved_first_contact = models.BooleanField(null=True, blank=True)
    outcome = models.CharField(
        max_length=14, choices=ContactOutcome.choices, default=ContactOutcome.REACHED_QUEUE
    )
    source = models.CharField(
        max_length=8, choices=ContactSource.choices, default=ContactSource.INTERNAL
    )
    # "acct:<id>", "tel:+33…" or "mail:…": who it was, for the repeat-contact rate.
    customer_key = models.CharField(max_length=120, blank=True, default="")
    # The ticket category, the telephony's issue code, or "queue:<QUEUE>": what it was about.
    issue_key = models.CharField(max_length=60, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                name="uniq_contact_external",
                condition=~models.Q(external_id=""),
            )
        ]
        indexes = [
            # The repeat-contact rate looks back 7 days per customer.
            models.Index(
                fields=["customer_key", "offered_at"],
                name="contact_customer_recent",
                condition=~models.Q(customer_key=""),
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.offered_at:%Y-%m-%d %H:%M}"
