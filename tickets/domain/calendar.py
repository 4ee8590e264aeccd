"""Business-time arithmetic for the SLA clocks: opening hours, holidays, pauses, DST.

Pure Python: no Django, no I/O, and no clock. Every instant is passed in by the caller
as a timezone-aware ``datetime``; every instant returned is an aware UTC ``datetime``.

Vocabulary
----------
*Window*
    A local wall-clock opening period that starts on a given weekday, for example
    Monday 08:00-20:00. ``end <= start`` means the window runs past midnight into the
    next day (22:00-02:00); ``00:00-00:00`` is the whole day.
*Closed date*
    A local date with no opening (public holidays and extra closed days). It suppresses
    every window that *starts* on it, including the part of a night window that runs
    past midnight into the next day; a window that started the day before is not cut.
*Working day*
    A local date that is not closed and has at least one window.

Daylight saving time
--------------------
Windows are defined in local wall-clock time and converted to real instants date by
date, so a 01:00-04:00 window lasts 2 real hours on the spring-forward night and 4 on
the autumn night. A window boundary stands for the first moment the wall clock reaches
it: a repeated wall time (autumn) is its first occurrence (``fold=0``), and a skipped
wall time (spring) is the moment the clock jumps over it (so a window 02:30-05:00 opens
at 03:00 on the spring-forward night, and a window 02:00-02:30 does not open at all).
All arithmetic after that is done on real (UTC) time.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

import holidays

__all__ = [
    "DEFAULT_CONTACT_CENTRE",
    "EMERGENCY_LINE",
    "BusinessCalendar",
    "ClockUnit",
    "Window",
    "add_business_time",
    "add_working_days",
    "business_seconds_between",
    "contact_centre_calendar",
    "due_at",
    "elapsed",
    "public_holidays",
]

_ZERO = timedelta(0)
_ONE_DAY = timedelta(days=1)
# The end of a clock that never closes (CLOCK_HOURS); far enough for any deadline.
_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)

Interval = tuple[datetime, datetime]


class ClockUnit(enum.StrEnum):
    """What an SLA clock counts."""

    CLOCK_HOURS = "CLOCK_HOURS"  # real elapsed hours, opening hours ignored
    BUSINESS_HOURS = "BUSINESS_HOURS"  # hours inside the calendar's open windows
    WORKING_DAYS = "WORKING_DAYS"  # same wall-clock time, N working days later


@dataclass(frozen=True)
class Window:
    """A local wall-clock opening window starting on a given weekday.

    ``end <= start`` means the window runs past midnight into the next day
    (22:00-02:00, or 08:00-08:00 for 24 hours from 08:00); ``start == end == 00:00``
    is therefore the whole day.
    """

    start: time
    end: time

    def __post_init__(self) -> None:
        if not isinstance(self.start, time) or not isinstance(self.end, time):
            raise TypeError("Window start and end must be datetime.time values")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("Window times are local wall-clock times: no tzinfo")

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start


@dataclass(frozen=True)
class BusinessCalendar:
    """Opening hours in one time zone, with closed dates.

    ``windows`` maps a weekday (0 = Monday .. 6 = Sunday) to its windows; several
    windows per day express split shifts and lunch breaks, and overlapping windows
    simply merge. ``closed_dates`` are local dates whose windows do not open.
    """

    tz: str = "Europe/Paris"
    windows: Mapping[int, tuple[Window, ...]] = field(default_factory=dict, hash=False)
    closed_dates: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        ZoneInfo(self.tz)  # raises ZoneInfoNotFoundError on an unknown name
        normalised: dict[int, tuple[Window, ...]] = {}
        for weekday, day_windows in self.windows.items():
            if not isinstance(weekday, int) or not 0 <= weekday <= 6:
                raise ValueError(f"weekday must be 0 (Monday) .. 6 (Sunday), not {weekday!r}")
            day_windows = tuple(day_windows)
            if not all(isinstance(w, Window) for w in day_windows):
                raise TypeError("windows must map a weekday to a sequence of Window")
            normalised[weekday] = day_windows
        object.__setattr__(self, "windows", MappingProxyType(normalised))
        object.__setattr__(self, "closed_dates", frozenset(self.closed_dates))

    def __reduce__(self):
        # The read-only mapping cannot be pickled as such (cache, copy.deepcopy).
        return (type(self), (self.tz, dict(self.windows), self.closed_dates))

    @classmethod
    def always_open(cls, tz: str = "Europe/Paris") -> BusinessCalendar:
        """24/7, no closed dates."""
        whole_day = (Window(time(0), time(0)),)
        return cls(tz=tz, windows=dict.fromkeys(range(7), whole_day))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @property
    def has_windows(self) -> bool:
        return any(self.windows.values())

    def is_working_day(self, day: date) -> bool:
        """Not closed and has at least one window."""
        return day not in self.closed_dates and bool(self.windows.get(day.weekday()))

    def is_open(self, instant: datetime) -> bool:
        """Whether ``instant`` falls inside an open window (windows are half-open)."""
        instant = _as_utc(instant)
        today = instant.astimezone(self.zone).date()
        # A window that started yesterday may still be running (night windows).
        return any(
            a <= instant < b
            for day in (today - _ONE_DAY, today)
            for a, b in self._day_intervals(day)
        )

    def open_intervals(self, start: datetime, end: datetime) -> Iterator[Interval]:
        """The open periods intersecting ``[start, end)``, clipped to it, in order.

        Adjacent or overlapping windows are merged (a 24/7 calendar yields a single
        interval). Instants are aware UTC datetimes.
        """
        start, end = _as_utc(start), _as_utc(end)
        if end <= start:
            return
        current: Interval | None = None
        for a, b in self._pieces_from(start):
            if a >= end:
                break
            b = min(b, end)
            if current is not None and a <= current[1]:
                current = (current[0], max(current[1], b))
            else:
                if current is not None:
                    yield current
                current = (a, b)
            if b >= end:
                break
        if current is not None:
            yield current

    # Internals ------------------------------------------------------------------------

    def _day_intervals(self, day: date) -> list[Interval]:
        """The real (UTC) intervals of the windows that start on local date ``day``."""
        if day in self.closed_dates:
            return []
        zone = self.zone
        out = []
        for window in self.windows.get(day.weekday(), ()):
            a = _wall_to_utc(day, window.start, zone)
            end_day = day + _ONE_DAY if window.crosses_midnight else day
            b = _wall_to_utc(end_day, window.end, zone)
            if b > a:
                out.append((a, b))
        out.sort()
        return out

    def _pieces_from(self, start: datetime) -> Iterator[Interval]:
        """Open time at/after ``start``: disjoint, ordered pieces, possibly adjacent.

        Endless for a calendar with at least one window (closed dates are finite);
        empty for a calendar with none.
        """
        if not self.has_windows:
            return
        # Windows last at most one wall-clock day, so a window that started the day
        # before ``start``'s local date is the earliest that can still be open.
        day = start.astimezone(self.zone).date() - _ONE_DAY
        cursor = start
        while True:
            for a, b in self._day_intervals(day):
                a = max(a, cursor)
                if b > a:
                    yield a, b
                    cursor = b
            day += _ONE_DAY


def contact_centre_calendar(closed_dates: Iterable[date] = frozenset()) -> BusinessCalendar:
    """The contact centre: Mon-Fri 08:00-20:00, Sat 09:00-13:00 (reduced weekend
    staffing), Sunday closed, in Paris time. Pass the public holidays (see
    :func:`public_holidays`) and any extra closed days as ``closed_dates``."""
    weekday = (Window(time(8), time(20)),)
    return BusinessCalendar(
        tz="Europe/Paris",
        windows={**dict.fromkeys(range(5), weekday), 5: (Window(time(9), time(13)),)},
        closed_dates=frozenset(closed_dates),
    )


# No closed dates: the domain does not know the current year. Callers that need
# holidays build ``contact_centre_calendar(public_holidays("FR", years))``.
DEFAULT_CONTACT_CENTRE = contact_centre_calendar()
EMERGENCY_LINE = BusinessCalendar.always_open()


def public_holidays(
    country: str, years: Iterable[int], subdiv: str | None = None
) -> frozenset[date]:
    """Public holidays of ``country`` (ISO 3166 code) for ``years``, from the
    ``holidays`` package. ``subdiv`` adds regional days, e.g. ``("FR", ..., "57")``
    (Moselle) adds Good Friday and 26 December."""
    calendar = holidays.country_holidays(country, subdiv=subdiv, years=list(years))
    return frozenset(calendar.keys())


def business_seconds_between(cal: BusinessCalendar, start: datetime, end: datetime) -> float:
    """Open time in ``[start, end)``, in seconds; 0 if ``end <= start``."""
    return _open_time(cal, _as_utc(start), _as_utc(end)).total_seconds()


def add_business_time(cal: BusinessCalendar, start: datetime, duration: timedelta) -> datetime:
    """The earliest instant ``t >= start`` with ``duration`` of open time in ``[start, t)``.

    If ``start`` is outside opening hours the clock starts at the next opening. A
    duration that ends exactly at a closing time returns that closing time. A zero
    duration returns the next opening instant at/after ``start`` (``start`` itself
    if open).
    """
    if duration < _ZERO:
        raise ValueError("duration must not be negative")
    start = _as_utc(start)
    if not cal.has_windows:
        raise ValueError("the calendar never opens")
    return _consume(cal._pieces_from(start), duration)


def add_working_days(cal: BusinessCalendar, start: datetime, days: int) -> datetime:
    """The local wall-clock time of ``start`` on the ``days``-th working day after
    ``start``'s local date.

    Rule: ``start``'s own date never counts, whatever the time and whether or not it
    is a working day; each following local date that is not closed and has at least
    one window counts one. The result keeps ``start``'s wall-clock time even if the
    calendar is closed at that time (Saturday 15:00 is valid when Saturday closes at
    13:00). ``days == 0`` returns ``start``.

    DST: the wall-clock time is rebuilt on the target date with ``fold=0``, zoneinfo's
    normalisation: a time skipped by spring-forward (02:30) lands one hour later in
    summer time (03:30), and a time repeated in autumn is its first (summer-time)
    occurrence.
    """
    if isinstance(days, bool) or not isinstance(days, int):
        raise TypeError("days must be an int")
    if days < 0:
        raise ValueError("days must not be negative")
    start = _as_utc(start)
    if days == 0:
        return start
    if not cal.has_windows:
        raise ValueError("the calendar has no working day")
    zone = cal.zone
    local = start.astimezone(zone)
    day = local.date()
    counted = 0
    while counted < days:
        day += _ONE_DAY
        if cal.is_working_day(day):
            counted += 1
    wall = datetime.combine(day, local.time().replace(fold=0), tzinfo=zone)
    return wall.astimezone(UTC)


def due_at(
    cal: BusinessCalendar,
    unit: ClockUnit,
    amount: float,
    start: datetime,
    pauses: Sequence[tuple[datetime, datetime]] = (),
) -> datetime:
    """The deadline of a clock started at ``start`` and paused during ``pauses``.

    ``pauses`` are ``[pause_start, pause_end)`` intervals at/after ``start`` (an open
    pause may be passed as ``(pause_start, now)``). A clock consumes time only while it
    is not paused; a pause that starts at or after the deadline does not move it (a
    breached clock stays breached).

    - ``CLOCK_HOURS``: ``start + amount`` real hours, plus the real time paused.
      Wall-clock time is irrelevant: 24 hours started the day before a DST change end
      24 real hours later (13:00 or 11:00 on the wall).
    - ``BUSINESS_HOURS``: ``amount`` hours of open time that is not paused; the
      earliest instant at which that much has been consumed (a zero amount gives the
      next unpaused opening).
    - ``WORKING_DAYS``: ``add_working_days(start, amount)``, then, if pauses held any
      business time, pushed later by it: ``add_business_time`` from that instant by
      the business seconds inside the pauses that began before the (pushed) deadline.
      The amount must be a whole number.
    """
    start = _as_utc(start)
    if amount < 0 or not math.isfinite(amount):
        raise ValueError("amount must be a finite, non-negative number")
    unit = ClockUnit(unit)
    stops = _normalise_pauses(start, pauses)
    if unit is ClockUnit.CLOCK_HOURS:
        return _consume(_without(iter([(start, _FAR_FUTURE)]), stops), timedelta(hours=amount))
    if not cal.has_windows:
        raise ValueError("the calendar never opens")
    if unit is ClockUnit.BUSINESS_HOURS:
        return _consume(_without(cal._pieces_from(start), stops), timedelta(hours=amount))
    base = add_working_days(cal, start, _whole_days(amount))
    due, paused = base, _ZERO
    for pause_start, pause_end in stops:
        if pause_start >= due:
            break
        paused += _open_time(cal, pause_start, pause_end)
        if paused > _ZERO:
            due = add_business_time(cal, base, paused)
    return due


def elapsed(
    cal: BusinessCalendar,
    unit: ClockUnit,
    amount: float,
    start: datetime,
    now: datetime,
    pauses: Sequence[tuple[datetime, datetime]] = (),
) -> float:
    """The fraction of the clock consumed at ``now``, in ``[0, +inf)``.

    0.8 means 80 % used; 1.0 is reached at ``due_at(cal, unit, amount, start, pauses)``
    and the value keeps growing past it. Pauses (an open one as ``(pause_start, now)``)
    are clipped to ``now``. ``CLOCK_HOURS`` and ``BUSINESS_HOURS`` divide the consumed
    real / unpaused open time by ``amount`` hours; ``WORKING_DAYS`` divides the
    unpaused business seconds consumed by the business seconds between ``start`` and
    the unpaused due. A working-days due that falls outside opening hours is reached
    in business time at the previous closing, so the fraction is already 1.0 from
    there to the due: decide breaches on ``due_at``, not on this fraction.

    A clock with nothing to consume (zero amount, or working days whose unpaused due
    holds no business time) is 0.0 before its due and 1.0 from it.
    """
    start, now = _as_utc(start), _as_utc(now)
    if amount < 0 or not math.isfinite(amount):
        raise ValueError("amount must be a finite, non-negative number")
    unit = ClockUnit(unit)
    stops = [(a, min(b, now)) for a, b in _normalise_pauses(start, pauses) if a < now]
    if unit is ClockUnit.CLOCK_HOURS:
        budget = timedelta(hours=amount)
        consumed = max(now - start, _ZERO) - sum((b - a for a, b in stops), _ZERO)
    else:
        if unit is ClockUnit.BUSINESS_HOURS:
            budget = timedelta(hours=amount)
        else:
            budget = _open_time(cal, start, add_working_days(cal, start, _whole_days(amount)))
        consumed = _open_time(cal, start, now) - sum(
            (_open_time(cal, a, b) for a, b in stops), _ZERO
        )
    if budget <= _ZERO:
        return 1.0 if now >= due_at(cal, unit, amount, start, pauses) else 0.0
    return max(consumed, _ZERO) / budget


# Helpers ------------------------------------------------------------------------------


def _as_utc(instant: datetime) -> datetime:
    if not isinstance(instant, datetime):
        raise TypeError("expected a datetime")
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("naive datetime: pass a timezone-aware instant")
    return instant.astimezone(UTC)


def _whole_days(amount: float) -> int:
    if amount != int(amount):
        raise ValueError("WORKING_DAYS amounts must be whole numbers")
    return int(amount)


def _wall_to_utc(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The first instant at which the local wall clock reaches ``wall`` on ``day``.

    A repeated wall time is its first occurrence (``fold=0``); a skipped one is the
    instant of the jump over it.
    """
    naive = datetime.combine(day, wall)
    instant = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == naive:
        return instant
    # Skipped: with fold=0 zoneinfo used the offset from before the jump, which gives
    # an instant after it; with fold=1 the offset after the jump, an instant before it.
    before = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    after = instant
    # Bisect down to the jump: the first instant whose wall time is at/after `naive`.
    lo, hi = before, after
    step = timedelta(microseconds=1)
    while hi - lo > step:
        mid = lo + (hi - lo) / 2
        if mid.astimezone(zone).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid
    return hi


