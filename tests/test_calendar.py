"""Business-time arithmetic of the SLA engine (tickets.domain.calendar). No database.

Expected instants are written by hand as Paris wall-clock strings ("2026-03-29 13:00").
A wall time that is skipped or repeated by a DST change must carry its offset
("2026-10-25T02:30+01:00" is the second 02:30 of the autumn night); the helper refuses
the bare form so that no expectation is silently ambiguous.

Paris 2026: summer time starts Sunday 29 March (02:00 CET -> 03:00 CEST) and ends Sunday
25 October (03:00 CEST -> 02:00 CET). Fixed dates used below: Fri 1 May (Labour Day),
Fri 8 May (Victory Day), Thu 14 May (Ascension), Wed 11 Nov, Fri 25 Dec; Fri 1 Jan 2027.
"""

from __future__ import annotations

import copy
import pickle
import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tickets.domain.calendar import (
    DEFAULT_CONTACT_CENTRE,
    EMERGENCY_LINE,
    BusinessCalendar,
    ClockUnit,
    Window,
    add_business_time,
    add_working_days,
    business_seconds_between,
    contact_centre_calendar,
    due_at,
    elapsed,
    public_holidays,
)

PARIS = ZoneInfo("Europe/Paris")
H = 3600.0


def at(text: str) -> datetime:
    """A Paris wall-clock string (or an ISO string with an offset) as an aware instant."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is not None:
        return parsed
    first = parsed.replace(tzinfo=PARIS, fold=0)
    second = parsed.replace(tzinfo=PARIS, fold=1)
    if first.astimezone(UTC) != second.astimezone(UTC):
        raise ValueError(f"{text} is skipped or repeated in Paris: give its offset")
    return first


def utc(text: str) -> datetime:
    return at(text).astimezone(UTC)


def paris(instant: datetime) -> str:
    """For readable assertion messages."""
    return instant.astimezone(PARIS).isoformat(sep=" ")


def every_day(*windows: tuple[str, str], closed: frozenset[date] = frozenset()):
    spans = tuple(Window(time.fromisoformat(a), time.fromisoformat(b)) for a, b in windows)
    return BusinessCalendar(
        tz="Europe/Paris", windows=dict.fromkeys(range(7), spans), closed_dates=closed
    )


FR = public_holidays("FR", [2026, 2027])
MOSELLE = public_holidays("FR", [2026, 2027], subdiv="57")

CC = contact_centre_calendar(FR)  # Mon-Fri 08-20, Sat 09-13, Sun closed, FR holidays
CC_MOSELLE = contact_centre_calendar(MOSELLE)  # + Good Friday and 26 December
SPLIT = BusinessCalendar(
    windows=dict.fromkeys(range(5), (Window(time(9), time(12)), Window(time(14), time(18)))),
    closed_dates=FR,
)  # Mon-Fri 09-12 and 14-18 (lunch break)
NIGHT = every_day(("22:00", "02:00"), closed=frozenset({date(2026, 5, 1)}))  # night desk
NIGHT_DST = every_day(("01:00", "04:00"))  # covers both DST changes
H24 = EMERGENCY_LINE

CLOCK = ClockUnit.CLOCK_HOURS
BH = ClockUnit.BUSINESS_HOURS
WD = ClockUnit.WORKING_DAYS


def case(name, cal, unit, amount, start, expected, pauses=()):
    return pytest.param(cal, unit, amount, start, tuple(pauses), expected, id=name)


# fmt: off
DUE_AT_CASES = [
    # --- CLOCK_HOURS: real time, the calendar is ignored ----------------------------------
    case("clock-24h-plain", CC, CLOCK, 24, "2026-06-10 10:00", "2026-06-11 10:00"),
    # Sat 12:00 CET = 11:00 UTC; +24 h = Sun 11:00 UTC = 13:00 CEST (the wall moved 25 h).
    case("clock-24h-spring-forward", CC, CLOCK, 24, "2026-03-28 12:00", "2026-03-29 13:00"),
    # Sat 12:00 CEST = 10:00 UTC; +24 h = Sun 10:00 UTC = 11:00 CET (the wall moved 23 h).
    case("clock-24h-fall-back", CC, CLOCK, 24, "2026-10-24 12:00", "2026-10-25 11:00"),
    # 00:30 CET = 23:30 UTC; +2 h = 01:30 UTC = 03:30 CEST (02:00-03:00 never exists).
    case("clock-2h-over-spring-gap", CC, CLOCK, 2, "2026-03-29 00:30", "2026-03-29 03:30"),
    # 01:30 CEST = 23:30 UTC; +2 h = 01:30 UTC = the second 02:30 of the night (CET).
    case("clock-2h-into-repeated-hour", CC, CLOCK, 2, "2026-10-25 01:30",
         "2026-10-25T02:30+01:00"),
    # 10:00 + 8 h = 18:00, + 2h30 paused = 20:30.
    case("clock-pause-one", CC, CLOCK, 8, "2026-06-10 10:00", "2026-06-10 20:30",
         [("2026-06-10 11:00", "2026-06-10 13:30")]),
    # 18:00 + 1 h + 30 min + 15 min paused = 19:45.
    case("clock-pause-several", CC, CLOCK, 8, "2026-06-10 10:00", "2026-06-10 19:45",
         [("2026-06-10 11:00", "2026-06-10 12:00"), ("2026-06-10 14:00", "2026-06-10 14:30"),
          ("2026-06-10 16:00", "2026-06-10 16:15")]),
    # 3 h consumed at the pause (13:00), 1 h left at resume (16:00): 17:00.
    case("clock-pause-spanning-deadline", CC, CLOCK, 4, "2026-06-10 10:00", "2026-06-10 17:00",
         [("2026-06-10 13:00", "2026-06-10 16:00")]),
    # Due 14:00; a pause taken after the breach does not un-breach the clock.
    case("clock-pause-after-deadline-ignored", CC, CLOCK, 4, "2026-06-10 10:00",
         "2026-06-10 14:00", [("2026-06-10 15:00", "2026-06-10 16:00")]),
    # Pause 01:00 CET (00:00 UTC) -> 04:00 CEST (02:00 UTC) is 2 real hours, not 3.
    # Start 19:00 UTC Sat + 24 h + 2 h = 21:00 UTC Sun = 23:00 CEST.
    case("clock-pause-across-spring-dst", CC, CLOCK, 24, "2026-03-28 20:00", "2026-03-29 23:00",
         [("2026-03-29 01:00", "2026-03-29 04:00")]),
    # Pause 01:00 CEST (23:00 UTC) -> 04:00 CET (03:00 UTC) is 4 real hours.
    # Start 18:00 UTC Sat + 24 h + 4 h = 22:00 UTC Sun = 23:00 CET.
    case("clock-pause-across-fall-dst", CC, CLOCK, 24, "2026-10-24 20:00", "2026-10-25 23:00",
         [("2026-10-25 01:00", "2026-10-25 04:00")]),
    case("clock-zero", CC, CLOCK, 0, "2026-06-14 11:00", "2026-06-14 11:00"),
    # 21 days = 504 h from 09:00 UTC = 6 April 09:00 UTC, i.e. 11:00 in summer time.
    case("clock-3-weeks-across-dst", CC, CLOCK, 504, "2026-03-16 10:00", "2026-04-06 11:00"),

    # --- BUSINESS_HOURS, contact centre (Mon-Fri 08-20, Sat 09-13) --------------------------
    case("bh-same-day", CC, BH, 4, "2026-06-10 10:00", "2026-06-10 14:00"),
    # Wed 18-20 (2 h), Thu 08:00 + 2 h.
    case("bh-overnight", CC, BH, 4, "2026-06-10 18:00", "2026-06-11 10:00"),
    # Fri 18-20 (2 h), Sat 09-13 (4 h, total 6), Sunday closed, Mon 08:00 + 2 h.
    case("bh-friday-saturday-monday", CC, BH, 8, "2026-06-12 18:00", "2026-06-15 10:00"),
    case("bh-start-before-opening", CC, BH, 1, "2026-06-10 06:00", "2026-06-10 09:00"),
    case("bh-start-after-closing", CC, BH, 1, "2026-06-10 21:30", "2026-06-11 09:00"),
    case("bh-start-on-sunday", CC, BH, 3, "2026-06-14 11:00", "2026-06-15 11:00"),
    # Saturday closes at 13:00; nothing until Monday 08:00.
    case("bh-start-saturday-afternoon", CC, BH, 2, "2026-06-13 15:00", "2026-06-15 10:00"),
    # Thu 19-20 (1 h), Fri 1 May closed, Sat 09:00 + 2 h.
    case("bh-holiday-may-1", CC, BH, 3, "2026-04-30 19:00", "2026-05-02 11:00"),
    # Start on the holiday: Sat 09-13 (4 h), Mon 4 May 08:00 + 1 h.
    case("bh-start-on-holiday", CC, BH, 5, "2026-05-01 10:00", "2026-05-04 09:00"),
    # Wed 17-20 (3 h), Thu 14 May Ascension closed, Fri 08:00 + 9 h.
    case("bh-ascension", CC, BH, 12, "2026-05-13 17:00", "2026-05-15 17:00"),
    # Thu 16-20 (4 h), Fri 25 closed, Sat 26 open nationally (4 h), Mon 08:00 + 2 h.
    case("bh-christmas", CC, BH, 10, "2026-12-24 16:00", "2026-12-28 10:00"),
    # Same in Moselle: 26 December is closed too, so Mon 08:00 + 6 h.
    case("bh-christmas-moselle", CC_MOSELLE, BH, 10, "2026-12-24 16:00", "2026-12-28 14:00"),
    # Week 1: 5x12 + 4 = 64 h; week 2 without Wed 11 Nov: 52 h (116); week 3: 64 h (180);
    # Mon 23: 12 h (192); Tue 24: 08:00 + 8 h.
    case("bh-200h-over-three-weeks", CC, BH, 200, "2026-11-02 08:00", "2026-11-24 16:00"),
    # Mon-Thu 48 h, Fri 25 closed, Sat 26 4 h (52), Mon 28-Thu 31 48 h (100): the budget
    # runs out exactly at Thursday's closing, which is the answer (not Saturday 09:00).
    case("bh-100h-over-christmas", CC, BH, 100, "2026-12-21 08:00", "2026-12-31 20:00"),
    case("bh-zero-in-hours", CC, BH, 0, "2026-06-10 10:00", "2026-06-10 10:00"),
    # Zero duration outside hours: the next opening.
    case("bh-zero-outside-hours", CC, BH, 0, "2026-06-10 21:00", "2026-06-11 08:00"),

    # --- BUSINESS_HOURS, split windows 09-12 + 14-18 -----------------------------------------
    case("bh-split-over-lunch", SPLIT, BH, 2, "2026-06-10 11:00", "2026-06-10 15:00"),
    # 14-18 (4 h), Thu 09:00 + 1 h.
    case("bh-split-start-at-lunch", SPLIT, BH, 5, "2026-06-10 12:30", "2026-06-11 10:00"),
    # Earliest instant: 12:00, not the 14:00 reopening.
    case("bh-split-ends-at-noon", SPLIT, BH, 3, "2026-06-10 09:00", "2026-06-10 12:00"),
    # Thu 16-18 (2 h), Fri 1 May closed, Mon 09-12 (3 h, total 5), 14:00 + 2 h.
    case("bh-split-over-holiday", SPLIT, BH, 7, "2026-04-30 16:00", "2026-05-04 16:00"),

    # --- BUSINESS_HOURS, night window 22:00-02:00 (Fri 1 May closed) -------------------------
    # Wed 23:00-Thu 02:00 (3 h), Thu 22:00 + 1 h.
    case("bh-night-window", NIGHT, BH, 4, "2026-06-10 23:00", "2026-06-11 23:00"),
    # Thu 30 Apr 23:00 -> Fri 02:00 runs (it starts on Thursday); the window starting on
    # Fri 1 May is suppressed; Sat 22:00 + 1 h.
    case("bh-night-closed-start-date", NIGHT, BH, 4, "2026-04-30 23:00", "2026-05-02 23:00"),
    # At 01:00 on the closed Friday, Thursday's window is still open until 02:00 (1 h).
    case("bh-night-start-after-midnight-on-closed-date", NIGHT, BH, 2, "2026-05-01 01:00",
         "2026-05-02 23:00"),
    # Sat 22:00 CET (21:00 UTC) -> the wall never reads 02:00 that night; the window closes
    # at the jump, 01:00 UTC = 03:00 CEST: 4 real hours, all consumed.
    case("bh-night-window-spring-night", NIGHT, BH, 4, "2026-03-28 22:00", "2026-03-29 03:00"),

    # --- BUSINESS_HOURS across DST, window 01:00-04:00 every day ----------------------------
    # Sat 3 h; Sun 01:00 CET (00:00 UTC) + 1 h = 01:00 UTC = 03:00 CEST.
    case("bh-spring-into-short-window", NIGHT_DST, BH, 4, "2026-03-28 01:00",
         "2026-03-29 03:00"),
    # Sat 3 h, Sun only 2 real hours (5), Mon 01:00 + 30 min.
    case("bh-spring-short-window", NIGHT_DST, BH, 5.5, "2026-03-28 01:00", "2026-03-30 01:30"),
    # Sat 3 h; Sun window from 23:00 UTC lasts 4 h: + 2h30 = 01:30 UTC = second 02:30 (CET).
    case("bh-fall-long-window", NIGHT_DST, BH, 5.5, "2026-10-24 01:00",
         "2026-10-25T02:30+01:00"),
    # Sat 3 h + Sun 4 h = 7 h exactly at Sunday's 04:00 CET close.
    case("bh-fall-full-long-window", NIGHT_DST, BH, 7, "2026-10-24 01:00", "2026-10-25 04:00"),

    # --- BUSINESS_HOURS, 24/7: same as clock hours ------------------------------------------
    case("bh-24x7-spring-forward", H24, BH, 24, "2026-03-28 12:00", "2026-03-29 13:00"),
    case("bh-24x7-fall-back", H24, BH, 24, "2026-10-24 12:00", "2026-10-25 11:00"),
    case("bh-24x7-one-week", H24, BH, 168, "2026-06-10 10:00", "2026-06-17 10:00"),

    # --- BUSINESS_HOURS with pauses ---------------------------------------------------------
    case("bh-pause-one", CC, BH, 8, "2026-06-10 10:00", "2026-06-10 19:00",
         [("2026-06-10 11:00", "2026-06-10 12:00")]),
    # 10-11 (1 h), paused, 12-17 (5 h, total 6), paused to Thu 09:00, then + 2 h.
    case("bh-pause-several", CC, BH, 8, "2026-06-10 10:00", "2026-06-11 11:00",
         [("2026-06-10 11:00", "2026-06-10 12:00"), ("2026-06-10 17:00", "2026-06-11 09:00")]),
    # Fri 16-18 (2 h), paused over Saturday's opening, resumed Mon 10:00 + 4 h.
    case("bh-pause-spanning-weekend", CC, BH, 6, "2026-06-12 16:00", "2026-06-15 14:00",
         [("2026-06-12 18:00", "2026-06-15 10:00")]),
    # Thu 18-19 (1 h), paused across the 1 May holiday, Sat 10:00 + 3 h = 13:00 close.
    case("bh-pause-spanning-holiday", CC, BH, 4, "2026-04-30 18:00", "2026-05-02 13:00",
         [("2026-04-30 19:00", "2026-05-02 10:00")]),
    # A pause entirely outside opening hours holds no business time: no effect.
    case("bh-pause-outside-hours", CC, BH, 4, "2026-06-10 18:00", "2026-06-11 10:00",
         [("2026-06-10 21:00", "2026-06-11 07:00")]),
    # Sat 3 h; Sun 01:00-01:30 CET (3.5); paused 00:30-01:30 UTC; 03:30-04:00 CEST (4.0);
    # Mon 01:00 + 1 h.
    case("bh-pause-across-spring-dst", NIGHT_DST, BH, 5, "2026-03-28 01:00", "2026-03-30 02:00",
         [("2026-03-29 01:30", "2026-03-29 03:30")]),

    # --- WORKING_DAYS: same wall-clock time, N working days later --------------------------
    case("wd-1-plain", CC, WD, 1, "2026-06-10 14:00", "2026-06-11 14:00"),
    # Saturday has a window, so it is a working day; 14:00 is kept though Saturday
    # closes at 13:00.
    case("wd-friday-to-saturday", CC, WD, 1, "2026-06-12 14:00", "2026-06-13 14:00"),
    # Sat (1), Sunday has no window, Mon (2).
    case("wd-2-skips-sunday", CC, WD, 2, "2026-06-12 14:00", "2026-06-15 14:00"),
    case("wd-start-on-sunday", CC, WD, 1, "2026-06-14 10:00", "2026-06-15 10:00"),
    # Fri 1 May closed: Sat 2 (1), Mon 4 (2).
    case("wd-over-may-1", CC, WD, 2, "2026-04-30 10:00", "2026-05-04 10:00"),
    case("wd-start-on-holiday", CC, WD, 1, "2026-05-01 10:00", "2026-05-02 10:00"),
    case("wd-over-ascension", CC, WD, 1, "2026-05-13 10:00", "2026-05-15 10:00"),
    # Sat 28 Mar 10:00 CET -> Mon 30 10:00 CEST: 47 real hours, wall time kept.
    case("wd-spring-forward", CC, WD, 1, "2026-03-28 10:00", "2026-03-30 10:00"),
    # Sat (1), Mon 26 (2) 15:00 CET: 73 real hours.
    case("wd-fall-back", CC, WD, 2, "2026-10-23 15:00", "2026-10-26 15:00"),
    # 24/7: Sunday 02:30 does not exist; fold=0 reads it with the winter offset, which
    # is 01:30 UTC = 03:30 CEST.
    case("wd-24x7-nonexistent-wall-time", H24, WD, 1, "2026-03-28 02:30", "2026-03-29 03:30"),
    # 24/7: Sunday 02:30 happens twice; fold=0 is the first, summer-time one.
    case("wd-24x7-ambiguous-wall-time", H24, WD, 1, "2026-10-24 02:30",
         "2026-10-25T02:30+02:00"),
    # Started during the second 02:30 (CET): Monday 02:30 CET.
    case("wd-24x7-start-in-repeated-hour", H24, WD, 1, "2026-10-25T02:30+01:00",
         "2026-10-26 02:30"),
    # The night desk's Friday 1 May is closed: Thursday + 1 = Saturday.
    case("wd-night-calendar-closed-date", NIGHT, WD, 1, "2026-04-30 23:00",
         "2026-05-02 23:00"),
    # Thu 17 .. Thu 24 (7), Fri 25 closed, Sat 26 (8), Mon 28 (9), Tue 29 (10).
    case("wd-10-over-christmas", CC, WD, 10, "2026-12-16 09:00", "2026-12-29 09:00"),
    # May 2026 has three weekday holidays (1, 8, 14): 20 working days = Sat 23 May.
    case("wd-20-over-may-holidays", CC, WD, 20, "2026-04-27 10:00", "2026-05-23 10:00"),
    case("wd-zero", CC, WD, 0, "2026-06-14 11:00", "2026-06-14 11:00"),

    # --- WORKING_DAYS with pauses: the base due pushed by the paused business time ---------
    # Base Fri 12 10:00; paused Wed 15-20 (5 h) + Thu 08-11 (3 h) = 8 h; Fri 10:00 + 8 h.
    case("wd-pause-one", CC, WD, 2, "2026-06-10 10:00", "2026-06-12 18:00",
         [("2026-06-10 15:00", "2026-06-11 11:00")]),
    # Paused 1 h + (Thu 19-20 + Fri 08-09) 2 h = 3 h: Fri 10:00 + 3 h.
    case("wd-pause-several", CC, WD, 2, "2026-06-10 10:00", "2026-06-12 13:00",
         [("2026-06-10 11:00", "2026-06-10 12:00"), ("2026-06-11 19:00", "2026-06-12 09:00")]),
    # Base Sat 2 May 10:00; paused Thu 18-20 (2 h) + Fri holiday (0) + Sat 09:00-09:30:
    # 2h30, Sat 10:00 + 2h30.
    case("wd-pause-spanning-holiday", CC, WD, 1, "2026-04-30 10:00", "2026-05-02 12:30",
         [("2026-04-30 18:00", "2026-05-02 09:30")]),
    # Base Sat 10:00; 6 h paused on Friday: Sat 10-13 (3 h), Mon 08:00 + 3 h.
    case("wd-pause-pushes-over-weekend", CC, WD, 1, "2026-06-12 10:00", "2026-06-15 11:00",
         [("2026-06-12 12:00", "2026-06-12 18:00")]),
    # 24/7, base Sun 12:00 CEST; the pause 01:00 CET -> 04:00 CEST is 2 real hours.
    case("wd-pause-across-spring-dst", H24, WD, 1, "2026-03-28 12:00", "2026-03-29 14:00",
         [("2026-03-29 01:00", "2026-03-29 04:00")]),
    # Base Tue 21:00 is after closing; the pause begins before it (20:30) and holds
    # Wed 08-10 (2 h): Tue 21:00 + 2 business hours = Wed 10:00.
    case("wd-pause-between-closing-and-due", CC, WD, 1, "2026-06-08 21:00", "2026-06-10 10:00",
         [("2026-06-09 20:30", "2026-06-10 10:00")]),
    case("wd-pause-after-due-ignored", CC, WD, 1, "2026-06-10 10:00", "2026-06-11 10:00",
         [("2026-06-11 11:00", "2026-06-11 12:00")]),
]
# fmt: on


def _pauses(pauses):
    return [(at(a), at(b)) for a, b in pauses]


@pytest.mark.parametrize(("cal", "unit", "amount", "start", "pauses", "expected"), DUE_AT_CASES)
def test_due_at(cal, unit, amount, start, pauses, expected):
    got = due_at(cal, unit, amount, at(start), _pauses(pauses))
    assert got.tzinfo is UTC
    assert got == utc(expected), f"got {paris(got)}"


def test_due_at_table_is_large_enough():
    assert len(DUE_AT_CASES) >= 30


@pytest.mark.parametrize(("cal", "unit", "amount", "start", "pauses", "expected"), DUE_AT_CASES)
def test_elapsed_is_exactly_one_at_due(cal, unit, amount, start, pauses, expected):
    pause_list = _pauses(pauses)
    due = due_at(cal, unit, amount, at(start), pause_list)
    assert elapsed(cal, unit, amount, at(start), due, pause_list) == pytest.approx(1.0, abs=1e-9)
    if amount and unit is not WD:
        before = due - timedelta(minutes=1)
        assert elapsed(cal, unit, amount, at(start), before, pause_list) < 1.0


def test_due_at_without_pauses_matches_the_primitives():
    start = at("2026-06-12 18:00")
    assert due_at(CC, BH, 8, start) == add_business_time(CC, start, timedelta(hours=8))
    assert due_at(CC, WD, 3, start) == add_working_days(CC, start, 3)
    assert due_at(CC, "CLOCK_HOURS", 1.5, start) == utc("2026-06-12 19:30")


def test_due_at_accepts_an_open_pause_as_pause_start_now():
    start, now = at("2026-06-10 10:00"), at("2026-06-10 12:00")
    # Paused since 11:00 and still paused at noon: 1 h used, 7 h left from noon.
    assert due_at(CC, BH, 8, start, [(at("2026-06-10 11:00"), now)]) == utc("2026-06-10 19:00")


def test_due_at_refuses_bad_input():
    start = at("2026-06-10 10:00")
    with pytest.raises(ValueError, match="whole"):
        due_at(CC, WD, 1.5, start)
    with pytest.raises(ValueError):
        due_at(CC, BH, -1, start)
    with pytest.raises(ValueError, match="naive"):
        due_at(CC, BH, 1, datetime(2026, 6, 10, 10))
    with pytest.raises(ValueError):
        due_at(CC, BH, 1, start, [(at("2026-06-10 12:00"), at("2026-06-10 11:00"))])
    with pytest.raises(ValueError, match="never opens"):
        due_at(BusinessCalendar(windows={}), BH, 1, start)


# --- business_seconds_between ------------------------------------------------------------


@pytest.mark.parametrize(
    ("cal", "start", "end", "hours"),
    [
        pytest.param(CC, "2026-06-10 10:00", "2026-06-11 10:00", 12, id="wed-to-thu"),
        pytest.param(CC, "2026-06-10 21:00", "2026-06-11 07:00", 0, id="overnight-closed"),
        # Fri 19-20, Sat 09-13, Mon 08-09.
        pytest.param(CC, "2026-06-12 19:00", "2026-06-15 09:00", 6, id="weekend"),
        # Thu 19-20, Fri 1 May closed, Sat 09-10.
        pytest.param(CC, "2026-04-30 19:00", "2026-05-02 10:00", 2, id="over-may-1"),
        pytest.param(CC, "2026-06-01 00:00", "2026-06-08 00:00", 64, id="full-week"),
        pytest.param(SPLIT, "2026-06-10 10:00", "2026-06-10 15:00", 3, id="split-lunch"),
        # Wednesday's window until Thu 02:00 (2 h), Thu 22:00-Fri 02:00 (4 h), nothing from
        # the closed Friday, Sat 22:00-Sun 00:00 (2 h).
        pytest.param(
            NIGHT, "2026-04-30 00:00", "2026-05-03 00:00", 2 + 4 + 2, id="night-closed-date"
        ),
        pytest.param(NIGHT_DST, "2026-03-28 00:00", "2026-03-30 00:00", 3 + 2, id="dst-spring"),
        pytest.param(NIGHT_DST, "2026-10-24 00:00", "2026-10-26 00:00", 3 + 4, id="dst-fall"),
        pytest.param(H24, "2026-03-28 00:00", "2026-03-30 00:00", 47, id="24x7-spring"),
        pytest.param(H24, "2026-10-24 00:00", "2026-10-26 00:00", 49, id="24x7-fall"),
        pytest.param(CC, "2026-06-11 10:00", "2026-06-10 10:00", 0, id="end-before-start"),
        pytest.param(CC, "2026-06-10 10:00", "2026-06-10 10:00", 0, id="empty"),
    ],
)
def test_business_seconds_between(cal, start, end, hours):
    assert business_seconds_between(cal, at(start), at(end)) == hours * H


# --- add_business_time --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cal", "start", "duration", "expected"),
    [
        pytest.param(
            CC, "2026-06-10 19:00", timedelta(hours=1), "2026-06-10 20:00", id="ends-at-closing"
        ),
        pytest.param(
            CC,
            "2026-06-10 20:00",
            timedelta(0),
            "2026-06-11 08:00",
            id="zero-at-closing-is-next-opening",
        ),
        pytest.param(
            CC,
            "2026-06-13 12:59:30",
            timedelta(seconds=45),
            "2026-06-15 08:00:15",
            id="seconds-over-weekend",
        ),
        pytest.param(
            NIGHT,
            "2026-06-10 12:00",
            timedelta(minutes=90),
            "2026-06-10 23:30",
            id="night-from-midday",
        ),
    ],
)
def test_add_business_time(cal, start, duration, expected):
    assert add_business_time(cal, at(start), duration) == utc(expected)


def test_add_business_time_refuses_negative_and_never_open():
    with pytest.raises(ValueError):
        add_business_time(CC, at("2026-06-10 10:00"), timedelta(hours=-1))
    with pytest.raises(ValueError):
        add_business_time(BusinessCalendar(), at("2026-06-10 10:00"), timedelta(hours=1))


# --- add_working_days ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cal", "start", "days", "expected"),
    [
        pytest.param(CC, "2026-06-10 09:15", 1, "2026-06-11 09:15", id="next-day"),
        pytest.param(CC, "2026-06-10 23:59", 1, "2026-06-11 23:59", id="late-evening"),
        pytest.param(CC, "2026-06-13 11:00", 1, "2026-06-15 11:00", id="saturday-to-monday"),
        pytest.param(CC, "2026-06-12 11:00", 5, "2026-06-18 11:00", id="over-a-weekend"),
        # Thu 30 Apr + 5: Sat 2, Mon 4, Tue 5, Wed 6, Thu 7.
        pytest.param(CC, "2026-04-30 11:00", 5, "2026-05-07 11:00", id="over-may-1"),
        # Thu 7 + 1: Fri 8 May (Victory Day) closed, Saturday 9.
        pytest.param(CC, "2026-05-07 11:00", 1, "2026-05-09 11:00", id="over-may-8"),
        # SPLIT has no Saturday window: Thu 24 Dec + 1 = Mon 28 (Fri 25 closed).
        pytest.param(SPLIT, "2026-12-24 16:00", 1, "2026-12-28 16:00", id="christmas-weekend"),
        # Thu 31 Dec + 1: Fri 1 Jan 2027 closed, Sat 2.
        pytest.param(CC, "2026-12-31 10:00", 1, "2027-01-02 10:00", id="new-year"),
        pytest.param(CC_MOSELLE, "2026-12-24 10:00", 1, "2026-12-28 10:00", id="moselle-26-dec"),
        # Moselle: Good Friday 3 Apr closed, Sat 4, Mon 6 Easter Monday closed, Tue 7.
        pytest.param(CC_MOSELLE, "2026-04-02 10:00", 2, "2026-04-07 10:00", id="moselle-easter"),
        pytest.param(CC, "2026-06-10 10:00", 0, "2026-06-10 10:00", id="zero"),
    ],
)
def test_add_working_days(cal, start, days, expected):
    got = add_working_days(cal, at(start), days)
    assert got == utc(expected), f"got {paris(got)}"


def test_add_working_days_refuses_bad_input():
    with pytest.raises(ValueError):
        add_working_days(CC, at("2026-06-10 10:00"), -1)
    with pytest.raises(TypeError):
        add_working_days(CC, at("2026-06-10 10:00"), 1.5)
    with pytest.raises(ValueError):
        add_working_days(BusinessCalendar(), at("2026-06-10 10:00"), 1)


# --- elapsed -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cal", "unit", "amount", "start", "now", "pauses", "expected"),
    [
        # 8 business hours from 10:00: 6h24 used at 16:24 is the 80 % warning point.
        pytest.param(CC, BH, 8, "2026-06-10 10:00", "2026-06-10 16:24", (), 0.8, id="bh-80pc"),
        pytest.param(CC, BH, 8, "2026-06-10 10:00", "2026-06-10 18:00", (), 1.0, id="bh-due"),
        # Until Wed 20:00 close: 10 h of 8.
        pytest.param(CC, BH, 8, "2026-06-10 10:00", "2026-06-10 23:00", (), 1.25, id="bh-late"),
        pytest.param(CC, BH, 8, "2026-06-10 10:00", "2026-06-10 09:00", (), 0.0, id="bh-before"),
        # Paused since 11:00, still paused at 12:00: 1 h of 8.
        pytest.param(
            CC,
            BH,
            8,
            "2026-06-10 10:00",
            "2026-06-10 12:00",
            [("2026-06-10 11:00", "2026-06-10 12:00")],
            0.125,
            id="bh-open-pause",
        ),
        # A pause ending after `now` counts only up to `now`.
        pytest.param(
            CC,
            BH,
            8,
            "2026-06-10 10:00",
            "2026-06-10 12:00",
            [("2026-06-10 11:00", "2026-06-10 15:00")],
            0.125,
            id="bh-pause-clipped",
        ),
        # 24 clock hours from Sat 12:00 CET: 19.2 real hours later is Sun 08:12 CEST.
        pytest.param(
            CC, CLOCK, 24, "2026-03-28 12:00", "2026-03-29 08:12", (), 0.8, id="clock-80pc-dst"
        ),
        # Base Thu 10:00: budget Wed 10-20 + Thu 08-10 = 12 h; Wed 19:36 is 9.6 h = 0.8.
        pytest.param(CC, WD, 1, "2026-06-10 10:00", "2026-06-10 19:36", (), 0.8, id="wd-80pc"),
        pytest.param(CC, WD, 1, "2026-06-10 10:00", "2026-06-11 10:00", (), 1.0, id="wd-due"),
        # Sat 15:00 + 1 working day = Mon 15:00; budget Mon 08-15 = 7 h; Mon 13:36 = 5.6 h.
        pytest.param(
            CC, WD, 1, "2026-06-13 15:00", "2026-06-15 13:36", (), 0.8, id="wd-80pc-from-saturday"
        ),
        pytest.param(CC, BH, 0, "2026-06-10 21:00", "2026-06-10 22:00", (), 0.0, id="zero-before"),
        pytest.param(CC, BH, 0, "2026-06-10 21:00", "2026-06-11 08:00", (), 1.0, id="zero-at-due"),
        # Sun 07:00 + 1 working day = Mon 07:00, before opening: nothing to consume.
        pytest.param(CC, WD, 1, "2026-06-14 07:00", "2026-06-15 06:59", (), 0.0, id="wd-empty"),
        pytest.param(CC, WD, 1, "2026-06-14 07:00", "2026-06-15 07:00", (), 1.0, id="wd-empty-due"),
    ],
)
def test_elapsed(cal, unit, amount, start, now, pauses, expected):
    got = elapsed(cal, unit, amount, at(start), at(now), _pauses(pauses))
    assert got == pytest.approx(expected, abs=1e-9)


def test_elapsed_crosses_the_warning_point_at_80_percent():
    start = at("2026-06-12 18:00")  # 8 business hours: due Mon 15 June 10:00
    warn = due_at(CC, BH, 8 * 0.8, start)  # 6.4 h: Fri 2 h + Sat 09:00-13:00 + 0.4 h Mon
    assert warn == utc("2026-06-15 08:24")
    assert elapsed(CC, BH, 8, start, warn) == pytest.approx(0.8)
    assert elapsed(CC, BH, 8, start, warn - timedelta(seconds=1)) < 0.8


# --- is_open ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cal", "instant", "expected"),
    [
        pytest.param(CC, "2026-06-10 08:00", True, id="opening-instant"),
        pytest.param(CC, "2026-06-10 19:59:59", True, id="last-second"),
        pytest.param(CC, "2026-06-10 20:00", False, id="closing-instant"),
        pytest.param(CC, "2026-06-10 07:59", False, id="before-opening"),
        pytest.param(CC, "2026-06-13 12:30", True, id="saturday-morning"),
        pytest.param(CC, "2026-06-13 13:00", False, id="saturday-afternoon"),
        pytest.param(CC, "2026-06-14 12:00", False, id="sunday"),
        pytest.param(CC, "2026-05-01 12:00", False, id="may-1"),
        pytest.param(CC, "2026-12-26 10:00", True, id="26-dec-national"),
        pytest.param(CC_MOSELLE, "2026-12-26 10:00", False, id="26-dec-moselle"),
        pytest.param(SPLIT, "2026-06-10 12:30", False, id="lunch-break"),
        pytest.param(SPLIT, "2026-06-10 14:00", True, id="after-lunch"),
        pytest.param(NIGHT, "2026-06-10 23:00", True, id="night-evening"),
        pytest.param(NIGHT, "2026-06-11 01:59", True, id="night-after-midnight"),
        pytest.param(NIGHT, "2026-06-11 02:00", False, id="night-closed"),
        # The window that started Thursday 30 April still runs on the closed Friday.
        pytest.param(NIGHT, "2026-05-01 01:00", True, id="night-from-day-before-closed-date"),
        pytest.param(NIGHT, "2026-05-01 23:00", False, id="night-starting-on-closed-date"),
        pytest.param(NIGHT, "2026-05-02 01:00", False, id="night-tail-of-closed-date"),
        pytest.param(NIGHT_DST, "2026-10-25T02:30+02:00", True, id="fall-first-0230"),
        pytest.param(NIGHT_DST, "2026-10-25T02:30+01:00", True, id="fall-second-0230"),
        pytest.param(NIGHT_DST, "2026-10-25 03:59", True, id="fall-0359"),
        pytest.param(H24, "2026-03-29 03:00", True, id="24x7"),
    ],
)
def test_is_open(cal, instant, expected):
    assert cal.is_open(at(instant)) is expected


def test_is_open_refuses_naive():
    with pytest.raises(ValueError):
        CC.is_open(datetime(2026, 6, 10, 10))


# --- open_intervals ----------------------------------------------------------------------


def intervals(cal, start, end):
    return [(paris(a), paris(b)) for a, b in cal.open_intervals(at(start), at(end))]


def test_open_intervals_are_utc_and_clipped():
    got = list(CC.open_intervals(at("2026-06-12 10:00"), at("2026-06-13 11:00")))
    assert got == [
        (utc("2026-06-12 10:00"), utc("2026-06-12 20:00")),
        (utc("2026-06-13 09:00"), utc("2026-06-13 11:00")),
    ]
    assert all(a.tzinfo is UTC and b.tzinfo is UTC for a, b in got)


def test_open_intervals_spring_forward_window_lasts_two_real_hours():
    got = list(NIGHT_DST.open_intervals(at("2026-03-29 00:00"), at("2026-03-30 00:00")))
    # 01:00 CET = 00:00 UTC to 04:00 CEST = 02:00 UTC.
    assert got == [(datetime(2026, 3, 29, 0, tzinfo=UTC), datetime(2026, 3, 29, 2, tzinfo=UTC))]
    assert got[0][1] - got[0][0] == timedelta(hours=2)


def test_open_intervals_fall_back_window_lasts_four_real_hours():
    got = list(NIGHT_DST.open_intervals(at("2026-10-25 00:00"), at("2026-10-26 00:00")))
    # 01:00 CEST = 23:00 UTC (Saturday) to 04:00 CET = 03:00 UTC.
    assert got == [(datetime(2026, 10, 24, 23, tzinfo=UTC), datetime(2026, 10, 25, 3, tzinfo=UTC))]
    assert got[0][1] - got[0][0] == timedelta(hours=4)


def sunday_only(start: str, end: str) -> BusinessCalendar:
    return BusinessCalendar(
        windows={6: (Window(time.fromisoformat(start), time.fromisoformat(end)),)}
    )


@pytest.mark.parametrize(
    ("window", "spring_night", "ordinary_sunday"),
    [
        # The wall never shows 02:00-02:30 on 29 March: the window does not open at all
        # (zoneinfo's fold=0 alone would open it 03:00-03:30 CEST).
        pytest.param(("02:00", "02:30"), [], [("02:00", "02:30")], id="inside-the-gap"),
        # Opens when the clock jumps to 03:00 CEST (fold=0 alone: 03:30).
        pytest.param(
            ("02:30", "05:00"), [("03:00", "05:00")], [("02:30", "05:00")], id="starts-in-gap"
        ),
        # Closes at the jump: 1 real hour from 01:00 CET (fold=0 alone: 03:30 CEST, 1h30).
        pytest.param(
            ("01:00", "02:30"), [("01:00", "03:00")], [("01:00", "02:30")], id="ends-in-gap"
        ),
    ],
)
def test_open_intervals_boundaries_skipped_by_spring_forward(window, spring_night, ordinary_sunday):
    cal = sunday_only(*window)

    def local(day, pairs):
        return [(utc(f"{day} {a}"), utc(f"{day} {b}")) for a, b in pairs]

    def got(day):
        return list(cal.open_intervals(at(f"{day} 00:00"), at(f"{day} 23:00")))

    assert got("2026-03-29") == local("2026-03-29", spring_night)
    assert got("2026-04-05") == local("2026-04-05", ordinary_sunday)


def test_open_intervals_windows_starting_on_the_repeated_hour_take_its_first_pass():
    # 25 October: 02:30 happens at 00:30 UTC (CEST) and again at 01:30 UTC (CET).
    got = list(
        sunday_only("02:30", "05:00").open_intervals(at("2026-10-25 00:00"), at("2026-10-25 23:00"))
    )
    assert got == [(utc("2026-10-25T02:30+02:00"), utc("2026-10-25 05:00"))]
    assert got[0][1] - got[0][0] == timedelta(hours=3, minutes=30)


def test_open_intervals_merge_overlaps_and_midnight():
    cal = BusinessCalendar(
        windows={
            0: (Window(time(8), time(12)), Window(time(10), time(14)), Window(time(22), time(0))),
            1: (Window(time(0), time(6)),),
        }
    )
    assert intervals(cal, "2026-06-08 00:00", "2026-06-10 00:00") == [
        ("2026-06-08 08:00:00+02:00", "2026-06-08 14:00:00+02:00"),
        ("2026-06-08 22:00:00+02:00", "2026-06-09 06:00:00+02:00"),
    ]


def test_open_intervals_24x7_is_one_interval_and_empty_when_reversed():
    assert intervals(H24, "2026-03-01 00:00", "2026-11-01 00:00") == [
        ("2026-03-01 00:00:00+01:00", "2026-11-01 00:00:00+01:00")
    ]
    assert intervals(CC, "2026-06-11 00:00", "2026-06-10 00:00") == []
    assert intervals(BusinessCalendar(), "2026-06-10 00:00", "2026-06-20 00:00") == []


# --- public_holidays and ready-made calendars --------------------------------------------


def test_public_holidays_france_2026():
    days = public_holidays("FR", [2026])
    assert {date(2026, 5, 1), date(2026, 7, 14), date(2026, 12, 25)} <= days
    assert {date(2026, 1, 1), date(2026, 4, 6), date(2026, 5, 8), date(2026, 5, 14)} <= days
    assert {date(2026, 5, 25), date(2026, 8, 15), date(2026, 11, 1), date(2026, 11, 11)} <= days
    assert len(days) == 11
    assert date(2026, 12, 26) not in days
    assert date(2026, 4, 3) not in days  # Good Friday: Alsace-Moselle only


def test_public_holidays_alsace_moselle_and_several_years():
    moselle = public_holidays("FR", range(2026, 2028), subdiv="57")
    assert {date(2026, 4, 3), date(2026, 12, 26), date(2027, 3, 26), date(2027, 12, 26)} <= moselle
    assert public_holidays("FR", [2026, 2027]) < moselle
    assert isinstance(moselle, frozenset)
    assert public_holidays("FR", []) == frozenset()


def test_ready_made_calendars():
    assert contact_centre_calendar() == DEFAULT_CONTACT_CENTRE
    assert DEFAULT_CONTACT_CENTRE.closed_dates == frozenset()
    assert DEFAULT_CONTACT_CENTRE.windows[5] == (Window(time(9), time(13)),)
    assert 6 not in DEFAULT_CONTACT_CENTRE.windows
    assert BusinessCalendar.always_open("Europe/Paris") == EMERGENCY_LINE
    assert EMERGENCY_LINE.is_open(at("2026-12-25 03:00"))
    assert hash(CC) == hash(contact_centre_calendar(FR))  # usable as a cache key
    with pytest.raises(ValueError):
        BusinessCalendar(windows={7: (Window(time(8), time(9)),)})
    with pytest.raises(TypeError):
        CC.windows[6] = ()  # read-only
    assert pickle.loads(pickle.dumps(CC)) == CC
    assert copy.deepcopy(SPLIT) == SPLIT


def test_clock_unit_values_are_their_names():
    assert [u.value for u in ClockUnit] == ["CLOCK_HOURS", "BUSINESS_HOURS", "WORKING_DAYS"]
    assert ClockUnit("WORKING_DAYS") is WD


# --- properties, with a fixed seed --------------------------------------------------------

CALENDARS = {"cc": CC, "split": SPLIT, "night": NIGHT, "night-dst": NIGHT_DST, "24x7": H24}
# Starts cluster around the DST weekends and the May holidays as well as anywhere in 2026.
HOT_SPOTS = [at("2026-03-27 00:00"), at("2026-10-23 00:00"), at("2026-04-29 00:00")]


def random_instant(rng: random.Random) -> datetime:
    if rng.random() < 0.5:
        base, span = rng.choice(HOT_SPOTS), 4 * 86400
    else:
        base, span = at("2026-01-01 00:00"), 365 * 86400
    return (base + timedelta(seconds=rng.randrange(span))).astimezone(UTC)


@pytest.mark.parametrize("name", CALENDARS)
def test_add_business_time_inverts_business_seconds_between(name):
    cal, rng = CALENDARS[name], random.Random(f"inverse-{name}")
    for _ in range(300):
        start = random_instant(rng)
        duration = timedelta(seconds=rng.randrange(300 * 3600))
        end = add_business_time(cal, start, duration)
        assert end >= start
        assert business_seconds_between(cal, start, end) == duration.total_seconds()
        # And it is the earliest such instant: just before, some time is still missing.
        if duration:
            assert business_seconds_between(cal, start, end - timedelta(seconds=1)) < (
                duration.total_seconds()
            )


@pytest.mark.parametrize("name", CALENDARS)
def test_business_seconds_are_additive(name):
    cal, rng = CALENDARS[name], random.Random(f"additive-{name}")
    for _ in range(200):
        a, b, c = sorted(random_instant(rng) for _ in range(3))
        total = business_seconds_between(cal, a, c)
        assert total == pytest.approx(
            business_seconds_between(cal, a, b) + business_seconds_between(cal, b, c), abs=1e-6
        )
        assert 0 <= total <= (c - a).total_seconds()


def wall_clock_open(cal: BusinessCalendar, instant: datetime) -> bool:
    """Independent oracle: reads the wall clock and the window table directly.

    Equivalent to the engine for windows whose boundaries are not inside a DST-repeated
    hour, which holds for every calendar of this module.
    """
    local = instant.astimezone(ZoneInfo(cal.tz))
    today, now = local.date(), local.time().replace(fold=0)
    yesterday = today - timedelta(days=1)
    for day, is_yesterday in ((today, False), (yesterday, True)):
        if day in cal.closed_dates:
            continue
        for w in cal.windows.get(day.weekday(), ()):
            crosses = w.end <= w.start
            if is_yesterday:
                if crosses and now < w.end and w.end != time(0):
                    return True
            elif (crosses and now >= w.start) or (w.start <= now < w.end):
                return True
    return False


@pytest.mark.parametrize("name", CALENDARS)
def test_business_seconds_match_a_minute_by_minute_wall_clock_count(name):
    cal, rng = CALENDARS[name], random.Random(f"oracle-{name}")
    for _ in range(25):
        start = random_instant(rng).replace(second=0, microsecond=0)
        minutes = rng.randrange(3 * 24 * 60)
        count = sum(wall_clock_open(cal, start + timedelta(minutes=m)) for m in range(minutes))
        assert business_seconds_between(cal, start, start + timedelta(minutes=minutes)) == (
            count * 60.0
        ), paris(start)
        probe = start + timedelta(minutes=rng.randrange(minutes or 1))
        assert cal.is_open(probe) is wall_clock_open(cal, probe), paris(probe)


@pytest.mark.parametrize("name", CALENDARS)
def test_random_clocks_with_pauses_are_consistent(name):
    cal, rng = CALENDARS[name], random.Random(f"pauses-{name}")
    for _ in range(60):
        unit = rng.choice(list(ClockUnit))
        amount = rng.randrange(1, 10) if unit is WD else rng.randrange(1, 80 * 4) / 4
        start = random_instant(rng)
        pauses, cursor = [], start
        for _ in range(rng.randrange(4)):
            pause_start = cursor + timedelta(minutes=rng.randrange(1, 3 * 24 * 60))
            pause_end = pause_start + timedelta(minutes=rng.randrange(1, 2 * 24 * 60))
            pauses.append((pause_start, pause_end))
            cursor = pause_end
        due = due_at(cal, unit, amount, start, pauses)
        assert due >= due_at(cal, unit, amount, start)  # pauses never bring a due forward
        assert elapsed(cal, unit, amount, start, due, pauses) == pytest.approx(1.0, abs=1e-9)
