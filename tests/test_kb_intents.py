"""Chatbot intent detection: rule-based, offline, French and English, with typos and
without accents; safety always wins (issue 9, "Chatbot")."""

from __future__ import annotations

import pytest

from kb.domain import intents
from kb.domain.intents import detect_intent, extract_entities, fold, word_matches, yes_or_no

# --- Safety first --------------------------------------------------------------------------

SAFETY_PHRASES = [
    "Il y a de la fumée qui sort du compteur",
    "il y a de la fumee",
    "des étincelles sortent de la prise",
    "etincele au tableau electrique",
    "le feu a pris dans le garage",
    "au feu !",
    "début d'incendie dans la cuisine",
    "ça brûle derrière le compteur",
    "ca brule",
    "je sens une odeur de brûlé",
    "odeur de brulé près du disjoncteur",
    "un câble est tombé dans la rue",
    "cable tombe devant chez moi",
    "le câble électrique est à terre",
    "un fil dénudé pend du poteau",
    "fil a nu dans la cave",
    "ma facture et il y a de la fumée",
    "je veux mon solde mais des étincelles sortent du compteur",
    "parler à un conseiller, il y a le feu",
    "PN-2026-000123 et ça sent le brûlé",
    "there is smoke coming from my meter",
    "sparks from the socket",
    "my meter is on fire",
    "burning smell near the fuse box",
    "smell of burning in the kitchen",
    "a power line is down in the street",
    "a tree fell on the power line",
    "exposed wire hanging from the pole",
    "my last invoice, and I can see flames",
    "I want to talk to a person, there are sparks",
    "le transformateur au bout de la rue fait un bruit de bourdonnement bizarre",
    "le compteur grésille depuis ce matin",
    "loud humming and crackling from the pole near my house",
]


@pytest.mark.parametrize("text", SAFETY_PHRASES)
def test_safety_always_wins(text):
    intent = detect_intent(text)
    assert intent.name == intents.SAFETY
    assert intent.confidence == 1.0


@pytest.mark.parametrize(
    "text",
    [
        "I spoke to an agent yesterday",  # "spoke" is not "smoke"
        "a spare part for my meter",  # "spare" is not "spark"
        "je veux ma facture en PDF",
        "turning the breaker back on",  # "turning" is not "burning"
        "un agent est passé relever le compteur",
    ],
)
def test_near_misses_are_not_safety(text):
    assert detect_intent(text).name != intents.SAFETY


