"""Run the web server, a Celery worker and Celery beat together.

One Ctrl-C (SIGINT) or SIGTERM stops all three. A worker or beat that dies,
for example when Redis restarts, is started again.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
DEMO_LOGINS = [
    ("Client", "claire.martin@example.fr"),
    ("Client professionnel (OWNER)", "gerant@rousseau-boulangerie.example"),
    ("Conseiller (TOTP)", "agent@powernext.example"),
    ("Superviseur (TOTP)", "supervisor@powernext.example"),
    ("Technicien (TOTP)", "tech@powernext.example"),
    ("Administrateur (TOTP)", "admin@powernext.example"),
]
DEMO_PASSWORD = "PowerNext-demo-2026"


def commands(port: int, beat_schedule: str) -> dict[str, list[str]]:
    celery = [PY, "-m", "celery", "-A", "powernext"]
    return {
        "web": [PY, "manage.py", "runserver", f"0.0.0.0:{port}", "--noreload"],
        "worker": [*celery, "worker", "--loglevel=INFO", "--concurrency=2"],
        "beat": [*celery, "beat", "--loglevel=INFO", f"--schedule={beat_schedule}"],
    }


def banner(port: int) -> str:
    lines = [
        "",
        "Power Next is starting:",
        f"  Public site        http://localhost:{port}/",
        f"  Customer portal    http://localhost:{port}/portal/",
        f"  Agent console      http://localhost:{port}/console/",
        f"  Supervisor         http://localhost:{port}/supervisor/",
        f"  Admin              http://localhost:{port}/admin/",
        f"  API docs           http://localhost:{port}/api/v1/docs/",
        f"  Health             http://localhost:{port}/healthz",
        "",
        f"Demo logins (password for all: {DEMO_PASSWORD}):",
        *[f"  {label:<30} {email}" for label, email in DEMO_LOGINS],
        "  Staff need a TOTP code: `make otp EMAIL=agent@powernext.example` prints the current one.",
        "",
        "Press Ctrl-C once to stop the web server, the worker and beat.",
        "",
    ]
    return "\n".join(lines)


def wait_http(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    args = parser.parse_args()

    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    schedule = str(Path(tempfile.gettempdir()) / f"powernext-beat-{args.port}")
    cmds = commands(args.port, schedule)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    procs: dict[str, subprocess.Popen] = {}
    restarts: dict[str, float] = {}

    def start(name: str) -> None:
        # Own process group per child, so the terminal's Ctrl-C reaches us
        # first and we shut the children down in order.
        procs[name] = subprocess.Popen(cmds[name], cwd=ROOT, env=env, start_new_session=True)

    print(banner(args.port), flush=True)
    for name in cmds:
        start(name)
    if wait_http(f"http://127.0.0.1:{args.port}/healthz", timeout=60):
        print(f"Ready: http://localhost:{args.port}/", flush=True)

    exit_code = 0
    while not stopping:
        time.sleep(0.5)
        for name, proc in list(procs.items()):
            code = proc.poll()
            if code is None:
                continue
            if name == "web":
                print(f"The web server exited ({code}); stopping.", file=sys.stderr)
                stopping, exit_code = True, code or 1
                break
            if time.monotonic() - restarts.get(name, 0) < 5:
                time.sleep(2)
            print(f"{name} exited ({code}); restarting it.", file=sys.stderr, flush=True)
            restarts[name] = time.monotonic()
            start(name)

    for proc in procs.values():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    print("Stopped.", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
