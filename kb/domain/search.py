"""Knowledge-base search without Django: normalise a visitor's query, guess its language,
expand customers' words with synonyms (French and English) and build a PostgreSQL
tsquery string.

Safety: the tsquery is assembled only from tokens matching ``[a-z0-9]+`` (the query is
folded to unaccented lower case and split on everything else), joined with ``|`` and
``<->`` written here, so no character of the visitor's text can reach tsquery syntax.
"""

from __future__ import annotations

import re
import unicodedata

MAX_QUERY_CHARS = 200
MAX_UNITS = 16
MAX_TOKEN_CHARS = 40

_TOKEN_RE = re.compile(r"[a-z0-9]+")

STOPWORDS_FR = frozenset(
    [
        "a",
        "au",
        "aux",
        "avec",
        "ce",
        "ces",
        "cet",
        "cette",
        "d",
        "dans",
        "de",
        "des",
        "du",
        "elle",
        "en",
        "est",
        "et",
        "eu",
        "il",
        "ils",
        "j",
        "je",
        "l",
        "la",
        "le",
        "les",
        "leur",
        "lui",
        "m",
        "ma",
        "mais",
        "me",
        "mes",
        "moi",
        "mon",
        "n",
        "ne",
        "nos",
        "notre",
        "nous",
        "on",
        "ou",
        "par",
        "pas",
        "pour",
        "qu",
        "que",
        "qui",
        "s",
        "sa",
        "se",
        "ses",
        "son",
        "sur",
        "t",
        "ta",
        "te",
        "tes",
        "toi",
        "ton",
        "tu",
        "un",
        "une",
        "vos",
        "votre",
        "vous",
        "y",
        "c",
        "ca",
        "sont",
        "suis",
        "ai",
        "as",
        "avez",
        "avons",
        "ont",
        "etre",
        "faire",
        "fait",
        "comment",
        "quoi",
        "quel",
        "quelle",
        "quels",
        "quelles",
        "est-ce",
        "ya",
        "si",
        "plus",
        "tres",
        "bonjour",
        "merci",
        "svp",
        "stp",
        "alors",
        "donc",
    ]
)
STOPWORDS_EN = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "please",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "hi",
        "hello",
        "thanks",
        "thank",
        "am",
        "im",
        "dont",
        "cant",
    ]
)
STOPWORDS = STOPWORDS_FR | STOPWORDS_EN

# Words that say which language a query is in (after folding).
HINTS_FR = STOPWORDS_FR | frozenset(
    [
        "facture",
        "factures",
        "compteur",
        "coupure",
        "panne",
        "courant",
        "electricite",
        "releve",
        "payer",
        "paiement",
        "demenager",
        "demenagement",
        "resilier",
        "contrat",
        "tarif",
        "fournisseur",
        "aide",
        "urgence",
        "disjoncteur",
        "plainte",
        "mediateur",
        "donnees",
        "heures",
        "ouvert",
        "numero",
        "joindre",
        "appeler",
        "mois",
        "combien",
        "pourquoi",
    ]
)
HINTS_EN = STOPWORDS_EN | frozenset(
    [
        "bill",
        "bills",
        "invoice",
        "meter",
        "reading",
        "outage",
        "power",
        "cut",
        "pay",
        "payment",
        "moving",
        "move",
        "contract",
        "tariff",
        "supplier",
        "help",
        "emergency",
        "breaker",
        "complaint",
        "ombudsman",
        "data",
        "hours",
        "open",
        "number",
        "call",
        "month",
        "much",
        "why",
        "electricity",
        "smell",
    ]
)
FRENCH_LETTERS = set("éèêëàâçîïôûùœ")