def _open_time(cal: BusinessCalendar, start: datetime, end: datetime) -> timedelta:
    return sum((b - a for a, b in cal.open_intervals(start, end)), _ZERO)


def _normalise_pauses(
    start: datetime, pauses: Sequence[tuple[datetime, datetime]]
) -> list[Interval]:
    """Pauses as sorted, disjoint UTC intervals at/after ``start``."""
    out: list[Interval] = []
    for pause_start, pause_end in sorted((_as_utc(a), _as_utc(b)) for a, b in pauses):
        if pause_end < pause_start:
            raise ValueError("a pause cannot end before it starts")
        pause_start = max(pause_start, start)
        if pause_end <= pause_start:
            continue
        if out and pause_start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], pause_end))
        else:
            out.append((pause_start, pause_end))
    return out


def _without(pieces: Iterator[Interval], stops: Sequence[Interval]) -> Iterator[Interval]:
    """``pieces`` minus ``stops`` (both ordered and disjoint)."""
    i = 0
    for a, b in pieces:
        while a < b:
            while i < len(stops) and stops[i][1] <= a:
                i += 1
            if i == len(stops) or stops[i][0] >= b:
                yield a, b
                break
            stop_start, stop_end = stops[i]
            if stop_start > a:
                yield a, stop_start
            a = max(a, stop_end)


def _consume(pieces: Iterator[Interval], budget: timedelta) -> datetime:
    """The instant at which ``budget`` of the ordered ``pieces`` has been used up."""
    remaining = budget
    for a, b in pieces:
        if remaining <= b - a:
            return a + remaining
        remaining -= b - a
    raise ValueError("the clock never runs long enough")  # pragma: no cover
