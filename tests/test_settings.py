"""Production settings come from the environment and pass `check --deploy`."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args, env_overrides=None, drop=()):
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("DJANGO_")}
    env.pop("SECRET_KEY", None)
    env.update({"DJANGO_SETTINGS_MODULE": "powernext.settings.base"})
    env.update(env_overrides or {})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "SECRET_KEY": secrets.token_urlsafe(64),
    "DJANGO_ALLOWED_HOSTS": "www.powernext.example",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/powernext",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def test_check_deploy_is_clean_with_production_variables():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env_overrides=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_secret_key_is_required_outside_debug():
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = run_manage("check", env_overrides=env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_debug_is_off_by_default_and_dev_needs_no_secret():
    probe = "from django.conf import settings; print(settings.DEBUG)"
    prod = run_manage("shell", "--no-imports", "-c", probe, env_overrides=PRODUCTION)
    assert prod.stdout.strip() == "False", prod.stderr
    dev = run_manage("shell", "--no-imports", "-c", probe, env_overrides={"DJANGO_DEBUG": "1"})
    assert dev.stdout.strip() == "True", dev.stderr


def test_database_url_defaults_to_local_powernext():
    probe = "from django.conf import settings; d=settings.DATABASES['default']; print(d['HOST'], d['PORT'], d['NAME'])"
    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        probe,
        env_overrides={"DJANGO_DEBUG": "1"},
        drop=("DATABASE_URL",),
    )
    assert result.stdout.split() == ["127.0.0.1", "5432", "powernext"], result.stderr


def test_collectstatic_with_production_storage(tmp_path):
    """The hashed manifest storage refuses any asset that references a missing file."""
    env = {**PRODUCTION, "STATIC_ROOT": str(tmp_path / "static")}
    result = run_manage("collectstatic", "--noinput", env_overrides=env)
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = (tmp_path / "static" / "staticfiles.json").read_text()
    assert "vendor/chartjs/chart.umd.min.js" in manifest
    assert "vendor/htmx/htmx.min.js" in manifest
