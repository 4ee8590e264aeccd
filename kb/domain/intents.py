"""What a chat message asks for: a rule-based, offline intent detector (French and English).

Pure Python. The text is folded (lower case, accents stripped, apostrophes and
punctuation to spaces) and cut into words; a keyword matches a word exactly, or with
one edit (insertion, deletion, substitution or swap of two neighbours) when both are at
least five letters long and start with the same letter, so "factrue", "eletricite" or
"etincele" are understood. Keywords marked exact-only (``=smoke``) never match fuzzily:
"spoke" is not "smoke".

Safety first: a message that mentions smoke, sparks, fire, a burning smell or a fallen
or bare line is SAFETY whatever else it says; the caller answers with the emergency
number and never with an article.

Entities (taken from the raw text before folding):
- ``invoice``: an invoice or credit-note number, FA-2026-000042 / AV-2026-000007
  (billing/services/numbering.py), spaces or no dashes tolerated;
- ``ticket``: a ticket reference, PN-2026-000123 (tickets/services.py);
- ``prm``: a French PRM/PDL, 14 digits (spaces ignored; accounts/identifiers.py);
- ``reading``: a meter index in whole kWh (the first other number, "12 345" included).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

SAFETY = "SAFETY"
BALANCE = "BALANCE"
LAST_INVOICE = "LAST_INVOICE"
OUTAGE_STATUS = "OUTAGE_STATUS"
SUBMIT_READING = "SUBMIT_READING"
PAYMENT_EXTENSION = "PAYMENT_EXTENSION"
TRACK_TICKET = "TRACK_TICKET"
HUMAN = "HUMAN"
GREETING = "GREETING"
THANKS = "THANKS"
FAQ = "FAQ"

INTENTS = (
    SAFETY,
    BALANCE,
    LAST_INVOICE,
    OUTAGE_STATUS,
    SUBMIT_READING,
    PAYMENT_EXTENSION,
    TRACK_TICKET,
    HUMAN,
    GREETING,
    THANKS,
    FAQ,
)
TRANSACTIONAL = frozenset(
    {BALANCE, LAST_INVOICE, OUTAGE_STATUS, SUBMIT_READING, PAYMENT_EXTENSION, TRACK_TICKET}
)


@dataclass(frozen=True)
class Intent:
    name: str
    confidence: float
    entities: dict = field(default_factory=dict)


# --- Text folding and word matching ---------------------------------------------------------


def fold(text: str) -> str:
    """Lower case, accents stripped, every non-alphanumeric run made one space."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    plain = plain.replace("œ", "oe").replace("æ", "ae")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", plain).split())


