"""Rate limit of the B2B API: requests per hour for each OAuth client, by tier.

The limit of a tier is the `api_rate_per_hour_<tier>` parameter (an admin may change it).
Requests are counted in Redis per client and per fixed hour of the epoch (UTC, so a
daylight-saving change moves nothing), by one Lua script: the check and the increment are
a single atomic step, so concurrent requests on any number of processes can never let more
than the limit through (DRF's own throttles read, then write, and race). A refused request
is not counted. Each window key expires on its own shortly after its hour.

Session (portal) requests are not counted. Every response to an OAuth client carries
`RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds until the window
resets), and a 429 also carries `Retry-After` (seconds until a request is accepted again).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass

import redis
from django.conf import settings
from rest_framework.throttling import BaseThrottle

log = logging.getLogger(__name__)

WINDOW_SECONDS = 3600
# Keys outlive their window a little, so a slow clock on one web server still finds its key.
KEY_GRACE_SECONDS = 120
DEFAULT_KEY_PREFIX = "ratelimit:api"
TIER_PARAMETERS = {
    "STANDARD": "api_rate_per_hour_standard",
    "ENTERPRISE": "api_rate_per_hour_enterprise",
}

# KEYS[1] = the counter of the current window; ARGV[1] = limit; ARGV[2] = key lifetime (s).
# Returns {1 if accepted else 0, requests counted in the window}.
HIT_SCRIPT = """
local limit = tonumber(ARGV[1])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= limit then
  return {0, used}
end
used = redis.call('INCR', KEYS[1])
if used == 1 then
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
end
return {1, used}
"""

_lock = threading.Lock()
_script = None


def _hit_script():
    """One Redis client (and connection pool) per process, made on first use."""
    global _script
    if _script is None:
        with _lock:
            if _script is None:
                client = redis.Redis.from_url(
                    settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
                )
                _script = client.register_script(HIT_SCRIPT)
    return _script


@dataclass(frozen=True)
class RateLimitState:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }


def rate_limit_hit(*, client_id: int, limit: int, now: float) -> RateLimitState:
    """Count one request of a client at `now` (epoch seconds) if the window allows it."""
    window = int(now // WINDOW_SECONDS)
    window_end = (window + 1) * WINDOW_SECONDS
    reset_seconds = max(1, math.ceil(window_end - now))
    prefix = getattr(settings, "API_RATE_LIMIT_KEY_PREFIX", DEFAULT_KEY_PREFIX)
    key = f"{prefix}:{client_id}:{window}"
    allowed, used = _hit_script()(keys=[key], args=[limit, reset_seconds + KEY_GRACE_SECONDS])
    return RateLimitState(
        allowed=bool(allowed),
        limit=limit,
        remaining=max(0, limit - int(used)),
        reset_seconds=reset_seconds,
    )


class ApiClientRateThrottle(BaseThrottle):
    """Per-client hourly quota of the tier; does nothing for session or anonymous requests."""

    def __init__(self) -> None:
        self.state: RateLimitState | None = None

    def allow_request(self, request, view) -> bool:
        from .oauth import request_api_client
        from .selectors import parameter_get

        client = request_api_client(request)
        if client is None:
            return True
        limit = int(parameter_get(key=TIER_PARAMETERS[client.tier]))
        try:
            self.state = rate_limit_hit(client_id=client.pk, limit=limit, now=time.time())
        except redis.RedisError:
            # Fail open: an outage of Redis must not take the API down with it.
            log.exception(
                "API rate limiter unavailable; request of client %s let through", client.pk
            )
            return True
        # Read back by `RateLimitHeadersMixin.finalize_response`, on success or refusal.
        request._request.api_rate_limit = self.state
        return self.state.allowed

    def wait(self) -> int | None:
        return self.state.reset_seconds if self.state is not None else None


class RateLimitHeadersMixin:
    """For DRF views: add the RateLimit headers when the throttle counted the request."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        state = getattr(request, "api_rate_limit", None)
        if state is not None:
            for name, value in state.headers().items():
                response[name] = value
        return response
