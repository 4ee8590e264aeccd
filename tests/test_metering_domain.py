"""Plausibility of register reads, rollover, exchange, spikes, re-estimation, DST days."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from metering.domain import (
    ESPI_QUALITY,
    Previous,
    Verdict,
    check_reading,
    local_day_bounds,
    local_day_hours,
    month_bounds,
    reestimate,
)

UTC = ZoneInfo("UTC")
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
PREV = Previous(value=12_000, read_at=NOW - timedelta(days=30))


def check(value, **kw):
    args = {
        "value": value,
        "read_at": NOW,
        "now": NOW,
        "digits": 6,
        "previous": PREV,
        "exchanged_since_previous": False,
        "expected_daily_kwh": 10.0,
        "spike_factor": 3.0,
        "duplicate": False,
    }
    args.update(kw)
    return check_reading(**args)


@pytest.mark.parametrize(
    ("value", "kw", "verdict", "reasons", "consumption"),
    [
        (12_300, {}, Verdict.ACCEPT, [], 300),
        (11_900, {}, Verdict.REVIEW, ["lower_than_previous"], -100),
        (12_300, {"read_at": NOW + timedelta(minutes=5)}, Verdict.REJECT, ["future"], None),
        (12_300, {"duplicate": True}, Verdict.REJECT, ["duplicate"], None),
        (13_000, {}, Verdict.REVIEW, ["spike"], 1000),  # limit: 30 days x 10 kWh x 3 = 900
        (12_901, {"spike_factor": 3.0, "expected_daily_kwh": 10.0}, Verdict.REVIEW, ["spike"], 901),
        (12_900, {}, Verdict.ACCEPT, [], 900),  # exactly at the limit is plausible
        (150, {"previous": Previous(999_900, NOW - timedelta(days=30))}, Verdict.ACCEPT, [], 250),
        (
            150,
            {"previous": Previous(500_000, NOW - timedelta(days=30))},
            Verdict.REVIEW,
            ["lower_than_previous"],
            -499_850,
        ),
        (150, {"exchanged_since_previous": True}, Verdict.ACCEPT, [], None),
        (1_000_000, {}, Verdict.REJECT, ["out_of_range"], None),
        (12_300, {"previous": None}, Verdict.ACCEPT, [], None),
        (
            12_300,
            {"read_at": PREV.read_at - timedelta(days=1)},
            Verdict.REVIEW,
            ["before_previous"],
            None,
        ),
        (
            99_999,
            {"expected_daily_kwh": None},
            Verdict.ACCEPT,
            [],
            87_999,
        ),  # no history: no spike rule
    ],
    ids=[
        "normal",
        "lower",
        "future",
        "duplicate",
        "spike-1000",
        "spike-901",
        "at-limit",
        "rollover",
        "lower-not-rollover",
        "exchange",
        "out-of-range",
        "first-read",
        "before-previous",
        "no-history",
    ],
)
def test_plausibility(value, kw, verdict, reasons, consumption):
    result = check(value, **kw)
    assert result.verdict is verdict
    assert result.reasons == reasons
    if consumption is not None:
        assert result.consumption == consumption


def test_rollover_is_flagged():
    result = check(150, previous=Previous(999_900, NOW - timedelta(days=30)))
    assert result.rollover and result.consumption == 250


def test_rollover_that_would_be_a_spike_needs_review():
    result = check(5_000, previous=Previous(999_900, NOW - timedelta(days=2)))
    assert result.verdict is Verdict.REVIEW and result.reasons == ["lower_than_previous"]


def test_reestimate_interpolates_linearly():
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    t1 = t0 + timedelta(days=60)
    out = reestimate(
        before=(t0, 1000),
        after=(t1, 1600),
        estimates=[t0 + timedelta(days=30), t0 + timedelta(days=45)],
    )
    assert out == [(t0 + timedelta(days=30), 1300), (t0 + timedelta(days=45), 1450)]


@pytest.mark.parametrize(
    ("day", "hours"),
    [
        (date(2026, 3, 29), 23),
        (date(2026, 10, 25), 25),
        (date(2026, 6, 1), 24),
        (date(2027, 3, 28), 23),
    ],
)
def test_dst_days_have_23_or_25_hours(day, hours):
    assert local_day_hours(day) == hours


def test_local_day_and_month_bounds_are_utc_instants():
    start, end = local_day_bounds(date(2026, 10, 25))
    assert (start.isoformat(), end.isoformat()) == (
        "2026-10-24T22:00:00+00:00",
        "2026-10-25T23:00:00+00:00",
    )
    m0, m1 = month_bounds(2026, 3)
    assert (m0.isoformat(), m1.isoformat()) == (
        "2026-02-28T23:00:00+00:00",
        "2026-03-31T22:00:00+00:00",
    )


def test_quality_codes_map_to_green_button():
    assert (
        ESPI_QUALITY["VALID"] == 0
        and ESPI_QUALITY["ESTIMATED"] == 9
        and ESPI_QUALITY["QUESTIONABLE"] == 10
    )
