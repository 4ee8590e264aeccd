"""Meters, registers, readings and hourly interval data. Thin data; rules in domain.py."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class RegisterCode(models.TextChoices):
    BASE = "BASE", _("Base")
    HP = "HP", _("Heures pleines")
    HC = "HC", _("Heures creuses")


class ReadingSource(models.TextChoices):
    REMOTE = "REMOTE", _("Télérelevé")
    CUSTOMER = "CUSTOMER", _("Relevé client")
    CUSTOMER_PHOTO = "CUSTOMER_PHOTO", _("Relevé client avec photo")
    ESTIMATED = "ESTIMATED", _("Estimation")
    SITE_VISIT = "SITE_VISIT", _("Visite sur place")
    AGENT = "AGENT", _("Saisie conseiller")


class ReadingQuality(models.TextChoices):
    """Our quality codes; domain.ESPI_QUALITY maps them onto Green Button's."""

    VALID = "VALID", _("Valide")
    ESTIMATED = "ESTIMATED", _("Estimé")
    EDITED = "EDITED", _("Corrigé")
    QUESTIONABLE = "QUESTIONABLE", _("À vérifier")
    DERIVED = "DERIVED", _("Calculé")
    VALIDATED = "VALIDATED", _("Validé")


class ReadingStatus(models.TextChoices):
    ACCEPTED = "ACCEPTED", _("Accepté")
    NEEDS_REVIEW = "NEEDS_REVIEW", _("À examiner")
    SUPERSEDED = "SUPERSEDED", _("Remplacé")


class Meter(models.Model):
    supply_point = models.ForeignKey(
        "accounts.SupplyPoint", on_delete=models.PROTECT, related_name="meters"
    )
    serial = models.CharField(max_length=40, unique=True)
    digits = models.PositiveSmallIntegerField(default=6)
    smart = models.BooleanField(default=True)
    installed_at = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["supply_point", "installed_at"])]

    def __str__(self) -> str:
        return self.serial


class MeterRegister(models.Model):
    meter = models.ForeignKey(Meter, on_delete=models.CASCADE, related_name="registers")
    code = models.CharField(max_length=4, choices=RegisterCode.choices)
    start_index = models.PositiveBigIntegerField(default=0)
    end_index = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["meter", "code"], name="uniq_meter_register")
        ]

    def __str__(self) -> str:
        return f"{self.meter_id} {self.code}"


class ReadingPhoto(models.Model):
    file = models.FileField(upload_to="private/readings/%Y/%m/")
    content_type = models.CharField(max_length=20)
    taken_at = models.DateTimeField(null=True, blank=True)  # from EXIF, GPS stripped
    sha256 = models.CharField(max_length=64, db_index=True)
    uploaded_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.sha256[:12]


class Reading(models.Model):
    register = models.ForeignKey(MeterRegister, on_delete=models.PROTECT, related_name="readings")
    read_at = models.DateTimeField()
    value = models.PositiveBigIntegerField()
    source = models.CharField(max_length=16, choices=ReadingSource.choices)
    quality = models.CharField(
        max_length=12, choices=ReadingQuality.choices, default=ReadingQuality.VALID
    )
    status = models.CharField(
        max_length=12, choices=ReadingStatus.choices, default=ReadingStatus.ACCEPTED
    )
    review_reason = models.CharField(max_length=200, blank=True)
    photo = models.ForeignKey(
        ReadingPhoto, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField()
    # A billing read that an invoice rests on is kept past the retention period.
    billed = models.BooleanField(default=False)
    ticket = models.ForeignKey(
        "tickets.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["register", "read_at"])]

    def __str__(self) -> str:
        return f"{self.register_id} {self.value} @ {self.read_at:%Y-%m-%d}"


class ConsentPurpose(models.TextChoices):
    HOURLY_DATA = "HOURLY_DATA", _("Données horaires")


class Consent(models.Model):
    """The customer's consent to use hourly data, for one supply point and purpose."""

    supply_point = models.ForeignKey(
        "accounts.SupplyPoint", on_delete=models.CASCADE, related_name="consents"
    )
    purpose = models.CharField(max_length=20, choices=ConsentPurpose.choices)
    scope = models.CharField(max_length=100, default="portal,export,api")
    granted_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    granted_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["supply_point", "purpose", "granted_at"])]

    def __str__(self) -> str:
        return f"{self.supply_point_id} {self.purpose}"


class IntervalReading(models.Model):
    """One hour of consumption. The table is created by migration 0002 as a
    PostgreSQL table partitioned by month; Django only reads and maps it."""

    pk = models.CompositePrimaryKey("supply_point_id", "start")
    supply_point = models.ForeignKey(
        "accounts.SupplyPoint", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    start = models.DateTimeField()
    wh = models.IntegerField()
    quality = models.SmallIntegerField(default=0)

    class Meta:
        managed = False
        db_table = "metering_interval"

    def __str__(self) -> str:
        return f"{self.supply_point_id} {self.start:%Y-%m-%d %H:%M} {self.wh} Wh"


class DailyConsumption(models.Model):
    """One supply point's local day (Europe/Paris: 23, 24 or 25 hours), summed from the
    hourly table by `services.aggregates`. Derived data: rebuilt, never edited.

    `cohort` is the "similar homes" key (market, area class, power band) of the supply
    point when the day was built, so that the cohort table and the exclusion of a customer
    from their own cohort agree even after the supply point's power changes; "" for
    supply points that are not homes."""

    pk = models.CompositePrimaryKey("supply_point_id", "day")
    # The primary key already leads with the supply point: no second index for it.
    supply_point = models.ForeignKey(
        "accounts.SupplyPoint", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField()
    wh = models.BigIntegerField()
    hp_wh = models.BigIntegerField()
    hc_wh = models.BigIntegerField()
    hours = models.SmallIntegerField()
    cohort = models.CharField(max_length=40, blank=True)

    class Meta:
        # The cohort rebuild reads one or two days of every supply point.
        indexes = [models.Index(fields=["day"], name="metering_daily_day")]

    def __str__(self) -> str:
        return f"{self.supply_point_id} {self.day} {self.wh} Wh"


class CohortDailyConsumption(models.Model):
    """The sum of the complete days of the homes of one cohort, per local day: what the
    portal's "similar homes" line reads, so a page costs the same for a cohort of ten
    homes or of ten thousand."""

    pk = models.CompositePrimaryKey("cohort", "day")
    cohort = models.CharField(max_length=40)
    day = models.DateField()
    homes = models.IntegerField()
    wh = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.cohort} {self.day} {self.homes} homes"
