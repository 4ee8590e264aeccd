"""Webhook of the social-media connector: POST /webhooks/social/ (docs/social-webhook.md).

A plain Django view, not a DRF one: the caller is a machine that proves itself with an
HMAC-SHA256 signature of the raw body, not a user or an OAuth client, so neither
sessions (and their CSRF check) nor tokens apply. Its errors use the API's format.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from . import inbound

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-PowerNext-Signature"


def _error(status: int, code: str, message: str, fields: dict | None = None) -> JsonResponse:
    body = {"error": {"status": status, "code": code, "message": message, "fields": fields or {}}}
    return JsonResponse(body, status=status)


@csrf_exempt
def social_webhook(request: HttpRequest) -> JsonResponse:
    """201 for a new ticket, 200 for a reply threaded or a message already received."""
    if request.method != "POST":
        response = _error(405, "method_not_allowed", f'Method "{request.method}" not allowed.')
        response["Allow"] = "POST"
        return response
    secret = getattr(settings, "SOCIAL_WEBHOOK_SECRET", "")
    if not secret:
        log.error("SOCIAL_WEBHOOK_SECRET is not set: every social webhook call is refused")
    body = request.body
    if not inbound.social_signature_valid(
        secret=secret, body=body, header=request.headers.get(SIGNATURE_HEADER, "")
    ):
        return _error(403, "permission_denied", "Missing or invalid signature.")
    try:
        message = inbound.social_payload_parse(body)
    except inbound.PayloadError as exc:
        return _error(400, exc.code, exc.message, exc.fields)
    result = inbound.social_ingest(message=message, now=timezone.now())
    return JsonResponse(
        {"result": result.outcome, "reference": result.reference},
        status=201 if result.outcome == "created" else 200,
    )
