"""`make run` on a clean copy of the tree: set-up, demo logins, a task, one Ctrl-C.

This is the newcomer's path end to end, against the real PostgreSQL and Redis.
"""

import http.cookiejar
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import psycopg2
import pytest
from celery import Celery
from django_otp.oath import TOTP

from accounts.demo import DEMO_PASSWORD, STAFF

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "powernext_makerun_test"
REDIS_DB_URL = "redis://127.0.0.1:6379/2"

pytestmark = pytest.mark.stack


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_copy(dest: Path) -> None:
    """What a fresh clone holds: tracked files plus new, non-ignored ones."""
    files = (
        subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def drop_database() -> None:
    conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    conn.close()


class Browser:
    """A cookie-keeping HTTP client that speaks Django's CSRF protocol."""

    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str):
        return self.opener.open(self.base + path, timeout=20)

    def csrf(self) -> str:
        return next(c.value for c in self.jar if c.name == "csrftoken")

    def post(self, path: str, data: dict):
        body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": self.csrf()}).encode()
        request = urllib.request.Request(
            self.base + path, data=body, headers={"Referer": self.base + path}
        )
        return self.opener.open(request, timeout=20)


def login(base: str, email: str, totp_hex: str | None = None, *, landing: str) -> str:
    browser = Browser(base)
    browser.get("/accounts/login/")
    response = browser.post("/accounts/login/", {"username": email, "password": DEMO_PASSWORD})
    if totp_hex:
        assert "/accounts/otp/verify/" in response.url, response.url
        totp = TOTP(bytes.fromhex(totp_hex))
        response = browser.post(
            "/accounts/otp/verify/", {"token": f"{totp.token():06d}", "next": landing}
        )
    assert response.status == 200
    assert urllib.parse.urlsplit(response.url).path == landing
    return response.read().decode()


def wait_for(url: str, proc: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "make run exited early"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"{url} never answered")


def test_make_run_on_a_clean_copy(tmp_path):
    if shutil.which("make") is None:
        pytest.fail("make is required")
    work = tmp_path / "clone"
    clean_copy(work)
    drop_database()
    port = free_port()
    log = (tmp_path / "make-run.log").open("w+")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "VIRTUAL_ENV"))}
    env.pop("SECRET_KEY", None)
    env.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
        REDIS_URL=REDIS_DB_URL,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    proc = subprocess.Popen(
        ["make", "run", f"PORT={port}"],
        cwd=work,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base + "/healthz", proc)
        home = urllib.request.urlopen(base + "/", timeout=10).read().decode()
        assert "+33 1 98 76 54 32" in home

        log.seek(0)
        output = log.read()
        assert f"http://localhost:{port}/portal/" in output
        assert "claire.martin@example.fr" in output and DEMO_PASSWORD in output

        portal = login(base, "claire.martin@example.fr", landing="/portal/")
        assert "Claire" in portal
        email, _role, first, _last, secret = STAFF[0]
        console = login(base, email, secret, landing="/console/")
        assert first in console

        probe = Celery("probe", broker=REDIS_DB_URL, backend=REDIS_DB_URL)
        result = probe.send_task("powernext.tasks.ping_task", kwargs={"payload": "make-run"})
        assert result.get(timeout=60) == {"pong": "make-run"}
    finally:
        # One Ctrl-C, as a terminal sends it to the foreground process group.
        os.killpg(proc.pid, signal.SIGINT)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        log.seek(0)
        output = log.read()
        drop_database()
    assert "Stopped." in output, output[-3000:]
    leftovers = subprocess.run(
        ["pgrep", "-f", f"powernext-beat-{port}|0.0.0.0:{port}"], capture_output=True, text=True
    ).stdout.split()
    assert leftovers == [], f"processes left running: {leftovers}"
    assert code in (0, 2, -signal.SIGINT, 130), output[-3000:]
    assert re.search(r"Ready: http://localhost:\d+/", output)
