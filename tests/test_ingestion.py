"""Bulk ingestion of hourly interval data: CSV files (command) and the head-end's pushes."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from metering.domain import local_day_bounds, local_day_hours
from metering.services import ingestion
from metering.services.ingestion import IntervalBatchRejected, interval_batch_ingest

from .factories import AccountFactory
from .test_api_b2b import (  # noqa: F401 (_ratelimit_keys is an autouse fixture)
    _ratelimit_keys,
    add_supply_points,
    bearer,
    business_api_client,
)

URL = "/api/v1/readings/intervals"
HEADER = "market,identifier,start_utc,wh,quality\n"


def csv_of(rows) -> str:
    return HEADER + "".join(",".join(str(v) for v in row) + "\n" for row in rows)


def hours(sp, start: datetime, count: int, wh=100):
    return [
        (
            sp.market,
            sp.identifier,
            (start + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            wh + i,
            0,
        )
        for i in range(count)
    ]


def ingest(text: str, **kwargs):
    return interval_batch_ingest(source=io.BytesIO(text.encode()), **kwargs)


def totals() -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), coalesce(sum(wh), 0) FROM metering_interval")
        return cursor.fetchone()


@pytest.fixture
def points(db):
    return add_supply_points(AccountFactory(), 2)


T0 = datetime(2026, 1, 10, tzinfo=UTC)


@pytest.fixture(autouse=True, params=["strict", "fast-upsert", "fast-swap"])
def ingest_pass(request, monkeypatch):
    """Every test runs through each of the three ways a batch can be written: the strict
    pass (small batches), and the fast pass's upsert and partition-swap branches, which
    production uses from 1 MB and from 100k rows into empty months."""
    if request.param != "strict":
        monkeypatch.setattr(ingestion, "FAST_MIN_BYTES", 0)
    monkeypatch.setattr(ingestion, "BULK_MIN_ROWS", 1 if request.param == "fast-swap" else 10**12)
    calls = {"strict": 0, "swap": 0}
    for name, key in (("_strict_ingest", "strict"), ("_swap_in", "swap")):
        original = getattr(ingestion, name)

        def counted(*args, _original=original, _key=key):
            calls[_key] += 1
            return _original(*args)

        monkeypatch.setattr(ingestion, name, counted)
    return {"mode": request.param, "calls": calls}


def leftover_tables() -> list[str]:
    """Staging and swap tables that outlived their batch (there should be none)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') AND ("
            "relname LIKE 'metering_interval_fast_stage%%' OR relname LIKE '%%\\_new' "
            "OR relname LIKE 'metering_interval_y%%\\_in\\_%%')"
        )
        return [row[0] for row in cursor.fetchall()]


def partition_keys_intact() -> bool:
    """Every month of the table is attached with its primary key and its BRIN index on
    `start` (after a swap too)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FILTER (WHERE NOT EXISTS (
                SELECT 1 FROM pg_index x WHERE x.indrelid = i.inhrelid AND x.indisprimary)
                OR NOT EXISTS (
                SELECT 1 FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
                JOIN pg_am a ON a.oid = c.relam
                WHERE x.indrelid = i.inhrelid AND a.amname = 'brin'))
            FROM pg_inherits i WHERE i.inhparent = 'metering_interval'::regclass
            """
        )
        return cursor.fetchone()[0] == 0


# --- The service and the command ------------------------------------------------------


def test_loading_the_same_file_twice_changes_nothing(points, tmp_path):
    path = tmp_path / "batch.csv"
    path.write_text(csv_of(hours(points[0], T0, 48) + hours(points[1], T0, 48)))
    out = io.StringIO()
    call_command("load_intervals", str(path), stdout=out)
    assert "96 rows: 96 inserted, 0 updated, 0 unchanged" in out.getvalue()
    first = totals()
    assert first == (96, 2 * sum(100 + i for i in range(48)))

    out = io.StringIO()
    call_command("load_intervals", str(path), stdout=out)
    assert "96 rows: 0 inserted, 0 updated, 96 unchanged" in out.getvalue()
    assert totals() == first


