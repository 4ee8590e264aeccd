"""Register reads: customer submissions with their photo, remote reads, and assessing
(re-estimating earlier estimates when an actual read lands below them)."""

from __future__ import annotations

import hashlib
import io
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.files.base import ContentFile
from django.db import transaction

from accounts.domain import sniff_file_type
from accounts.models import Account, SupplyPoint, User
from accounts.selectors import parameter_get
from metering import domain, hooks
from metering.models import (
    Meter,
    MeterRegister,
    Reading,
    ReadingPhoto,
    ReadingQuality,
    ReadingSource,
    ReadingStatus,
)

PARIS = ZoneInfo("Europe/Paris")
PHOTO_MAX_BYTES = 10 * 1024 * 1024
PHOTO_MAX_PIXELS = 60_000_000
EXIF_IFD = 0x8769
GPS_IFD = 0x8825
DATETIME_ORIGINAL = 0x9003
ACTUAL_SOURCES = frozenset(set(ReadingSource.values) - {ReadingSource.ESTIMATED})
DEFAULTS = {"reading_spike_factor": 3, "reading_photo_max_bytes": PHOTO_MAX_BYTES}


class MeteringError(Exception):
    """Base class for refusals of the metering services."""


class NoMeter(MeteringError):
    """The supply point has no meter in service."""


class PhotoRejected(MeteringError):
    pass


@dataclass(frozen=True)
class Problem:
    """Why one register's value was refused or needs confirming (a check_reading code)."""

    register: str
    reason: str
    previous: int | None = None
    consumption: int | None = None
    digits: int | None = None


class ReadingRejected(MeteringError):
    """At least one value is impossible (future, duplicate, out of range): nothing written."""

    def __init__(self, problems: list[Problem]):
        super().__init__(", ".join(f"{p.register}: {p.reason}" for p in problems))
        self.problems = problems


class ConfirmationNeeded(MeteringError):
    """At least one value is implausible: the customer must confirm it with a photo."""

    def __init__(self, problems: list[Problem]):
        super().__init__(", ".join(f"{p.register}: {p.reason}" for p in problems))
        self.problems = problems


@dataclass
class SubmitResult:
    readings: list[Reading]
    ticket: object | None = None  # tickets.models.Ticket when the reads need review
    reestimated: list[Reading] = field(default_factory=list)


def _parameter(key: str):
    try:
        return parameter_get(key=key)
    except KeyError:
        return DEFAULTS[key]


# --- Photos -----------------------------------------------------------------


@dataclass(frozen=True)
class CleanPhoto:
    content: bytes
    content_type: str
    taken_at: datetime | None


