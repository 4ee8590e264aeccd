"""Bulk ingestion of hourly interval data (head-end files and pushes).

A batch is CSV with a header, columns `market,identifier,start_utc,wh[,quality]` in any
order (`quality`, an ESPI QualityOfReading code, is optional; empty or absent means 0).
`start_utc` is ISO-8601 in UTC (`2026-03-29T01:00:00Z`; `+00:00` is accepted too).

The pipeline, in one transaction:

1. `COPY ... FROM STDIN WITH (FORMAT csv)` into a TEMP staging table of text columns (so
   a malformed value never aborts the COPY), each row numbered in file order;
2. validation in SQL against the staging table: unknown supply point (for an API client:
   not one of its account's), value not a whole number of Wh, quality not a code,
   timestamp unparsable or not on the hour; then, if every line passed, the same supply
   point and hour twice (so repeats are reported once the other errors are fixed);
3. the monthly partitions the batch needs are created (`interval_partitions_ensure`);
4. an idempotent upsert (which rows were inserted or updated is told apart in the same
   statement, as `xmax` cannot be returned from a partitioned table): `INSERT ... SELECT ... ON CONFLICT (supply_point_id, start)
   DO UPDATE ... WHERE (wh, quality) IS DISTINCT FROM (...)`, so a re-delivered file
   changes nothing and double-counts nothing.

Any bad line rejects the whole batch (`IntervalBatchRejected`): nothing is written.

**Line numbers** are those of the file as an editor shows them: the header is line 1 and
the first data row line 2 (a quoted value spanning lines would shift them).
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date
from typing import BinaryIO

import psycopg2
from django.db import DataError, IntegrityError, ProgrammingError, connection, transaction

from accounts.models import Premise, SupplyPoint

from .partitions import PARENT, interval_partitions_ensure, partition_name

STAGE = "metering_interval_stage"
COLUMNS = ("market", "identifier", "start_utc", "wh", "quality")
REQUIRED = ("market", "identifier", "start_utc", "wh")
MAX_ERRORS = 100
# Below this size a batch goes straight to the strict pass: for a few thousand rows the fast
# pass's tables cost more than the line-by-line checks it saves.
FAST_MIN_BYTES = 1 << 20
# Below this, building and swapping in fresh partitions costs more than it saves.
BULK_MIN_ROWS = 100_000
# A batch spanning more months than this is checked line by line first.
FAST_MAX_MONTHS = 36

REASONS = {
    "supply_point": "unknown supply point",
    "wh": "wh is not a whole number of Wh (0 to 2147483647)",
    "quality": "quality is not an ESPI quality code (a whole number)",
    "timestamp": "start_utc is not an ISO-8601 UTC timestamp (e.g. 2026-03-29T01:00:00Z)",
    "hour": "start_utc is not on the hour",
}


class IngestionError(Exception):
    """Base of the refusals of interval ingestion."""


@dataclass(frozen=True)
class LineError:
    line: int
    reasons: tuple[str, ...]


class IntervalBatchRejected(IngestionError):
    """The batch had bad lines (or no usable header); nothing of it was written."""

    def __init__(self, errors: list[LineError], *, total: int | None = None, header: str = ""):
        self.errors = errors
        self.total = len(errors) if total is None else total
        self.header = header
        super().__init__(header or f"{self.total} bad line(s); the batch was rejected")


@dataclass
class IngestSummary:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    months: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.rows} rows: {self.inserted} inserted, {self.updated} updated, "
            f"{self.unchanged} unchanged"
        )


# --- SQL ----------------------------------------------------------------------------------

# Strict UTC ISO-8601 (seconds and fraction optional); month and hour ranges by the pattern,
# the day checked against the month's length without any cast that could raise.
TS_SHAPE = (
    r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3])"
    r":[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?(Z|[+-]00(:?00)?)$"
)
# The day against the length of the month (leap years too), without a cast that could raise.
_DAY_OK = """(substr(s.start_utc, 9, 2)::int <= CASE substr(s.start_utc, 6, 2)
    WHEN '02' THEN CASE WHEN mod(substr(s.start_utc, 1, 4)::int, 4) = 0
        AND (mod(substr(s.start_utc, 1, 4)::int, 100) <> 0
        OR mod(substr(s.start_utc, 1, 4)::int, 400) = 0)
        THEN 29 ELSE 28 END
    WHEN '04' THEN 30 WHEN '06' THEN 30 WHEN '09' THEN 30 WHEN '11' THEN 30 ELSE 31 END)"""
# Fast path (no regex) for the canonical `YYYY-MM-DDTHH:MM:SSZ`; the pattern otherwise.
TS_OK = f"""(CASE
    WHEN translate(s.start_utc, '0123456789', '0000000000') = '0000-00-00T00:00:00Z' THEN
        substr(s.start_utc, 1, 4) >= '1000'
        AND substr(s.start_utc, 6, 2) BETWEEN '01' AND '12'
        AND substr(s.start_utc, 9, 2) >= '01'
        AND substr(s.start_utc, 12, 2) <= '23'
        AND substr(s.start_utc, 15, 2) <= '59'
        AND substr(s.start_utc, 18, 2) <= '59'
        AND {_DAY_OK}
    WHEN s.start_utc ~ '{TS_SHAPE}' THEN {_DAY_OK}
    ELSE false END)"""
HOUR_OK = r"""(CASE WHEN length(s.start_utc) = 20 THEN substr(s.start_utc, 15, 5) = '00:00'
    ELSE substr(s.start_utc, 14) ~ '^:00(:00(\.0+)?)?(Z|[+-])' END)"""
WH_OK = """(CASE WHEN s.wh IS NULL OR translate(s.wh, '0123456789', '') <> '' THEN false
    WHEN length(s.wh) BETWEEN 1 AND 9 THEN true
    WHEN length(s.wh) = 10 THEN s.wh <= '2147483647' ELSE false END)"""
QUALITY_OK = """(s.quality IS NULL OR s.quality = ''
    OR (translate(s.quality, '0123456789', '') = '' AND length(s.quality) <= 4))"""
# The hour as text: with the shapes above, equal keys are equal instants.
HOUR_KEY = "substr(s.start_utc, 1, 10) || substr(s.start_utc, 12, 2)"


def _points_sql(account_id: int | None) -> tuple[str, list]:
    """The supply points a batch may name: all of them, or those of one account."""
    sp = SupplyPoint._meta.db_table
    if account_id is None:
        return f"SELECT id, market, identifier FROM {sp}", []  # noqa: S608
    premise = Premise._meta.db_table
    return (
        f"SELECT sp.id, sp.market, sp.identifier FROM {sp} sp "  # noqa: S608
        f"JOIN {premise} p ON p.id = sp.premise_id WHERE p.account_id = %s",
        [account_id],
    )


def _read_header(source: BinaryIO) -> list[str]:
    raw = source.readline()
    text = raw.decode("utf-8-sig", errors="replace").strip()
    names = [name.strip().strip('"').lower() for name in text.split(",")] if text else []
    unknown = [name for name in names if name not in COLUMNS]
    missing = [name for name in REQUIRED if name not in names]
    if not names or unknown or missing or len(set(names)) != len(names):
        raise IntervalBatchRejected(
            [LineError(1, (f"the header must name the columns {', '.join(COLUMNS)}",))],
            header="bad header",
        )
    return names


def interval_batch_ingest(
    *,
    source: BinaryIO,
    account_id: int | None = None,
    max_errors: int = MAX_ERRORS,
) -> IngestSummary:
    """Load one CSV batch (a binary file object, header first) into `metering_interval`.

    `account_id`: an API client's account; its batch may only name that account's supply
    points. Raises `IntervalBatchRejected` with up to `max_errors` line errors (by line
    number, header = line 1) if any line is bad; nothing is written then.

    Batches from `FAST_MIN_BYTES` on try the fast pass first (`_fast_ingest`); smaller
    ones, and any batch the fast pass gives up on, go through the strict pass, which
    checks every line before writing."""
    names = _read_header(source)
    if not source.seekable():
        # The strict pass may have to read the batch a second time.
        spooled = tempfile.SpooledTemporaryFile(max_size=1 << 24)  # noqa: SIM115 (outlives this block)
        shutil.copyfileobj(source, spooled, 1 << 20)
        spooled.seek(0)
        source = spooled
    body = source.tell()
    size = source.seek(0, io.SEEK_END) - body
    source.seek(body)
    points_sql, points_params = _points_sql(account_id)
    with transaction.atomic(), connection.cursor() as cursor:
        # Big sorts and index builds in memory; no JIT (compiling these expressions costs
        # more than it saves); no nested loops, which the planner picks when it misjudges
        # how many staged rows pass a filter (one such plan took 50 s instead of 2 s).
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL enable_nestloop = off")
        try:
            if size < FAST_MIN_BYTES:
                raise _Declined
            with transaction.atomic():
                return _fast_ingest(cursor, source, names, points_sql, points_params)
        except (_Declined, DataError, IntegrityError, ProgrammingError, psycopg2.DataError):
            # Something in the batch is not plainly valid: the strict pass finds out what,
            # line by line, and either rejects the batch or loads it.
            source.seek(body)
        return _strict_ingest(cursor, source, names, points_sql, points_params, max_errors)


# --- The fast pass ------------------------------------------------------------------------

# Each value is converted only if it has the canonical shape; anything else is cast from a
# text that cannot convert, so the statement fails and the strict pass takes over. The
# fast pass therefore accepts a subset of what the strict pass accepts, read the same way.
# For timestamps the shape test leaves the digits to the cast, which refuses anything else
# once the lenient forms it would take (spaces, a lower-case `t` or `z`, hour 24, a short
# field) are excluded here: a character-by-character test cost 1 s per million rows.
FAST_ROW = """
    coalesce(pt.id, ('unknown supply point ' || coalesce(s.identifier, ''))::bigint)
        AS supply_point_id,
    (CASE WHEN length(s.start_utc) = 20 AND substr(s.start_utc, 14) = ':00:00Z'
          AND substr(s.start_utc, 11, 1) = 'T' AND substr(s.start_utc, 12, 2) <= '23'
          AND substr(s.start_utc, 5, 1) = '-' AND substr(s.start_utc, 8, 1) = '-'
          AND substr(s.start_utc, 1, 1) BETWEEN '1' AND '9' AND strpos(s.start_utc, ' ') = 0
     THEN s.start_utc ELSE 'not canonical' END)::timestamptz AS start,
    (CASE WHEN translate(s.wh, '0123456789', '') = '' AND length(s.wh) BETWEEN 1 AND 9
     THEN s.wh ELSE 'not canonical' END)::integer AS wh,
    (CASE WHEN s.quality IS NULL OR s.quality = '' THEN '0'
          WHEN translate(s.quality, '0123456789', '') = '' AND length(s.quality) <= 4
          THEN s.quality ELSE 'not canonical' END)::smallint AS quality
