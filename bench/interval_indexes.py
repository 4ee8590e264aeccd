"""Which index for the hourly table: the composite btree primary key, or BRIN on `start`.

Usage: .venv/bin/python bench/interval_indexes.py [--points 2000] [--days 92] [--repeat 30]

Works in its own database `powernext_bench_indexes` with plain tables (no Django models):
the same rows (`--points` supply points x `--days` of hours, written hour-major as the
head-end delivers them, so BRIN sees the best physical order it can get) in two copies:

- `iv_btree`: primary key (supply_point_id, start), the design in `metering_interval`;
- `iv_brin`: BRIN on `start` plus BRIN on `supply_point_id`, no btree.

Times, warm, median and p95 of `--repeat` runs, with a random supply point each run:

- the portal's read: one supply point's month, summed by day;
- a fleet read: every supply point's hours of one day, summed.

The floor of each read is the same aggregate over a table holding exactly the rows the read
needs (what it would cost if finding them were free). Also printed: each index's size.
"""

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/powernext_bench_indexes"
)
T0 = "2026-01-01 00:00+00"

PORTAL = (
    "SELECT date_trunc('day', start), sum(wh) FROM {t} WHERE supply_point_id = %s "
    "AND start >= '2026-02-01 00:00+00' AND start < '2026-03-01 00:00+00' GROUP BY 1"
)
FLEET = (
    "SELECT sum(wh) FROM {t} WHERE start >= '2026-02-10 00:00+00' AND start < '2026-02-11 00:00+00'"
)


def timed(cursor, sql: str, params_of, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        params = params_of()
        t = time.perf_counter()
        cursor.execute(sql, params)
        cursor.fetchall()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def build(cursor, points: int, days: int) -> None:
    cursor.execute("DROP TABLE IF EXISTS iv_btree, iv_brin, iv_rows")
    cursor.execute(
        "CREATE TABLE iv_btree (supply_point_id bigint NOT NULL, start timestamptz NOT NULL, "
        "wh integer NOT NULL, quality smallint NOT NULL, PRIMARY KEY (supply_point_id, start))"
    )
    cursor.execute(
        f"""
        INSERT INTO iv_btree
        SELECT p, g, 150 + (p * 7 + extract(epoch FROM g)::bigint / 3600 * 13) % 900, 0
        FROM generate_series('{T0}'::timestamptz,
                             '{T0}'::timestamptz + interval '{days} days' - interval '1 hour',
                             interval '1 hour') AS g,
             generate_series(1, {points}) AS p
        ORDER BY g, p
        """
    )
    cursor.execute("CREATE TABLE iv_brin AS SELECT * FROM iv_btree ORDER BY start, supply_point_id")
    cursor.execute("CREATE INDEX iv_brin_start ON iv_brin USING brin (start)")
    cursor.execute("CREATE INDEX iv_brin_point ON iv_brin USING brin (supply_point_id)")
    cursor.execute("VACUUM ANALYZE iv_btree")
    cursor.execute("VACUUM ANALYZE iv_brin")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--days", type=int, default=92)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    import subprocess

    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "ensure_database.py")],
        check=True,
        env={**os.environ, "DATABASE_URL": DATABASE_URL},
    )
    conn = psycopg2.connect(DATABASE_URL)
    conn.autocommit = True
    cursor = conn.cursor()
    t = time.perf_counter()
    build(cursor, args.points, args.days)
    rows = args.points * args.days * 24
    print(
        f"{rows:,} rows ({args.points} points x {args.days} days), built in {time.perf_counter() - t:.0f} s"
    )

    cursor.execute(
        "SELECT relname, pg_relation_size(oid) FROM pg_class WHERE relname IN "
        "('iv_btree', 'iv_btree_pkey', 'iv_brin', 'iv_brin_start', 'iv_brin_point') ORDER BY 1"
    )
    sizes = dict(cursor.fetchall())
    print(
        f"index size: btree primary key {sizes['iv_btree_pkey'] / 1e6:.1f} MB, "
        f"BRIN start + BRIN supply point {(sizes['iv_brin_start'] + sizes['iv_brin_point']) / 1e3:.0f} kB "
        f"(heap {sizes['iv_btree'] / 1e6:.0f} MB)"
    )

    rng = random.Random(7)

    def point():
        return [rng.randint(1, args.points)]

    results = {}
    for name, sql, params_of in (("portal", PORTAL, point), ("fleet", FLEET, lambda: None)):
        for table in ("iv_btree", "iv_brin"):
            timed(cursor, sql.format(t=table), params_of, 3)  # warm the cache
            results[name, table] = timed(cursor, sql.format(t=table), params_of, args.repeat)
        # The floor: the same aggregate over exactly the rows the read needs.
        cursor.execute("DROP TABLE IF EXISTS iv_rows")
        if name == "portal":
            cursor.execute(
                "CREATE TEMP TABLE iv_rows AS SELECT * FROM iv_btree WHERE supply_point_id = 1 "
                "AND start >= '2026-02-01 00:00+00' AND start < '2026-03-01 00:00+00'"
            )
            floor_sql, floor_params = PORTAL.format(t="iv_rows"), lambda: [1]
        else:
            cursor.execute(
                "CREATE TEMP TABLE iv_rows AS SELECT * FROM iv_btree "
                "WHERE start >= '2026-02-10 00:00+00' AND start < '2026-02-11 00:00+00'"
            )
            floor_sql, floor_params = FLEET.format(t="iv_rows"), lambda: None
        cursor.execute("ANALYZE iv_rows")
        timed(cursor, floor_sql, floor_params, 3)
        results[name, "floor"] = timed(cursor, floor_sql, floor_params, args.repeat)

    labels = {
        "portal": "one supply point, one month by day (the portal)",
        "fleet": "every supply point, one day (a fleet report)",
    }
    for name in ("portal", "fleet"):
        floor = results[name, "floor"][0]
        print(f"{labels[name]}: floor {floor:.2f} ms")
        for table, label in (("iv_btree", "btree primary key"), ("iv_brin", "BRIN")):
            median, p95 = results[name, table]
            print(
                f"  {label:<18} median {median:8.2f} ms  p95 {p95:8.2f} ms  "
                f"= {median / floor:6.1f} x floor"
            )
    cursor.execute("DROP TABLE IF EXISTS iv_btree, iv_brin, iv_rows")


if __name__ == "__main__":
    main()
