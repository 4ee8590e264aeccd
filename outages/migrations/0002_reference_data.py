from decimal import Decimal

from django.db import migrations

# FR: a cut of 5 hours or more earns 2 € per subscribed kVA for each whole 5-hour
# slice, at most 40 slices. Other markets have no rule until an admin adds one.
RULES = [("FR_PRM", 300, 300, Decimal("2.00"), 40)]


def create(apps, schema_editor):
    from outages.domain import geo

    ServiceArea = apps.get_model("outages", "ServiceArea")
    CompensationRule = apps.get_model("outages", "CompensationRule")
    if not ServiceArea.objects.exists():
        ServiceArea.objects.bulk_create(
            ServiceArea(
                code=a.code,
                name=a.name,
                postcodes=list(a.postcodes),
                area_class=a.area_class,
                ring=[list(p) for p in a.ring],
            )
            for a in geo.load_areas()
        )
    for market, threshold, slice_minutes, per_kva, max_slices in RULES:
        CompensationRule.objects.get_or_create(
            market=market,
            defaults={
                "threshold_minutes": threshold,
                "slice_minutes": slice_minutes,
                "amount_per_kva": per_kva,
                "max_slices": max_slices,
            },
        )


class Migration(migrations.Migration):
    """The service areas shipped in outages/data/areas.geojson, and the FR rule."""

    dependencies = [("outages", "0001_initial")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