"""
FAST_STAGE = "metering_interval_fast_stage"


class _Declined(Exception):
    """The fast pass does not apply; the strict pass handles the batch."""


def _fast_ingest(cursor, source, names, points_sql, points_params):
    """Load a batch in which every line is plainly valid, in as few passes as possible.

    - Months that are still empty (a history load, a new month): the rows go into fresh,
      unindexed tables, which get their primary key in one sorted build and are swapped in
      for the empty partitions. Building an index once is about half the cost of
      maintaining it row by row.
    - Otherwise: each month's rows are converted into a typed unlogged table whose unique
      index catches repeats, and upserted straight into the month's partition (no tuple
      routing; `xmax` tells inserted from updated rows). Rows
      stored already with the same values are filtered out first: `ON CONFLICT DO UPDATE`
      would lock (and so write) each of them even when its `WHERE` leaves it unchanged.

    Any bad value makes a statement fail (see `FAST_ROW`); the caller rolls back to its
    savepoint and runs the strict pass."""
    # An UNLOGGED table, not a TEMP one: parallel workers cannot read a temporary table.
    # It is created inside the transaction, so a rollback removes it as well.
    cursor.execute("SELECT pg_backend_pid()")
    pid = cursor.fetchone()[0]
    stage = f"{FAST_STAGE}_{pid}"
    cursor.execute(
        f'CREATE UNLOGGED TABLE {stage} (market text COLLATE "C", '
        'identifier text COLLATE "C", start_utc text COLLATE "C", wh text COLLATE "C", '
        'quality text COLLATE "C") WITH (autovacuum_enabled = off)'
    )
    cursor.cursor.copy_expert(
        f"COPY {stage} ({', '.join(names)}) FROM STDIN WITH (FORMAT csv)",
        source,
        size=1 << 20,
    )
    rows = cursor.cursor.rowcount
    # The bare column (no expression per row) lets min and max run at scan speed.
    cursor.execute(f"SELECT min(start_utc), max(start_utc) FROM {stage}")  # noqa: S608
    first_key, last_key = cursor.fetchone()
    months = _months_between(first_key, last_key)
    if not rows or not months:
        raise _Declined
    cursor.execute(f"ANALYZE {stage}")
    interval_partitions_ensure(start=months[0], months=len(months))
    summary = IngestSummary(rows=rows, months=[f"{m:%Y-%m}" for m in (months[0], months[-1])])
    select = (
        f"WITH points AS ({points_sql}) SELECT {FAST_ROW} FROM {stage} s "  # noqa: S608
        "LEFT JOIN points pt ON pt.market = s.market AND pt.identifier = s.identifier"
    )
    if rows >= BULK_MIN_ROWS and _months_empty(cursor, months):
        _swap_in(cursor, select, points_params, months, rows)
        cursor.execute(f"DROP TABLE {stage}")
        summary.inserted = rows
        return summary

    built = 0
    for month in months:
        name = partition_name(month)
        incoming = f"{name}_in_{pid}"
        built += _month_select(cursor, select, points_params, month, f"UNLOGGED TABLE {incoming}")
        cursor.execute(f"CREATE UNIQUE INDEX ON {incoming} (supply_point_id, start)")
        cursor.execute(
            f"""
            WITH up AS (
                INSERT INTO {name} AS mi
                SELECT t.* FROM {incoming} t
                -- Rows already stored as they are are left alone: read, never locked.
                WHERE NOT EXISTS (
                    SELECT 1 FROM {name} m
                    WHERE m.supply_point_id = t.supply_point_id AND m.start = t.start
                      AND m.wh = t.wh AND m.quality = t.quality)
                ON CONFLICT (supply_point_id, start) DO UPDATE
                    SET wh = EXCLUDED.wh, quality = EXCLUDED.quality
                    WHERE (mi.wh, mi.quality) IS DISTINCT FROM (EXCLUDED.wh, EXCLUDED.quality)
                RETURNING mi.xmax = 0 AS inserted
            )
            SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)
            FROM up
            """  # noqa: S608
        )
        inserted, updated = cursor.fetchone()
        summary.inserted += inserted
        summary.updated += updated
        cursor.execute(f"DROP TABLE {incoming}")
    if built != rows:
        raise _Declined
    cursor.execute(f"DROP TABLE {stage}")
    summary.unchanged = rows - summary.inserted - summary.updated
    return summary


def _months_between(first_key: str | None, last_key: str | None) -> list[date]:
    """The months from `YYYY-MM` to `YYYY-MM`, or [] if either is not a month or the span
    is implausibly long (a mistyped year; the strict pass names the line)."""
    try:
        first = date(int(first_key[:4]), int(first_key[5:7]), 1)
        last = date(int(last_key[:4]), int(last_key[5:7]), 1)
    except (TypeError, ValueError):
        return []
    count = (last.year - first.year) * 12 + last.month - first.month + 1
    if not 1 <= count <= FAST_MAX_MONTHS or first.year < 1000:
        return []
    out = [first]
    while len(out) < count:
        out.append(_next_month(out[-1]))
    return out


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _months_empty(cursor, months: list[date]) -> bool:
    """Whether every month's partition is empty; if so, checked again under a lock
    that keeps other writers out of the table until this transaction ends (readers go on),
    so a concurrent load cannot fill a month between the check and the swap."""
    probe = " AND ".join(
        f"NOT EXISTS (SELECT 1 FROM {partition_name(m)})"  # noqa: S608 (our own names)
        for m in months
    )
    cursor.execute(f"SELECT {probe}")
    if not cursor.fetchone()[0]:
        return False
    cursor.execute(f"LOCK TABLE {PARENT} IN SHARE ROW EXCLUSIVE MODE")
    cursor.execute(f"SELECT {probe}")
    return cursor.fetchone()[0]


def _month_select(cursor, select: str, params: list, month: date, target: str) -> int:
    """`CREATE <target> AS` the batch's rows of `month`; returns how many.

    `CREATE TABLE AS`, unlike `INSERT`, runs its query with parallel workers. The text
    bounds are those of the canonical form; a row in no month's range shows in the count,
    which the caller compares with the batch's."""
    low, high = f"{month:%Y-%m}", f"{_next_month(month):%Y-%m}"
    cursor.execute(
        f"CREATE {target} AS {select} WHERE s.start_utc >= '{low}' AND s.start_utc < '{high}'",
        params,
    )
    return cursor.rowcount


