"""Server time of the portal consumption page with 20M hourly rows in the table.

Usage: .venv/bin/python bench/analytics.py [--supply-points 1150] [--repeat 30]

Builds (once) `powernext_bench_analytics` with N supply points x 24 months of hours
(1,150 x 17,520 = 20.1M rows) and their daily aggregates (every supply point is a home
of the same "similar homes" cohort, so the cohort is as large as the table allows), then
requests the page for one customer through Django's test client (no network), and prints
the median and p95 server time and its number of SQL statements. The floor, measured in
the same run, is the one indexed query that reads that supply point's 24 monthly totals;
the similar-homes query, which reads only the aggregate tables, is timed on its own.
Also printed: the aggregate rebuild of all 24 months (first run only) and of the two days
the nightly task rebuilds.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "powernext.settings.base")
os.environ["DJANGO_DEBUG"] = "0"
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
# Production settings serve hashed static files: build the manifest once, out of the tree.
os.environ.setdefault("STATIC_ROOT", "/tmp/powernext-bench-static")
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/powernext_bench_analytics"
)

FILL = """
INSERT INTO metering_interval (supply_point_id, start, wh, quality)
SELECT sp, ts, 150 + ((extract(hour FROM ts)::int * 37 + sp) %% 400), 0
FROM unnest(%(ids)s::bigint[]) AS sp,
     generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 hour', interval '1 hour') AS ts
ON CONFLICT DO NOTHING
"""


def timed(fn, repeat):
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--supply-points", type=int, default=1150)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "ensure_database.py")], check=True, env=os.environ
    )

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from accounts import services as account_services
    from accounts.models import Account, Role, SupplyPoint, User
    from metering import selectors
    from metering.models import Consent, DailyConsumption
    from metering.services.aggregates import daily_consumption_rebuild

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    now = timezone.now()
    end = now.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=730)
    user = User.objects.filter(email="bench-analytics@example.fr").first()
    if user is None:
        user, _ = account_services.user_upsert(
            email="bench-analytics@example.fr", password="Bench-password-2026", role=Role.CUSTOMER
        )
        account = account_services.account_open(
            type="RESIDENTIAL", name="Bench", holder=user, billing_address="", now=now
        )
        premise = account_services.premise_add(
            account=account,
            address="1 rue du Banc",
            postcode="69001",
            city="Lyon",
            area_class="URBAN",
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO accounts_supplypoint (premise_id, market, identifier, subscribed_kva, meter_reference) "
                "SELECT %s, 'FR_PRM', lpad((60000000000000 + g)::text, 14, '0'), 9, '' "
                "FROM generate_series(1, %s) g ON CONFLICT DO NOTHING",
                [premise.pk, args.supply_points],
            )
    account = Account.objects.get(memberships__user=user)
    ids = list(
        SupplyPoint.objects.filter(premise__account=account)
        .order_by("id")
        .values_list("id", flat=True)
    )
    target = ids[len(ids) // 2]
    Consent.objects.get_or_create(
        supply_point_id=target,
        purpose="HOURLY_DATA",
        defaults={"granted_at": start, "granted_by": user},
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM metering_interval")
        have = cursor.fetchone()[0]
    wanted = len(ids) * 17520
    if have < wanted * 0.99:
        print(f"Loading {wanted - have:,} hourly rows…", flush=True)
        t0 = time.perf_counter()
        with connection.cursor() as cursor:
            for i in range(0, len(ids), 50):
                cursor.execute(FILL, {"ids": ids[i : i + 50], "start": start, "end": end})
            cursor.execute("ANALYZE metering_interval")
        print(f"  loaded in {time.perf_counter() - t0:.0f} s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM metering_interval")
        total = cursor.fetchone()[0]
    today = timezone.localdate(now)
    first_day = timezone.localdate(start)
    yesterday = today - timedelta(days=1)
    if DailyConsumption.objects.count() < len(ids) * (yesterday - first_day).days * 0.99:
        print("Building the daily aggregates of 24 months…", flush=True)
        t0 = time.perf_counter()
        report = daily_consumption_rebuild(day_from=first_day, day_to=yesterday)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE metering_dailyconsumption")
            cursor.execute("ANALYZE metering_cohortdailyconsumption")
        print(
            f"  {report.daily_written:,} daily rows, {report.cohort_written:,} cohort rows "
            f"in {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
    t0 = time.perf_counter()
    daily_consumption_rebuild(day_from=today - timedelta(days=2), day_to=yesterday)
    nightly = time.perf_counter() - t0

    client = Client()
    client.force_login(user)
    url = f"/portal/consumption/{target}/"
    # Not CaptureQueriesContext: request_started resets the query log it reads.
    queries = []
    with connection.execute_wrapper(
        lambda execute, sql, *rest: queries.append(sql) or execute(sql, *rest)
    ):
        response = client.get(url, secure=True)
    assert response.status_code == 200
    assert b'data-testid="similar-homes"' in response.content, "no similar-homes average"
    floor = timed(
        lambda: selectors.monthly_totals(supply_point_id=target, today=today), args.repeat
    )
    # The page's periods: the 12 months of its chart, and the month of its daily chart.
    this_month = today.replace(day=1)
    next_month = (this_month + timedelta(days=32)).replace(day=1)
    back = today.year * 12 + today.month - 1 - 11
    periods = [(date(back // 12, back % 12 + 1, 1), next_month), (this_month, next_month)]
    similar = timed(
        lambda: selectors.similar_homes(supply_point_id=target, periods=periods), args.repeat
    )
    page = timed(lambda: client.get(url, secure=True), args.repeat)
    print(f"hourly rows in table: {total:,} ({len(ids)} supply points x 24 months)")
    print(
        f"floor: the 24 monthly totals of one supply point, median {floor[0]:.1f} ms (p95 {floor[1]:.1f})"
    )
    print(
        f"similar homes ({len(ids) - 1} other homes, aggregates only): "
        f"median {similar[0]:.1f} ms (p95 {similar[1]:.1f})"
    )
    print(
        f"consumption page server time: median {page[0]:.1f} ms, p95 {page[1]:.1f} ms "
        f"= {page[0] / floor[0]:.1f} x floor, {len(queries)} SQL statements"
    )
    print(f"nightly aggregate rebuild (2 days, {len(ids)} supply points): {nightly:.2f} s")


if __name__ == "__main__":
    main()
