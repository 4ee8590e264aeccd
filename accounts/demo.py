"""Demo data for the accounts app: staff, residential customers, a business."""

from __future__ import annotations

from datetime import datetime

from . import services
from .models import Account, AccountType, AreaClass, MemberRole, Role, User

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


def _existing_account(user: User) -> Account | None:
    return Account.objects.filter(memberships__user=user).first()


def seed(*, now: datetime) -> str:
    for email, role, first, last, secret in STAFF:
        services.user_upsert(
            email=email,
            password=DEMO_PASSWORD,
            role=role,
            first_name=first,
            last_name=last,
            totp_secret_hex=secret,
        )
    for email, first, last, phone, address, postcode, city, area in RESIDENTIAL:
        user, _ = services.user_upsert(
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
        services.premise_add(
            account=account, address=address, postcode=postcode, city=city, area_class=area
        )
    owner = None
    business = None
    for email, first, last, member_role in BUSINESS["users"]:
        user, _ = services.user_upsert(
            email=email,
            password=DEMO_PASSWORD,
            role=Role.CUSTOMER,
            first_name=first,
            last_name=last,
        )
        if owner is None:
            owner = user
            business = _existing_account(user) or services.account_open(
                type=AccountType.BUSINESS,
                name=BUSINESS["name"],
                holder=user,
                billing_address=BUSINESS["address"],
                now=now,
            )
        services.account_member_add(account=business, user=user, role=member_role)
    for address, postcode, city, area in BUSINESS["premises"]:
        services.premise_add(
            account=business, address=address, postcode=postcode, city=city, area_class=area
        )
    return f"{len(STAFF)} staff, {len(RESIDENTIAL)} residential accounts, 1 business account"