# --- Intents -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # balance
        ("Quel est mon solde ?", intents.BALANCE),
        ("combien je dois ?", intents.BALANCE),
        ("sodle de mon compte", intents.BALANCE),
        ("how much do I owe?", intents.BALANCE),
        ("what's my balance", intents.BALANCE),
        # last invoice
        ("ma dernière facture", intents.LAST_INVOICE),
        ("ma derniere factrue", intents.LAST_INVOICE),
        ("télécharger ma facture en pdf", intents.LAST_INVOICE),
        ("show me my last invoice", intents.LAST_INVOICE),
        ("latest bill please", intents.LAST_INVOICE),
        ("facture FA-2026-000042", intents.LAST_INVOICE),
        # outage status
        ("je n'ai plus de courant", intents.OUTAGE_STATUS),
        ("coupure d'électricité chez moi ?", intents.OUTAGE_STATUS),
        ("y a t il une coupur dans mon quartier", intents.OUTAGE_STATUS),
        ("power cut at my house", intents.OUTAGE_STATUS),
        ("is there an outage in my area", intents.OUTAGE_STATUS),
        # submit a reading
        ("je veux transmettre mon relevé", intents.SUBMIT_READING),
        ("mon index est 12 345 kWh", intents.SUBMIT_READING),
        ("releve compteur 4521", intents.SUBMIT_READING),
        ("my meter reading is 4567", intents.SUBMIT_READING),
        ("I want to submit a reading", intents.SUBMIT_READING),
        # payment extension
        ("je voudrais un délai de paiement", intents.PAYMENT_EXTENSION),
        ("puis-je reporter ma facture FA-2026-000042", intents.PAYMENT_EXTENSION),
        ("besoin de plus de temps pour payer", intents.PAYMENT_EXTENSION),
        ("can I get more time to pay", intents.PAYMENT_EXTENSION),
        ("postpone my payment", intents.PAYMENT_EXTENSION),
        # track a ticket
        ("où en est ma demande PN-2026-000123 ?", intents.TRACK_TICKET),
        ("suivi de ma demande", intents.TRACK_TICKET),
        ("pn 2026 123", intents.TRACK_TICKET),
        ("track my ticket", intents.TRACK_TICKET),
        # a person
        ("parler à un conseiller", intents.HUMAN),
        ("je voudrais parler a un conseiler", intents.HUMAN),
        ("un humain svp", intents.HUMAN),
        ("talk to a person", intents.HUMAN),
        ("I want a real person", intents.HUMAN),
        ("agent please", intents.HUMAN),
        # small talk
        ("Bonjour", intents.GREETING),
        ("bonjour madame", intents.GREETING),
        ("hello", intents.GREETING),
        ("merci beaucoup !", intents.THANKS),
        ("thank you", intents.THANKS),
        # everything else is answered from the knowledge base
        ("comment comprendre ma facture", intents.FAQ),
        ("je veux contester ma facture", intents.FAQ),
        ("comment lire mon compteur", intents.FAQ),
        ("que faire pendant une coupure de courant", intents.FAQ),
        ("que faire des aliments du congélateur pendant une panne", intents.FAQ),
        ("je déménage le mois prochain", intents.FAQ),
        ("how do I switch tariff", intents.FAQ),
        ("un échéancier de paiement", intents.FAQ),
        ("bonjour j'ai une question sur le chèque énergie", intents.FAQ),
    ],
)
def test_detects_the_intent_in_french_and_english_with_typos(text, expected):
    assert detect_intent(text).name == expected


# --- Entities ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "entities"),
    [
        ("facture FA-2026-000042", {"invoice": "FA-2026-000042"}),
        ("avoir av 2026 7", {"invoice": "AV-2026-000007"}),
        ("ma demande PN-2026-000123", {"ticket": "PN-2026-000123"}),
        ("pn2026-45", {"ticket": "PN-2026-000045"}),
        ("mon PDL est 12345678901234", {"prm": "12345678901234"}),
        ("PRM 12 345 678 901 234", {"prm": "12345678901234"}),
        ("index 12 345", {"reading": 12345}),
        ("relevé du 12/03 : 4521 kWh", {"reading": 4521}),
    ],
)
def test_extracts_entities(text, entities):
    assert extract_entities(text) == entities


def test_a_number_is_a_reading_only_in_a_reading_message():
    assert detect_intent("mon index est 4521").entities == {"reading": 4521}
    assert "reading" not in detect_intent("ma facture de 2025").entities


def test_safety_keeps_the_entities():
    intent = detect_intent("facture FA-2026-000042 et de la fumée")
    assert intent.name == intents.SAFETY
    assert intent.entities == {"invoice": "FA-2026-000042"}


# --- Matching rules ------------------------------------------------------------------------


def test_fold_lowers_and_strips_accents():
    assert fold("Ça BRÛLE, l'électricité !") == "ca brule l electricite"


@pytest.mark.parametrize(
    ("word", "keyword", "expected"),
    [
        ("factrue", "facture", True),  # swap
        ("factur", "facture", True),  # deletion
        ("facturee", "facture", True),  # insertion
        ("fecture", "facture", True),  # one substitution
        ("vacture", "facture", False),  # the first letter must match
        ("spoke", "=smoke", False),  # exact-only
        ("feu", "=feu", True),
        ("fee", "=feu", False),
        ("sold", "solde", False),  # under five letters: exact only
        ("alertes", "alerte*", True),
    ],
)
def test_word_matching(word, keyword, expected):
    assert word_matches(word, keyword) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("oui", True),
        ("Oui merci", True),
        ("ok", True),
        ("yes", True),
        ("non", False),
        ("non merci", False),
        ("pas vraiment", False),
        ("no", False),
        ("quel est mon solde", None),
        ("", None),
    ],
)
def test_yes_or_no(text, expected):
    assert yes_or_no(text) is expected
