"""Bulk ingestion of hourly interval data: rows/s of the service against raw COPY.

Usage: .venv/bin/python bench/ingestion.py [--rows 5000000] [--points 1000]

Works in its own database `powernext_bench_ingest` (created and migrated if missing) with
`--points` supply points made by set-based SQL. Writes a CSV of `--rows` rows (points ×
hours from 2026-01-01 UTC, hour-major like a head-end file) to /tmp, then, on the same
connection in the same run:

- the floor: `COPY` of the file into an unindexed UNLOGGED table of the file's columns,
  typed like `metering_interval` (no validation, no key, no WAL), timed before and after
  the service runs, keeping the faster;
- `metering.services.ingestion.interval_batch_ingest` on an empty interval table (its fast
  pass: COPY into staging, conversion with checks, fresh monthly tables keyed and swapped
  in for the empty partitions);
- the same file again (a re-delivery: everything unchanged; the fast pass's upsert branch).

Also printed, for reference: `COPY` of the file into a logged table keyed on (market,
identifier, start), that is what WAL and a primary key cost a plain COPY.

Each timed step starts after a CHECKPOINT, so none pays for the previous one's writes.

Prints rows/s of each and the ratio service / floor.
"""

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "powernext.settings.base")
os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/powernext_bench_ingest"
)

FIRST_PRM = 60000000000000

FILL_SQL = """
INSERT INTO accounts_account (number, type, status, name, billing_address, phone, language,
       notify_billing, notify_outages, notify_tickets, marketing_opt_in,
       emergency_contact_name, emergency_contact_phone, created_at)
VALUES ('9999999990', 'BUSINESS', 'ACTIVE', 'Bench ingest', '', '', 'fr', 'EMAIL', 'SMS',
        'EMAIL', false, '', '', now())
ON CONFLICT DO NOTHING;
INSERT INTO accounts_premise (account_id, address, postcode, city, area_class)
SELECT id, 'rue du Banc', '75001', 'Paris', 'URBAN' FROM accounts_account
WHERE number = '9999999990' AND NOT EXISTS (
    SELECT 1 FROM accounts_premise p WHERE p.account_id = accounts_account.id);
INSERT INTO accounts_supplypoint (premise_id, market, identifier, subscribed_kva, meter_reference)
SELECT p.id, 'FR_PRM', (%(first)s + g)::text, 36, ''
FROM generate_series(0, %(points)s - 1) AS g
JOIN accounts_account a ON a.number = '9999999990' JOIN accounts_premise p ON p.account_id = a.id
ON CONFLICT DO NOTHING;
"""


def write_csv(path: Path, points: int, rows: int) -> None:
    """Hour-major rows, one join of pre-built lines per hour (fast)."""
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    prefixes = [f"FR_PRM,{FIRST_PRM + p}," for p in range(points)]
    hours = -(-rows // points)
    written = 0
    with open(path, "w", buffering=1 << 22) as out:
        out.write("market,identifier,start_utc,wh,quality\n")
        for h in range(hours):
            stamp = (t0 + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ")
            take = min(points, rows - written)
            tail = f",{stamp},"
            out.write(
                "".join(
                    f"{prefixes[p]}{tail[1:]}{200 + (p * 7 + h * 13) % 900},0\n"
                    for p in range(take)
                )
            )
            written += take


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--file", default="/tmp/powernext_bench_intervals.csv")
    args = parser.parse_args()
    import subprocess

    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "ensure_database.py")], check=True, env=os.environ
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from metering.services.ingestion import interval_batch_ingest

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(FILL_SQL, {"first": FIRST_PRM, "points": args.points})
        cursor.execute("TRUNCATE metering_interval")
        cursor.execute("ANALYZE accounts_supplypoint")

    path = Path(args.file)
    t = time.perf_counter()
    write_csv(path, args.points, args.rows)
    print(
        f"CSV: {args.rows} rows ({args.points} points), {path.stat().st_size / 1e6:.0f} MB "
        f"written in {time.perf_counter() - t:.1f} s"
    )

    def raw_copy(*, keyed: bool = False) -> float:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_raw_interval")
            cursor.execute(
                f"CREATE {'' if keyed else 'UNLOGGED '}TABLE bench_raw_interval (market text, "
                "identifier text, start timestamptz, wh integer, quality smallint"
                f"{', PRIMARY KEY (market, identifier, start)' if keyed else ''})"
            )
            cursor.execute("CHECKPOINT")
            with open(path, "rb") as source:
                t = time.perf_counter()
                cursor.cursor.copy_expert(
                    "COPY bench_raw_interval FROM STDIN WITH (FORMAT csv, HEADER)", source, 1 << 20
                )
                elapsed = time.perf_counter() - t
            cursor.execute("DROP TABLE bench_raw_interval")
        return elapsed

    # The floor is timed before and after the service; the faster of the two is kept, so
    # a busy moment on the machine cannot flatter the ratio.
    floors = [raw_copy()]
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE metering_interval")
        cursor.execute("CHECKPOINT")
    runs = []
    for label in ("service, empty table", "service, re-delivery"):
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
        with open(path, "rb") as source:
            t = time.perf_counter()
            summary = interval_batch_ingest(source=source)
            elapsed = time.perf_counter() - t
        runs.append((label, elapsed, summary))
    floors.append(raw_copy())
    floor = min(floors)
    keyed = raw_copy(keyed=True)
    print(
        f"floor: raw COPY into an unindexed unlogged table  {floor:6.1f} s  "
        f"{args.rows / floor:10,.0f} rows/s   (before: {floors[0]:.1f} s, after: {floors[1]:.1f} s)"
    )
    print(
        f"reference: raw COPY into a logged table keyed like it {keyed:6.1f} s  "
        f"{args.rows / keyed:10,.0f} rows/s  = {floor / keyed:.2f} of the floor "
        "(what WAL and the key cost before any mapping or checking)"
    )
    for label, elapsed, summary in runs:
        print(
            f"{label:<48} {elapsed:6.1f} s  {args.rows / elapsed:10,.0f} rows/s  "
            f"= {floor / elapsed:.2f} of raw COPY   ({summary})"
        )


if __name__ == "__main__":
    main()
