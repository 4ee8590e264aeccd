"""Tell the developer plainly whether PostgreSQL and Redis can be reached."""

import os
import sys
from urllib.parse import urlsplit

import psycopg2
import redis

DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/powernext")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

HOW_TO = {
    "PostgreSQL": (
        "Start it, e.g. `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`,\n"
        "  or run `docker compose up -d postgres` and set DATABASE_URL accordingly."
    ),
    "Redis": (
        "Start it, e.g. `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 "
        '--save "" --appendonly no`,\n'
        "  or run `docker compose up -d redis` and set REDIS_URL accordingly."
    ),
}


def check_postgres() -> None:
    parts = urlsplit(DATABASE_URL)
    # Connect to the maintenance database: ours may not exist yet.
    conn = psycopg2.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password or None,
        dbname="postgres",
        connect_timeout=3,
    )
    conn.close()


def check_redis() -> None:
    redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()


def main() -> int:
    failed = False
    for name, probe, url in (
        ("PostgreSQL", check_postgres, DATABASE_URL),
        ("Redis", check_redis, REDIS_URL),
    ):
        try:
            probe()
        except Exception as exc:  # noqa: BLE001 - report any failure to the developer
            failed = True
            parts = urlsplit(url)
            where = f"{parts.hostname}:{parts.port or ''}"
            print(f"✗ {name} is unreachable at {where}: {exc}".strip(), file=sys.stderr)
            print(f"  {HOW_TO[name]}", file=sys.stderr)
        else:
            print(f"✓ {name} is reachable")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
