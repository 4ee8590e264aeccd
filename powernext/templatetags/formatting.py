"""Locale-aware formatting available in every template (registered as a builtin)."""

from decimal import Decimal

from babel.numbers import format_currency, format_decimal
from django import template
from django.conf import settings
from django.utils import translation

register = template.Library()

# Babel needs a territory to pick separators; EUR reads naturally in these.
BABEL_LOCALES = {"fr": "fr_FR", "en": "en_IE"}


def babel_locale() -> str:
    return BABEL_LOCALES.get(translation.get_language() or settings.LANGUAGE_CODE, "fr_FR")


@register.filter
def money(value, currency: str | None = None) -> str:
    """Format an amount in the active language: 1 234,50 € in French, €1,234.50 in English."""
    if value is None or value == "":
        return ""
    return format_currency(Decimal(value), currency or settings.CURRENCY, locale=babel_locale())


@register.filter
def kwh(value) -> str:
    if value is None or value == "":
        return ""
    return f"{format_decimal(Decimal(value), format='#,##0.##', locale=babel_locale())} kWh"


@register.filter
def mask_iban(value) -> str:
    from accounts.domain import mask_iban as mask

    return mask(value) if value else ""