# Groups of words and phrases customers use for the same thing, folded (lower case, no
# accents). A query word or phrase found in a group searches for every member of it.
SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("jus", "courant", "electricite", "electricity", "power", "elec", "electrique"),
    (
        "coupure",
        "panne",
        "blackout",
        "black out",
        "no power",
        "power cut",
        "power outage",
        "power failure",
        "outage",
        "plus de courant",
        "plus d electricite",
        "pas de courant",
        "sans courant",
        "sans electricite",
        "plus de jus",
        "dans le noir",
    ),
    ("facture", "note", "bill", "invoice", "facturation", "billing"),
    (
        "releve",
        "index",
        "lecture compteur",
        "lecture du compteur",
        "meter reading",
        "reading",
        "readings",
        "auto releve",
        "autoreleve",
    ),
    ("compteur", "meter", "linky", "counter"),
    (
        "disjoncteur",
        "fuse box",
        "breaker",
        "breakers",
        "circuit breaker",
        "fusible",
        "fusibles",
        "fuse",
        "fuses",
        "tableau electrique",
        "trip",
        "tripped",
        "saute",
        "sauter",
    ),
    (
        "echelonner",
        "etaler",
        "plan de paiement",
        "echeancier",
        "instalments",
        "installments",
        "instalment",
        "installment",
        "payment plan",
        "paiement en plusieurs fois",
        "plusieurs fois",
        "mensualites",
        "spread",
    ),
    (
        "delai",
        "delai de paiement",
        "report",
        "reporter",
        "payment extension",
        "extension",
        "more time",
        "plus de temps",
        "late",
        "retard",
    ),
    ("payer", "paiement", "regler", "reglement", "pay", "payment", "paying", "prelevement"),
    (
        "contester",
        "contestation",
        "dispute",
        "erreur",
        "error",
        "wrong",
        "incorrect",
        "trop cher",
        "too high",
        "overcharged",
        "surfacturation",
    ),
    ("plainte", "reclamation", "complaint", "complain", "mecontent", "unhappy"),
    ("mediateur", "mediation", "ombudsman", "ombudsperson"),
    (
        "demenager",
        "demenagement",
        "demenage",
        "move",
        "moving",
        "move house",
        "moving home",
        "move out",
        "move in",
        "nouveau logement",
        "new home",
    ),
    ("resilier", "resiliation", "cancel", "terminate", "close account", "fin de contrat"),
    ("frais", "cout", "couts", "fees", "fee", "cost", "costs", "charge", "charges"),
    ("tarif", "tarifs", "prix", "tariff", "tariffs", "rate", "rates", "price", "offre", "offer"),
    ("heures creuses", "off peak", "offpeak", "hc", "heures pleines", "peak"),
    ("fournisseur", "supplier", "provider"),
    ("changer", "switch", "switching", "change"),
    ("urgence", "emergency", "danger", "dangereux", "dangerous", "urgent"),
    (
        "fumee",
        "smoke",
        "smoking",
        "etincelle",
        "etincelles",
        "spark",
        "sparks",
        "sparking",
        "feu",
        "fire",
        "incendie",
        "odeur de brule",
        "burning smell",
        "brule",
        "burning",
    ),
    ("bourdonnement", "bourdonne", "gresillement", "gresille", "humming", "hum", "buzzing"),
    (
        "cable tombe",
        "cable a terre",
        "fil a terre",
        "ligne tombee",
        "fallen line",
        "downed line",
        "line down",
        "wire down",
        "fallen wire",
        "power line",
    ),
    (
        "frigo",
        "refrigerateur",
        "congelateur",
        "fridge",
        "freezer",
        "nourriture",
        "aliments",
        "food",
    ),
    (
        "contacter",
        "joindre",
        "appeler",
        "telephone",
        "contact",
        "call",
        "phone",
        "ring",
        "numero",
        "number",
    ),
    ("horaires", "heures d ouverture", "ouvert", "hours", "opening hours", "open"),
    (
        "prioritaire",
        "registre prioritaire",
        "priority register",
        "priority",
        "vulnerable",
        "appareil medical",
        "medical equipment",
        "respirateur",
        "oxygene",
        "oxygen",
        "handicap",
        "disabled",
        "disability",
    ),
    (
        "donnees personnelles",
        "rgpd",
        "gdpr",
        "privacy",
        "personal data",
        "confidentialite",
        "vie privee",
    ),
    ("supprimer", "effacer", "erase", "delete", "suppression", "deletion", "oubli", "forget"),
    ("pdf", "telecharger", "download", "copie", "duplicata", "copy", "duplicate"),
    ("estime", "estimee", "estimation", "estimated", "estimate", "estimates"),
    (
        "cheque energie",
        "aide",
        "aides",
        "assistance",
        "energy assistance",
        "aide financiere",
        "fonds de solidarite",
        "fsl",
        "hardship",
        "difficulte",
        "difficultes",
        "struggling",
    ),
    (
        "travaux",
        "coupure programmee",
        "planned works",
        "planned work",
        "maintenance",
        "planned outage",
        "scheduled",
        "programmee",
    ),
    ("alerte", "alertes", "sms", "notification", "notifications", "alert", "alerts"),
    ("mise en service", "ouvrir", "ouverture", "souscrire", "start", "connect", "connection"),
    ("comprendre", "lire", "understand", "explain", "explained", "read"),
)


