"""SLA clock sweep over 100k open tickets, 10k of them due.

Usage: .venv/bin/python bench/sla_sweep.py [--tickets 100000] [--due 10000] [--batch 500]
                                           [--small 10000] [--rounds 1] [--repeat 50]
                                           [--clock first-response|inactivity]

Works in a separate database `powernext_bench_sla` (BENCH_DATABASE_URL overrides), created
if missing and migrated. Every run starts from empty ticket tables (TRUNCATE) and loads with
set-based SQL: one customer, N OPEN tickets of the STANDARD policy, each with one RUNNING clock
whose terms are copied from the policy's clock definition (as `_start_clock` does). One ticket
in N/due has a clock whose warning and deadline have passed at the sweep's `now` (T); the
others warn and fall due after T. At T_EMPTY, earlier than every warning, nothing is due.

It prints:
- the empty sweep (median of --repeat runs at T_EMPTY) with `--small` and then with `--tickets`
  open tickets, and their ratio: it must stay ~1, the sweep reads only partial indexes (the
  pages each probe reads are printed too: unlike times, other processes do not disturb them);
- one full sweep at T that handles every due clock (warning, breach, escalation), in seconds,
  then checks that exactly `--due` breaches were recorded;
- the empty sweep again right after (first run and median);
- the plans of the probes and of the sweep's breach query, to show that the partial indexes
  `clock_due` and `clock_warn` are used.

Floors, measured on the same connection in the same run:
- empty sweep: one indexed probe `SELECT 1 ... WHERE status='RUNNING' AND breached_at IS NULL
  AND due_at <= now ORDER BY due_at LIMIT 1`, over one round trip. An empty sweep runs four
  such probes (warnings, breaches, escalation time-outs, complaints), built by the ORM, each
  in its own transaction. (Without ORDER BY the planner may prefer a sequential scan: it
  cannot tell that the clocks with a past due date are the breached ones; the plans show it.)
- full sweep: the same due clocks locked with one `SELECT ... FOR UPDATE`, updated with one
  `UPDATE`, and all the sweep's writes (clocks, alerts, escalations, tickets, events) done
  set-based in one statement; each is rolled back.

`--rounds N` repeats the full sweep N times; before each round the due clocks are reset to
RUNNING and the alerts, escalations, events and restarted clocks of the previous round are
deleted, so the rounds time the same work.

DEBUG is off (as in production) so that Django does not record every query; the cache key
prefix is separate from the application's.
"""

import argparse
import contextlib
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "powernext.settings.base")
os.environ["DJANGO_DEBUG"] = "0"
os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")
os.environ.setdefault("CACHE_KEY_PREFIX", "pn-bench-sla")
os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/powernext_bench_sla"
)

# The sweep's `now`: fixed, so that every run builds and times exactly the same data.
T = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
REF = "BN-"  # reference prefix of the bench tickets

TICKETS_SQL = """
INSERT INTO tickets_ticket (reference, requester_name, requester_contact, channel, queue,
       category, priority, urgency_rank, safety_critical, is_complaint, status,
       escalation_level, subject, details, created_at, last_activity_at, account_id,
       requester_id, policy_id)
SELECT %(ref)s || lpad(g::text, 9, '0'), 'Client Bench', '', 'PORTAL', 'GENERAL', 'OTHER',
       'NORMAL', 20, false, false, 'OPEN', 'AGENT', 'Demande ' || g, '{}'::jsonb,
       s.started, s.started, %(account)s, %(user)s, %(policy)s
FROM generate_series(%(start)s::bigint, %(stop)s::bigint) AS g
CROSS JOIN LATERAL (SELECT CASE
    -- due at T: started so that due_at falls in the half hour before T
    WHEN g %% %(step)s = 0
    THEN %(now)s - make_interval(secs => %(length)s + 1 + (g * 7919) %% 1800)
    -- not due: started before T_EMPTY, late enough to warn only after T
    ELSE %(empty_now)s - make_interval(secs => (g * 7919) %% %(span)s)
    END AS started) AS s
ON CONFLICT (reference) DO NOTHING
"""

