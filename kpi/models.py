"""The kpi app's own records: quality reviews, calibration, coaching and training
(docs/kpi-quality.md). Everything else kpi shows is read from the other apps."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .domain import quality


class QaChecklist(models.Model):
    """One version of a checklist. Reviews point at the version they used, so a new
    version never changes an old score; only one version of a code is active."""

    code = models.SlugField(max_length=40)
    version = models.PositiveSmallIntegerField()
    name = models.CharField(pgettext_lazy("checklist", "nom"), max_length=120)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("grille qualité")
        verbose_name_plural = _("grilles qualité")
        ordering = ["code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="qa_checklist_version"),
            models.UniqueConstraint(
                fields=["code"], condition=Q(active=True), name="qa_checklist_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (v{self.version})"


class QaChecklistItem(models.Model):
    checklist = models.ForeignKey(QaChecklist, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField()
    label = models.CharField(_("critère"), max_length=200)
    guidance = models.CharField(_("aide"), max_length=300, blank=True)
    weight = models.PositiveSmallIntegerField(_("poids"))
    critical = models.BooleanField(_("critique"), default=False)

    class Meta:
        ordering = ["checklist", "position"]
        constraints = [
            models.UniqueConstraint(fields=["checklist", "position"], name="qa_item_position"),
            models.CheckConstraint(
                condition=Q(weight__gte=1, weight__lte=quality.MAX_WEIGHT),
                name="qa_item_weight_range",
            ),
        ]

    def __str__(self) -> str:
        return self.label


class QaAnswerChoice(models.TextChoices):
    MET = quality.MET, _("Conforme")
    NOT_MET = quality.NOT_MET, _("Non conforme")
    NOT_APPLICABLE = quality.NOT_APPLICABLE, _("Sans objet")


class CalibrationSession(models.Model):
    """Several supervisors score the same contact on their own; closing records the
    score they agreed on."""

    month = models.DateField(_("mois"))
    checklist = models.ForeignKey(QaChecklist, on_delete=models.PROTECT, related_name="+")
    contact = models.ForeignKey("tickets.Contact", on_delete=models.PROTECT, related_name="+")
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    opened_at = models.DateTimeField()
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    agreed_score = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    # The spread when it closed, so the list shows how far apart the scorers started.
    spread_at_close = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        verbose_name = _("séance de calibrage")
        verbose_name_plural = _("séances de calibrage")
        ordering = ["-month", "-opened_at"]
        constraints = [
            models.UniqueConstraint(fields=["month", "contact"], name="calibration_month_contact"),
            models.CheckConstraint(condition=Q(month__day=1), name="calibration_first_of_month"),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True, agreed_score__isnull=True)
                | Q(closed_at__isnull=False, agreed_score__gte=0, agreed_score__lte=100),
                name="calibration_closed_has_agreed_score",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} #{self.contact_id}"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class QaReview(models.Model):
    """One supervisor's scoring of one contact of one agent. A supervisor reviews a
    contact once, except inside calibration sessions (once per session)."""

    contact = models.ForeignKey("tickets.Contact", on_delete=models.PROTECT, related_name="+")
    checklist = models.ForeignKey(QaChecklist, on_delete=models.PROTECT, related_name="reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    calibration = models.ForeignKey(
        CalibrationSession,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reviews",
    )
    # None when every criterion was "not applicable".
    score = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    critical_failed = models.BooleanField(default=False)
    comments = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("évaluation qualité")
        verbose_name_plural = _("évaluations qualité")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "reviewer"],
                condition=Q(calibration__isnull=True),
                name="qa_review_once_per_reviewer",
            ),
            models.UniqueConstraint(
                fields=["calibration", "reviewer"],
                condition=Q(calibration__isnull=False),
                name="qa_calibration_once_per_reviewer",
            ),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__gte=0, score__lte=100),
                name="qa_review_score_range",
            ),
            models.CheckConstraint(
                condition=~Q(reviewer=F("agent")), name="qa_review_not_own_contact"
            ),
        ]
        indexes = [
            models.Index(fields=["agent", "created_at"], name="qa_review_agent_recent"),
            models.Index(fields=["created_at"], name="qa_review_recent"),
        ]

    def __str__(self) -> str:
        return f"QA #{self.pk} contact {self.contact_id}"


class QaAnswer(models.Model):
    review = models.ForeignKey(QaReview, on_delete=models.CASCADE, related_name="answers")
    item = models.ForeignKey(QaChecklistItem, on_delete=models.PROTECT, related_name="+")
    answer = models.CharField(max_length=8, choices=QaAnswerChoice.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["review", "item"], name="qa_answer_once"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}: {self.answer}"


class CoachingNote(models.Model):
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    on = models.DateField(_("date"))
    text = models.TextField(_("note"))
    review = models.ForeignKey(
        QaReview, null=True, blank=True, on_delete=models.PROTECT, related_name="coaching_notes"
    )
    follow_up_on = models.DateField(_("date de suivi"), null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("note de coaching")
        verbose_name_plural = _("notes de coaching")
        ordering = ["-on", "-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(follow_up_on__isnull=True) | Q(follow_up_on__gte=F("on")),
                name="coaching_follow_up_after_note",
            ),
        ]
        indexes = [models.Index(fields=["agent", "on"], name="coaching_agent_recent")]

    def __str__(self) -> str:
        return f"{self.on:%Y-%m-%d} #{self.agent_id}"


class TrainingKind(models.TextChoices):
    ONBOARDING_HOURS = "ONBOARDING_HOURS", _("Formation initiale (heures)")
    MENTORED_CALLS_WEEK = "MENTORED_CALLS_WEEK", _("Semaine d'appels accompagnés (appels)")
    REFRESHER_HOURS = "REFRESHER_HOURS", _("Formation continue (heures)")


# Which kinds count whole things (calls) rather than hours.
COUNTED_KINDS = frozenset({TrainingKind.MENTORED_CALLS_WEEK})


class TrainingRecord(models.Model):
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("type"), max_length=20, choices=TrainingKind.choices)
    quantity = models.DecimalField(_("quantité"), max_digits=6, decimal_places=2)
    on = models.DateField(_("date"))
    notes = models.TextField(_("notes"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("formation")
        verbose_name_plural = _("formations")
        ordering = ["-on", "-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="training_quantity_positive"),
        ]
        indexes = [models.Index(fields=["agent", "on"], name="training_agent_recent")]

    def __str__(self) -> str:
        return f"{self.kind} {self.quantity} {self.on:%Y-%m-%d}"


# --- Snapshots and alerts -----------------------------------------------------------
# Derived data, rebuilt from the raw records (kpi.services.snapshots): see docs/kpi.md,
# "Snapshots and dashboard".


class SnapshotKind(models.TextChoices):
    INTERVAL = "INTERVAL", _("Intervalle")
    DAY = "DAY", _("Jour")
    MONTH = "MONTH", _("Mois")


class SnapshotDimension(models.TextChoices):
    OVERALL = "OVERALL", _("Ensemble")
    QUEUE = "QUEUE", _("File")
    CHANNEL = "CHANNEL", _("Canal")
    AGENT = "AGENT", _("Conseiller")
    COMMITMENT = "COMMITMENT", _("Engagement")
    INCIDENT_CLASS = "INCIDENT_CLASS", _("Classe d'incident")


class KpiSnapshot(models.Model):
    """One cell: a period (an interval, a Paris day or month, keyed by its UTC start) and
    a dimension value. Only counts and sums (kpi.domain.snapshots.ADDITIVE), so a month
    summed from its days is exact; the ratios are computed when read. `key` is "" for
    OVERALL, "none" for the agent breakdown's unattributed records."""

    kind = models.CharField(max_length=8, choices=SnapshotKind.choices)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    dimension = models.CharField(max_length=14, choices=SnapshotDimension.choices)
    key = models.CharField(max_length=120, blank=True, default="")
    # The answer time X of the service level the row was built with (seconds).
    answer_target_seconds = models.PositiveSmallIntegerField()
    contacts = models.PositiveIntegerField(default=0)
    offered = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)
    answered_within_target = models.PositiveIntegerField(default=0)
    abandoned = models.PositiveIntegerField(default=0)
    short_abandons = models.PositiveIntegerField(default=0)
    wait_us_sum = models.BigIntegerField(default=0)
    handled = models.PositiveIntegerField(default=0)
    handle_seconds_sum = models.BigIntegerField(default=0)
    fcr_eligible = models.PositiveIntegerField(default=0)
    fcr_resolved = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    reached_queue = models.PositiveIntegerField(default=0)
    repeat_eligible = models.PositiveIntegerField(default=0)
    repeats = models.PositiveIntegerField(default=0)
    csat_answers = models.PositiveIntegerField(default=0)
    csat_satisfied = models.PositiveIntegerField(default=0)
    nps_answers = models.PositiveIntegerField(default=0)
    promoters = models.PositiveIntegerField(default=0)
    detractors = models.PositiveIntegerField(default=0)
    commitments_due = models.PositiveIntegerField(default=0)
    commitments_met = models.PositiveIntegerField(default=0)
    restored_incidents = models.PositiveIntegerField(default=0)
    restore_us_sum = models.BigIntegerField(default=0)
    # Stocks at the end of the period (or at the build for the period in progress).
    backlog = models.PositiveIntegerField(default=0)
    backlog_ageing = models.JSONField(default=dict)
    built_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "period_start", "dimension", "key"], name="uniq_kpi_snapshot"
            )
        ]
        indexes = [
            # The trends: one dimension value over a range of periods.
            models.Index(
                fields=["kind", "dimension", "key", "period_start"], name="kpi_snapshot_trend"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.period_start:%Y-%m-%d %H:%M} {self.dimension} {self.key}"


class AlertMetric(models.TextChoices):
    ASA = "ASA", _("Vitesse moyenne de réponse")
    QUEUE_LENGTH = "QUEUE_LENGTH", _("Contacts en attente")


class KpiAlert(models.Model):
    """An interval alert (kpi.services.alerts): a live figure above its threshold, from
    the check that first saw it until the check that sees it back under. `scope` is the
    queue code or "OVERALL". At most one open alert per metric and scope: that unique
    index is what keeps two concurrent checks from raising (and e-mailing) twice."""

    OVERALL = "OVERALL"

    metric = models.CharField(max_length=12, choices=AlertMetric.choices)
    scope = models.CharField(max_length=40)
    raised_at = models.DateTimeField()
    value_at_raise = models.FloatField()
    threshold = models.FloatField()
    cleared_at = models.DateTimeField(null=True, blank=True)
    # Null when cleared for want of a figure (no contact answered in the ASA window).
    value_at_clear = models.FloatField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["raised_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["metric", "scope"],
                condition=Q(cleared_at__isnull=True),
                name="uniq_kpi_alert_open",
            ),
        ]
        indexes = [
            # The banner and every check read the open alerts only.
            models.Index(
                fields=["raised_at"], condition=Q(cleared_at__isnull=True), name="kpi_alert_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.scope} {self.raised_at:%Y-%m-%d %H:%M}"


# --- Monthly report and root-cause analyses ----------------------------------------------
# docs/kpi-report.md: a month is closed by a supervisor once every commitment missed by
# more than 2 % has its root-cause analysis.


class MonthStatus(models.TextChoices):
    OPEN = "OPEN", _("Ouvert")
    CLOSED = "CLOSED", _("Clôturé")


class MonthlyReview(models.Model):
    """The supervisors' review of one Paris month (`month` is its first day)."""

    month = models.DateField(unique=True)
    status = models.CharField(max_length=6, choices=MonthStatus.choices, default=MonthStatus.OPEN)
    summary = models.TextField(_("synthèse"), blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("revue mensuelle")
        verbose_name_plural = _("revues mensuelles")
        ordering = ["-month"]
        constraints = [
            models.CheckConstraint(condition=Q(month__day=1), name="monthly_review_first_day"),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.status}"


class MonthlyReviewEvent(models.Model):
    """Every change of a review's status: who, when, from, to (and why, on reopening)."""

    review = models.ForeignKey(MonthlyReview, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=6, choices=MonthStatus.choices)
    to_status = models.CharField(max_length=6, choices=MonthStatus.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.review_id} {self.from_status}→{self.to_status}"


class RootCauseAnalysis(models.Model):
    """Why a commitment was missed in a month and what is done about it. `commitment` is
    the finding's code (kpi.domain.report); target and actual are those the month showed
    when the analysis was written."""

    review = models.ForeignKey(MonthlyReview, on_delete=models.PROTECT, related_name="analyses")
    commitment = models.CharField(max_length=60)
    target = models.FloatField()
    actual = models.FloatField()
    gap_percent = models.FloatField()
    cause = models.TextField(_("cause"))
    actions = models.TextField(_("actions"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("responsable"),
    )
    due_on = models.DateField(_("échéance"))
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = _("analyse de cause")
        verbose_name_plural = _("analyses de cause")
        ordering = ["commitment"]
        constraints = [
            models.UniqueConstraint(fields=["review", "commitment"], name="rca_once_per_month"),
        ]

    def __str__(self) -> str:
        return f"{self.review_id} {self.commitment}"


# --- Text analytics --------------------------------------------------------------------
# docs/kpi-text.md: ticket and chat messages scanned offline (French and English) for
# sentiment and compliance phrases; a flag puts the contact on the QA reviewers' list.


class TextFlagKind(models.TextChoices):
    NEGATIVE_SENTIMENT = "NEGATIVE_SENTIMENT", _("Client mécontent")
    UNLOGGED_CALLBACK = "UNLOGGED_CALLBACK", _("Rappel promis non enregistré")
    FORBIDDEN_PHRASE = "FORBIDDEN_PHRASE", _("Formulation à proscrire")


class TextFlag(models.Model):
    """One message flagged for QA review, once per kind."""

    message = models.ForeignKey("tickets.Message", on_delete=models.CASCADE, related_name="+")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    # The contact a reviewer scores (the ticket's latest handled contact), if there is one.
    contact = models.ForeignKey(
        "tickets.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=TextFlagKind.choices)
    language = models.CharField(max_length=2)
    score = models.FloatField()
    evidence = models.CharField(max_length=300)
    created_at = models.DateTimeField()
    # Set when a reviewer has dealt with it (scored the contact or dismissed the flag).
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    review = models.ForeignKey(
        QaReview, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["message", "kind"], name="text_flag_once_per_kind"),
        ]
        indexes = [
            models.Index(
                fields=["created_at"], condition=Q(handled_at__isnull=True), name="text_flag_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} message {self.message_id}"


class CallbackPromise(models.Model):
    """An agent's written promise to call the customer back: a deadline row. The sweep
    flags it (UNLOGGED_CALLBACK) when `due_at` passes with no outbound contact logged on
    the ticket since the promise."""

    message = models.OneToOneField("tickets.Message", on_delete=models.CASCADE, related_name="+")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    promised_at = models.DateTimeField()
    due_at = models.DateTimeField()
    kept_at = models.DateTimeField(null=True, blank=True)
    flagged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["due_at"],
                condition=Q(kept_at__isnull=True, flagged_at__isnull=True),
                name="callback_promise_due",
            )
        ]

    def __str__(self) -> str:
        return f"callback {self.ticket_id} due {self.due_at:%Y-%m-%d %H:%M}"


class TextScanCursor(models.Model):
    """The highest message id already scanned (one row): the scan is incremental and a
    re-run changes nothing."""

    name = models.CharField(max_length=20, unique=True)
    last_message_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_message_id}"