def test_a_corrected_value_is_updated_not_added(points):
    ingest(csv_of(hours(points[0], T0, 3)))
    rows = hours(points[0], T0, 3)
    rows[1] = (*rows[1][:3], 999, 9)
    summary = ingest(csv_of(rows))
    assert (summary.inserted, summary.updated, summary.unchanged) == (0, 1, 2)
    assert totals() == (3, 100 + 999 + 102)


def test_quality_column_is_optional(points):
    sp = points[0]
    summary = ingest(
        f"wh,start_utc,identifier,market\n5,2026-01-10T00:00:00Z,{sp.identifier},{sp.market}\n"
    )
    assert summary.inserted == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT wh, quality FROM metering_interval")
        assert cursor.fetchall() == [(5, 0)]


def rejected(text: str, **kwargs) -> dict[int, tuple[str, ...]]:
    before = totals()
    with pytest.raises(IntervalBatchRejected) as info:
        ingest(text, **kwargs)
    assert totals() == before  # nothing of the batch was written
    assert leftover_tables() == []
    assert partition_keys_intact()
    return {error.line: error.reasons for error in info.value.errors}


def test_both_deliveries_leave_keyed_partitions_and_no_scratch_tables(points, ingest_pass):
    rows = hours(points[0], datetime(2026, 1, 31, 20, tzinfo=UTC), 10) + hours(
        points[1], datetime(2026, 1, 31, 20, tzinfo=UTC), 10
    )  # across a month's end
    first = ingest(csv_of(rows))
    assert (first.inserted, first.updated, first.unchanged) == (20, 0, 0)
    assert first.months == ["2026-01", "2026-02"]
    again = ingest(csv_of(rows))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 20)
    assert totals() == (20, 2 * sum(100 + i for i in range(10)))
    # Each pass was the one the test meant (a fast pass must not fall back quietly).
    mode, calls = ingest_pass["mode"], ingest_pass["calls"]
    assert calls["strict"] == (2 if mode == "strict" else 0)
    assert calls["swap"] == (1 if mode == "fast-swap" else 0)
    assert leftover_tables() == []
    assert partition_keys_intact()
    with connection.cursor() as cursor:  # the key is enforced on the month written
        cursor.execute("SAVEPOINT dup")
        with pytest.raises(Exception, match="duplicate key"):
            cursor.execute(
                "INSERT INTO metering_interval VALUES (%s, '2026-01-31 20:00+00', 1, 0)",
                [points[0].pk],
            )
        cursor.execute("ROLLBACK TO SAVEPOINT dup")


def test_new_hours_are_added_to_a_month_that_has_data(points):
    ingest(csv_of(hours(points[0], T0, 5)))
    summary = ingest(csv_of(hours(points[0], T0, 8)))
    assert (summary.inserted, summary.updated, summary.unchanged) == (3, 0, 5)
    assert totals() == (8, sum(100 + i for i in range(8)))


@pytest.mark.parametrize(
    ("start", "wh"),
    [
        # Forms PostgreSQL's own input functions would take, but the format does not.
        ("2026-01-10t03:00:00Z", 7),
        ("2026-01-10T03:00:00z", 7),
        ("2026-01-1 T03:00:00Z", 7),
        ("2026-01-10T 3:00:00Z", 7),
        ("2026-01-09T24:00:00Z", 7),
        ("2026-01-10T03:00:00Z", "+7"),
        ("2026-01-10T03:00:00Z", " 7"),
        ("2026-01-10T03:00:00Z", "0x7"),
        ("2026-01-10T03:00:00Z", "1_000"),
    ],
)
def test_lenient_forms_are_refused_whichever_pass_reads_them(points, start, wh):
    rows = good_rows(points)
    rows[3] = (*rows[3][:2], start, wh, 0)
    errors = rejected(csv_of(rows))
    assert list(errors) == [5]


