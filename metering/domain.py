"""Pure metering rules: plausibility, rollover, re-estimation, local days, quality codes."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Our quality codes onto NAESB ESPI QualityOfReading.
ESPI_QUALITY = {
    "VALID": 0,
    "EDITED": 7,
    "ESTIMATED": 9,  # estimated using linear interpolation
    "QUESTIONABLE": 10,
    "DERIVED": 11,
    "VALIDATED": 17,
}
QUALITY_FROM_ESPI = {code: name for name, code in ESPI_QUALITY.items()}


class Verdict(enum.Enum):
    ACCEPT = "ACCEPT"
    REVIEW = "REVIEW"  # plausible only if the customer confirms (photo) or an agent checks
    REJECT = "REJECT"


@dataclass(frozen=True)
class Previous:
    value: int
    read_at: datetime
    estimated: bool = False


@dataclass
class Check:
    verdict: Verdict
    reasons: list[str] = field(default_factory=list)
    consumption: int | None = None
    rollover: bool = False


def check_reading(
    *,
    value: int,
    read_at: datetime,
    now: datetime,
    digits: int,
    previous: Previous | None,
    exchanged_since_previous: bool,
    expected_daily_kwh: float | None,
    spike_factor: float,
    duplicate: bool,
) -> Check:
    """Plausibility of a register index against the previous actual read.

    - never in the future, never a duplicate (REJECT);
    - lower than the previous read: a rollover past 10**digits, or a meter
      exchange, explains it; otherwise REVIEW;
    - more than `spike_factor` times the expected consumption for the elapsed
      days: REVIEW.
    """
    if value < 0 or value >= 10**digits:
        return Check(Verdict.REJECT, ["out_of_range"])
    if read_at > now:
        return Check(Verdict.REJECT, ["future"])
    if duplicate:
        return Check(Verdict.REJECT, ["duplicate"])
    if previous is None or exchanged_since_previous:
        return Check(Verdict.ACCEPT, [], None)
    if read_at <= previous.read_at:
        return Check(Verdict.REVIEW, ["before_previous"])
    days = max((read_at - previous.read_at).total_seconds() / 86400, 1 / 24)
    consumption = value - previous.value
    rollover = False
    if consumption < 0:
        wrapped = 10**digits - previous.value + value
        limit = _limit(expected_daily_kwh, spike_factor, days)
        # A wrap is plausible only when the previous index was near the end of the
        # dial and the wrapped consumption is itself plausible.
        if previous.value >= 0.9 * 10**digits and (limit is None or wrapped <= limit):
            consumption, rollover = wrapped, True
        else:
            return Check(Verdict.REVIEW, ["lower_than_previous"], consumption)
    limit = _limit(expected_daily_kwh, spike_factor, days)
    if limit is not None and consumption > limit:
        return Check(Verdict.REVIEW, ["spike"], consumption, rollover)
    return Check(Verdict.ACCEPT, [], consumption, rollover)


def _limit(expected_daily_kwh: float | None, factor: float, days: float) -> float | None:
    if not expected_daily_kwh:
        return None
    return expected_daily_kwh * days * factor


def reestimate(
    *, before: tuple[datetime, int], after: tuple[datetime, int], estimates: list[datetime]
) -> list[tuple[datetime, int]]:
    """Re-estimate the estimated reads between two actual reads by linear interpolation
    (the "assessing" done when an actual read lands below an earlier estimate)."""
    (t0, v0), (t1, v1) = before, after
    span = (t1 - t0).total_seconds()
    out = []
    for t in estimates:
        share = (t - t0).total_seconds() / span if span else 0
        out.append((t, round(v0 + (v1 - v0) * share)))
    return out


def local_day_bounds(day: date, tz: str = "Europe/Paris") -> tuple[datetime, datetime]:
    """The UTC instants where a local day starts and ends (23 or 25 hours on DST days)."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(ZoneInfo("UTC"))
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(
        ZoneInfo("UTC")
    )
    return start, end


def local_day_hours(day: date, tz: str = "Europe/Paris") -> int:
    start, end = local_day_bounds(day, tz)
    return int((end - start).total_seconds() // 3600)


def month_bounds(year: int, month: int, tz: str = "Europe/Paris") -> tuple[datetime, datetime]:
    first = date(year, month, 1)
    nxt = date(year + (month == 12), 1 if month == 12 else month + 1, 1)
    return local_day_bounds(first, tz)[0], local_day_bounds(nxt, tz)[0]


def is_on_the_hour(instant: datetime) -> bool:
    return instant.minute == 0 and instant.second == 0 and instant.microsecond == 0
