"""Console search over 100k accounts: median time per kind of key.

Usage: .venv/bin/python bench/console_search.py [--accounts 100000]

Builds (once) a separate database `powernext_bench` with N accounts, each with
a holder, a premise and a PRM, then times `accounts.selectors.customer_search`
for each kind of key. The floor is a primary-key lookup of one account on the
same connection in the same run; every figure is printed as a ratio to it.
"""

import argparse
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
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/powernext_bench"
)

FILL_SQL = """
INSERT INTO accounts_user (password, is_superuser, email, first_name, last_name, phone, role,
                           preferred_language, is_active, is_staff, date_joined)
SELECT '!', false, 'bench' || g || '@example.fr', 'Prénom' || (g %% 500),
       (ARRAY['Martin','Bernard','Dubois','Thomas','Robert','Richard','Petit','Durand','Leroy',
              'Moreau','Simon','Laurent','Lefebvre','Michel','Garcia','David'])[1 + g %% 16]
       || '-' || (g %% 997),
       '+336' || lpad(g::text, 8, '0'), 'CUSTOMER', 'fr', true, false, now()
FROM generate_series(%(start)s, %(stop)s) AS g;
INSERT INTO accounts_account (number, type, status, name, billing_address, phone, language,
       notify_billing, notify_outages, notify_tickets, marketing_opt_in,
       emergency_contact_name, emergency_contact_phone, created_at)
SELECT lpad((100000000 + g)::text, 9, '0') || '0', 'RESIDENTIAL', 'ACTIVE', u.first_name || ' ' || u.last_name,
       '', u.phone, 'fr', 'EMAIL', 'SMS', 'EMAIL', false, '', '', now()
FROM generate_series(%(start)s, %(stop)s) AS g JOIN accounts_user u ON u.email = 'bench' || g || '@example.fr';
INSERT INTO accounts_accountmembership (account_id, user_id, role)
SELECT a.id, u.id, 'HOLDER' FROM generate_series(%(start)s, %(stop)s) AS g
JOIN accounts_user u ON u.email = 'bench' || g || '@example.fr'
JOIN accounts_account a ON a.number = lpad((100000000 + g)::text, 9, '0') || '0';
INSERT INTO accounts_premise (account_id, address, postcode, city, area_class)
SELECT a.id, (g %% 120) || ' rue de la Bench', lpad((1000 + g %% 95000)::text, 5, '0'), 'Ville', 'URBAN'
FROM generate_series(%(start)s, %(stop)s) AS g JOIN accounts_account a ON a.number = lpad((100000000 + g)::text, 9, '0') || '0';
INSERT INTO accounts_supplypoint (premise_id, market, identifier, subscribed_kva, meter_reference)
SELECT p.id, 'FR_PRM', lpad((50000000000000 + g)::text, 14, '0'), 9, ''
FROM generate_series(%(start)s, %(stop)s) AS g JOIN accounts_account a ON a.number = lpad((100000000 + g)::text, 9, '0') || '0'
JOIN accounts_premise p ON p.account_id = a.id;
"""


def ensure_database() -> None:
    import subprocess

    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "ensure_database.py")], check=True, env=os.environ
    )


def timed(fn, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    ensure_database()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Account
    from accounts.selectors import customer_search

    call_command("migrate", verbosity=0)
    have = Account.objects.filter(number__startswith="1").count()
    if have < args.accounts:
        print(f"Loading {args.accounts - have} accounts…", flush=True)
        with connection.cursor() as cursor:
            for start in range(have + 1, args.accounts + 1, 20_000):
                stop = min(start + 19_999, args.accounts)
                cursor.execute(FILL_SQL, {"start": start, "stop": stop})
            cursor.execute("ANALYZE")
    total = Account.objects.count()
    probe = args.accounts // 2
    keys = {
        "name (trigram)": "Moreau-421",
        "account number": f"{100000000 + probe:09d}0",
        "PRM": f"{50000000000000 + probe:014d}",
        "email": f"bench{probe}@example.fr",
        "phone": f"+33 6 {probe:08d}",
        "postcode": f"{1000 + probe % 95000:05d}",
    }
    pk = Account.objects.order_by("id").values_list("id", flat=True)[total // 2]
    floor, floor_p95 = timed(lambda: list(Account.objects.filter(pk=pk)), args.repeat * 3)
    print(f"accounts in table: {total}")
    print(f"floor: primary-key lookup of one account, median {floor:.2f} ms (p95 {floor_p95:.2f})")
    for label, query in keys.items():
        found = customer_search(query=query)
        median, p95 = timed(lambda q=query: customer_search(query=q), args.repeat)
        print(
            f"{label:<16} median {median:7.2f} ms  p95 {p95:7.2f} ms  "
            f"= {median / floor:6.1f} x floor   ({len(found)} found)"
        )


if __name__ == "__main__":
    main()