def test_a_batch_over_years_is_checked_line_by_line(points):
    rows = hours(points[0], T0, 2) + hours(points[0], datetime(2029, 6, 1, tzinfo=UTC), 2)
    assert ingest(csv_of(rows)).inserted == 4
    rows.append(rows[0])
    assert list(rejected(csv_of(rows))) == [6]


def good_rows(points):
    return hours(points[0], T0, 5)


def test_unknown_supply_point_rejects_the_file_and_names_the_line(points):
    rows = good_rows(points)
    rows[2] = ("FR_PRM", "99999999999999", *rows[2][2:])
    errors = rejected(csv_of(rows))
    assert errors == {4: ("unknown supply point",)}  # header = line 1


@pytest.mark.parametrize("wh", ["abc", "12.5", "-3", "", "99999999999"])
def test_non_numeric_value_is_rejected(points, wh):
    rows = good_rows(points)
    rows[0] = (*rows[0][:3], wh, 0)
    errors = rejected(csv_of(rows))
    assert list(errors) == [2]
    assert "wh is not a whole number" in errors[2][0]


def test_duplicate_within_the_file_is_rejected(points):
    rows = good_rows(points)
    rows.append(rows[1])
    errors = rejected(csv_of(rows))
    assert errors == {7: ("duplicate within the file: same supply point and hour as line 3",)}


@pytest.mark.parametrize(
    ("start", "reason"),
    [
        ("2026-01-10T00:30:00Z", "not on the hour"),
        ("2026-01-10T00:00:01Z", "not on the hour"),
        ("2026-02-30T00:00:00Z", "not an ISO-8601 UTC timestamp"),
        ("10/01/2026 00:00", "not an ISO-8601 UTC timestamp"),
        ("2026-01-10T00:00:00", "not an ISO-8601 UTC timestamp"),  # no zone
    ],
)
def test_bad_timestamp_is_rejected(points, start, reason):
    rows = good_rows(points)
    rows[3] = (*rows[3][:2], start, *rows[3][3:])
    errors = rejected(csv_of(rows))
    assert list(errors) == [5]
    assert reason in errors[5][0]


def test_wrong_number_of_columns_names_the_line(points):
    text = csv_of(good_rows(points)) + "FR_PRM,123\n"
    errors = rejected(text)
    assert list(errors) == [7]
    assert "wrong number of columns" in errors[7][0]


def test_bad_header_is_rejected(points):
    errors = rejected("a,b,c\n1,2,3\n")
    assert list(errors) == [1]


def test_command_reports_bad_lines_and_loads_the_other_files(points, tmp_path):
    bad = tmp_path / "bad.csv"
    rows = good_rows(points)
    rows[0] = (*rows[0][:3], "x", 0)
    bad.write_text(csv_of(rows))
    good = tmp_path / "good.csv"
    good.write_text(csv_of(hours(points[1], T0, 4)))
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 file"):
        call_command("load_intervals", str(bad), str(good), stdout=io.StringIO(), stderr=err)
    assert "line 2: wh is not a whole number" in err.getvalue()
    assert totals()[0] == 4


@pytest.mark.parametrize(("day", "expected"), [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25)])
def test_dst_days_load_fully(points, day, expected):
    assert local_day_hours(day) == expected
    start, end = local_day_bounds(day)
    count = int((end - start).total_seconds() // 3600)
    summary = ingest(csv_of(hours(points[0], start, count)))
    assert summary.inserted == expected
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM metering_interval WHERE start >= %s AND start < %s",
            [start, end],
        )
        assert cursor.fetchone()[0] == expected


def test_data_outside_the_precreated_months_creates_its_partition(points):
    start = datetime(2029, 2, 1, tzinfo=UTC)
    assert ingest(csv_of(hours(points[0], start, 3))).inserted == 3
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('metering_interval_y2029m02') IS NOT NULL")
        assert cursor.fetchone()[0]


