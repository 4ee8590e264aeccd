from decimal import Decimal

from django.db import migrations

PACKAGES = [
    ("STANDARD", "Standard", Decimal("0.00"), None, False, None),
    ("PRIORITY", "Priority", Decimal("9.99"), None, False, None),
    ("ENTERPRISE", "Enterprise", Decimal("49.99"), 2, True, Decimal("99.90")),
]


def create(apps, schema_editor):
    SlaPackage = apps.get_model("accounts", "SlaPackage")
    for code, name, price, hours, contact, availability in PACKAGES:
        SlaPackage.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "monthly_price": price,
                "response_business_hours": hours,
                "named_emergency_contact": contact,
                "availability_target_percent": availability,
            },
        )


class Migration(migrations.Migration):
    """The business packages are data an admin edits; these are the launch values."""

    dependencies = [("accounts", "0003_search_indexes")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
