from decimal import Decimal

from django.db import migrations

# The outages app (outages/services/incidents.py) fires these events on an incident's
# command ticket. Real hours on the always-open calendar: a storm does not wait for
# office hours, and nothing pauses while we wait for anyone.
# name, start, stop, hours, escalate, restarts
CLOCKS = [
    ("Avis public P1 15 min", "INCIDENT_P1", "PUBLIC_NOTICE", "0.25", "SUPERVISOR", False),
    # Met by each public update and started again from it; a missed one is a breach.
    ("Point d'étape 30 min", "PUBLIC_NOTICE", "PUBLIC_UPDATE", "0.5", "SUPERVISOR", True),
    ("Équipe sur place (urbain) 4 h", "ONSITE_URBAN", "CREW_ON_SITE", "4", "SUPERVISOR", False),
    ("Équipe sur place (rural) 24 h", "ONSITE_RURAL", "CREW_ON_SITE", "24", "SUPERVISOR", False),
]


def create(apps, schema_editor):
    Calendar = apps.get_model("tickets", "Calendar")
    SlaPolicy = apps.get_model("tickets", "SlaPolicy")
    ClockDefinition = apps.get_model("tickets", "ClockDefinition")
    calendar = Calendar.objects.filter(code="EMERGENCY_24_7").first()
    if calendar is None:
        return
    # Rank 1 and an INCIDENT queue match: no customer ticket can land on it.
    policy, created = SlaPolicy.objects.get_or_create(
        code="INCIDENT",
        version=1,
        defaults={"name": "Incident réseau (avis, points d'étape, équipe)", "rank": 1, "match_queue": "INCIDENT"},
    )
    if not created:
        return
    for name, start, stop, hours, escalate, restarts in CLOCKS:
        ClockDefinition.objects.create(
            policy=policy, name=name, start_event=start, stop_event=stop, unit="CLOCK_HOURS",
            amount=Decimal(hours), calendar=calendar, pauses_when_waiting=False,
            escalate_to=escalate, restarts_on_activity=restarts,
        )


class Migration(migrations.Migration):
    """The INCIDENT policy: the clocks of an outage's public cadence and crew target."""

    dependencies = [("tickets", "0007_channel_system_queue_incident")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