def photo_clean(upload) -> CleanPhoto:
    """Check that `upload` is a real JPEG or PNG of at most 10 MB, and re-encode it
    without its GPS data (EXIF DateTimeOriginal is kept). Raises PhotoRejected."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    max_bytes = int(_parameter("reading_photo_max_bytes"))
    if upload.size > max_bytes:
        raise PhotoRejected(f"too_large:{max_bytes // (1024 * 1024)}")
    upload.seek(0)
    data = upload.read()
    upload.seek(0)
    kind = sniff_file_type(data[:16])
    if kind not in ("image/jpeg", "image/png"):
        raise PhotoRejected("not_image")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.width * probe.height > PHOTO_MAX_PIXELS:
                raise PhotoRejected("not_image")
            probe.verify()
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise PhotoRejected("not_image") from None
    if {"JPEG": "image/jpeg", "PNG": "image/png"}.get(image.format) != kind:
        raise PhotoRejected("not_image")
    exif = image.getexif()
    original = exif.get_ifd(EXIF_IFD).get(DATETIME_ORIGINAL)
    image = ImageOps.exif_transpose(image)  # bake the orientation in, drop the rest
    kept = Image.Exif()
    if original:
        kept.get_ifd(EXIF_IFD)[DATETIME_ORIGINAL] = original
    out = io.BytesIO()
    if kind == "image/jpeg":
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=90, exif=kept.tobytes())
    else:
        image.save(out, "PNG", exif=kept.tobytes())
    return CleanPhoto(out.getvalue(), kind, _exif_time(original))


def _exif_time(raw) -> datetime | None:
    if not raw:
        return None
    text = raw.decode(errors="ignore") if isinstance(raw, bytes) else str(raw)
    try:
        local = datetime.strptime(text.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    return local.replace(tzinfo=PARIS)


def _photo_store(upload, *, now: datetime) -> ReadingPhoto:
    clean = photo_clean(upload)
    extension = "jpg" if clean.content_type == "image/jpeg" else "png"
    photo = ReadingPhoto(
        content_type=clean.content_type,
        taken_at=clean.taken_at,
        sha256=hashlib.sha256(clean.content).hexdigest(),
        uploaded_at=now,
    )
    photo.file.save(f"{secrets.token_hex(16)}.{extension}", ContentFile(clean.content), save=False)
    photo.save()
    return photo


# --- Reads ------------------------------------------------------------------


def meter_in_service(*, supply_point: SupplyPoint, at: datetime) -> Meter:
    meter = (
        Meter.objects.filter(supply_point=supply_point, installed_at__lte=at)
        .exclude(removed_at__lte=at)
        .prefetch_related("registers")
        .order_by("-installed_at")
        .first()
    )
    if meter is None:
        raise NoMeter(f"No meter in service on supply point {supply_point.pk}.")
    return meter


def _actual_reads(register: MeterRegister):
    """Accepted actual reads of this register code on the supply point, all meters."""
    return Reading.objects.filter(
        register__meter__supply_point_id=register.meter.supply_point_id,
        register__code=register.code,
        status=ReadingStatus.ACCEPTED,
        source__in=ACTUAL_SOURCES,
    ).select_related("register")


def _expected_daily(register: MeterRegister, previous: Reading) -> float | None:
    """Average daily consumption over the year before the previous read, same meter."""
    first = (
        _actual_reads(register)
        .filter(
            register_id=previous.register_id,
            read_at__lt=previous.read_at,
            read_at__gte=previous.read_at - timedelta(days=400),
        )
        .order_by("read_at")
        .first()
    )
    if first is None:
        return None
    days = (previous.read_at - first.read_at).total_seconds() / 86400
    used = previous.value - first.value
    if days < 7 or used <= 0:
        return None
    return used / days


def _check(
    register: MeterRegister, *, value: int, read_at: datetime, now: datetime
) -> tuple[Problem, domain.Verdict] | None:
    """None when acceptable, else the Problem and verdict (see `domain.check_reading`)."""
    previous = _actual_reads(register).order_by("-read_at").first()
    local_day = read_at.astimezone(PARIS).date()
    duplicate = (
        Reading.objects.filter(register=register, value=value)
        .exclude(status=ReadingStatus.SUPERSEDED)
        .filter(
            read_at__gte=domain.local_day_bounds(local_day)[0],
            read_at__lt=domain.local_day_bounds(local_day)[1],
        )
        .exists()
    )
    result = domain.check_reading(
        value=value,
        read_at=read_at,
        now=now,
        digits=register.meter.digits,
        previous=domain.Previous(previous.value, previous.read_at) if previous else None,
        exchanged_since_previous=bool(previous and previous.register.meter_id != register.meter_id),
        expected_daily_kwh=_expected_daily(register, previous) if previous else None,
        spike_factor=float(_parameter("reading_spike_factor")),
        duplicate=duplicate,
    )
    if result.verdict is domain.Verdict.ACCEPT:
        return None
    return Problem(
        register=register.code,
        reason=result.reasons[0],
        previous=previous.value if previous else None,
        consumption=result.consumption,
        digits=register.meter.digits,
    ), result.verdict


def readings_submit(
    *,
    supply_point: SupplyPoint,
    account: Account,
    values: dict[str, int],
    read_at: datetime,
    submitted_by: User | None,
    now: datetime,
    photo=None,
    confirmed: bool = False,
) -> SubmitResult:
    """Store a customer's register values (BASE, or HP and HC), with an optional photo.

    Impossible values raise ReadingRejected and write nothing. Implausible values raise
    ConfirmationNeeded unless the customer `confirmed` them with a `photo`: then they
    are stored as NEEDS_REVIEW and a METER_READING ticket is opened for an agent.
    """
    meter = meter_in_service(supply_point=supply_point, at=min(read_at, now))
    registers = {r.code: r for r in meter.registers.all()}
    unknown = set(values) - set(registers)
    if unknown or not values:
        raise MeteringError(f"Unknown registers {sorted(unknown)} on meter {meter.serial}.")
    checks = {
        code: _check(registers[code], value=v, read_at=read_at, now=now)
        for code, v in values.items()
    }
    rejected = [c[0] for c in checks.values() if c and c[1] is domain.Verdict.REJECT]
    if rejected:
        raise ReadingRejected(rejected)
    review = [c[0] for c in checks.values() if c]
    if review and not (confirmed and photo is not None):
        raise ConfirmationNeeded(review)
    with transaction.atomic():
        stored_photo = _photo_store(photo, now=now) if photo is not None else None
        source = ReadingSource.CUSTOMER_PHOTO if stored_photo else ReadingSource.CUSTOMER
        ticket = None
        if review:
            ticket = _review_ticket(
                supply_point=supply_point,
                account=account,
                requester=submitted_by,
                values=values,
                problems=review,
                now=now,
            )
        flagged = {p.register: p for p in review}
        readings = [
            Reading.objects.create(
                register=registers[code],
                read_at=read_at,
                value=value,
                source=source,
                quality=ReadingQuality.QUESTIONABLE if code in flagged else ReadingQuality.VALID,
                status=ReadingStatus.NEEDS_REVIEW if code in flagged else ReadingStatus.ACCEPTED,
                review_reason=flagged[code].reason if code in flagged else "",
                photo=stored_photo,
                submitted_by=submitted_by,
                recorded_at=now,
                ticket=ticket,
            )
            for code, value in sorted(values.items())
        ]
        reestimated = [r for reading in readings for r in _assess(reading, now=now)]
    return SubmitResult(readings=readings, ticket=ticket, reestimated=reestimated)


def _review_ticket(*, supply_point, account, requester, values, problems, now):
    from tickets import services as ticket_services

    lines = [
        f"{p.register} : {values[p.register]} kWh — {p.reason}"
        + (f" (précédent {p.previous})" if p.previous is not None else "")
        for p in problems
    ]
    return ticket_services.ticket_create(
        channel="PORTAL",
        category="METER_READING",
        subject=f"Relevé à vérifier — {supply_point.identifier}",
        body="Le client confirme un relevé jugé peu plausible, photo jointe au relevé.\n"
        + "\n".join(lines),
        account=account,
        requester=requester,
        supply_point=supply_point,
        details={
            "values": {k: str(v) for k, v in values.items()},
            "reasons": [p.reason for p in problems],
        },
        now=now,
    )


def reading_record(
    *,
    register: MeterRegister,
    value: int,
    read_at: datetime,
    source: str,
    now: datetime,
    ticket=None,
    submitted_by: User | None = None,
) -> Reading:
    """Store one read from the head-end, a site visit or an agent. An impossible value
    raises ReadingRejected; an implausible one is stored as NEEDS_REVIEW."""
    checked = _check(register, value=value, read_at=read_at, now=now)
    if checked and checked[1] is domain.Verdict.REJECT:
        raise ReadingRejected([checked[0]])
    with transaction.atomic():
        reading = Reading.objects.create(
            register=register,
            read_at=read_at,
            value=value,
            source=source,
            quality=ReadingQuality.QUESTIONABLE if checked else ReadingQuality.VALID,
            status=ReadingStatus.NEEDS_REVIEW if checked else ReadingStatus.ACCEPTED,
            review_reason=checked[0].reason if checked else "",
            submitted_by=submitted_by,
            recorded_at=now,
            ticket=ticket,
        )
        _assess(reading, now=now)
    return reading


def _assess(reading: Reading, *, now: datetime) -> list[Reading]:
    """When an actual read lands below an earlier estimate, re-estimate the estimates
    since the previous actual read by interpolation. The old estimates are kept as
    SUPERSEDED; the new ones are EDITED. The affected period is handed to the
    rebilling hooks once the transaction commits."""
    if reading.status != ReadingStatus.ACCEPTED or reading.source not in ACTUAL_SOURCES:
        return []
    register = reading.register
    before = (
        _actual_reads(register)
        .filter(register=register, read_at__lt=reading.read_at)
        .exclude(pk=reading.pk)
        .order_by("-read_at")
        .first()
    )
    estimates = Reading.objects.filter(
        register=register,
        status=ReadingStatus.ACCEPTED,
        source=ReadingSource.ESTIMATED,
        read_at__lt=reading.read_at,
    )
    if before is not None:
        estimates = estimates.filter(read_at__gt=before.read_at)
    estimates = list(estimates.order_by("read_at"))
    if not estimates or not any(e.value > reading.value for e in estimates):
        return []
    if before is not None:
        start = (before.read_at, before.value)
    else:
        start = (register.meter.installed_at, register.start_index)
    new_values = domain.reestimate(
        before=start,
        after=(reading.read_at, reading.value),
        estimates=[e.read_at for e in estimates],
    )
    created = []
    for old, (at, value) in zip(estimates, new_values, strict=True):
        old.status = ReadingStatus.SUPERSEDED
        old.save(update_fields=["status"])
        created.append(
            Reading.objects.create(
                register=register,
                read_at=at,
                value=value,
                source=ReadingSource.ESTIMATED,
                quality=ReadingQuality.EDITED,
                status=ReadingStatus.ACCEPTED,
                review_reason=f"re-estimated after actual read {reading.pk}",
                recorded_at=now,
            )
        )
    supply_point_id = register.meter.supply_point_id
    period = (estimates[0].read_at, reading.read_at)
    transaction.on_commit(lambda: hooks.rebill_request(supply_point_id, *period))
    return created


def last_readings(*, supply_point: SupplyPoint, limit: int = 10):
    return (
        Reading.objects.filter(register__meter__supply_point=supply_point)
        .exclude(status=ReadingStatus.SUPERSEDED)
        .select_related("register", "register__meter")
        .order_by("-read_at", "register__code")[:limit]
    )


def readings_mark_billed(*, reading_ids) -> int:
    """Billing marks the register reads an issued invoice rests on: those are kept for as
    long as the invoice (retention never drops them). Returns how many changed."""
    return Reading.objects.filter(pk__in=list(reading_ids), billed=False).update(billed=True)
