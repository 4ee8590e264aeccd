"""The outage demo (issue 7): a year of restored incidents and today's live ones, all
through the real services; running seed_demo again creates nothing."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from billing.models import LedgerEntry
from outages.models import (
    Compensation,
    Crew,
    Dispatch,
    Incident,
    IncidentEvent,
    Interruption,
    OutageReport,
    PostIncidentReview,
    PublicUpdate,
)

PARIS = ZoneInfo("Europe/Paris")
FIRST_RUN = datetime(2026, 12, 15, 10, 0, tzinfo=PARIS)
MODELS = (
    Incident,
    IncidentEvent,
    Interruption,
    OutageReport,
    PublicUpdate,
    Dispatch,
    Compensation,
    PostIncidentReview,
    Crew,
    LedgerEntry,
)


def _counts():
    return tuple(model.objects.count() for model in MODELS)


@pytest.mark.django_db
def test_seed_demo_outages_is_complete_and_idempotent(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    with time_machine.travel(FIRST_RUN, tick=False):
        call_command("seed_demo")
    counts = _counts()
    with time_machine.travel(FIRST_RUN + timedelta(hours=3), tick=False):
        call_command("seed_demo")
    assert _counts() == counts

    closed = Incident.objects.filter(status="CLOSED")
    assert closed.count() == 12
    assert closed.filter(interruptions__isnull=False).distinct().count() == 12
    # A year of history: one restored incident in each of eleven or more months.
    months = {i.started_at.astimezone(PARIS).strftime("%Y-%m") for i in closed}
    assert len(months) >= 11
    assert PostIncidentReview.objects.exists()
    assert Compensation.objects.exists()

    lyon = Incident.objects.get(title="Panne HTA – Lyon 7e")
    assert (lyon.status, lyon.klass) == ("CONFIRMED", "P1")
    assert lyon.first_notice_at is not None and lyon.updates.count() == 2
    assert lyon.dispatches.get().status == "EN_ROUTE"
    technician_jobs = Dispatch.objects.filter(
        crew__members__email="tech@powernext.example", status="DISPATCHED"
    )
    assert technician_jobs.count() == 1
    suspect = OutageReport.objects.get(address="3 place Gambetta").incident
    assert suspect.status == "SUSPECTED" and suspect.reports.count() == 2
    planned = Incident.objects.get(status="PLANNED")
    assert planned.planned_start > FIRST_RUN
    assert OutageReport.objects.get(kind="STREETLIGHT").reference.startswith("EP-")