def _within_one_edit(a: str, b: str) -> bool:
    """Optimal-string-alignment distance <= 1 (one insertion, deletion, substitution or
    swap of two neighbouring letters)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    if la > lb:
        a, b = b, a
    # b is one letter longer: deleting one letter of b gives a.
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1 :]


MIN_FUZZY = 5


def word_matches(word: str, keyword: str) -> bool:
    """``keyword`` may start with "=" (exact only) or end with "*" (prefix)."""
    if keyword.startswith("="):
        return word == keyword[1:]
    if keyword.endswith("*"):
        return word.startswith(keyword[:-1])
    if word == keyword:
        return True
    return (
        len(word) >= MIN_FUZZY
        and len(keyword) >= MIN_FUZZY
        and word[0] == keyword[0]
        and _within_one_edit(word, keyword)
    )


def _has_word(words: list[str], keyword: str) -> bool:
    return any(word_matches(w, keyword) for w in words)


def _has_phrase(words: list[str], phrase: str, window: int = 0) -> bool:
    """Every word of ``phrase`` in order; with ``window``, up to that many other words
    may sit between two of them."""
    parts = phrase.split()
    for start, word in enumerate(words):
        if not word_matches(word, parts[0]):
            continue
        position = start
        for part in parts[1:]:
            found = None
            for j in range(position + 1, min(len(words), position + 2 + window)):
                if word_matches(words[j], part):
                    found = j
                    break
            if found is None:
                break
            position = found
        else:
            return True
    return False


def _near(words: list[str], heads: tuple[str, ...], tails: tuple[str, ...], span: int) -> bool:
    """A head word and a tail word, in either order, at most ``span`` words apart."""
    head_at = [i for i, w in enumerate(words) if any(word_matches(w, h) for h in heads)]
    if not head_at:
        return False
    tail_at = [i for i, w in enumerate(words) if any(word_matches(w, t) for t in tails)]
    return any(abs(h - t) <= span for h in head_at for t in tail_at if h != t)


# --- Safety ---------------------------------------------------------------------------------

SAFETY_WORDS = (
    # French
    "fumee",
    "fumees",
    "=fume",
    "=fumer",
    "=fument",
    "etincelle",
    "etincelles",
    "etinceler",
    "=feu",
    "=feux",
    "incendie",
    "flamme",
    "flammes",
    "brule",
    "brulee",
    "brules",
    "brulent",
    "bruler",
    "brulure",
    "=crame",
    "cramee",
    "=cramer",
    "electrocute",
    "electrocution",
    "electrise",
    # Equipment humming or crackling is a fault about to fail: the emergency line too.
    "bourdonnement",
    "bourdonne",
    "=gresille",
    "gresillement",
    "gresillements",
    "=crepite",
    "crepitement",
    # English
    "=smoke",
    "=smokes",
    "=smoking",
    "=smoky",
    "=smoked",
    "=smoulder*",
    "=smolder*",
    "=spark",
    "=sparks",
    "=sparking",
    "=sparked",
    "=sparky",
    "=fire",
    "=fires",
    "=flame",
    "=flames",
    "=flaming",
    "burning",
    "=burnt",
    "=burned",
    "electrocuted",
    "=humming",
    "=hums",
    "=buzzing",
    "crackling",
    "=crackles",
)
# A line, cable, wire or pole that is down, on the ground or bare.
LINE_HEADS = (
    "cable",
    "cables",
    "=fil",
    "=fils",
    "ligne",
    "lignes",
    "poteau",
    "poteaux",
    "=wire",
    "=wires",
    "=line",
    "=lines",
    "powerline",
    "=pole",
    "=poles",
)
LINE_TAILS = (
    "tombe",
    "tombee",
    "tombes",
    "tombees",
    "=terre",
    "=sol",
    "arrache",
    "arrachee",
    "arraches",
    "denude",
    "denudes",
    "denudee",
    "=nu",
    "=nus",
    "pendouille",
    "=pend",
    "=down",
    "=fallen",
    "=fell",
    "=downed",
    "exposed",
    "=bare",
    "hanging",
    "=snapped",
)
SAFETY_PHRASES = (
    "odeur de brule",
    "ca brule",
    "court circuit",
    "burning smell",
    "smell of burning",
    "electric shock",
    "choc electrique",
    "live wire",
)


def mentions_safety(words: list[str]) -> bool:
    if any(_has_word(words, k) for k in SAFETY_WORDS):
        return True
    if any(_has_phrase(words, p, window=1) for p in SAFETY_PHRASES):
        return True
    return _near(words, LINE_HEADS, LINE_TAILS, span=4)


# --- Entities -------------------------------------------------------------------------------

INVOICE_RE = re.compile(r"\b(FA|AV)[\s\-_/]*(\d{4})[\s\-_/]*(\d{1,6})\b", re.IGNORECASE)
TICKET_RE = re.compile(r"\bPN[\s\-_/]*(\d{4})[\s\-_/]*(\d{1,6})\b", re.IGNORECASE)
PRM_RE = re.compile(r"(?<![\d])(?:\d[ \u00a0\u202f.]?){13}\d(?![\d])")
NUMBER_RE = re.compile(r"(?<![\d,.])(\d{1,3}(?:[ \u00a0\u202f.]\d{3})+|\d{1,9})(?![\d,])")
READING_MAX = 999_999_999


def extract_entities(text: str) -> dict:
    entities: dict = {}
    rest = text
    match = INVOICE_RE.search(rest)
    if match:
        entities["invoice"] = f"{match[1].upper()}-{match[2]}-{int(match[3]):06d}"
        rest = rest.replace(match[0], " ")
    match = TICKET_RE.search(rest)
    if match:
        entities["ticket"] = f"PN-{match[1]}-{int(match[2]):06d}"
        rest = rest.replace(match[0], " ")
    match = PRM_RE.search(rest)
    if match:
        digits = re.sub(r"\D", "", match[0])
        if len(digits) == 14:
            entities["prm"] = digits
            rest = rest.replace(match[0], " ")
    # Dates and times are not readings.
    rest = re.sub(r"\b\d{1,2}[/:h]\d{1,2}(?:[/]\d{2,4})?\b", " ", rest)
    for match in NUMBER_RE.finditer(rest):
        value = int(re.sub(r"\D", "", match[1]))
        if value <= READING_MAX:
            entities["reading"] = value
            break
    return entities


# --- Intents ----------------------------------------------------------------------------------

HUMAN_WORDS = (
    "conseiller",
    "conseillere",
    "conseillers",
    "humain",
    "humaine",
    "operateur",
    "operatrice",
    "=human",
    "representative",
    "advisor",
    "adviser",
    "interlocuteur",
)
# "agent" or "person" alone is not enough ("un agent est passé relever le compteur").
HUMAN_WEAK = ("=agent", "=agents", "personne", "=person", "quelqu", "someone", "somebody")
HUMAN_VERBS = (
    "parler",
    "discuter",
    "joindre",
    "contacter",
    "=talk",
    "=speak",
    "=chat",
    "=want",
    "=veux",
    "voudrais",
    "souhaite",
    "=need",
    "besoin",
    "=please",
    "=svp",
    "=stp",
)
HUMAN_PHRASES = (
    "parler a quelqu un",
    "parler avec quelqu un",
    "parler a une personne",
    "vraie personne",
    "vrai personne",
    "une personne physique",
    "real person",
    "talk to someone",
    "speak to someone",
    "talk to somebody",
    "speak to somebody",
    "talk to a person",
    "speak to a person",
    "speak with someone",
    "talk with someone",
    "live chat",
    "live agent",
)

BALANCE_WORDS = ("solde", "=balance", "=owe", "=owed", "=owing", "impaye", "impayes", "arriere")
BALANCE_PHRASES = (
    "combien je dois",
    "combien dois je",
    "ce que je dois",
    "reste a payer",
    "montant du",
    "montant a payer",
    "how much do i owe",
    "how much i owe",
    "amount due",
    "amount owed",
    "mon compte est",
)
INVOICE_WORDS = ("facture", "factures", "=invoice", "=invoices", "=bill", "=bills", "=pdf")
INVOICE_STRONG = (
    "dernier*",
    "derniere*",
    "recente",
    "=last",
    "=latest",
    "=recent",
    "=pdf",
    "telecharger",
    "=download",
    "consulter",
    "=voir",
    "=see",
    "=view",
    "=copy",
    "=copie",
    "montant",
    "combien",
    "=amount",
    "=total",
)
OUTAGE_WORDS = (
    "panne",
    "pannes",
    "coupure",
    "coupures",
    "=outage",
    "=outages",
    "blackout",
    "=powercut",
    "delestage",
)
OUTAGE_PHRASES = (
    "plus de courant",
    "plus d electricite",
    "pas de courant",
    "pas d electricite",
    "sans courant",
    "sans electricite",
    "courant coupe",
    "electricite coupee",
    "plus de lumiere",
    "power cut",
    "power out",
    "power is out",
    "no power",
    "no electricity",
    "lost power",
    "power outage",
    "power down",
)
# Questions that belong to an article, not to the status of my premise.
OUTAGE_FAQ = (
    "=faire",
    "aliment*",
    "=frigo",
    "refrigerateur",
    "congelateur",
    "=food",
    "fridge",
    "freezer",
    "travaux",
    "programme*",
    "planned",
    "=works",
    "alerte*",
    "=alert",
    "=alerts",
    "=should",
    "disjoncteur",
    "breaker*",
    "indemnis*",
    "compensation",
)
READING_WORDS = (
    "releve",
    "releves",
    "relever",
    "=index",
    "reading",
    "readings",
    "=meter",
    "compteur",
    "=kwh",
)
READING_ACTION = (
    "transmettre",
    "transmet*",
    "envoyer",
    "=envoie",
    "donner",
    "=donne",
    "saisir",
    "=saisie",
    "communiquer",
    "declarer",
    "submit",
    "=send",
    "=enter",
    "=give",
    "=report",
    "=voici",
)
READING_FAQ = ("=lire", "=read", "estim*", "comprendre", "understand", "=comment", "=how")
EXTENSION_WORDS = (
    "=delai",
    "=delais",
    "reporter",
    "repousser",
    "decaler",
    "extension",
    "=extend",
    "postpone",
    "=delay",
)
EXTENSION_PHRASES = (
    "plus de temps",
    "report de paiement",
    "report d echeance",
    "reporter l echeance",
    "more time",
    "pay later",
    "payer plus tard",
    "payer en retard",
)
EXTENSION_FAQ = (
    "echeancier",
    "=plan",
    "=plans",
    "mensualis*",
    "=aide",
    "=aides",
    "assistance",
    "cheque",
    "instalment*",
    "installment*",
)
TICKET_WORDS = (
    "ticket",
    "tickets",
    "demande",
    "dossier",
    "reclamation",
    "=request",
    "=case",
    "=suivi",
    "suivre",
    "=track",
    "=status",
    "=statut",
    "avancement",
)
TICKET_PHRASES = (
    "ou en est",
    "ou en est ma demande",
    "suivre ma demande",
    "suivi de ma demande",
    "suivi de mon dossier",
    "my ticket",
    "my request",
    "track my",
)
GREETING_WORDS = (
    "bonjour",
    "bonsoir",
    "=salut",
    "coucou",
    "hello",
    "=hi",
    "=hey",
    "=allo",
    "=yo",
)
GREETING_PHRASES = ("good morning", "good afternoon", "good evening")
THANKS_WORDS = ("merci", "=thanks", "=thx", "=merciii", "=mci", "=ty", "remercie")
THANKS_PHRASES = ("thank you", "c est parfait", "c est bon", "super merci")
# Words that carry no request: a message made only of these (and greetings or thanks)
# is a greeting or a thank-you.
FILLER = frozenset(
    [
        "a",
        "le",
        "la",
        "les",
        "un",
        "une",
        "de",
        "du",
        "des",
        "et",
        "je",
        "j",
        "tu",
        "vous",
        "me",
        "moi",
        "mon",
        "ma",
        "mes",
        "beaucoup",
        "bien",
        "tres",
        "bonne",
        "journee",
        "soiree",
        "c",
        "est",
        "ca",
        "va",
        "au",
        "revoir",
        "ok",
        "okay",
        "you",
        "so",
        "much",
        "very",
        "all",
        "the",
        "and",
        "for",
        "your",
        "help",
        "aide",
        "madame",
        "monsieur",
        "please",
        "svp",
        "stp",
        "ai",
        "une",
        "question",
        "quelque",
        "chose",
        "besoin",
        "renseignement",
        "info",
        "infos",
        "i",
        "have",
        "need",
        "hi",
        "there",
        "everyone",
    ]
)
FAQ_QUESTION = ("=comment", "pourquoi", "=how", "=why", "=what", "expliquer", "comprendre")


def _any(words: list[str], keywords: tuple[str, ...]) -> bool:
    return any(_has_word(words, k) for k in keywords)


def _any_phrase(words: list[str], phrases: tuple[str, ...], window: int = 1) -> bool:
    return any(_has_phrase(words, p, window=window) for p in phrases)


def detect_intent(text: str) -> Intent:
    """The message's intent, its confidence (0-1) and its entities. A bare number is a
    meter reading only when the message is about a reading."""
    intent = _detect(text, extract_entities(text))
    if intent.name != SUBMIT_READING and "reading" in intent.entities:
        entities = {k: v for k, v in intent.entities.items() if k != "reading"}
        return Intent(intent.name, intent.confidence, entities)
    return intent


def _detect(text: str, entities: dict) -> Intent:
    words = fold(text).split()
    if mentions_safety(words):
        return Intent(SAFETY, 1.0, entities)
    if not words:
        return Intent(FAQ, 0.0, entities)

    if (
        _any(words, HUMAN_WORDS)
        or _any_phrase(words, HUMAN_PHRASES)
        or (_any(words, HUMAN_WEAK) and (_any(words, HUMAN_VERBS) or len(words) <= 3))
    ):
        return Intent(HUMAN, 0.95, entities)

    question = _any(words, FAQ_QUESTION)
    if "ticket" in entities:
        return Intent(TRACK_TICKET, 0.95, entities)
    if "invoice" in entities:
        if _any(words, EXTENSION_WORDS) or _any_phrase(words, EXTENSION_PHRASES):
            return Intent(PAYMENT_EXTENSION, 0.9, entities)
        return Intent(LAST_INVOICE, 0.95, entities)

    extension = _any(words, EXTENSION_WORDS) or _any_phrase(words, EXTENSION_PHRASES)
    if extension and not _any(words, EXTENSION_FAQ):
        # "un délai pour payer ma facture": the extension, not the invoice.
        return Intent(PAYMENT_EXTENSION, 0.85, entities)

    reading_words = _any(words, READING_WORDS)
    if reading_words and "reading" in entities:
        return Intent(SUBMIT_READING, 0.9, entities)
    if (
        reading_words
        and _any(words, READING_ACTION)
        and not _any(words, READING_FAQ)
        and (
            _any(words, ("releve", "=index", "reading", "readings", "relever"))
            or _any(words, ("=kwh",))
        )
    ):
        return Intent(SUBMIT_READING, 0.75, entities)

    if _any(words, BALANCE_WORDS) or _any_phrase(words, BALANCE_PHRASES, window=2):
        return Intent(BALANCE, 0.85, entities)

    if _any(words, INVOICE_WORDS):
        strong = _any(words, INVOICE_STRONG)
        if (strong or not question) and (strong or len(words) <= 4):
            return Intent(LAST_INVOICE, 0.8 if strong else 0.6, entities)

    if (
        (_any(words, OUTAGE_WORDS) or _any_phrase(words, OUTAGE_PHRASES))
        and not _any(words, OUTAGE_FAQ)
        and not _any(words, ("=comment", "=how", "pourquoi", "=why"))
    ):
        return Intent(OUTAGE_STATUS, 0.8, entities)

    if _any_phrase(words, TICKET_PHRASES, window=2) or (
        _any(words, ("=suivi", "suivre", "=track", "avancement", "=statut", "=status"))
        and _any(words, ("ticket", "tickets", "demande", "dossier", "=request", "=case"))
    ):
        return Intent(TRACK_TICKET, 0.75, entities)

    greeting = _any(words, GREETING_WORDS) or _any_phrase(words, GREETING_PHRASES, window=0)
    thanks = _any(words, THANKS_WORDS) or _any_phrase(words, THANKS_PHRASES, window=0)
    if greeting or thanks:
        rest = [
            w
            for w in words
            if w not in FILLER
            and not any(word_matches(w, k) for k in GREETING_WORDS + THANKS_WORDS)
            and w not in {"good", "morning", "afternoon", "evening", "thank", "parfait", "super"}
        ]
        if not rest:
            return Intent(THANKS if thanks else GREETING, 0.9, entities)

    return Intent(FAQ, 0.5, entities)


# --- Yes / no answers to the bot's questions ---------------------------------------------------

YES = frozenset(
    [
        "oui",
        "ouais",
        "yes",
        "yep",
        "yeah",
        "ok",
        "okay",
        "daccord",
        "parfait",
        "super",
        "exact",
        "exactement",
        "merci",
        "confirme",
        "confirmer",
        "valider",
    ]
)
NO = frozenset(["non", "no", "nope", "pas", "nan", "nah"])


def yes_or_no(text: str) -> bool | None:
    """True for a yes, False for a no, None for anything else (a new question)."""
    words = fold(text).split()
    if not words or len(words) > 4:
        return None
    if words[0] in NO or "pas" in words:
        return False
    if words[0] in YES or " ".join(words[:2]) in {"d accord", "tout a"}:
        return True
    return None
