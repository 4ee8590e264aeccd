"""CSV export of one supply point's 24 months of hourly data (17,520 rows).

Usage: .venv/bin/python bench/export.py [--points 200] [--repeat 15]

Builds (once) a separate database `powernext_bench_export` with N supply points, each with
24 local months of hourly data (2025-2026: N x 17,520 rows, 3.5M for 200), then times the
streamed CSV of one supply point (`metering.exports.consumption_csv`, all chunks consumed)
against, as the floor in the same run on the same connection, `COPY (SELECT ...) TO STDOUT`
of the same rows.
"""

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "powernext.settings.base")
os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/powernext_bench_export"
)

FILL_SQL = """
INSERT INTO metering_interval (supply_point_id, start, wh, quality)
SELECT sp.id, g, 150 + (extract(epoch FROM g)::bigint / 3600 * 7919 + sp.id) %% 900,
       CASE WHEN (extract(epoch FROM g)::bigint / 3600 + sp.id) %% 97 = 0 THEN 9 ELSE 0 END
FROM accounts_supplypoint sp,
     generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 hour',
                     interval '1 hour') AS g
WHERE sp.identifier LIKE 'BENCHEXP%%' AND sp.id BETWEEN %(lo)s AND %(hi)s
"""
COPY_SQL = (
    "COPY (SELECT start, wh, quality FROM metering_interval WHERE supply_point_id = {sp} "
    "AND start >= '{start}' AND start < '{end}' ORDER BY start) TO STDOUT WITH CSV"
)


def ensure_database() -> None:
    import subprocess

    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "ensure_database.py")], check=True, env=os.environ
    )


def timed(fn, repeat: int) -> tuple[float, float, object]:
    samples, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))], result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    ensure_database()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Account, Premise, SupplyPoint
    from metering import exports
    from metering.selectors import PARIS

    call_command("migrate", verbosity=0)
    from datetime import datetime

    start = datetime(2025, 1, 1, tzinfo=PARIS)
    end = datetime(2027, 1, 1, tzinfo=PARIS)
    have = SupplyPoint.objects.filter(identifier__startswith="BENCHEXP").count()
    if have < args.points:
        t0 = time.perf_counter()
        print(f"Loading {args.points - have} supply points x 17,520 hours…", flush=True)
        account = Account.objects.filter(number="9999999990").first() or Account.objects.create(
            number="9999999990", name="Bench export", created_at=timezone.now()
        )
        premise = Premise.objects.filter(account=account).first() or Premise.objects.create(
            account=account, address="1 rue du Bench", postcode="75001", city="Paris"
        )
        new = SupplyPoint.objects.bulk_create(
            SupplyPoint(
                premise=premise,
                market="FR_PRM",
                identifier=f"BENCHEXP{i:06d}",
                subscribed_kva=9,
                meter_reference="",
            )
            for i in range(have, args.points)
        )
        ids = sorted(p.pk for p in new)
        with connection.cursor() as cursor:
            for lo in range(0, len(ids), 20):
                batch = ids[lo : lo + 20]
                cursor.execute(
                    FILL_SQL, {"start": start, "end": end, "lo": batch[0], "hi": batch[-1]}
                )
            cursor.execute("ANALYZE metering_interval")
        print(f"loaded in {time.perf_counter() - t0:.0f} s", flush=True)
    points = list(
        SupplyPoint.objects.filter(identifier__startswith="BENCHEXP")
        .order_by("id")
        .values_list("id", flat=True)
    )
    probe = points[len(points) // 2]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM metering_interval")
        total = cursor.fetchone()[0]

    def stream() -> tuple[int, int]:
        lines = size = 0
        for chunk in exports.consumption_csv(
            supply_point_id=probe, start=start, end=end, group_by="hour"
        ):
            lines += chunk.count(b"\n")
            size += len(chunk)
        return lines - 1, size

    copy_sql = COPY_SQL.format(sp=int(probe), start=start.isoformat(), end=end.isoformat())

    def copy() -> tuple[int, int]:
        buffer = io.BytesIO()
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(copy_sql, buffer)
        data = buffer.getvalue()
        return data.count(b"\n"), len(data)

    stream()  # warm the cache and the connection
    copy()
    floor, floor_p95, (copy_rows, copy_bytes) = timed(copy, args.repeat)
    median, p95, (rows, size) = timed(stream, args.repeat)
    print(f"interval rows in table: {total:,} ({len(points)} supply points)")
    print(
        f"floor: COPY (SELECT start, wh, quality ...) TO STDOUT, {copy_rows:,} rows, "
        f"{copy_bytes / 1e6:.2f} MB: median {floor:.1f} ms (p95 {floor_p95:.1f})"
    )
    print(
        f"streamed CSV export (consumption_csv, hour), {rows:,} rows, {size / 1e6:.2f} MB: "
        f"median {median:.1f} ms (p95 {p95:.1f}) = {median / floor:.2f} x floor"
    )


if __name__ == "__main__":
    main()
