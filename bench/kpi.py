"""KPI snapshots and the supervisor dashboard at 1M contacts and 100k tickets.

Usage: .venv/bin/python bench/kpi.py [--contacts 1000000] [--tickets 100000] [--repeat 20]

Works in its own database `powernext_bench_kpi` (BENCH_DATABASE_URL overrides), created if
missing and migrated. The first run loads, with set-based SQL, 13 months of records ending
yesterday (Paris): `--contacts` contacts (phone, chat, chatbot hand-offs, e-mails, portal
messages; answered, abandoned, busy, blocked, closed; 60 agents; 200k customers, so that
some come back within 7 days), `--tickets` tickets with their STATUS events, one first-
response clock each (met, met late, or running), a survey for a third of the resolved ones,
and 400 incidents. Later runs reuse them.

Then it builds (idempotently) the day snapshots of every day, with their intervals, and
the month snapshots of the 12 full months, and prints:

- the time to build one day's snapshot: the median and p95 over every day of the load
  (first build of a day), and the median of 5 rebuilds of yesterday (nothing changed);
- one month's snapshot built from the raw records;
- the dashboard's server time, median and p95 over `--repeat` requests through Django's
  test client with a verified supervisor: last month's view (read from the snapshots), and
  for comparison today's view and the current month's (live for today);
- the equivalent live aggregate on the raw records for last month (the snapshots' own
  SELECT, every KPI of every cell) and its ratio to the dashboard's month view; and a
  floor: one plain GROUP BY queue over last month's contacts.

DEBUG is off (as in production) so that Django does not record every query.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "powernext.settings.base")
os.environ["DJANGO_DEBUG"] = "0"
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("STATIC_ROOT", "/tmp/powernext-bench-static")
os.environ.setdefault("CACHE_KEY_PREFIX", "pn-bench-kpi")
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/powernext_bench_kpi"
)

AGENTS = 60
CUSTOMERS = 200_000
CHUNK = 100_000

CONTACTS_SQL = """
INSERT INTO tickets_contact (channel, queue, agent_id, inbound, external_id, offered_at,
       answered_at, ended_at, wrap_up_ended_at, talk_seconds, hold_seconds, wrap_seconds,
       abandoned, first_contact, resolved_first_contact, outcome, source, customer_key,
       issue_key)
SELECT v.channel, v.queue,
       CASE WHEN v.answered THEN (%(agents)s::bigint[])[1 + g %% %(n_agents)s] END,
       true, 'BK' || g, v.offered,
       CASE WHEN v.answered THEN v.offered + make_interval(secs => v.wait) END,
       CASE WHEN v.answered THEN v.offered + make_interval(secs => v.wait + v.talk)
            WHEN v.abandoned THEN v.offered + make_interval(secs => v.wait) END,
       CASE WHEN v.answered THEN v.offered + make_interval(secs => v.wait + v.talk + v.wrap) END,
       CASE WHEN v.answered THEN v.talk ELSE 0 END,
       CASE WHEN v.answered THEN (g %% 4) * 10 ELSE 0 END,
       CASE WHEN v.answered THEN v.wrap ELSE 0 END,
       v.abandoned, g %% 3 = 0, CASE WHEN g %% 3 = 0 THEN g %% 5 <> 0 END, v.outcome, 'CDR',
       'acct:' || (g * 7919 %% %(customers)s), 'queue:' || v.queue
FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g
CROSS JOIN LATERAL (
    SELECT c.*, c.realtime AND c.outcome = 'REACHED_QUEUE' AND g %% 17 = 0 AS abandoned,
           c.realtime AND c.outcome = 'REACHED_QUEUE' AND g %% 17 <> 0 AS answered
    FROM (
        SELECT ch.channel, ch.channel IN ('PHONE', 'CHAT', 'CHATBOT_HANDOFF') AS realtime,
               (ARRAY['BILLING', 'METERING', 'OUTAGE', 'COMMERCIAL', 'GENERAL'])[1 + (g / 20) %% 5] AS queue,
               CASE WHEN ch.channel = 'PHONE' AND g %% 50 = 1 THEN 'BUSY'
                    WHEN ch.channel = 'PHONE' AND g %% 50 = 2 THEN 'BLOCKED'
                    WHEN ch.channel = 'PHONE' AND g %% 50 = 3 THEN 'CLOSED'
                    ELSE 'REACHED_QUEUE' END AS outcome,
               %(start)s::timestamptz + make_interval(days => (g %% %(days)s)::int)
                   + make_interval(secs => 28800 + (g * 7919 %% 43200)) AS offered,
               2 + (g * 31 %% 60) AS wait, 120 + (g * 13 %% 400) AS talk, 20 + g %% 60 AS wrap
        FROM (SELECT CASE WHEN g %% 20 < 12 THEN 'PHONE' WHEN g %% 20 < 15 THEN 'CHAT'
                          WHEN g %% 20 < 18 THEN 'EMAIL' WHEN g %% 20 = 18 THEN 'PORTAL'
                          ELSE 'CHATBOT_HANDOFF' END AS channel) ch
    ) c
) v
ON CONFLICT DO NOTHING
"""

TICKETS_SQL = """
INSERT INTO tickets_ticket (reference, requester_name, requester_contact, channel, queue,
       category, priority, urgency_rank, safety_critical, is_complaint, status,
       escalation_level, subject, details, created_at, last_activity_at, resolved_at,
       assignee_id, policy_id)
SELECT 'BK-' || lpad(g::text, 9, '0'), 'Client Bench', 'client' || g || '@example.fr',
       (ARRAY['EMAIL', 'PORTAL', 'PHONE', 'CHAT'])[1 + g %% 4],
       (ARRAY['BILLING', 'METERING', 'OUTAGE', 'COMMERCIAL', 'GENERAL'])[1 + g %% 5],
       'OTHER', 'NORMAL', 20, false, false,
       CASE WHEN t.resolved <= %(now)s THEN 'RESOLVED' ELSE 'OPEN' END,
       'AGENT', 'Demande ' || g, '{}'::jsonb, t.created, t.created,
       CASE WHEN t.resolved <= %(now)s THEN t.resolved END,
       (%(agents)s::bigint[])[1 + g %% %(n_agents)s], %(policy)s
FROM generate_series(1, %(tickets)s) AS g
CROSS JOIN LATERAL (
    SELECT %(start)s::timestamptz + (%(now)s::timestamptz - %(start)s::timestamptz) * g / %(tickets)s AS created,
           %(start)s::timestamptz + (%(now)s::timestamptz - %(start)s::timestamptz) * g / %(tickets)s
               + make_interval(hours => CASE WHEN g %% 12 = 0 THEN 24 * 40 ELSE g %% 96 END) AS resolved
) t
ON CONFLICT (reference) DO NOTHING
"""

EVENTS_SQL = """
INSERT INTO tickets_ticketevent (ticket_id, at, kind, from_value, to_value, note)
SELECT id, resolved_at, 'STATUS', 'OPEN', 'RESOLVED', '' FROM tickets_ticket
WHERE reference LIKE 'BK-%%' AND status = 'RESOLVED'
"""

CLOCKS_SQL = """
INSERT INTO tickets_clockinstance (ticket_id, definition_id, policy_version, name, stop_event,
       unit, amount, calendar_id, pauses_when_waiting, warn_ratio, escalate_to,
       restarts_on_activity, status, started_at, pauses, due_at, met_at)
SELECT t.id, d.id, 1, d.name, d.stop_event, d.unit, d.amount, d.calendar_id,
       d.pauses_when_waiting, d.warn_ratio, d.escalate_to, d.restarts_on_activity,
       CASE WHEN t.id %% 10 = 0 THEN 'RUNNING' ELSE 'MET' END, t.created_at, '[]'::jsonb,
       t.created_at + interval '24 hours',
       CASE WHEN t.id %% 10 <> 0 THEN t.created_at + make_interval(hours => (t.id %% 26)::int) END
FROM tickets_ticket t JOIN tickets_clockdefinition d ON d.id = %(definition)s
WHERE t.reference LIKE 'BK-%%'
"""

SURVEYS_SQL = """
INSERT INTO tickets_survey (ticket_id, created_at, sent_at, csat, nps, comment, answered_at)
SELECT id, resolved_at, resolved_at, 1 + id %% 5, id %% 11, '', resolved_at + interval '1 hour'
FROM tickets_ticket WHERE reference LIKE 'BK-%%' AND status = 'RESOLVED' AND id %% 3 = 0
"""

INCIDENTS_SQL = """
INSERT INTO outages_incident (reference, title, klass, proposed_klass, class_override_reason,
       status, planned, cause, postcodes, feeder, area_class, customers_affected,
       priority_customers, safety_critical, public_message, started_at, ended_at, created_at,
       updated_at, etr_source, etr_confidence)