def _swap_in(cursor, select: str, params: list, months: list[date], rows: int) -> None:
    """Build a fresh table for each of `months` and swap it in for its empty partition.

    Each month is one `CREATE TABLE AS` (see `_month_select`), then one `ALTER TABLE` that adds the primary key (one sorted build;
    a repeat in the batch fails it), the NOT NULLs and a CHECK matching the bounds in a
    single pass, the CHECK sparing `ATTACH` its own scan. Only the final drop-and-attach
    takes the exclusive lock on the table, for the milliseconds it lasts."""
    built = 0
    for month in months:
        name = partition_name(month)
        low, high = f"{month:%Y-%m}", f"{_next_month(month):%Y-%m}"
        built += _month_select(cursor, select, params, month, f"TABLE {name}_new")
        cursor.execute(
            f"ALTER TABLE {name}_new ALTER COLUMN wh SET NOT NULL, "
            "ALTER COLUMN quality SET NOT NULL, "
            f"ADD CONSTRAINT {name}_new_pkey PRIMARY KEY (supply_point_id, start), "
            f"ADD CONSTRAINT {name}_bounds CHECK (start >= '{low}-01 00:00+00' "
            f"AND start < '{high}-01 00:00+00')"
        )
    if built != rows:
        raise _Declined
    for month in months:
        name = partition_name(month)
        cursor.execute(f"DROP TABLE {name}")
        cursor.execute(f"ALTER TABLE {name}_new RENAME TO {name}")
        cursor.execute(f"ALTER INDEX {name}_new_pkey RENAME TO {name}_pkey")
        cursor.execute(
            f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM "
            f"('{month.isoformat()} 00:00+00') TO ('{_next_month(month).isoformat()} 00:00+00')"
        )
        cursor.execute(f"ALTER TABLE {name} DROP CONSTRAINT {name}_bounds")


