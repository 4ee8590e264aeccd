"""Public facts about Power Next shown on every public page.

Kept in one place so that the footer, the home page and the outage pages
can never disagree about a phone number.
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

SUPPORT_PHONE = "+33 1 23 45 67 89"
EMERGENCY_PHONE = "+33 1 98 76 54 32"
SUPPORT_TEL = "tel:" + SUPPORT_PHONE.replace(" ", "")
EMERGENCY_TEL = "tel:" + EMERGENCY_PHONE.replace(" ", "")
SUPPORT_EMAIL = "support@powernext.example"


@dataclass(frozen=True)
class Channel:
    name: str
    contact: str
    hours: str
    target: str
    href: str = ""


@dataclass(frozen=True)
class Office:
    name: str
    address: str
    postcode: str
    city: str
    hours: tuple[tuple[str, str], ...]


CHANNELS = (
    Channel(
        _("Urgence et pannes, 24h/24"),
        EMERGENCY_PHONE,
        _("24h/24, 7j/7"),
        _("Fumée, étincelles, bourdonnement, câble tombé : appelez immédiatement."),
        EMERGENCY_TEL,
    ),
    Channel(
        _("Service clients (facturation et compte)"),
        SUPPORT_PHONE,
        _("Lundi–vendredi 8h–20h ; effectif réduit le week-end"),
        _("Réponse en moins de 30 secondes en moyenne"),
        SUPPORT_TEL,
    ),
    Channel(
        _("E-mail et demandes en ligne"),
        SUPPORT_EMAIL,
        _("À tout moment"),
        _("Réponse sous 48 h pour les demandes non urgentes"),
        f"mailto:{SUPPORT_EMAIL}",
    ),
    Channel(
        _("Réseaux sociaux (Facebook, X)"),
        "@PowerNext",
        _("Semaine 7h–22h ; week-end 8h–21h"),
        _("Réponse dans la journée"),
    ),
    Channel(
        _("Espace client en ligne"),
        "/portal/",
        _("À tout moment"),
        _("Factures, consommation, relevés, demandes"),
        "/portal/",
    ),
)

OFFICES = (
    Office(
        "Paris 11e",
        "42 boulevard Voltaire",
        "75011",
        "Paris",
        ((_("Lundi–vendredi"), "9h–18h"), (_("Samedi"), "9h–12h30")),
    ),
    Office(
        "Lyon Part-Dieu",
        "18 rue Garibaldi",
        "69003",
        "Lyon",
        ((_("Lundi–vendredi"), "9h–17h30"),),
    ),
    Office(
        "Aurillac",
        "5 place du Square",
        "15000",
        "Aurillac",
        ((_("Mardi et jeudi"), "9h–12h, 14h–17h"),),
    ),
)
