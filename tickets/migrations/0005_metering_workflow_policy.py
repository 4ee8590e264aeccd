from decimal import Decimal

from django.db import migrations

# The meter-issue workflow (metering/services/workflow.py) fires the start and stop
# events; the figures below are its configuration, edited afterwards in the admin.
# name, start, stop, unit, amount, calendar, pauses, escalate, restarts
CLOCKS = [
    ("Première réponse 24 h", "CREATED", "FIRST_RESPONSE", "CLOCK_HOURS", "24", "EMERGENCY_24_7", True, "SUPERVISOR", False),
    ("Inactivité 72 h", "CREATED", "ACTIVITY", "CLOCK_HOURS", "72", "EMERGENCY_24_7", True, "SUPERVISOR", True),
    # Breached: the head-end never answered; the customer is asked for a read.
    ("Télérelevé 2 h ouvrées", "METER_REMOTE_READ", "METER_REMOTE_DONE", "BUSINESS_HOURS", "2", "CONTACT_CENTRE", False, "", False),
    # We are waiting for the customer on purpose: this clock does not pause.
    # Breached: no accepted read came; the on-site check is booked.
    ("Relevé client 5 jours ouvrés", "METER_CUSTOMER_READ", "METER_READ_SETTLED", "WORKING_DAYS", "5", "CONTACT_CENTRE", False, "", False),
    # Due at the end of the booked 4-hour slot (the amount only applies to a clock
    # started without a slot); breached means nobody recorded the visit.
    ("Vérification sur place", "METER_ONSITE_CHECK", "METER_ONSITE_DONE", "WORKING_DAYS", "10", "CONTACT_CENTRE", False, "SUPERVISOR", False),
]


def create(apps, schema_editor):
    Calendar = apps.get_model("tickets", "Calendar")
    SlaPolicy = apps.get_model("tickets", "SlaPolicy")
    ClockDefinition = apps.get_model("tickets", "ClockDefinition")
    # Between billing (60) and plain e-mail (80): safety, enterprise and social
    # rules still come first, as they do for billing.
    policy, created = SlaPolicy.objects.get_or_create(
        code="METERING",
        version=1,
        defaults={"name": "Comptage (télérelevé, relevé client, vérification)", "rank": 70, "match_queue": "METERING"},
    )
    if not created:
        return
    calendars = {c.code: c for c in Calendar.objects.filter(code__in={c[5] for c in CLOCKS})}
    for name, start, stop, unit, amount, calendar, pauses, escalate, restarts in CLOCKS:
        ClockDefinition.objects.create(
            policy=policy, name=name, start_event=start, stop_event=stop, unit=unit,
            amount=Decimal(amount), calendar=calendars[calendar], pauses_when_waiting=pauses,
            escalate_to=escalate, restarts_on_activity=restarts,
        )


class Migration(migrations.Migration):
    """The METERING policy, whose clocks are the steps of the meter-issue workflow."""

    dependencies = [("tickets", "0004_sweep_partial_indexes")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
