"""The tariffs offered at launch, each with the version of the February 2025 price
movement and that of February 2026 (the excise moved from 0.0298 to 0.0300 €/kWh).
Prices exclude VAT; 20 % VAT applies to the standing charge and to the energy."""

from decimal import Decimal

from django.db import migrations

VAT = Decimal("0.2000")
SWITCH = "2026-02-01"

TARIFFS = [
    {
        "code": "BASE",
        "name": "Tarif Base",
        "kind": "BASE",
        "description": "Un seul prix du kWh à toute heure.",
        "for_business": False,
        "offpeak_hours": [],
        "versions": [
            ("2025-02-01", SWITCH, "0.32000", {"rate_base": "0.16240"}, "0.02980"),
            ("2026-02-01", None, "0.33500", {"rate_base": "0.15800"}, "0.03000"),
        ],
    },
    {
        "code": "HPHC",
        "name": "Heures Pleines / Heures Creuses",
        "kind": "HPHC",
        "description": "kWh moins cher de 22 h à 6 h.",
        "for_business": False,
        "offpeak_hours": [["22:00", "06:00"]],
        "versions": [
            (
                "2025-02-01",
                SWITCH,
                "0.34000",
                {"rate_hp": "0.17410", "rate_hc": "0.13260"},
                "0.02980",
            ),
            (
                "2026-02-01",
                None,
                "0.35500",
                {"rate_hp": "0.16900", "rate_hc": "0.12900"},
                "0.03000",
            ),
        ],
    },
    {
        "code": "BUSINESS",
        "name": "Pro Base",
        "kind": "BUSINESS",
        "description": "Prix unique du kWh pour les professionnels.",
        "for_business": True,
        "offpeak_hours": [],
        "versions": [
            ("2025-02-01", SWITCH, "0.95000", {"rate_base": "0.15400"}, "0.02980"),
            ("2026-02-01", None, "0.98000", {"rate_base": "0.15000"}, "0.03000"),
        ],
    },
]


def create(apps, schema_editor):
    """Idempotent: the test suite puts these rows back after a transactional test."""
    Tariff = apps.get_model("billing", "Tariff")
    TariffVersion = apps.get_model("billing", "TariffVersion")
    for spec in TARIFFS:
        fields = {k: v for k, v in spec.items() if k not in {"code", "versions"}}
        tariff, _ = Tariff.objects.update_or_create(code=spec["code"], defaults=fields)
        for valid_from, valid_to, standing, rates, excise in spec["versions"]:
            TariffVersion.objects.update_or_create(
                tariff=tariff,
                valid_from=valid_from,
                defaults={
                    "valid_to": valid_to,
                    "standing_per_day": Decimal(standing),
                    "rate_base": Decimal(rates["rate_base"]) if "rate_base" in rates else None,
                    "rate_hp": Decimal(rates["rate_hp"]) if "rate_hp" in rates else None,
                    "rate_hc": Decimal(rates["rate_hc"]) if "rate_hc" in rates else None,
                    "excise_per_kwh": Decimal(excise),
                    "vat_standing": VAT,
                    "vat_energy": VAT,
                },
            )


def remove(apps, schema_editor):
    Tariff = apps.get_model("billing", "Tariff")
    TariffVersion = apps.get_model("billing", "TariffVersion")
    codes = [spec["code"] for spec in TARIFFS]
    TariffVersion.objects.filter(tariff__code__in=codes).delete()
    Tariff.objects.filter(code__in=codes).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_ledger_invoices_disputes")]

    operations = [migrations.RunPython(create, remove)]
