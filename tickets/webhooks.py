"""Webhooks: the social-media connector, POST /webhooks/social/ (docs/social-webhook.md),
and the telephony platform's call records, POST /webhooks/telephony/cdr/
(docs/telephony-cdr.md).

A plain Django view, not a DRF one: the caller is a machine that proves itself with an
HMAC-SHA256 signature of the raw body, not a user or an OAuth client, so neither
sessions (and their CSRF check) nor tokens apply. Its errors use the API's format.
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from . import inbound, services

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


# 5,000 full records take about 2.5 MB; the cap leaves room without inviting abuse.
CDR_BODY_MAX_BYTES = 8 * 1024 * 1024


@csrf_exempt
def cdr_webhook(request: HttpRequest) -> JsonResponse:
    """200 with the counts: good records are stored, bad ones listed with their fields."""
    if request.method != "POST":
        response = _error(405, "method_not_allowed", f'Method "{request.method}" not allowed.')
        response["Allow"] = "POST"
        return response
    secret = getattr(settings, "TELEPHONY_WEBHOOK_SECRET", "")
    if not secret:
        log.error("TELEPHONY_WEBHOOK_SECRET is not set: every CDR webhook call is refused")
    # Read the stream ourselves: Django's 2.5 MB cap on request.body is below a full batch.
    body = request.read(CDR_BODY_MAX_BYTES + 1)
    if len(body) > CDR_BODY_MAX_BYTES:
        return _error(413, "too_large", f"The body exceeds {CDR_BODY_MAX_BYTES} bytes.")
    # The signature scheme is the social webhook's: HMAC-SHA256 of the raw body.
    if not inbound.social_signature_valid(
        secret=secret, body=body, header=request.headers.get(SIGNATURE_HEADER, "")
    ):
        return _error(403, "permission_denied", "Missing or invalid signature.")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        return _error(400, "parse_error", f"JSON parse error - {exc}")
    records = data.get("records") if isinstance(data, dict) else data
    if not isinstance(records, list):
        return _error(
            400, "parse_error", 'The body must be a JSON array, or an object with "records".'
        )
    try:
        result = services.contacts_ingest(rows=records, source="CDR", now=timezone.now())
    except services.ContactBatchTooLarge as exc:
        return _error(400, "too_many_records", str(exc), {"records": [str(exc)]})
    return JsonResponse(
        {
            "inserted": result.inserted,
            "duplicates": result.duplicates,
            "rejected": result.rejected,
            "errors": result.errors,
            "warnings": result.warnings,
        }
    )
