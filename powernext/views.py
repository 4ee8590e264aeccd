from __future__ import annotations

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts import company


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request, "public/home.html", {"channels": company.CHANNELS, "offices": company.OFFICES}
    )


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_redis() -> str:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    finally:
        client.close()
    return "ok"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    for name, probe in (("database", _check_database), ("redis", _check_redis)):
        try:
            checks[name] = probe()
        except Exception as exc:  # noqa: BLE001 - any failure means "down"
            checks[name] = f"error: {exc.__class__.__name__}"
    healthy = all(v == "ok" for v in checks.values())
    failed = [name for name, v in checks.items() if v != "ok"]
    return JsonResponse(
        {"status": "ok" if healthy else "error", "checks": checks, "failed": failed},
        status=200 if healthy else 503,
    )