SELECT 'BK-INC-' || g, 'Coupure', (ARRAY['P1', 'P2', 'P3'])[1 + g %% 3],
       (ARRAY['P1', 'P2', 'P3'])[1 + g %% 3], '', 'RESTORED', g %% 10 = 0, 'UNKNOWN', '{}', '',
       'URBAN', 10, 0, false, '', i.started, i.started + make_interval(mins => 30 + g %% 300),
       i.started, i.started, '', ''
FROM generate_series(1, 400) AS g
CROSS JOIN LATERAL (
    SELECT %(start)s::timestamptz + (%(now)s::timestamptz - %(start)s::timestamptz) * g / 401 AS started
) i
ON CONFLICT (reference) DO NOTHING
"""


def timed(fn, repeat: int) -> tuple[float, float]:
    """Median and p95 of `repeat` calls, in milliseconds."""
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20, help="requests per page timing")
    args = parser.parse_args()
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "ensure_database.py")], check=True, env=os.environ
    )

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client
    from django.utils import timezone
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import Role, User
    from kpi import selectors
    from kpi.domain import metrics
    from kpi.models import KpiSnapshot
    from kpi.services import snapshots
    from tickets.models import ClockDefinition, Contact

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    t_start = time.perf_counter()
    now = timezone.now()
    today = metrics.local_day(now)
    this_month = today.replace(day=1)
    first_month = this_month
    for _ in range(12):
        first_month = (first_month - timedelta(days=1)).replace(day=1)
    start = metrics.local_day_bounds(first_month)[0]
    yesterday = today - timedelta(days=1)
    days = (yesterday - first_month).days + 1
    load_end = metrics.local_day_bounds(yesterday)[1]

    agents = []
    for n in range(AGENTS):
        user, _ = User.objects.get_or_create(
            email=f"bench-agent-{n:02d}@powernext.example",
            defaults={
                "first_name": "Agent",
                "last_name": f"{n:02d}",
                "role": Role.AGENT,
                "password": "!",
            },
        )
        agents.append(user.pk)
    supervisor, _ = User.objects.get_or_create(
        email="bench-supervisor@powernext.example",
        defaults={
            "first_name": "Chef",
            "last_name": "Bench",
            "role": Role.SUPERVISOR,
            "password": "!",
        },
    )
    device = TOTPDevice.objects.filter(user=supervisor).first() or TOTPDevice.objects.create(
        user=supervisor, name="bench", confirmed=True
    )

    def sql(statement: str, params: dict) -> int:
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.rowcount

    have = Contact.objects.filter(external_id__startswith="BK").count()
    if have < args.contacts:
        print(f"Loading {args.contacts:,} contacts over {days} days…", flush=True)
        t0 = time.perf_counter()
        for lo in range(1, args.contacts + 1, CHUNK):
            with transaction.atomic():
                sql(
                    CONTACTS_SQL,
                    {
                        "lo": lo,
                        "hi": min(lo + CHUNK - 1, args.contacts),
                        "agents": agents,
                        "n_agents": AGENTS,
                        "customers": CUSTOMERS,
                        "start": start,
                        "days": days,
                    },
                )
        print(f"  {time.perf_counter() - t0:.0f} s", flush=True)
        print(f"Loading {args.tickets:,} tickets, events, clocks, surveys, incidents…", flush=True)
        t0 = time.perf_counter()
        definition = ClockDefinition.objects.get(
            policy__code="STANDARD", policy__version=1, stop_event="FIRST_RESPONSE"
        )
        with transaction.atomic():
            common = {"start": start, "now": load_end, "agents": agents, "n_agents": AGENTS}
            sql(TICKETS_SQL, {**common, "tickets": args.tickets, "policy": definition.policy_id})
            sql(EVENTS_SQL, {})
            sql(CLOCKS_SQL, {"definition": definition.pk})
            sql(SURVEYS_SQL, {})
            sql(INCIDENTS_SQL, common)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")
        print(f"  {time.perf_counter() - t0:.0f} s", flush=True)
    total = Contact.objects.count()

    # --- Snapshot builds --------------------------------------------------------------
    print(f"Building the day snapshots of {days} days (with their half-hours)…", flush=True)
    per_day = []
    day = first_month
    t0 = time.perf_counter()
    while day <= yesterday:
        t1 = time.perf_counter()
        snapshots.snapshot_day_build(day=day, now=now, interval_minutes=30)
        per_day.append((time.perf_counter() - t1) * 1000)
        day += timedelta(days=1)
    all_days = time.perf_counter() - t0
    per_day.sort()
    month = first_month
    month_times = []
    while month < this_month:
        t1 = time.perf_counter()
        snapshots.snapshot_month_build(month=month, now=now)
        month_times.append(time.perf_counter() - t1)
        month = (month + timedelta(days=32)).replace(day=1)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE kpi_kpisnapshot")
    rebuild = timed(
        lambda: snapshots.snapshot_day_build(day=yesterday, now=now, interval_minutes=30), 5
    )

    # --- The dashboard ------------------------------------------------------------------
    client = Client()
    client.force_login(supervisor)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    queries = []
    with connection.execute_wrapper(
        lambda execute, sql_text, *rest: queries.append(sql_text) or execute(sql_text, *rest)
    ):
        response = client.get("/supervisor/", {"month": f"{last_month:%Y-%m}"}, secure=True)
    assert response.status_code == 200, response.status_code
    assert b'data-testid="tile-asa"' in response.content
    month_page = timed(
        lambda: client.get("/supervisor/", {"month": f"{last_month:%Y-%m}"}, secure=True),
        args.repeat,
    )
    today_page = timed(lambda: client.get("/supervisor/", secure=True), args.repeat)
    current_page = timed(
        lambda: client.get("/supervisor/", {"month": f"{this_month:%Y-%m}"}, secure=True),
        args.repeat,
    )
    m_start, m_end = metrics.local_month_bounds(last_month)
    live = timed(
        lambda: selectors.kpi_cells(start=m_start, end=m_end, now=now, period_kind="MONTH"), 5
    )

    def floor() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT queue, count(*), avg(talk_seconds) FROM tickets_contact "
                "WHERE offered_at >= %s AND offered_at < %s GROUP BY queue",
                [m_start, m_end],
            )
            cursor.fetchall()

    plain = timed(floor, 5)
    month_contacts = Contact.objects.filter(offered_at__gte=m_start, offered_at__lt=m_end).count()

    print()
    print(
        f"contacts: {total:,} ({month_contacts:,} in {last_month:%B %Y}); "
        f"snapshot rows: {KpiSnapshot.objects.count():,}"
    )
    print(
        f"day snapshot, first build of each of {len(per_day)} days: median {statistics.median(per_day):.0f} ms, "
        f"p95 {per_day[int(0.95 * (len(per_day) - 1))]:.0f} ms (all days {all_days:.0f} s)"
    )
    print(f"day snapshot, rebuild of yesterday (nothing changed): median {rebuild[0]:.0f} ms")
    print(
        f"month snapshot from the raw records: median {statistics.median(month_times):.2f} s "
        f"({len(month_times)} months)"
    )
    print(
        f"dashboard, {last_month:%B %Y} from the snapshots: median {month_page[0]:.1f} ms, "
        f"p95 {month_page[1]:.1f} ms, {len(queries)} SQL statements"
    )
    print(
        f"dashboard, today (live): median {today_page[0]:.1f} ms, p95 {today_page[1]:.1f} ms; "
        f"this month (day snapshots + today live): median {current_page[0]:.1f} ms, "
        f"p95 {current_page[1]:.1f} ms"
    )
    print(
        f"live aggregate of {last_month:%B %Y} on the raw records (every KPI, every cell): "
        f"median {live[0]:.0f} ms = {live[0] / month_page[0]:.1f} x the dashboard's month view"
    )
    print(
        f"floor: one GROUP BY queue over that month's contacts: median {plain[0]:.0f} ms "
        f"= {plain[0] / month_page[0]:.1f} x the dashboard's month view"
    )
    print(f"total run: {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