# The terms copied from the definition, as `_start_clock` does; for CLOCK_HOURS
# `_schedule` gives due = start + amount hours and warn = start + amount * ratio hours
# (checked against `_schedule` itself after loading).
CLOCKS_SQL = """
INSERT INTO tickets_clockinstance (ticket_id, definition_id, policy_version, name, stop_event,
       unit, amount, calendar_id, pauses_when_waiting, warn_ratio, escalate_to,
       restarts_on_activity, status, started_at, pauses, warn_at, due_at)
SELECT t.id, d.id, p.version, d.name, d.stop_event, d.unit, d.amount, d.calendar_id,
       d.pauses_when_waiting, d.warn_ratio, d.escalate_to, d.restarts_on_activity, 'RUNNING',
       t.created_at, '[]'::jsonb,
       t.created_at + make_interval(secs => (d.amount * d.warn_ratio * 3600)::float8),
       t.created_at + make_interval(secs => (d.amount * 3600)::float8)
FROM tickets_ticket t
JOIN tickets_clockdefinition d ON d.id = %(definition)s
JOIN tickets_slapolicy p ON p.id = d.policy_id
WHERE t.reference LIKE %(ref)s || '%%'
  AND NOT EXISTS (SELECT 1 FROM tickets_clockinstance c WHERE c.ticket_id = t.id)
"""

# Put the bench back as loaded: what a round of the sweep wrote is undone.
RESET_SQL = """
DELETE FROM tickets_clockalert;
DELETE FROM tickets_escalation;
DELETE FROM tickets_ticketevent;
DELETE FROM tickets_clockinstance WHERE started_at >= %(now)s;
UPDATE tickets_clockinstance SET status = 'RUNNING', warned_at = NULL, breached_at = NULL
WHERE status <> 'RUNNING' OR warned_at IS NOT NULL OR breached_at IS NOT NULL;
UPDATE tickets_ticket SET escalation_level = 'AGENT' WHERE escalation_level <> 'AGENT';
"""

# The floor of an empty sweep: one probe of the partial index. ORDER BY, as in the sweep's
# own queries, keeps it on the index whatever the statistics say (see the plans printed).
PROBE_DUE_ANY = """SELECT 1 FROM tickets_clockinstance
WHERE status = 'RUNNING' AND breached_at IS NULL AND due_at <= %s LIMIT 1"""
PROBE_DUE = PROBE_DUE_ANY.replace(" LIMIT 1", " ORDER BY due_at LIMIT 1")
PROBE_WARN = """SELECT 1 FROM tickets_clockinstance
WHERE status = 'RUNNING' AND warned_at IS NULL AND warn_at <= %s ORDER BY warn_at LIMIT 1"""

