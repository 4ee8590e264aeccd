"""Demo data for the accounts app: staff, residential customers, a business."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from . import identifiers, services
from .models import (
    Account,
    AccountType,
    AreaClass,
    AuditChannel,
    MemberRole,
    Role,
    SlaPackage,
    SupplyMarket,
    User,
)

DEMO_PASSWORD = "PowerNext-demo-2026"

# Fixed secrets so that a developer can add them to an authenticator app once.
STAFF = [
    (
        "agent@powernext.example",
        Role.AGENT,
        "Lucas",
        "Bernard",
        "3132333435363738393031323334353637383930",
    ),
    (
        "agent2@powernext.example",
        Role.AGENT,
        "Inès",
        "Moreau",
        "4142434445464748494a4b4c4d4e4f5051525354",
    ),
    (
        "supervisor@powernext.example",
        Role.SUPERVISOR,
        "Nathalie",
        "Lefèvre",
        "5152535455565758595a5b5c5d5e5f6061626364",
    ),
    (
        "tech@powernext.example",
        Role.FIELD_TECHNICIAN,
        "Karim",
        "Haddad",
        "6162636465666768696a6b6c6d6e6f7071727374",
    ),
    (
        "admin@powernext.example",
        Role.ADMIN,
        "Sophie",
        "Garnier",
        "7172737475767778797a7b7c7d7e7f8081828384",
    ),
]

RESIDENTIAL = [
    (
        "claire.martin@example.fr",
        "Claire",
        "Martin",
        "+33612345678",
        "12 rue Oberkampf",
        "75011",
        "Paris",
        AreaClass.URBAN,
    ),
    (
        "thomas.petit@example.fr",
        "Thomas",
        "Petit",
        "+33623456789",
        "7 cours Lafayette",
        "69003",
        "Lyon",
        AreaClass.URBAN,
    ),
    (
        "amelie.dubois@example.fr",
        "Amélie",
        "Dubois",
        "+33634567890",
        "24 rue Paradis",
        "13006",
        "Marseille",
        AreaClass.URBAN,
    ),
    (
        "julien.roux@example.fr",
        "Julien",
        "Roux",
        "+33645678901",
        "3 allée Jean Jaurès",
        "31000",
        "Toulouse",
        AreaClass.URBAN,
    ),
    (
        "manon.fournier@example.fr",
        "Manon",
        "Fournier",
        "+33656789012",
        "58 rue Nationale",
        "59000",
        "Lille",
        AreaClass.URBAN,
    ),
    (
        "hugo.girard@example.fr",
        "Hugo",
        "Girard",
        "+33667890123",
        "9 quai de la Fosse",
        "44000",
        "Nantes",
        AreaClass.URBAN,
    ),
    (
        "chloe.bonnet@example.fr",
        "Chloé",
        "Bonnet",
        "+33678901234",
        "Lieu-dit La Borie",
        "15130",
        "Arpajon-sur-Cère",
        AreaClass.RURAL,
    ),
    (
        "louis.mercier@example.fr",
        "Louis",
        "Mercier",
        "+33689012345",
        "2 chemin du Moulin",
        "48000",
        "Mende",
        AreaClass.RURAL,
    ),
    (
        "lea.lambert@example.fr",
        "Léa",
        "Lambert",
        "+33690123456",
        "Hameau de Lascaux",
        "46100",
        "Figeac",
        AreaClass.RURAL,
    ),
    (
        "paul.faure@example.fr",
        "Paul",
        "Faure",
        "+33601234567",
        "14 route de Guéret",
        "23000",
        "Sainte-Feyre",
        AreaClass.RURAL,
    ),
]

BUSINESS = {
    "name": "Boulangerie Artisanale Rousseau SARL",
    "address": "31 avenue Jean Médecin, 06000 Nice",
    "users": [
        ("gerant@rousseau-boulangerie.example", "Marc", "Rousseau", MemberRole.OWNER),
        ("compta@rousseau-boulangerie.example", "Isabelle", "Rousseau", MemberRole.BILLING),
        ("atelier@rousseau-boulangerie.example", "Yanis", "Benali", MemberRole.VIEWER),
    ],
    "premises": [
        ("31 avenue Jean Médecin", "06000", "Nice", AreaClass.URBAN),
        ("Zone artisanale Les Plans", "06670", "Saint-Martin-du-Var", AreaClass.RURAL),
    ],
}


FIRST_NAMES = [
    "Camille",
    "Nicolas",
    "Sarah",
    "Antoine",
    "Laura",
    "Maxime",
    "Pauline",
    "Alexandre",
    "Julie",
    "Romain",
    "Émilie",
    "Guillaume",
    "Marine",
    "Quentin",
    "Céline",
    "Mathieu",
    "Anaïs",
    "Florian",
    "Elodie",
    "Benoît",
    "Margaux",
    "Vincent",
    "Inès",
    "Adrien",
    "Lucie",
    "Sébastien",
    "Océane",
    "Damien",
    "Charlotte",
    "Jérôme",
    "Noémie",
    "Arnaud",
    "Justine",
    "Cédric",
    "Héloïse",
    "Fabien",
    "Mélanie",
    "Olivier",
    "Clémence",
    "Thibault",
]
LAST_NAMES = [
    "Lefebvre",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Morel",
    "Fontaine",
    "Chevalier",
    "Robin",
    "Masson",
    "Sanchez",
    "Gauthier",
    "Nicolas",
    "Perrin",
    "Mathieu",
    "Clément",
    "Lopez",
    "Henry",
    "Rousseau",
    "Blanc",
    "Guerin",
    "Muller",
    "Boyer",
    "Garnier",
    "Chevallier",
    "François",
    "Legrand",
    "Gautier",
    "Roussel",
    "Lucas",
    "Brun",
    "Picard",
    "Caron",
    "Meunier",
    "Dumont",
    "Marchand",
]
TOWNS = [
    ("75015", "Paris", AreaClass.URBAN),
    ("69007", "Lyon", AreaClass.URBAN),
    ("33000", "Bordeaux", AreaClass.URBAN),
    ("67000", "Strasbourg", AreaClass.URBAN),
    ("35000", "Rennes", AreaClass.URBAN),
    ("34000", "Montpellier", AreaClass.URBAN),
    ("21000", "Dijon", AreaClass.URBAN),
    ("63000", "Clermont-Ferrand", AreaClass.URBAN),
    ("12390", "Rignac", AreaClass.RURAL),
    ("19160", "Neuvic", AreaClass.RURAL),
    ("04150", "Banon", AreaClass.RURAL),
    ("58140", "Lormes", AreaClass.RURAL),
    ("52160", "Auberive", AreaClass.RURAL),
    ("43170", "Saugues", AreaClass.RURAL),
]
STREETS = [
    "rue de la République",
    "avenue Jean Jaurès",
    "rue Victor Hugo",
    "place de l'Église",
    "chemin des Vignes",
    "rue du Stade",
    "allée des Tilleuls",
    "route de la Gare",
]


def _prm(seed: int) -> str:
    return f"{(seed * 7919 + 1000003) % 10**14:014d}"


def _mpan(seed: int) -> str:
    body = f"{(seed * 104729 + 1000000000) % 10**12:012d}"
    return body + identifiers.mpan_check_digit(body)


def _user(**kwargs) -> tuple[User, bool]:
    """Create a demo user once; hashing a password costs ~0.3 s, so reruns skip it."""
    existing = User.objects.filter(email=kwargs["email"]).first()
    if existing is not None:
        return existing, False
    return services.user_upsert(**kwargs)


def _existing_account(user: User) -> Account | None:
    return Account.objects.filter(memberships__user=user).first()


def _supply(premise, market, identifier, kva, now) -> None:
    services.supply_point_add(
        premise=premise,
        market=market,
        identifier=identifier,
        subscribed_kva=Decimal(kva),
        meter_reference=f"CPT-{identifier[-6:]}",
        actor=None,
        channel=AuditChannel.SYSTEM,
        now=now,
    )


def _residential(now, index, email, first, last, phone, address, postcode, city, area):
    user, _ = _user(
        email=email,
        password=DEMO_PASSWORD,
        role=Role.CUSTOMER,
        first_name=first,
        last_name=last,
        phone=phone,
    )
    account = _existing_account(user) or services.account_open(
        type=AccountType.RESIDENTIAL,
        name=f"{first} {last}",
        holder=user,
        billing_address=f"{address}\n{postcode} {city}",
        now=now,
    )
    if not account.phone:
        account.phone = phone
        account.save(update_fields=["phone"])
    premise = services.premise_add(
        account=account, address=address, postcode=postcode, city=city, area_class=area
    )
    _supply(premise, SupplyMarket.FR_PRM, _prm(index), ("6", "9", "12")[index % 3], now)
    return account


def seed(*, now: datetime) -> str:
    for email, role, first, last, secret in STAFF:
        _user(
            email=email,
            password=DEMO_PASSWORD,
            role=role,
            first_name=first,
            last_name=last,
            totp_secret_hex=secret,
        )
    accounts = []
    for index, (email, first, last, phone, address, postcode, city, area) in enumerate(RESIDENTIAL):
        accounts.append(
            _residential(now, index, email, first, last, phone, address, postcode, city, area)
        )
    for i in range(40):
        first, last = FIRST_NAMES[i], LAST_NAMES[(i * 7) % len(LAST_NAMES)]
        postcode, city, area = TOWNS[i % len(TOWNS)]
        email = (
            f"{first.lower()}.{last.lower()}{i}@example.fr".replace("é", "e")
            .replace("ï", "i")
            .replace("ç", "c")
            .replace("ë", "e")
            .replace("è", "e")
            .replace("ô", "o")
        )
        accounts.append(
            _residential(
                now,
                100 + i,
                email,
                first,
                last,
                f"+3360{i:07d}",
                f"{(i * 13) % 97 + 1} {STREETS[i % len(STREETS)]}",
                postcode,
                city,
                area,
            )
        )
    # Priority register: a home oxygen user in the countryside, an elderly customer in town.
    agent = User.objects.get(email=STAFF[0][0])
    review = (now + timedelta(days=365)).date()
    if not hasattr(accounts[7], "priority_registration"):
        services.priority_registration_set(
            account=accounts[7],
            actor=agent,
            channel=AuditChannel.CONSOLE,
            now=now,
            medical_equipment=True,
            dependency_level="CRITICAL",
            backup_autonomy_hours=4,
            carer_name="Odile Mercier",
            carer_phone="+33611223344",
            consent_field_sharing=True,
            review_date=review,
        )
    if not hasattr(accounts[1], "priority_registration"):
        services.priority_registration_set(
            account=accounts[1],
            actor=agent,
            channel=AuditChannel.CONSOLE,
            now=now,
            age_over_75=True,
            hearing_impairment=True,
            consent_field_sharing=True,
            review_date=review,
        )
    _business(now, BUSINESS, "PRIORITY", [(0, SupplyMarket.FR_PRM, _prm(900), "36")])
    _business(
        now,
        ENTERPRISE,
        "ENTERPRISE",
        [
            (0, SupplyMarket.GB_MPAN, _mpan(1), "250"),
            (0, SupplyMarket.EIC, "22XWATTPLUS----G", "1000"),
            (1, SupplyMarket.FR_PRM, _prm(901), "120"),
        ],
    )
    return (
        f"{len(STAFF)} staff, {len(accounts)} residential accounts, 2 business accounts, "
        "2 priority-register customers"
    )


ENTERPRISE = {
    "name": "Hôtellerie Vallon & Fils SAS",
    "address": "Tour Horizon, 52 quai de Dion-Bouton, 92800 Puteaux",
    "users": [
        ("direction@vallon-hotels.example", "Hélène", "Vallon", MemberRole.OWNER),
        ("it@vallon-hotels.example", "Samir", "Belkacem", MemberRole.ADMIN),
        ("finance@vallon-hotels.example", "Grégoire", "Aubert", MemberRole.BILLING),
        ("ops@vallon-hotels.example", "Chloé", "Marechal", MemberRole.VIEWER),
    ],
    "premises": [
        ("Vallon London Bridge Hotel, 12 Tooley Street", "SE1 2TU", "London", AreaClass.URBAN),
        ("Hôtel Vallon Nice, 8 promenade des Anglais", "06000", "Nice", AreaClass.URBAN),
    ],
    "emergency": ("Samir Belkacem", "+33 6 70 80 90 10"),
}
BUSINESS["emergency"] = ("Marc Rousseau", "+33 6 11 22 33 44")


def _business(now, spec, package_code, supplies) -> Account:
    owner = None
    account = None
    for email, first, last, member_role in spec["users"]:
        user, _ = _user(
            email=email,
            password=DEMO_PASSWORD,
            role=Role.CUSTOMER,
            first_name=first,
            last_name=last,
        )
        if owner is None:
            owner = user
            account = _existing_account(user) or services.account_open(
                type=AccountType.BUSINESS,
                name=spec["name"],
                holder=user,
                billing_address=spec["address"],
                now=now,
            )
        services.account_member_add(account=account, user=user, role=member_role)
    package = SlaPackage.objects.get(code=package_code)
    manager = User.objects.get(email=STAFF[1][0])
    Account.objects.filter(pk=account.pk).update(
        sla_package=package,
        account_manager=manager,
        emergency_contact_name=spec["emergency"][0],
        emergency_contact_phone=spec["emergency"][1],
    )
    premises = [
        services.premise_add(account=account, address=a, postcode=p, city=c, area_class=area)
        for a, p, c, area in spec["premises"]
    ]
    for premise_index, market, identifier, kva in supplies:
        _supply(premises[premise_index], market, identifier, kva, now)
    return account
