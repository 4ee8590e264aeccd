from decimal import Decimal

from django.db import migrations

WEEKDAYS_8_20 = {str(d): [["08:00", "20:00"]] for d in range(5)}
CALENDARS = [
    ("CONTACT_CENTRE", "Centre de contacts (lun–ven 8h–20h, sam 9h–13h)",
     {**WEEKDAYS_8_20, "5": [["09:00", "13:00"]], "6": []}, "FR"),
    ("EMERGENCY_24_7", "Ligne urgence 24h/24, 7j/7",
     {str(d): [["00:00", "00:00"]] for d in range(7)}, ""),
    ("SOCIAL", "Réseaux sociaux (sem. 7h–22h, w.-e. 8h–21h)",
     {**{str(d): [["07:00", "22:00"]] for d in range(5)}, "5": [["08:00", "21:00"]], "6": [["08:00", "21:00"]]}, ""),
]
# code, name, rank, matches, clocks: (name, stop, unit, amount, calendar, pauses, escalate, restarts)
INACTIVITY = ("Inactivité 72 h", "ACTIVITY", "CLOCK_HOURS", "72", "EMERGENCY_24_7", True, "SUPERVISOR", True)
POLICIES = [
    ("SAFETY", "Sécurité", 10, {"match_safety": True}, [
        ("Première réponse 4 h", "FIRST_RESPONSE", "CLOCK_HOURS", "4", "EMERGENCY_24_7", False, "SUPERVISOR", False),
        INACTIVITY,
    ]),
    ("ENTERPRISE", "Entreprise", 20, {"match_sla_package": "ENTERPRISE"}, [
        ("Réponse 2 h ouvrées", "FIRST_RESPONSE", "BUSINESS_HOURS", "2", "CONTACT_CENTRE", True, "SUPERVISOR", False),
        INACTIVITY,
    ]),
    ("SOCIAL", "Réseaux sociaux", 40, {"match_channel": "SOCIAL"}, [
        ("Réponse dans la journée", "FIRST_RESPONSE", "WORKING_DAYS", "1", "SOCIAL", True, "SUPERVISOR", False),
        INACTIVITY,
    ]),
    ("BILLING", "Facturation", 60, {"match_queue": "BILLING"}, [
        ("Accusé de réception 24 h", "FIRST_RESPONSE", "CLOCK_HOURS", "24", "EMERGENCY_24_7", False, "SUPERVISOR", False),
        ("Instruction 10 jours ouvrés", "RESOLVED", "WORKING_DAYS", "10", "CONTACT_CENTRE", True, "SUPERVISOR", False),
        INACTIVITY,
    ]),
    ("EMAIL", "E-mail non urgent", 80, {"match_channel": "EMAIL"}, [
        ("Réponse 48 h", "FIRST_RESPONSE", "CLOCK_HOURS", "48", "EMERGENCY_24_7", True, "SUPERVISOR", False),
        INACTIVITY,
    ]),
    ("STANDARD", "Standard", 100, {}, [
        ("Première réponse 24 h", "FIRST_RESPONSE", "CLOCK_HOURS", "24", "EMERGENCY_24_7", True, "SUPERVISOR", False),
        INACTIVITY,
    ]),
]


def create(apps, schema_editor):
    Calendar = apps.get_model("tickets", "Calendar")
    SlaPolicy = apps.get_model("tickets", "SlaPolicy")
    ClockDefinition = apps.get_model("tickets", "ClockDefinition")
    calendars = {}
    for code, name, windows, country in CALENDARS:
        calendars[code], _ = Calendar.objects.get_or_create(
            code=code, defaults={"name": name, "windows": windows, "holiday_country": country}
        )
    for code, name, rank, matches, clocks in POLICIES:
        policy, created = SlaPolicy.objects.get_or_create(
            code=code, version=1, defaults={"name": name, "rank": rank, **matches}
        )
        if not created:
            continue
        for clock_name, stop, unit, amount, calendar, pauses, escalate, restarts in clocks:
            ClockDefinition.objects.create(
                policy=policy, name=clock_name, stop_event=stop, unit=unit, amount=Decimal(amount),
                calendar=calendars[calendar], pauses_when_waiting=pauses, escalate_to=escalate,
                restarts_on_activity=restarts,
            )


class Migration(migrations.Migration):
    """Launch SLA policies; afterwards they are data that supervisors edit in the admin."""

    dependencies = [("tickets", "0001_initial")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