def test_rejected_batch_creates_no_partition(points):
    rows = hours(points[0], datetime(2030, 5, 1, tzinfo=UTC), 2)
    rows.append(rows[0])
    rejected(csv_of(rows))
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('metering_interval_y2030m05')")
        assert cursor.fetchone()[0] is None


# --- The push endpoint ---------------------------------------------------------------


@pytest.fixture
def pusher(db):
    api_client, secret = business_api_client(scopes=("readings:write",))
    own = add_supply_points(api_client.account, 1)[0]
    return api_client, secret, own


def test_push_csv_happy_path(client, pusher):
    api_client, secret, own = pusher
    headers = bearer(client, api_client, secret)
    body = csv_of(hours(own, T0, 24))
    response = client.post(URL, body, content_type="text/csv", **headers)
    assert response.status_code == 200, response.content
    assert response.json() == {"rows": 24, "inserted": 24, "updated": 0, "unchanged": 0}
    assert "RateLimit-Remaining" in response
    again = client.post(URL, body, content_type="text/csv", **headers)
    assert again.json() == {"rows": 24, "inserted": 0, "updated": 0, "unchanged": 24}
    assert totals()[0] == 24


def test_push_json_rows(client, pusher):
    api_client, secret, own = pusher
    rows = [
        {"market": m, "identifier": i, "start_utc": s, "wh": wh, "quality": q}
        for m, i, s, wh, q in hours(own, T0, 3)
    ]
    response = client.post(
        URL, {"rows": rows}, content_type="application/json", **bearer(client, api_client, secret)
    )
    assert response.status_code == 200, response.content
    assert response.json()["inserted"] == 3


def test_push_without_the_scope_is_403(client, db):
    api_client, secret = business_api_client(scopes=("readings:read",))
    own = add_supply_points(api_client.account, 1)[0]
    response = client.post(
        URL,
        csv_of(hours(own, T0, 2)),
        content_type="text/csv",
        **bearer(client, api_client, secret),
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"
    assert totals()[0] == 0


def test_push_with_a_session_is_403(client, make_user, login):
    login(make_user())
    response = client.post(URL, HEADER, content_type="text/csv")
    assert response.status_code == 403


def test_push_anonymous_is_401(client, db):
    assert client.post(URL, HEADER, content_type="text/csv").status_code == 401


def test_push_naming_another_accounts_supply_point_is_400(client, pusher):
    api_client, secret, own = pusher
    other = add_supply_points(AccountFactory(), 1)[0]
    body = csv_of(hours(own, T0, 2) + hours(other, T0, 1))
    response = client.post(URL, body, content_type="text/csv", **bearer(client, api_client, secret))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["fields"] == {"line 4": ["unknown supply point"]}
    assert totals()[0] == 0


def test_push_bad_csv_is_400_with_line_errors(client, pusher):
    api_client, secret, own = pusher
    rows = hours(own, T0, 4)
    rows[0] = (*rows[0][:3], "lots", 0)
    rows[2] = (*rows[2][:2], "2026-01-10T02:15:00Z", *rows[2][3:])
    response = client.post(
        URL, csv_of(rows), content_type="text/csv", **bearer(client, api_client, secret)
    )
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert set(fields) == {"line 2", "line 4"}
    assert "wh is not a whole number" in fields["line 2"][0]
    assert fields["line 4"] == ["start_utc is not on the hour"]
    assert totals()[0] == 0


def test_push_bad_json_row_is_named_by_index(client, pusher):
    api_client, secret, own = pusher
    rows = [
        {
            "market": own.market,
            "identifier": own.identifier,
            "start_utc": "2026-01-10T00:00:00Z",
            "wh": 1,
        },
        {"market": own.market, "identifier": own.identifier, "start_utc": "yesterday", "wh": 1},
    ]
    response = client.post(
        URL, {"rows": rows}, content_type="application/json", **bearer(client, api_client, secret)
    )
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["rows[1]"]
    assert totals()[0] == 0
