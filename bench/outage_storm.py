"""Storm traffic on the public outage pages, through gunicorn: requests/s and p99 of the
status page and of anonymous outage reports, against a static file served by the same
server, and a check that no report was lost.

Usage: .venv/bin/python bench/outage_storm.py [--incidents 50] [--customers 2000]
                                              [--clients 16] [--seconds 8] [--rounds 2]
                                              [--workers 2*cpus+1]

Works in its own database `powernext_bench_storm` (created and migrated if missing;
BENCH_DATABASE_URL overrides) and its own Redis database (BENCH_REDIS_URL, default
redis://127.0.0.1:6379/14, emptied at the start and the end: the cache, and the Celery
queue the services post to, which no worker reads here). Each run empties the incident,
report and ticket tables, seeds `--incidents` confirmed incidents over the service
areas' postcodes through the services (`--customers` supply points are loaded once), then
starts gunicorn on a free localhost port with production settings (DEBUG off, static
files collected to /tmp/powernext-bench-storm-static, again only when a file under static/
changed, and served by WhiteNoise).

Clients are `--clients` threads spread over two processes, each request on its own
connection (gunicorn's sync workers close it after each answer). Three timed phases of
`--seconds` each, the first two cut into `--rounds` alternating slices:

1. floor: every client fetches /static/css/app.css;
2. status: every client fetches /outages/ anonymously (the cached board);
3. storm: the same clients at once on the status page (60 %), anonymous outage reports
   (25 %: each client first GETs the form for its CSRF cookie and token, then POSTs
   reports at random postcodes of the service areas) and the static file (15 %).

Printed: requests/s and p50/p99 latency per kind and phase, the status page's rate as a
ratio to the static file's (alone, and side by side in the storm), and the reports
check: rows written must equal the 302 answers. The script exits 1 if a report was lost
or a request failed.
"""

import argparse
import http.client
import multiprocessing
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STATIC_PATH = "/static/css/app.css"
STATUS_PATH = "/outages/"
REPORT_PATH = "/outages/report/"
STATIC_ROOT = "/tmp/powernext-bench-storm-static"
ACCOUNT_PREFIX = "9"  # bench accounts are numbered 9xxxxxxxxx


def bench_env() -> dict:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "powernext.settings.base",
            "DJANGO_DEBUG": "0",
            "SECRET_KEY": env.get("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmno"),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            # Plain HTTP on localhost: no HTTPS redirect, no Secure-only cookies.
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DJANGO_SECURE_COOKIES": "0",
            "DJANGO_HSTS_SECONDS": "0",
            "STATIC_ROOT": STATIC_ROOT,
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "LOG_LEVEL": "WARNING",
            "DATABASE_URL": os.environ.get(
                "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/powernext_bench_storm"
            ),
            "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
            "CACHE_KEY_PREFIX": "pn-bench-storm",
        }
    )
    return env


# --- Clients (stdlib only: they run in spawned processes) ----------------------------


