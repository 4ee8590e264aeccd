"""Pure rules of the accounts app: no ORM, no clock, no I/O."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

from stdnum import luhn

ACCOUNT_NUMBER_BODY_DIGITS = 9


class ShellDecision(enum.Enum):
    ALLOW = "allow"
    LOGIN = "login"
    FORBID = "forbid"
    VERIFY = "verify"
    ENROL = "enrol"


def shell_decision(
    *,
    is_authenticated: bool,
    role: str | None,
    allowed_roles: frozenset[str],
    is_staff_role: bool,
    has_confirmed_device: bool,
    is_verified: bool,
) -> ShellDecision:
    """Who may open a shell page, and what to ask of those who may not yet.

    The role is checked before the second factor so that a wrong-role user
    learns nothing about the page, not even that it wants a code.
    """
    if not is_authenticated:
        return ShellDecision.LOGIN
    if role not in allowed_roles:
        return ShellDecision.FORBID
    if is_verified:
        return ShellDecision.ALLOW
    if has_confirmed_device:
        return ShellDecision.VERIFY
    if is_staff_role:
        return ShellDecision.ENROL
    return ShellDecision.ALLOW


def account_number_new(*, randbelow=secrets.randbelow) -> str:
    """A 10-digit account number whose last digit is a Luhn check digit."""
    body = str(
        10 ** (ACCOUNT_NUMBER_BODY_DIGITS - 1)
        + randbelow(9 * 10 ** (ACCOUNT_NUMBER_BODY_DIGITS - 1))
    )
    return body + luhn.calc_check_digit(body)


def account_number_is_valid(number: str) -> bool:
    compact = number.replace(" ", "")
    return (
        len(compact) == ACCOUNT_NUMBER_BODY_DIGITS + 1
        and compact.isdigit()
        and luhn.is_valid(compact)
    )


def account_number_format(number: str) -> str:
    """Group as 3-3-4 so it can be read out on the phone."""
    return f"{number[:3]} {number[3:6]} {number[6:]}"


# --- Business roles -------------------------------------------------------

MEMBER_PERMISSIONS: dict[str, frozenset[str]] = {
    # A residential holder is the whole household; API access and several
    # users are for business accounts.
    "HOLDER": frozenset({"view", "edit_account", "view_billing", "export", "erase"}),
    "OWNER": frozenset(
        {
            "view",
            "edit_account",
            "view_billing",
            "manage_users",
            "manage_api_clients",
            "export",
            "erase",
        }
    ),
    "ADMIN": frozenset(
        {"view", "edit_account", "view_billing", "manage_users", "manage_api_clients", "export"}
    ),
    "BILLING": frozenset({"view", "view_billing", "export"}),
    "VIEWER": frozenset({"view"}),
}


def member_can(role: str, action: str) -> bool:
    return action in MEMBER_PERMISSIONS.get(role, frozenset())


# --- Secrets in displays and audit entries --------------------------------


def mask_iban(iban: str) -> str:
    """Keep the country, check digits and last four: enough to recognise, not to use."""
    compact = iban.replace(" ", "").upper()
    if len(compact) < 8:
        return "•" * len(compact)
    return f"{compact[:4]} •••• •••• {compact[-4:]}"


def step_up_is_fresh(*, verified_at_iso: str | None, now_iso: str, max_age_seconds: int) -> bool:
    """A sensitive change needs a second-factor check at most `max_age_seconds` old."""
    if not verified_at_iso:
        return False
    age = datetime.fromisoformat(now_iso) - datetime.fromisoformat(verified_at_iso)
    return 0 <= age.total_seconds() <= max_age_seconds


# --- Configurable figures (admin-editable Parameter rows override these) ---

PARAMETER_DEFAULTS: dict[str, object] = {
    "step_up_max_age_seconds": 600,
    "api_rate_per_hour_standard": 1000,
    "api_rate_per_hour_enterprise": 10000,
    "document_retention_days": 365,
    "export_retention_days": 7,
    # tickets
    "escalation_ack_hours": 4,
    "ticket_reopen_days": 7,
    "attachment_max_bytes": 10 * 1024 * 1024,
    # metering
    "reading_spike_factor": 3,
    "onsite_check_min_working_days": 5,
    "onsite_check_max_working_days": 10,
    "interval_retention_months": 24,
    # billing (euros as strings: read them with Decimal)
    "invoice_due_days": 14,
    "dispute_window_days": 60,
    "credit_approval_threshold": "100.00",
    "assistance_season_cap": "750.00",
    "extension_max_days": 30,
    "plan_min_instalments": 3,
    "plan_max_instalments": 12,
    "deposit_min": "50.00",
    "deposit_max": "300.00",
    "reconnection_fee_min": "25.00",
    "reconnection_fee_max": "75.00",
    # outages (the P1 notice and update clocks are on the INCIDENT SLA policy)
    "outage_several_households": 2,
    "outage_auto_notice_minutes": 10,
    "outage_onsite_urban_hours": 4,
    "outage_onsite_rural_hours": 24,
    "outage_mttr_network_hours": 6,
    "outage_mttr_isolated_hours": 24,
    "outage_etr_min_samples": 5,
    "outage_etr_fallback_urban_minutes": 180,
    "outage_etr_fallback_rural_minutes": 480,
    "outage_sustained_threshold_minutes": 3,
    "outage_planned_notice_min_days": 5,
    "outage_planned_priority_head_start_hours": 24,
    "outage_review_due_days": 7,
    "outage_restored_recent_hours": 12,
    "diagnostic_fee_min": "75.00",
    "diagnostic_fee_max": "120.00",
    "diagnostic_fee_default": "90.00",
    # kpi targets (docs/kpi.md; amber bands in kpi/domain/targets.py)
    "kpi_target_asa_seconds": 30,
    "kpi_target_asa_billing_seconds": 25,
    "kpi_target_aht_min_seconds": 240,
    "kpi_target_aht_max_seconds": 360,
    "kpi_target_fcr_percent": 80,
    "kpi_target_fcr_billing_percent": 82,
    "kpi_target_csat_percent": 85,
    "kpi_target_nps": 25,
    "kpi_target_sla_percent": 99,
    "kpi_target_abandonment_percent": 5,
    "kpi_target_service_level_percent": 90,
    "kpi_snapshot_interval_minutes": 30,
    # Interval alerts (docs/kpi.md, "Interval alerts"): the ASA alert reuses the ASA
    # targets above (billing queue its own); the current ASA is that of the contacts
    # answered in the last N minutes.
    "kpi_alert_asa_window_minutes": 15,
    "kpi_alert_queue_length": 10,
}


def phone_normalise(raw: str) -> str:
    """Store phones without separators, French national numbers as +33.

    One stored shape lets the console find a number however it was typed.
    """
    compact = "".join(ch for ch in raw if ch.isdigit() or ch == "+")
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if len(compact) == 10 and compact.startswith("0"):
        compact = "+33" + compact[1:]
    return compact


# --- Uploaded files: trust the content, not the name ----------------------

FILE_SIGNATURES = {
    b"%PDF-": "application/pdf",
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
}


def sniff_file_type(head: bytes) -> str | None:
    """The real type of a PDF, JPEG or PNG from its first bytes, else None."""
    return next((kind for magic, kind in FILE_SIGNATURES.items() if head.startswith(magic)), None)
