from decimal import Decimal

from django.db import migrations

# Billing (billing/services/disputes.py) fires the start event when a dispute is upheld
# and the stop event when its credit note or refund is booked. Thirty calendar days are
# counted in real hours on the always-open calendar, and do not pause while we wait for
# the customer: the money is owed to them whatever they do.
NAME = "Avoir ou remboursement 30 jours"


def create(apps, schema_editor):
    Calendar = apps.get_model("tickets", "Calendar")
    SlaPolicy = apps.get_model("tickets", "SlaPolicy")
    ClockDefinition = apps.get_model("tickets", "ClockDefinition")
    policy = SlaPolicy.objects.filter(code="BILLING", version=1).first()
    calendar = Calendar.objects.filter(code="EMERGENCY_24_7").first()
    if policy is None or calendar is None:
        return
    ClockDefinition.objects.get_or_create(
        policy=policy,
        name=NAME,
        defaults={
            "start_event": "DISPUTE_UPHELD",
            "stop_event": "DISPUTE_SETTLED",
            "unit": "CLOCK_HOURS",
            "amount": Decimal("720"),
            "calendar": calendar,
            "pauses_when_waiting": False,
            "escalate_to": "SUPERVISOR",
            "restarts_on_activity": False,
        },
    )


def remove(apps, schema_editor):
    ClockDefinition = apps.get_model("tickets", "ClockDefinition")
    ClockInstance = apps.get_model("tickets", "ClockInstance")
    # A definition that clocks already ran on stays: they point at it (PROTECT).
    used = ClockInstance.objects.values("definition_id")
    ClockDefinition.objects.filter(
        policy__code="BILLING", policy__version=1, name=NAME
    ).exclude(pk__in=used).delete()


class Migration(migrations.Migration):
    """The settlement clock of an upheld billing dispute, on the BILLING policy."""

    dependencies = [("tickets", "0005_metering_workflow_policy")]

    operations = [migrations.RunPython(create, remove)]