def _request(port: int, method: str, path: str, body: str = "", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        response = conn.getresponse()
        payload = response.read()
        return response.status, response.getheader("Set-Cookie") or "", payload
    finally:
        conn.close()


def _csrf(port: int) -> tuple[str, str]:
    """The cookie and form token a browser gets with the report form."""
    status, cookie, payload = _request(port, "GET", f"{REPORT_PATH}?triage=1")
    if status != 200:
        raise RuntimeError(f"report form answered {status}")
    secret = re.search(r"csrftoken=([^;]+)", cookie).group(1)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', payload).group(1).decode()
    return secret, token


def _client(port: int, kind: str, deadline: float, postcodes: list[str], seed: int, out: list):
    rng = random.Random(seed)
    secret = token = ""
    if kind == "report":
        secret, token = _csrf(port)
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            if kind == "static":
                status, _c, _p = _request(port, "GET", STATIC_PATH)
            elif kind == "status":
                status, _c, _p = _request(port, "GET", STATUS_PATH)
            else:
                form = urllib.parse.urlencode(
                    {
                        "csrfmiddlewaretoken": token,
                        "postcode": rng.choice(postcodes),
                        "address": f"{rng.randint(1, 200)} rue de l'Orage",
                        "phone": f"06{rng.randint(0, 99_999_999):08d}",
                        "breakers_checked": "on",
                    }
                )
                status, _c, _p = _request(
                    port,
                    "POST",
                    REPORT_PATH,
                    body=form,
                    headers={
                        "Content-Type": "application/x-www-form-urlencoded",
                        "Cookie": f"csrftoken={secret}",
                    },
                )
        except OSError:
            status = 0
        out.append((kind, status, time.perf_counter() - started))


def client_process(port, kinds, seconds, postcodes, seed, queue) -> None:
    """One process of client threads; sends back (kind, status, seconds) per request."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out: list = []
    # Every thread starts together; the deadline is set once all are ready.
    start = time.perf_counter() + 0.2
    deadline = start + seconds
    threads = [
        threading.Thread(
            target=_client, args=(port, kind, deadline, postcodes, seed * 1000 + i, out)
        )
        for i, kind in enumerate(kinds)
    ]
    while time.perf_counter() < start:
        time.sleep(0.01)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put(out)


def run_phase(port: int, kinds: list[str], seconds: float, postcodes: list[str]) -> tuple:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    halves = [kinds[0::2], kinds[1::2]]
    processes = [
        context.Process(target=client_process, args=(port, part, seconds, postcodes, n, queue))
        for n, part in enumerate(halves)
        if part
    ]
    for process in processes:
        process.start()
    results = []
    for _ in processes:
        results.extend(queue.get())
    for process in processes:
        process.join()
    return results, seconds


# --- Server and data -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(env: dict, port: int, workers: int) -> subprocess.Popen:
    gunicorn = Path(sys.executable).parent / "gunicorn"
    server = subprocess.Popen(
        [
            str(gunicorn),
            "powernext.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-tmp-dir",
            "/dev/shm",
            "--timeout",
            "60",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    for _ in range(300):
        try:
            if _request(port, "GET", "/healthz")[0] == 200:
                return server
        except OSError:
            pass
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        time.sleep(0.1)
    server.terminate()
    raise SystemExit("gunicorn did not answer /healthz within 30 s")


def load_customers(count: int, postcodes: list[str], areas: dict[str, str]) -> int:
    from decimal import Decimal

    from accounts.models import Account, Premise, SupplyPoint

    have = Account.objects.filter(number__startswith=ACCOUNT_PREFIX).count()
    for start in range(have, count, 2000):
        stop = min(start + 2000, count)
        accounts = Account.objects.bulk_create(
            Account(
                number=f"{ACCOUNT_PREFIX}{n:09d}",
                type="RESIDENTIAL",
                name=f"Client Orage {n}",
                phone=f"+336{n:08d}",
            )
            for n in range(start, stop)
        )
        premises = Premise.objects.bulk_create(
            Premise(
                account=account,
                address=f"{n % 200 + 1} rue du Réseau",
                postcode=postcodes[n % len(postcodes)],
                city="Ville",
                area_class=areas[postcodes[n % len(postcodes)]],
            )
            for n, account in zip(range(start, stop), accounts, strict=True)
        )
        SupplyPoint.objects.bulk_create(
            SupplyPoint(
                premise=premise,
                market="FR_PRM",
                identifier=f"{70_000_000_000_000 + n:014d}",
                subscribed_kva=Decimal("6"),
            )
            for n, premise in zip(range(start, stop), premises, strict=True)
        )
    return Account.objects.filter(number__startswith=ACCOUNT_PREFIX).count()


def reset_and_seed(incidents: int, customers: int) -> list[str]:
    from django.db import connection
    from django.utils import timezone

    from outages.models import ServiceArea
    from outages.services import incidents as incident_services

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE tickets_ticket, outages_incident, outages_outagereport, "
            "outages_incidentsequence, outages_subscription CASCADE"
        )
    areas = {p: a.area_class for a in ServiceArea.objects.all() for p in a.postcodes}
    postcodes = sorted(areas)
    loaded = load_customers(customers, postcodes, areas)
    now = timezone.now()
    for n in range(incidents):
        postcode = postcodes[n % len(postcodes)]
        incident = incident_services.incident_open(
            title=f"Orage – ligne coupée {n + 1}",
            now=now,
            postcodes=[postcode],
            cause="WEATHER",
            started_at=now,
        )
        if n % 2 == 0:
            incident_services.incident_update_publish(
                incident=incident, message="Nos équipes sont mobilisées.", now=now, actor=None
            )
    print(
        f"seeded {incidents} confirmed incidents over {len(postcodes)} postcodes, {loaded} customers"
    )
    return postcodes


def collect_static(call_command) -> None:
    """Once, and again when a file under static/ changes: compressing every asset takes
    some 20 s, a third of a run."""
    manifest = Path(STATIC_ROOT) / "staticfiles.json"
    newest = max(f.stat().st_mtime for f in (ROOT / "static").rglob("*") if f.is_file())
    if manifest.exists() and manifest.stat().st_mtime > newest:
        return
    shutil.rmtree(STATIC_ROOT, ignore_errors=True)
    call_command("collectstatic", interactive=False, verbosity=0)


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


# --- Figures --------------------------------------------------------------------------------


def figures(results, seconds: float) -> dict:
    by_kind: dict[str, dict] = {}
    for kind, status, latency in results:
        entry = by_kind.setdefault(kind, {"latencies": [], "statuses": {}})
        entry["latencies"].append(latency)
        entry["statuses"][status] = entry["statuses"].get(status, 0) + 1
    for entry in by_kind.values():
        ordered = sorted(entry["latencies"])
        entry["count"] = len(ordered)
        entry["rate"] = len(ordered) / seconds
        entry["p50"] = ordered[len(ordered) // 2] * 1000
        entry["p99"] = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000
    return by_kind


def show(phase: str, by_kind: dict) -> None:
    for kind in ("static", "status", "report"):
        if kind not in by_kind:
            continue
        e = by_kind[kind]
        statuses = ", ".join(f"{s}×{n}" for s, n in sorted(e["statuses"].items()))
        print(
            f"  {phase:<7} {kind:<7} {e['rate']:8.1f} req/s   p50 {e['p50']:7.1f} ms   "
            f"p99 {e['p99']:7.1f} ms   ({statuses})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--incidents", type=int, default=50)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16, help="concurrent client threads")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each phase")
    parser.add_argument(
        "--rounds", type=int, default=2, help="alternations of the floor and status phases"
    )
    parser.add_argument(
        "--workers", type=int, default=2 * (os.cpu_count() or 1) + 1, help="gunicorn workers"
    )
    args = parser.parse_args()
    if args.clients < 4:
        parser.error("--clients must be at least 4 (the storm mixes three kinds)")
    env = bench_env()
    os.environ.update(env)
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "ensure_database.py")], check=True, env=env
    )
    flush_redis(env["REDIS_URL"])

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from outages.models import OutageReport

    call_command("migrate", verbosity=0)
    collect_static(call_command)
    postcodes = reset_and_seed(args.incidents, args.customers)
    before = OutageReport.objects.count()
    connections.close_all()

    port = free_port()
    server = start_gunicorn(env, port, args.workers)
    try:
        # One request of each kind first: workers import lazily, the board is built once.
        for path in (STATIC_PATH, STATUS_PATH, f"{REPORT_PATH}?triage=1"):
            for _ in range(args.workers):
                _request(port, "GET", path)
        print(
            f"gunicorn on 127.0.0.1:{port}, {args.workers} sync workers; "
            f"{args.clients} clients, {args.seconds:g} s per phase"
        )
        # The floor and the status page alternate, so that a busy moment on a shared
        # machine weighs on both alike.
        floor_runs, status_runs = [], []
        for _ in range(args.rounds):
            share = args.seconds / args.rounds
            floor_runs.append(run_phase(port, ["static"] * args.clients, share, postcodes))
            status_runs.append(run_phase(port, ["status"] * args.clients, share, postcodes))
        floor = figures([r for run, _s in floor_runs for r in run], args.seconds)
        alone = figures([r for run, _s in status_runs for r in run], args.seconds)
        show("floor", floor)
        show("status", alone)
        n_report = max(1, round(args.clients * 0.25))
        n_static = max(1, round(args.clients * 0.15))
        kinds = ["report"] * n_report + ["static"] * n_static
        kinds += ["status"] * (args.clients - len(kinds))
        storm = figures(*run_phase(port, kinds, args.seconds, postcodes))
        show("storm", storm)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    written = OutageReport.objects.count() - before
    accepted = sum(n for s, n in storm["report"]["statuses"].items() if s == 302)
    failed = {
        f"{phase}/{kind}": {s: n for s, n in e["statuses"].items() if s not in (200, 302)}
        for phase, result in (("floor", floor), ("status", alone), ("storm", storm))
        for kind, e in result.items()
    }
    failed = {k: v for k, v in failed.items() if v}
    n_status = args.clients - n_report - n_static
    in_storm = (storm["status"]["rate"] / n_status) / (storm["static"]["rate"] / n_static)
    print(
        f"status page / static file: {alone['status']['rate'] / floor['static']['rate']:.2f} "
        f"alone; {in_storm:.2f} per client in the storm"
    )
    print(
        f"reports: {accepted} answered 302, {written} rows written: "
        f"{max(accepted - written, 0)} lost, {max(written - accepted, 0)} written without a 302; "
        f"{written / args.seconds:.1f} reports/s"
    )
    flush_redis(env["REDIS_URL"])
    if failed:
        print(f"failed requests: {failed}")
    if written != accepted or failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