# --- The strict pass ----------------------------------------------------------------------


def _strict_ingest(cursor, source, names, points_sql, points_params, max_errors) -> IngestSummary:
    """Validate every line (reporting each bad one), then upsert through the parent."""
    summary = IngestSummary()
    cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
    cursor.execute(
        f"CREATE TEMP TABLE {STAGE} (line bigint GENERATED ALWAYS AS IDENTITY, "
        'market text COLLATE "C", identifier text COLLATE "C", '
        'start_utc text COLLATE "C", wh text COLLATE "C", quality text COLLATE "C") '
        "ON COMMIT DROP"
    )
    copy_sql = f"COPY {STAGE} ({', '.join(names)}) FROM STDIN WITH (FORMAT csv)"
    try:
        cursor.cursor.copy_expert(copy_sql, source, size=1 << 20)
    except psycopg2.DataError as exc:  # wrong number of columns, bad encoding
        raise IntervalBatchRejected([_copy_error(exc)]) from exc

    cursor.execute(f"SELECT count(*), min({HOUR_KEY}), max({HOUR_KEY}) FROM {STAGE} s")  # noqa: S608
    summary.rows, first_key, last_key = cursor.fetchone()
    cursor.execute(f"ANALYZE {STAGE}")

    errors, total = _line_errors(cursor, points_sql, points_params, max_errors)
    if total:
        raise IntervalBatchRejected(errors, total=total)
    if not summary.rows:
        return summary

    # Every valid key is YYYY-MM-DDHH; create the months from the first to the last.
    first = (int(first_key[:4]), int(first_key[5:7]))
    last = (int(last_key[:4]), int(last_key[5:7]))
    months = (last[0] - first[0]) * 12 + last[1] - first[1] + 1
    interval_partitions_ensure(start=date(first[0], first[1], 1), months=months)
    summary.months = [f"{first[0]:04d}-{first[1]:02d}", f"{last[0]:04d}-{last[1]:02d}"]

    cursor.execute(
        f"""
        WITH points AS ({points_sql}),
        up AS (
            INSERT INTO metering_interval AS mi (supply_point_id, start, wh, quality)
            SELECT pt.id, s.start_utc::timestamptz, s.wh::integer,
                   coalesce(nullif(s.quality, ''), '0')::smallint
            FROM {STAGE} s
            JOIN points pt ON pt.market = s.market AND pt.identifier = s.identifier
            ON CONFLICT (supply_point_id, start) DO UPDATE
                SET wh = EXCLUDED.wh, quality = EXCLUDED.quality
                WHERE (mi.wh, mi.quality) IS DISTINCT FROM (EXCLUDED.wh, EXCLUDED.quality)
            RETURNING mi.supply_point_id, mi.start
        )
        -- The main query sees the table as it was before the INSERT (one snapshot for
        -- the whole statement): a written row that existed before was updated.
        SELECT count(*), count(*) FILTER (WHERE EXISTS (
            SELECT 1 FROM metering_interval old
            WHERE old.supply_point_id = up.supply_point_id AND old.start = up.start))
        FROM up
        """,  # noqa: S608
        points_params,
    )
    written, summary.updated = cursor.fetchone()
    summary.inserted = written - summary.updated
    summary.unchanged = summary.rows - summary.inserted - summary.updated
    cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
    return summary


