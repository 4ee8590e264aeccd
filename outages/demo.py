"""Demo outages, made through the real services so every row is one the product writes:

- three crews, the demo technician in the Paris one;
- twelve months of restored incidents across the service areas (reliability trends,
  MTTR, compensation, one post-incident review);
- live: a confirmed P1 in Lyon with its notice, an update and a crew en route; a P1 in
  Paris dispatched to the demo technician; a suspect in Bordeaux from two reports;
  planned works in Rignac next week; a streetlight fault in Montpellier.

Idempotent: an incident is known by its title, a crew by its name, a report by its
address; nothing is made twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from accounts.models import User

from .models import Crew, Incident, OutageReport, ServiceArea
from .services import crews as crew_services
from .services import incidents, reports, settlement

CREWS = [
    ("Équipe Paris Sud", ["HTA", "BT", "Poste"], ["PARIS-15"], "tech@powernext.example"),
    ("Équipe Lyon Gerland", ["HTA", "BT"], ["LYON-07"], None),
    (
        "Équipe Aveyron–Massif central",
        ["BT", "Aérien", "Élagage"],
        ["RIGNAC", "SAUGUES", "NEUVIC"],
        None,
    ),
]

# title, postcode, cause, days ago, hours to restore
HISTORY = [
    ("Orage – ligne aérienne Rignac", "12390", "WEATHER", 330, 7.5),
    ("Défaut câble souterrain Paris 15e", "75015", "EQUIPMENT", 300, 3.2),
    ("Chute d'arbre Neuvic", "19160", "VEGETATION", 270, 9.0),
    ("Défaut poste Lyon 7e", "69007", "EQUIPMENT", 240, 2.1),
    ("Travaux tiers – câble arraché Bordeaux", "33000", "THIRD_PARTY", 210, 4.4),
    ("Tempête – Saugues", "43170", "WEATHER", 180, 12.0),
    ("Surcharge Strasbourg", "67000", "OVERLOAD", 150, 1.5),
    ("Défaut câble Rennes", "35000", "EQUIPMENT", 120, 6.5),
    ("Orage Montpellier", "34000", "WEATHER", 90, 2.8),
    ("Élagage d'urgence Lormes", "58140", "VEGETATION", 60, 5.2),
    ("Défaut poste Dijon", "21000", "EQUIPMENT", 40, 3.0),
    ("Câble endommagé Clermont-Ferrand", "63000", "THIRD_PARTY", 20, 2.4),
]


def _crews() -> dict[str, Crew]:
    found = {}
    for name, skills, areas, member in CREWS:
        crew, _ = Crew.objects.get_or_create(name=name, defaults={"skills": skills})
        crew.areas.set(ServiceArea.objects.filter(code__in=areas))
        if member:
            user = User.objects.filter(email=member).first()
            if user:
                crew.members.add(user)
        found[name] = crew
    return found


def _known(title: str) -> bool:
    return Incident.objects.filter(title=title).exists()


def seed(*, now: datetime) -> str:
    made = 0
    crews = _crews()
    supervisor = User.objects.filter(email="supervisor@powernext.example").first()
    agent = User.objects.filter(email="agent@powernext.example").first()
    for title, postcode, cause, days, hours in HISTORY:
        if _known(title):
            continue
        start = now - timedelta(days=days)
        incident = incidents.incident_open(
            title=title, postcodes=[postcode], cause=cause, now=start, actor=agent
        )
        incidents.incident_update_publish(
            incident=incident,
            message="Nos équipes interviennent.",
            now=start + timedelta(minutes=9),
            actor=agent,
        )
        end = start + timedelta(hours=hours)
        incidents.incident_restore(incident=incident, now=end, actor=agent)
        settlement.review_open_if_due(incident_id=incident.pk, now=end)
        settlement.incident_compensate(incident_id=incident.pk, now=end)
        incidents.incident_close(incident=incident, now=end + timedelta(days=1), actor=agent)
        made += 1

    title = "Panne HTA – Lyon 7e"
    if not _known(title):
        start = now - timedelta(minutes=50)
        lyon = incidents.incident_open(
            title=title,
            postcodes=["69007"],
            cause="EQUIPMENT",
            now=start,
            actor=agent,
            public_message="Panne sur le réseau moyenne tension du quartier de Gerland.",
        )
        incidents.incident_update_publish(
            incident=lyon,
            message="Panne localisée sur le réseau HTA, équipe mobilisée.",
            now=start + timedelta(minutes=8),
            actor=agent,
        )
        dispatch = crew_services.dispatch_create(
            incident=lyon,
            crew=crews["Équipe Lyon Gerland"],
            now=start + timedelta(minutes=12),
            actor=agent,
        )
        crew_services.dispatch_transition(
            dispatch=dispatch, target="EN_ROUTE", now=start + timedelta(minutes=20), actor=agent
        )
        incidents.incident_update_publish(
            incident=lyon,
            message="L'équipe est en route vers le poste de Gerland.",
            now=start + timedelta(minutes=36),
            actor=agent,
        )
        made += 1

    title = "Coupure – Paris 15e, rue de Vaugirard"
    if not _known(title):
        start = now - timedelta(minutes=20)
        paris = incidents.incident_open(
            title=title, postcodes=["75015"], cause="UNKNOWN", now=start, actor=agent
        )
        crew_services.dispatch_create(
            incident=paris,
            crew=crews["Équipe Paris Sud"],
            now=start + timedelta(minutes=5),
            actor=agent,
        )
        made += 1

    if not OutageReport.objects.filter(address="18 cours de l'Intendance").exists():
        for address, phone in [
            ("18 cours de l'Intendance", "0611000001"),
            ("3 place Gambetta", "0611000002"),
        ]:
            reports.report_submit(
                kind="OUTAGE",
                now=now - timedelta(minutes=6),
                postcode="33000",
                address=address,
                phone=phone,
                breakers_checked=True,
            )
        made += 1

    title = "Travaux de renouvellement – Rignac"
    if not _known(title):
        start = (now + timedelta(days=7)).replace(hour=8, minute=30, second=0, microsecond=0)
        incidents.planned_outage_announce(
            title=title,
            postcodes=["12390"],
            planned_start=start,
            planned_end=start + timedelta(hours=4),
            message="Coupure programmée pour le remplacement d'un transformateur.",
            now=now,
            actor=supervisor,
        )
        made += 1

    if not OutageReport.objects.filter(address="Angle rue Foch / rue Bonnard").exists():
        reports.report_submit(
            kind="STREETLIGHT",
            now=now - timedelta(hours=3),
            postcode="34000",
            address="Angle rue Foch / rue Bonnard",
            phone="0622000003",
            description="Lampadaire éteint depuis deux soirs.",
        )
        made += 1
    return f"{made} outage items, {Incident.objects.count()} incidents"
