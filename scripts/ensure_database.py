"""Create the application database named in DATABASE_URL if it is missing."""

import os
from urllib.parse import urlsplit

import psycopg2
from psycopg2 import sql

DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/powernext")


def main() -> None:
    parts = urlsplit(DATABASE_URL)
    name = parts.path.lstrip("/") or "powernext"
    conn = psycopg2.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password or None,
        dbname="postgres",
        connect_timeout=3,
    )
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cur.fetchone() is None:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"Created database {name}")
    conn.close()


if __name__ == "__main__":
    main()