def _line_errors(cursor, points_sql: str, params: list, limit: int) -> tuple[list[LineError], int]:
    """The bad lines (first `limit`, by line) and how many there are in all."""
    cursor.execute(
        f"""
        WITH points AS ({points_sql}),
        checked AS (
            SELECT s.line + 1 AS line, pt.id IS NOT NULL AS supply_point, {WH_OK} AS wh,
                   {QUALITY_OK} AS quality, t.ts, CASE WHEN t.ts THEN {HOUR_OK} ELSE true END AS hour
            FROM {STAGE} s
            CROSS JOIN LATERAL (SELECT {TS_OK} AS ts) t
            LEFT JOIN points pt ON pt.market = s.market AND pt.identifier = s.identifier
        )
        SELECT line, supply_point, wh, quality, ts, hour, count(*) OVER () FROM checked
        WHERE NOT (supply_point AND wh AND quality AND ts AND hour)
        ORDER BY line LIMIT %s
        """,  # noqa: S608
        [*params, limit],
    )
    by_line: dict[int, list[str]] = {}
    total = 0  # problems found: bad lines, then repeats (a line may count twice)
    for line, *oks, count in cursor.fetchall():
        total = count
        by_line[line] = [
            REASONS[key]
            for key, ok in zip(
                ("supply_point", "wh", "quality", "timestamp", "hour"), oks, strict=True
            )
            if not ok
        ]
    if total:
        return [LineError(line, tuple(r)) for line, r in sorted(by_line.items())], total
    # The same supply point and hour twice: each repeat is bad. Looked for once every line
    # is otherwise valid, when the text key (date and hour) is exactly the instant.
    cursor.execute(
        f"""
        SELECT line, first_line, count(*) OVER () FROM (
            SELECT s.line + 1 AS line,
                   min(s.line + 1) OVER w AS first_line
            FROM {STAGE} s
            WINDOW w AS (PARTITION BY s.market, s.identifier, {HOUR_KEY})
        ) d WHERE line > first_line ORDER BY line LIMIT %s
        """,  # noqa: S608
        [limit],
    )
    repeats = cursor.fetchall()
    total += repeats[0][2] if repeats else 0
    for line, first_line, _count in repeats:
        by_line.setdefault(line, []).append(
            f"duplicate within the file: same supply point and hour as line {first_line}"
        )
    errors = [LineError(line, tuple(reasons)) for line, reasons in sorted(by_line.items())]
    return errors[:limit], total


def _copy_error(exc: psycopg2.DataError) -> LineError:
    """A line COPY itself refused (wrong number of columns): its file line number.

    COPY counts from the first line it reads, the header having been read before."""
    context = getattr(exc.diag, "context", "") or ""
    match = re.search(r"line (\d+)", context)
    line = int(match[1]) + 1 if match else 0
    message = (exc.diag.message_primary or str(exc)).strip()
    if "missing data" in message or "extra data" in message:
        message = f"wrong number of columns ({message})"
    return LineError(line, (message,))


def rows_to_csv(rows: list[dict]) -> BinaryIO:
    """JSON rows ({"market", "identifier", "start_utc", "wh", "quality"}) as a CSV batch.

    Row i of the list becomes line i + 2 of the batch."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(["" if row.get(name) is None else str(row.get(name)) for name in COLUMNS])
    return io.BytesIO(text.getvalue().encode())