DUE_WHERE = "status = 'RUNNING' AND breached_at IS NULL AND due_at <= %(now)s"
FLOOR_LOCK_SQL = f"SELECT id FROM tickets_clockinstance WHERE {DUE_WHERE} FOR UPDATE"
FLOOR_UPDATE_SQL = f"""UPDATE tickets_clockinstance
SET status = 'BREACHED', breached_at = %(now)s, warned_at = coalesce(warned_at, %(now)s)
WHERE {DUE_WHERE}"""
# Everything a full sweep writes, set-based, in one statement.
FLOOR_WRITES_SQL = f"""
WITH due AS (
    UPDATE tickets_clockinstance
    SET status = 'BREACHED', breached_at = %(now)s, warned_at = coalesce(warned_at, %(now)s)
    WHERE {DUE_WHERE}
    RETURNING *
), alerts AS (
    INSERT INTO tickets_clockalert (clock_id, kind, at)
    SELECT due.id, k.kind, %(now)s FROM due CROSS JOIN (VALUES ('WARNING'), ('BREACH')) AS k(kind)
    ON CONFLICT DO NOTHING
), escalations AS (
    INSERT INTO tickets_escalation (ticket_id, level, reason, created_at, ack_due_at)
    SELECT ticket_id, escalate_to, name || ' dépassé', %(now)s, %(now)s + interval '4 hours'
    FROM due WHERE escalate_to <> ''
), levels AS (
    UPDATE tickets_ticket t SET escalation_level = due.escalate_to
    FROM due WHERE t.id = due.ticket_id AND due.escalate_to <> ''
), restarted AS (
    INSERT INTO tickets_clockinstance (ticket_id, definition_id, policy_version, name,
           stop_event, unit, amount, calendar_id, pauses_when_waiting, warn_ratio, escalate_to,
           restarts_on_activity, status, started_at, pauses, warn_at, due_at)
    SELECT ticket_id, definition_id, policy_version, name, stop_event, unit, amount,
           calendar_id, pauses_when_waiting, warn_ratio, escalate_to, restarts_on_activity,
           'RUNNING', %(now)s, '[]'::jsonb,
           %(now)s + make_interval(secs => (amount * warn_ratio * 3600)::float8),
           %(now)s + make_interval(secs => (amount * 3600)::float8)
    FROM due WHERE restarts_on_activity
)
INSERT INTO tickets_ticketevent (ticket_id, at, kind, from_value, to_value, note)
SELECT ticket_id, %(now)s, 'ESCALATED', 'AGENT', escalate_to, name || ' dépassé'
FROM due WHERE escalate_to <> ''
"""

TABLES = "tickets_ticket, tickets_clockinstance, tickets_clockalert, tickets_escalation, tickets_ticketevent"


def ensure_database() -> None:
    import subprocess

    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "ensure_database.py")], check=True, env=os.environ
    )


def sampled(fn, repeat: int) -> list[float]:
    """The times of `repeat` calls, in milliseconds, sorted."""
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return sorted(samples)


def timed(fn, repeat: int) -> tuple[float, float]:
    """Median and p95 of `repeat` calls, in milliseconds."""
    samples = sampled(fn, repeat)
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