def fold(text: str) -> str:
    """Lower case without accents or ligatures: "Électricité" → "electricite"."""
    text = text.lower().replace("œ", "oe").replace("æ", "ae").replace("’", "'")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tokens(text: str) -> list[str]:
    """Folded words of a query, cut to a sane length."""
    found = _TOKEN_RE.findall(fold(text[:MAX_QUERY_CHARS]))
    return [t[:MAX_TOKEN_CHARS] for t in found]


def normalise_query(text: str) -> str:
    return " ".join(tokens(text))


def guess_language(text: str, *, default: str = "fr") -> str:
    """ "fr" or "en", from accents and typical words; `default` when nothing tells."""
    words = tokens(text)
    french = sum(1 for w in words if w in HINTS_FR) + 2 * sum(
        1 for c in text.lower() if c in FRENCH_LETTERS
    )
    english = sum(1 for w in words if w in HINTS_EN)
    if french > english:
        return "fr"
    if english > french:
        return "en"
    return default


def _index() -> tuple[dict[tuple[str, ...], int], int]:
    index: dict[tuple[str, ...], int] = {}
    longest = 1
    for number, group in enumerate(SYNONYM_GROUPS):
        for phrase in group:
            words = tuple(phrase.split())
            index.setdefault(words, number)
            longest = max(longest, len(words))
    return index, longest


_PHRASES, _LONGEST = _index()


def _meaningful(word: str) -> bool:
    return word not in STOPWORDS and (len(word) > 1 or word.isdigit())


def expand(text: str) -> list[list[tuple[str, ...]]]:
    """The query as units: each unit is the list of alternatives (word tuples) it
    stands for — a synonym group, or the word alone. Stop words are left out."""
    words = tokens(text)
    units: list[list[tuple[str, ...]]] = []
    seen_groups: set[int] = set()
    seen_words: set[str] = set()
    i = 0
    while i < len(words) and len(units) < MAX_UNITS:
        for size in range(min(_LONGEST, len(words) - i), 0, -1):
            phrase = tuple(words[i : i + size])
            group = _PHRASES.get(phrase)
            if group is None:
                continue
            if size == 1 and not _meaningful(phrase[0]):
                continue
            if group not in seen_groups:
                seen_groups.add(group)
                units.append([tuple(p.split()) for p in SYNONYM_GROUPS[group]])
            i += size
            break
        else:
            word = words[i]
            if _meaningful(word) and word not in seen_words:
                seen_words.add(word)
                units.append([(word,)])
            i += 1
    return units


def _alternative(words: tuple[str, ...]) -> str:
    """One word, or a phrase as adjacent words (PostgreSQL skips its own stop words and
    keeps their positions, so "plus d'électricité" matches "plus <-> d <-> electricite")."""
    return words[0] if len(words) == 1 else "(" + " <-> ".join(words) + ")"


def build_units(text: str) -> list[str]:
    """One to_tsquery() string per unit of the query: the OR of its alternatives."""
    units = []
    for unit in expand(text):
        alternatives = list(dict.fromkeys(_alternative(a) for a in unit))
        units.append(alternatives[0] if len(alternatives) == 1 else f"({' | '.join(alternatives)})")
    return units


def build_tsquery(text: str) -> str:
    """A to_tsquery() string: OR of every unit's alternatives, so an article matching any
    of them is found; the ranking then favours articles matching more units (see
    kb.selectors.articles). Empty when the query has no searchable word."""
    return " | ".join(build_units(text))
