"""The default QA checklist, version 1 (docs/kpi-quality.md).

Weights: 3 for what protects the customer or gets the answer right, 2 for what resolves
the request, 1 for manners and housekeeping. The safety script is the one critical
criterion: not following it when a dangerous situation was reported scores the call 0.
"""

from django.db import migrations
from django.utils import timezone

CODE = "standard"
NAME = "Grille qualité standard"
# label, guidance, weight, critical
ITEMS = [
    (
        "Accueil et identification",
        "Présentation, nom de l'entreprise, identification du client (nom, numéro de compte ou PRM).",
        1,
        False,
    ),
    (
        "Contrôle de sécurité avant toute modification du compte",
        "Vérification d'identité faite avant de changer coordonnées, IBAN, offre ou titulaire ; sans objet si rien n'est modifié.",
        3,
        False,
    ),
    (
        "Compréhension du besoin",
        "Reformulation, questions utiles, pas de réponse à côté.",
        2,
        False,
    ),
    (
        "Information exacte",
        "Montants, délais, tarifs, démarches conformes à nos règles et à la réglementation.",
        3,
        False,
    ),
    (
        "Tentative de résolution au premier contact",
        "Le conseiller a cherché à régler la demande sans nouveau contact du client.",
        2,
        False,
    ),
    (
        "Empathie et ton",
        "Écoute, politesse, ton adapté à la situation du client.",
        1,
        False,
    ),
    (
        "Clôture et catégorie correctes",
        "Récapitulatif, prochaine étape annoncée, catégorie et résultat bien saisis.",
        1,
        False,
    ),
    (
        "Consignes de sécurité suivies si nécessaire",
        "Câble à terre, odeur de brûlé, équipement médical : consignes de sécurité données et transfert au dépannage. Sans objet si aucun danger n'a été évoqué.",
        2,
        True,
    ),
]


def create(apps, schema_editor):
    """Idempotent: the test suite calls it again after a transactional test's flush."""
    QaChecklist = apps.get_model("kpi", "QaChecklist")
    QaChecklistItem = apps.get_model("kpi", "QaChecklistItem")
    if QaChecklist.objects.filter(code=CODE).exists():
        return
    checklist = QaChecklist.objects.create(
        code=CODE, version=1, name=NAME, active=True, created_at=timezone.now()
    )
    QaChecklistItem.objects.bulk_create(
        QaChecklistItem(
            checklist=checklist,
            position=position,
            label=label,
            guidance=guidance,
            weight=weight,
            critical=critical,
        )
        for position, (label, guidance, weight, critical) in enumerate(ITEMS, start=1)
    )


class Migration(migrations.Migration):
    dependencies = [("kpi", "0001_quality_and_people")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