class StatementCounter:
    """Counts the SQL statements Django sends (BEGIN and COMMIT are not seen here)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000, help="open tickets")
    parser.add_argument("--due", type=int, default=10_000, help="clocks due at the sweep")
    parser.add_argument("--batch", type=int, default=500, help="clocks_sweep batch size")
    parser.add_argument(
        "--small", type=int, default=None, help="open tickets of the first stage (tickets/10)"
    )
    parser.add_argument("--repeat", type=int, default=50, help="runs per empty-sweep median")
    parser.add_argument("--rounds", type=int, default=1, help="full sweeps, reset in between")
    parser.add_argument(
        "--clock",
        choices=["first-response", "inactivity"],
        default="first-response",
        help="STANDARD clock definition to copy (inactivity clocks restart on breach)",
    )
    args = parser.parse_args()
    if args.due <= 0 or args.tickets % args.due:
        parser.error("--due must divide --tickets (one ticket in tickets/due is due)")
    small = args.small if args.small is not None else args.tickets // 10
    if not 0 < small < args.tickets:
        parser.error("--small must be between 1 and --tickets - 1")
    step = args.tickets // args.due
    ensure_database()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import DatabaseError, connection, transaction

    from accounts.models import Account, AccountMembership, User
    from tickets import services
    from tickets.models import (
        ClockAlert,
        ClockDefinition,
        ClockInstance,
        ClockStatus,
        Escalation,
        Ticket,
        TicketEvent,
    )

    call_command("migrate", verbosity=0)

    # --- The clock every bench ticket runs -------------------------------------------
    definitions = ClockDefinition.objects.select_related("policy").filter(
        policy__code="STANDARD", policy__version=1
    )
    if args.clock == "inactivity":
        definition = definitions.get(restarts_on_activity=True)
    else:
        definition = definitions.get(stop_event="FIRST_RESPONSE")
    if definition.unit != "CLOCK_HOURS":
        sys.exit(f"{definition}: the bench lays out CLOCK_HOURS clocks only")
    length = timedelta(hours=float(definition.amount))  # start → due
    warn_after = timedelta(hours=float(definition.amount * definition.warn_ratio))
    gap = length - warn_after  # warning → due
    empty_now = T - gap - timedelta(hours=1)  # earlier than every warning
    span = warn_after - gap - timedelta(hours=1, minutes=1)  # spread of the not-due starts
    if span < timedelta(minutes=10):
        sys.exit(f"{definition}: too short to lay out due and not-due clocks")

    user, _ = User.objects.get_or_create(
        email="bench-sla@example.fr",
        defaults={"first_name": "Client", "last_name": "Bench", "password": "!"},
    )
    account, _ = Account.objects.get_or_create(
        number="9999999990", defaults={"type": "RESIDENTIAL", "name": "Client Bench"}
    )
    AccountMembership.objects.get_or_create(account=account, user=user, defaults={"role": "HOLDER"})

    params = {
        "ref": REF,
        "account": account.pk,
        "user": user.pk,
        "policy": definition.policy_id,
        "definition": definition.pk,
        "step": step,
        "now": T,
        "empty_now": empty_now,
        "length": int(length.total_seconds()),
        "span": int(span.total_seconds()),
    }

    def sql(statement: str, extra: dict | None = None) -> int:
        with connection.cursor() as cursor:
            cursor.execute(statement, {**params, **(extra or {})})
            return cursor.rowcount

    def vacuum() -> None:
        # Fresh visibility map, hint bits and statistics, and no dirty pages left to write:
        # every stage is timed in the same state.
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM (ANALYZE) {TABLES}")
            # CHECKPOINT needs a superuser or pg_checkpoint; without it, only more noise.
            with contextlib.suppress(DatabaseError):
                cursor.execute("CHECKPOINT")

    def load(start: int, stop: int) -> None:
        t0 = time.perf_counter()
        for first in range(start, stop + 1, 50_000):
            last = min(first + 49_999, stop)
            with transaction.atomic():
                sql(TICKETS_SQL, {"start": first, "stop": last})
                sql(CLOCKS_SQL)
        vacuum()
        print(f"  loaded tickets {start}..{stop} in {time.perf_counter() - t0:.1f} s", flush=True)

    def probe_ms(now: datetime, repeat: int = 200) -> tuple[float, float]:
        with connection.cursor() as cursor:

            def run() -> None:
                cursor.execute(PROBE_DUE, [now])
                cursor.fetchall()

            return timed(run, repeat)

    def empty_sweep() -> None:
        result = services.clocks_sweep(now=empty_now, batch=args.batch)
        assert result == services.SweepResult(), result

    def empty_stage(label: str) -> tuple[float, float]:
        open_tickets = Ticket.objects.filter(status="OPEN").count()
        running = ClockInstance.objects.filter(status=ClockStatus.RUNNING).count()
        sampled(empty_sweep, 5)  # warm-up
        samples = sampled(empty_sweep, args.repeat)
        median, p95 = statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]
        floor, _ = probe_ms(empty_now)
        pages = f"{pages_read(PROBE_DUE, empty_now)} / {pages_read(PROBE_WARN, empty_now)}"
        print(
            f"{label}: {open_tickets} open tickets, {running} running clocks "
            f"(load average {os.getloadavg()[0]:.2f})\n"
            f"  floor: one indexed probe, median {floor:.3f} ms; "
            f"pages read by the due / warning probes: {pages}\n"
            f"  empty sweep median {median:.2f} ms  min {samples[0]:.2f}  p95 {p95:.2f} ms"
            f"  = {median / floor:.1f} x floor"
        )
        return median, samples[0]

    def pages_read(query: str, now: datetime) -> int:
        """Buffers the query touches: unlike time, not disturbed by other processes."""
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + query, [now])
            plan = cursor.fetchone()[0][0]["Plan"]
        return plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]

    def explain(query: str, now: datetime, lines: int = 8) -> None:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query, [now])
            plan = [row[0] for row in cursor.fetchall()]
        for line in plan[:lines]:
            print(f"    {line}")

    print(
        f"database {connection.settings_dict['NAME']}; clock copied: {definition}; "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    print(
        f"sweep now T = {T:%Y-%m-%d %H:%M} UTC; empty sweeps at T_EMPTY = T - {T - empty_now}; "
        f"one ticket in {step} is due at T"
    )

    # --- Stage 1: small, then the full count of open tickets -----------------------------
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE tickets_ticket RESTART IDENTITY CASCADE")
    load(1, small)
    empty_small = empty_stage(f"[{small} open] empty sweep at T_EMPTY")
    load(small + 1, args.tickets)
    empty_big = empty_stage(f"[{args.tickets} open] empty sweep at T_EMPTY")
    print(
        f"empty sweep, {args.tickets} vs {small} open tickets: median "
        f"{empty_big[0]:.2f} / {empty_small[0]:.2f} ms = {empty_big[0] / empty_small[0]:.2f}; "
        f"min {empty_big[1]:.2f} / {empty_small[1]:.2f} ms = {empty_big[1] / empty_small[1]:.2f}"
    )

    # --- The data is what we think it is ---------------------------------------------------
    due_q = ClockInstance.objects.filter(
        status=ClockStatus.RUNNING, breached_at__isnull=True, due_at__lte=T
    )
    warn_q = ClockInstance.objects.filter(
        status=ClockStatus.RUNNING, warned_at__isnull=True, warn_at__lte=T
    )
    assert Ticket.objects.filter(status="OPEN").count() == args.tickets
    assert due_q.count() == args.due, due_q.count()
    assert warn_q.count() == args.due, warn_q.count()
    for sample in (due_q.first(), ClockInstance.objects.exclude(pk__in=due_q).first()):
        loaded = (sample.warn_at, sample.due_at)
        services._schedule(sample, T)  # the application's own computation
        assert loaded == (sample.warn_at, sample.due_at), (loaded, sample.warn_at, sample.due_at)

    # --- Floors of the full sweep, each rolled back --------------------------------------------
    def rolled_back(statement: str, expect: int):
        def run() -> None:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(statement, params)
                    rows = len(cursor.fetchall()) if cursor.description else cursor.rowcount
                assert rows == expect, (rows, expect)
                transaction.set_rollback(True)

        return run

    floors = {}
    floors["SELECT ... FOR UPDATE of the due clocks"] = timed(
        rolled_back(FLOOR_LOCK_SQL, args.due), 5
    )[0]
    floors["one UPDATE of the due clocks (breached_at)"] = timed(
        rolled_back(FLOOR_UPDATE_SQL, args.due), 5
    )[0]
    events = args.due if definition.escalate_to else 0
    floors["all the sweep's writes, set-based, one statement"] = timed(
        rolled_back(FLOOR_WRITES_SQL, events), 3
    )[0]
    vacuum()  # the rolled-back versions are dead tuples: clear them before the real sweep

    # --- The full sweep -------------------------------------------------------------------
    print(f"[{args.tickets} open, {args.due} due] full sweep at T, batch {args.batch}")
    for name, ms in floors.items():
        print(f"  floor: {name:<48} {ms / 1000:7.3f} s")
    seconds = []
    for round_ in range(1, args.rounds + 1):
        sql(RESET_SQL)
        vacuum()
        assert due_q.count() == args.due
        counter = StatementCounter()
        with connection.execute_wrapper(counter):
            t0 = time.perf_counter()
            result = services.clocks_sweep(now=T, batch=args.batch)
            elapsed = time.perf_counter() - t0
        seconds.append(elapsed)
        breaches = ClockAlert.objects.filter(kind="BREACH").count()
        assert result.breaches == args.due and breaches == args.due, (result, breaches)
        # Every due clock is already past its deadline at T: it gets its breach,
        # and its warning moment is marked passed without a late warning alert.
        assert result.warnings == 0, result
        assert (
            ClockInstance.objects.filter(
                status=ClockStatus.BREACHED, warned_at__isnull=True
            ).count()
            == 0
        )
        assert ClockInstance.objects.filter(status=ClockStatus.BREACHED).count() == args.due
        assert result.escalations == Escalation.objects.count() == events, result
        assert TicketEvent.objects.filter(kind="ESCALATED").count() == events
        restarted = ClockInstance.objects.filter(started_at=T).count()
        ratios = "  ".join(f"{elapsed * 1000 / ms:.0f}" for ms in floors.values())
        print(
            f"  round {round_}: {elapsed:.2f} s  ({elapsed / args.due * 1000:.2f} ms per due clock, "
            f"{counter.count} SQL statements = {counter.count / args.due:.1f} per clock)\n"
            f"    handled: {result.warnings} warnings, {result.breaches} breaches, "
            f"{result.escalations} escalations, {restarted} clocks restarted; "
            f"recorded: {breaches} BREACH alerts\n"
            f"    = {ratios} x the floors above, in order"
        )
    if args.rounds > 1:
        print(f"  full sweep median {statistics.median(seconds):.2f} s over {args.rounds} rounds")

    # --- Empty again, right after ------------------------------------------------------------
    # The first probe after the sweep still meets the index entries of the clocks it has
    # just breached (dead until vacuum, or until a scan marks them), so it is shown apart.
    def empty_after() -> None:
        result = services.clocks_sweep(now=T, batch=args.batch)
        assert result == services.SweepResult(), result

    first, _ = timed(empty_after, 1)
    samples = sampled(empty_after, args.repeat)
    median, p95 = statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]
    floor, _ = probe_ms(T)
    pages = f"{pages_read(PROBE_DUE, T)} / {pages_read(PROBE_WARN, T)}"
    print(
        f"[{args.tickets} open] empty sweep at T, right after the full sweep "
        f"({Escalation.objects.count()} escalations now stored; "
        f"load average {os.getloadavg()[0]:.2f})\n"
        f"  floor: one indexed probe, median {floor:.3f} ms; "
        f"pages read by the due / warning probes: {pages}\n"
        f"  first run {first:.2f} ms; then median {median:.2f} ms  min {samples[0]:.2f}"
        f"  p95 {p95:.2f} ms  = {median / floor:.1f} x floor"
    )

    # --- Plans -----------------------------------------------------------------------------
    print("EXPLAIN (ANALYZE, BUFFERS) of the empty probe (the floor) at T:")
    explain(PROBE_DUE, T)
    print("EXPLAIN (ANALYZE, BUFFERS) of the warning probe at T:")
    explain(PROBE_WARN, T)
    # Without ORDER BY the plan depends on the estimate of matching rows, and the planner
    # multiplies the selectivities of status, breached_at and due_at as if independent: the
    # breached clocks, whose due dates are past, make it expect an early match in a scan.
    print("EXPLAIN (ANALYZE) of the probe without ORDER BY, statistics from before the sweep:")
    explain(PROBE_DUE_ANY, T, lines=3)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tickets_clockinstance")
    print("  the same after ANALYZE:")
    explain(PROBE_DUE_ANY, T, lines=3)
    with transaction.atomic():
        plan = (
            ClockInstance.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=ClockStatus.RUNNING, breached_at__isnull=True, due_at__lte=T)
            .select_related("ticket")
            .order_by("due_at")[: args.batch]
            .explain(analyze=True, buffers=True)
        )
    print("EXPLAIN (ANALYZE, BUFFERS) of the sweep's own breach query at T:")
    for line in plan.splitlines()[:10]:
        print(f"    {line}")


if __name__ == "__main__":
    main()
