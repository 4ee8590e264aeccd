"""Text analytics on ticket and chat messages, offline, in French and English
(docs/kpi-text.md).

Pure Python, standard library only (plus the project's own working-day calendar): no
Django, no I/O, no clock, no model download. Three detectors:

- *sentiment* of a customer's message: a lexicon score with negation, intensifiers and
  the usual customer phrasing about bills, outages and agents; a message scoring at or
  below ``NEGATIVE_THRESHOLD`` is negative;
- *callback promises* in an agent's message ("je vous rappelle demain", "I'll call you
  back within the hour"), with the deadline the words imply;
- *forbidden phrases* in an agent's message ("ce n'est pas mon problème", "calm down").

Everything matches on a *normalised* text: lower case, accents folded, English
contractions expanded, apostrophes, hyphens and punctuation turned into spaces — so
"Calmez-vous", "calmez vous" and "CALMEZ VOUS" are the same words, and a customer who
types without accents ("reponse", "a la fin") is read like one who does not.

The labelled sample shipped with the tests (tests/fixtures/kpi_text_sample.csv) measures
the detectors: :func:`parse_sample` and :func:`evaluate` are what both the test and the
``kpi_text_eval`` command run.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tickets.domain.calendar import BusinessCalendar, Window, add_working_days, public_holidays

PARIS = ZoneInfo("Europe/Paris")
FR, EN = "fr", "en"
LANGUAGES = (FR, EN)
# A message with as many French as English markers (or none: "OK", "12345") is French,
# the centre's main language.
DEFAULT_LANGUAGE = FR

# --- Thresholds ---------------------------------------------------------------------------

# A customer message is negative when its score is at or below this: one strong word
# ("inadmissible", -3), one plain one ("déçu", -2), or two mild ones together.
NEGATIVE_THRESHOLD = -2.0
# How many words after "pas", "not", "never"… a sentiment word is negated.
NEGATION_WINDOW = 3
# How many words after "très", "really"… a sentiment word is intensified.
INTENSIFIER_WINDOW = 2
INTENSIFIER_FACTOR = 1.5
# "pas content" is as negative as "mécontent"; "pas de problème" is mildly positive,
# not the opposite of a problem.
NEGATED_POSITIVE_FACTOR = -1.0
NEGATED_NEGATIVE_FACTOR = -0.5
# Thanks and polite words count half: a "merci" at the end of a complaint does not
# cancel "inadmissible".
POSITIVE_DAMPING = 0.5
# Each "!" (up to three) pushes a negative message further down.
EXCLAMATION_WEIGHT = 0.3
MAX_EXCLAMATIONS = 3
EVIDENCE_MAX_CHARS = 300


# --- Normalisation ------------------------------------------------------------------------

_CONTRACTIONS = (
    (re.compile(r"\bcan't\b"), "can not"),
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"'ll\b"), " will"),
    (re.compile(r"'re\b"), " are"),
    (re.compile(r"'ve\b"), " have"),
    (re.compile(r"'m\b"), " am"),
)
_WORD = re.compile(r"[a-z0-9]+")
_CLAUSE_BREAK = re.compile(r"[.!?;:,()\n\u2026\"«»]+")


def fold(text: str) -> str:
    """Lower case, accents removed, typographic apostrophes and ligatures made plain."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    text = text.lower().replace("œ", "oe").replace("æ", "ae")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _expanded(text: str) -> str:
    text = fold(text)
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return text


def words(text: str) -> list[str]:
    """The normalised words: "Ça m'a coûté 480 €, c'est inadmissible !" →
    ["ca", "m", "a", "coute", "480", "c", "est", "inadmissible"]."""
    return _WORD.findall(_expanded(text))


def normalise(text: str) -> str:
    """The normalised words joined by single spaces (what the phrase rules match)."""
    return " ".join(words(text))


def sentences(text: str) -> list[str]:
    """The original sentences (split after . ! ? ; and line breaks), stripped, non-empty."""
    return [s.strip() for s in re.split(r"(?<=[.!?;\n])\s+|\n+", text) if s.strip()]


# --- Language -----------------------------------------------------------------------------

# Frequent words of one language and not the other ("a", "on", "me", "en"… are left out:
# they are words in both).
_STOP_WORDS = {
    FR: frozenset(
        [
            "le",
            "la",
            "les",
            "l",
            "de",
            "des",
            "du",
            "d",
            "un",
            "une",
            "et",
            "est",
            "je",
            "j",
            "vous",
            "nous",
            "il",
            "elle",
            "ils",
            "elles",
            "ne",
            "n",
            "pas",
            "que",
            "qu",
            "qui",
            "pour",
            "par",
            "sur",
            "avec",
            "dans",
            "ce",
            "c",
            "cette",
            "ces",
            "mon",
            "ma",
            "mes",
            "votre",
            "vos",
            "notre",
            "nos",
            "au",
            "aux",
            "y",
            "ai",
            "ont",
            "suis",
            "sont",
            "etait",
            "merci",
            "bonjour",
            "bonsoir",
            "svp",
            "tres",
            "mais",
            "ou",
            "donc",
            "car",
            "plus",
            "depuis",
            "toujours",
            "jamais",
            "rien",
            "aucun",
            "aucune",
            "mois",
            "fois",
            "encore",
            "deja",
            "chez",
            "ca",
            "sa",
            "ses",
            "leur",
            "facture",
            "compteur",
            "coupure",
            "releve",
            "echeancier",
            "conseiller",
            "demain",
            "aujourd",
            "hui",
        ]
    ),
    EN: frozenset(
        [
            "the",
            "an",
            "and",
            "is",
            "are",
            "was",
            "were",
            "i",
            "you",
            "we",
            "he",
            "she",
            "it",
            "they",
            "not",
            "no",
            "to",
            "of",
            "for",
            "with",
            "at",
            "by",
            "my",
            "your",
            "our",
            "this",
            "that",
            "be",
            "been",
            "have",
            "has",
            "had",
            "will",
            "would",
            "can",
            "could",
            "do",
            "does",
            "did",
            "us",
            "please",
            "thanks",
            "thank",
            "hi",
            "hello",
            "am",
            "just",
            "from",
            "what",
            "when",
            "why",
            "how",
            "there",
            "their",
            "here",
            "any",
            "all",
            "still",
            "again",
            "bill",
            "meter",
            "outage",
            "reading",
            "payment",
            "plan",
            "tomorrow",
            "today",
        ]
    ),
}
_FRENCH_LETTERS = frozenset("éèêàâùûçîïôœ")


def detect_language(text: str) -> str:
    """ "fr" or "en", whichever has more of its markers: its frequent words, the words
    of its sentiment lexicon (so "really disappointed" is English), and, for French,
    half a point per accented letter (é, ç…). A tie is ``DEFAULT_LANGUAGE``."""
    counts: Counter[str] = Counter()
    for word in words(text):
        for language, stop in _STOP_WORDS.items():
            if word in stop or _starts_entry(word, language):
                counts[language] += 1
    counts[FR] += 0.5 * sum(1 for ch in text.lower() if ch in _FRENCH_LETTERS)
    if counts[EN] > counts[FR]:
        return EN
    return DEFAULT_LANGUAGE


# --- Sentiment ----------------------------------------------------------------------------

# Entries are word sequences; a trailing "*" on a word matches any ending ("mecontent*":
# mécontent, mécontente, mécontents). Longer entries win over shorter ones at the same
# place, and the words of a matched entry are not read again (so "pas terrible" is one
# negative entry, not "pas" negating "terrible").
_LEXICON: dict[str, dict[str, float]] = {
    FR: {
        # Strong: outrage, contempt, legal threats.
        "inadmiss*": -3,
        "inacceptab*": -3,
        "scandal*": -3,
        "honte": -3,
        "honteu*": -3,
        "lamentab*": -3,
        "deplorab*": -3,
        "catastroph*": -3,
        "horrible*": -3,
        "furieu*": -3,
        "degout*": -3,
        "arnaque*": -3,
        "escro*": -3,
        "voleur*": -3,
        "ras le bol": -3,
        "en ai marre": -3,
        "en a marre": -3,
        "marre": -2,
        "n importe quoi": -3,
        "vous moquez de": -3,
        "se moque de": -3,
        "foutez de": -3,
        "parler a un mur": -3,
        # Plain negatives.
        "mecontent*": -2,
        "decu": -2,
        "decue": -2,
        "decus": -2,
        "decues": -2,
        "decevant*": -2,
        "deception": -2,
        "nul": -2,
        "nulle": -2,
        "nuls": -2,
        "pire": -2,
        "pitoyable*": -2,
        "insupportable*": -2,
        "inadmissable": -3,
        "incompetent*": -2,
        "incompetence": -2,
        "desagreable*": -2,
        "impoli*": -2,
        "meprisant*": -2,
        "raccroche au nez": -2,
        "raccrocher au nez": -2,
        "agace*": -2,
        "enerve*": -2,
        "exaspere*": -2,
        "excede*": -2,
        "colere": -2,
        "en peux plus": -2,
        "plus possible": -2,
        "pas terrible": -2,
        "mal traite*": -2,
        "maltraite*": -2,
        "plainte": -2,
        "porter plainte": -3,
        "mediateur": -2,
        "avocat": -2,
        "abusi*": -2,
        "abus": -2,
        "trop cher": -2,
        "hors de prix": -2,
        "se fiche de": -2,
        "troisieme fois": -2,
        "quatrieme fois": -2,
        "cinquieme fois": -2,
        "enieme fois": -2,
        "nieme fois": -2,
        "3e fois": -2,
        "3eme fois": -2,
        "penible*": -2,
        "inutile*": -1.5,
        "impossible": -1.5,
        "toujours pas": -1.5,
        "toujours sans": -1.5,
        "aucune reponse": -1.5,
        "aucune information": -1.5,
        "aucune nouvelle*": -1.5,
        "lent*": -1,
        "plante": -1,
        "bug*": -1,
        "faux": -1,
        "fausse*": -1,
        "errone*": -1,
        "erreur*": -1,
        "probleme*": -1,
        "souci*": -1,
        "grave": -1,
        "retard*": -1,
        "inquiet*": -1,
        "plaindre": -1,
        "reclamation*": -1,
        "personne ne": -1,
        "encore une": -1,
        "jamais recu": -1,
        "jamais arrive*": -1,
        "jamais venu*": -1,
        "incomprehensible*": -1.5,
        "hors de moi": -3,
        "du vol": -3,
        "commence a bien faire": -3,
        "foutage de gueule": -3,
        "se fout de": -3,
        "ridicule*": -3,
        "desastre*": -3,
        "desastreu*": -3,
        "minable*": -3,
        "revoltant*": -3,
        "choquant*": -3,
        "indigne*": -3,
        "insultant*": -3,
        "manque de professionnalisme": -3,
        "manque de respect": -3,
        "manque de serieux": -2,
        "pas serieux": -2,
        "absurde*": -2,
        "mediocre*": -2,
        "pourri*": -2,
        "abuse*": -2,
        "galere*": -2,
        "injoignable*": -2,
        "choque*": -2,
        "revolte*": -2,
        "mepris": -2,
        "mise en demeure": -2,
        "tribunal": -2,
        "association de consommateurs": -2,
        "changer de fournisseur": -2,
        "vais resilier": -2,
        "personne ne repond": -2,
        "renvoye d un service a l autre": -2,
        "embetant*": -1.5,
        "sans resultat": -1.5,
        # "sans aucune réponse" stresses the lack, it does not undo it.
        "sans aucune reponse": -2,
        "sans aucun retour": -2,
        "sans aucune nouvelle*": -2,
        "sans nouvelle*": -1.5,
        "sans retour": -1.5,
        "rien recu": -1,
        "sans reponse": -1.5,
        "toujours rien": -1.5,
        "attends toujours": -1.5,
        "conteste*": -1.5,
        "m a promis": -1,
        "m avait promis": -1,
        "on m avait dit": -1,
        "personne n": -1,
        "relance*": -0.5,
        # Weight 0: phrases that intensify what follows instead of negating it ("je n'ai
        # jamais été aussi mal traité" is worse than "mal traité", not better).
        "jamais ete aussi": 0,
        "jamais ete si": 0,
        "jamais vu": 0,
        # Positives.
        "merci": 1,
        "remercie*": 1,
        "content*": 2,
        "satisfait*": 2,
        "ravi*": 2,
        "parfait*": 2,
        "super": 2,
        "excellent*": 2,
        "genial*": 2,
        "bravo": 2,
        "impeccable*": 2,
        "efficace*": 2,
        "aimable*": 2,
        "agreable*": 2,
        "normal": 2,
        "normale": 2,
        "acceptable": 2,
        "rien a redire": 2,
        "bon accueil": 2,
        "bien passe*": 1,
        "rapide*": 1,
        "rapidite": 1,
        "patient*": 1,
        "clair*": 1,
        "regle": 1,
        "resolu*": 1,
    },
    EN: {
        "ridiculous*": -3,
        "unacceptabl*": -3,
        "disgrace*": -3,
        "appall*": -3,
        "outrage*": -3,
        "scandal*": -3,
        "shocking*": -3,
        "terrible*": -3,
        "horrible*": -3,
        "awful*": -3,
        "worst": -3,
        "disgust*": -3,
        "last straw": -3,
        "beyond a joke": -3,
        "shambles": -3,
        "nightmare": -3,
        "fuming": -3,
        "sick to death": -3,
        "liar*": -3,
        "how hard can it be": -2.5,
        "how difficult can it be": -2.5,
        "formal complaint": -2.5,
        "hopeless": -2.5,
        "tired of": -2,
        "joke": -2,
        "ignored": -2,
        "ignoring": -2,
        "messed up": -2,
        "unbelievable": -2,
        "pointless": -2,
        "unreliable": -2,
        "misleading": -2,
        "lied": -2,
        "harass*": -2,
        "distress*": -2,
        "desperate*": -2,
        "switching supplier": -2,
        "switch supplier": -2,
        "keeps happening": -1.5,
        "still no": -1.5,
        "stress*": -1.5,
        "mess": -1.5,
        "please help": -1,
        "without any reply": -2,
        "without any response": -2,
        "without any answer": -2,
        "no reply": -1.5,
        "no response": -1.5,
        "again": -0.5,
        "pathetic": -3,
        "furious*": -3,
        "livid": -3,
        "a joke": -3,
        "fed up": -3,
        "sick of": -3,
        "sick and tired": -3,
        "rip off": -3,
        "ripoff": -3,
        "scam*": -3,
        "useless": -2,
        "incompetent*": -2,
        "rude*": -2,
        "hung up on": -2,
        "angry": -2,
        "annoy*": -2,
        "frustrat*": -2,
        "disappoint*": -2,
        "unhappy": -2,
        "upset": -2,
        "bad": -2,
        "badly": -1.5,
        "poor*": -1.5,
        "waste": -2,
        "third time": -2,
        "fourth time": -2,
        "fifth time": -2,
        "nth time": -2,
        "again and again": -2,
        "speak to a manager": -2,
        "money back": -2,
        "ombudsman": -2,
        "lawyer": -2,
        "complaint": -1.5,
        "complain": -1,
        "still waiting": -1.5,
        "no idea": -1,
        "not a single": -1,
        "nobody": -1,
        "no one": -1,
        "seriously": -1,
        "make no sense": -1.5,
        "makes no sense": -1.5,
        "wrong": -1,
        "crash*": -1,
        "problem*": -1,
        "issue*": -0.5,
        "worry": -1,
        "worries": -1,
        "fuss": -1,
        "cut off": -1,
        "overcharg*": -2,
        "never arrived": -1,
        "never turned up": -1,
        "never showed up": -1,
        "never been so": 0,
        "never been treated so": 0,
        "never seen such": 0,
        # Positives.
        "thanks": 1,
        "thank": 1,
        "great": 2,
        "brilliant": 2,
        "excellent": 2,
        "happy": 2,
        "satisfied": 2,
        "pleased": 2,
        "perfect*": 2,
        "helpful": 2,
        "good": 2,
        "acceptable": 2,
        "impressed": 2,
        "lovely": 2,
        "quick*": 1,
        "patient*": 1,
        "clearly": 1,
        "sorted": 1,
        "resolved": 1,
        "went well": 1,
    },
}
_NEGATORS = {
    FR: frozenset({"pas", "jamais", "aucun", "aucune", "sans", "ni", "guere"}),
    EN: frozenset({"not", "no", "never", "nothing", "without", "nor", "none", "hardly"}),
}
_INTENSIFIERS = {
    FR: frozenset(
        {
            "tres",
            "vraiment",
            "tellement",
            "trop",
            "completement",
            "totalement",
            "absolument",
            "extremement",
            "particulierement",
        }
    ),
    EN: frozenset(
        {
            "very",
            "really",
            "so",
            "absolutely",
            "completely",
            "totally",
            "extremely",
            "incredibly",
            "utterly",
            "truly",
        }
    ),
}


@dataclass(frozen=True)
class _Entry:
    words: tuple[str, ...]
    weight: float
    text: str


def _index(lexicon: dict[str, float]) -> dict[str, list[_Entry]]:
    by_first: dict[str, list[_Entry]] = {}
    for text, weight in lexicon.items():
        entry = _Entry(words=tuple(text.split()), weight=weight, text=text)
        first = entry.words[0]
        by_first.setdefault(first.rstrip("*") if first.endswith("*") else first, []).append(entry)
    for entries in by_first.values():
        entries.sort(key=lambda e: -len(e.words))
    return by_first


_INDEX = {language: _index(lexicon) for language, lexicon in _LEXICON.items()}
_PREFIX_KEYS = {
    language: sorted(
        (e.words[0][:-1] for entries in index.values() for e in entries if e.words[0][-1] == "*"),
        key=len,
        reverse=True,
    )
    for language, index in _INDEX.items()
}


def _starts_entry(word: str, language: str) -> bool:
    """Whether a lexicon entry of the language can start with this word."""
    return word in _INDEX[language] or any(word.startswith(p) for p in _PREFIX_KEYS[language])


def _word_matches(pattern: str, word: str) -> bool:
    return word.startswith(pattern[:-1]) if pattern.endswith("*") else word == pattern


def _entry_at(tokens: Sequence[str], i: int, language: str) -> _Entry | None:
    index = _INDEX[language]
    candidates = list(index.get(tokens[i], ()))
    candidates += [
        e for p in _PREFIX_KEYS[language] if tokens[i].startswith(p) for e in index.get(p, ())
    ]
    for entry in sorted(candidates, key=lambda e: -len(e.words)):
        n = len(entry.words)
        if i + n <= len(tokens) and all(
            _word_matches(p, w) for p, w in zip(entry.words, tokens[i : i + n], strict=True)
        ):
            return entry
    return None


@dataclass(frozen=True)
class Sentiment:
    """The message's score (negative below zero) and the words that made it, as read
    (a negated word is shown with its negation: "pas content")."""

    language: str
    score: float
    evidence: tuple[str, ...]

    @property
    def negative(self) -> bool:
        return self.score <= NEGATIVE_THRESHOLD


def _clause_score(tokens: list[str], language: str) -> tuple[float, float, list[str]]:
    negative = positive = 0.0
    evidence: list[str] = []
    negated_until = intensified_until = -1
    negator = ""
    i = 0
    while i < len(tokens):
        entry = _entry_at(tokens, i, language)
        if entry is None:
            word = tokens[i]
            if word in _NEGATORS[language]:
                negated_until, negator = i + NEGATION_WINDOW, word
            elif word in _INTENSIFIERS[language]:
                intensified_until = i + INTENSIFIER_WINDOW
            i += 1
            continue
        if entry.weight == 0:
            intensified_until = i + len(entry.words) - 1 + INTENSIFIER_WINDOW
            i += len(entry.words)
            continue
        weight = entry.weight
        shown = " ".join(tokens[i : i + len(entry.words)])
        if i <= intensified_until:
            weight *= INTENSIFIER_FACTOR
        if i <= negated_until:
            weight *= NEGATED_POSITIVE_FACTOR if weight > 0 else NEGATED_NEGATIVE_FACTOR
            shown = f"{negator} {shown}"
            negated_until = -1
        if weight < 0:
            negative += weight
            evidence.append(shown)
        else:
            positive += weight
        i += len(entry.words)
    return negative, positive, evidence


def sentiment(text: str, language: str | None = None) -> Sentiment:
    """Score = Σ negative weights + ``POSITIVE_DAMPING`` × Σ positive weights, clause by
    clause (a negation never reaches past a comma or a full stop), then up to three "!"
    push a negative score down by ``EXCLAMATION_WEIGHT`` each."""
    language = language or detect_language(text)
    negative = positive = 0.0
    evidence: list[str] = []
    for clause in _CLAUSE_BREAK.split(_expanded(text)):
        tokens = _WORD.findall(clause)
        if tokens:
            n, p, e = _clause_score(tokens, language)
            negative, positive = negative + n, positive + p
            evidence += e
    score = negative + POSITIVE_DAMPING * positive
    if score < 0:
        score -= EXCLAMATION_WEIGHT * min(text.count("!"), MAX_EXCLAMATIONS)
    return Sentiment(language=language, score=round(score, 3), evidence=tuple(evidence))


# --- Callback promises --------------------------------------------------------------------


class DeadlineKind:
    WITHIN = "within"  # a delay: "dans l'heure", "within 48 hours"
    TODAY = "today"  # end of the promise's Paris day
    TOMORROW = "tomorrow"  # end of the next Paris day
    DAY_AFTER_TOMORROW = "day_after_tomorrow"
    WEEKDAY = "weekday"  # end of the next such Paris day ("lundi", "on Thursday")
    DEFAULT = "default"  # +1 Paris working day, same wall-clock time


WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Deadline:
    kind: str
    # Minutes for WITHIN, the weekday (0 = Monday) for WEEKDAY.
    amount: int = 0

    @property
    def label(self) -> str:
        """The sample's spelling: hour, hours:48, minutes:30, today, tomorrow, monday…"""
        if self.kind == DeadlineKind.WITHIN:
            if self.amount == 60:
                return "hour"
            if self.amount % 60 == 0:
                return f"hours:{self.amount // 60}"
            return f"minutes:{self.amount}"
        if self.kind == DeadlineKind.WEEKDAY:
            return WEEKDAY_NAMES[self.amount]
        return self.kind


@dataclass(frozen=True)
class Promise:
    language: str
    # The words that make the promise, and the sentence they are in (original text).
    evidence: str
    sentence: str
    deadline: Deadline


_NUMBER_WORDS = {
    "un": 1,
    "une": 1,
    "deux": 2,
    "trois": 3,
    "quatre": 4,
    "cinq": 5,
    "six": 6,
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
}
_EMAIL_WORDS = re.compile(
    r"\b(?:e ?mail|mail|courriel|courrier|sms|texto|lettre|letter|post|text message|text)\b"
)

# Each rule: (compiled pattern, whether the sentence must not be about e-mail).
_FR_CALL_INF = r"(?:rapp?eler|re ?contacter|contacter|telephoner|appeler)"
_FR_CALL_FUT = r"(?:rapp?ell?e|re ?contacte|contacte|telephone|appell?e)(?:rai|ra|rons|ront)"
_FR_CALL_PRESENT = (
    r"(?:rapp?ell?e|rappelons|re ?contacte|recontactons|telephone|telephonons|appelle|appelons)"
)
_FR_PROMISE = [
    (re.compile(rf"(?<!\bne )\bvous {_FR_CALL_FUT}\b"), True),
    (re.compile(rf"\b(?:vais|va|allons|vont) vous {_FR_CALL_INF}\b"), True),
    (
        re.compile(
            r"\bvous (?:serez|allez etre|seriez) (?:bien )?"
            r"(?:rapp?elee?s?|re ?contactee?s?|contactee?s?|appelee?s?)\b"
        ),
        True,
    ),
    (
        re.compile(
            rf"\b(?:m engage|nous engageons|promets|promettons) (?:a|de) vous {_FR_CALL_INF}\b"
        ),
        True,
    ),
    (
        re.compile(
            r"\bvous (?:passe|passerai|passerons|passera|fais|ferai) un (?:petit )?"
            r"(?:coup de fil|coup de telephone|appel)\b"
        ),
        False,
    ),
    (re.compile(r"\b(?:vais|va|allons) vous passer un (?:petit )?(?:coup de fil|appel)\b"), False),
    (
        re.compile(
            r"\b(?:prendra|prendrai|prendrons|prendront|va prendre|vais prendre|allons prendre)"
            r" contact avec vous\b"
        ),
        True,
    ),
    (
        re.compile(r"\bon se (?:rappelle|rappellera|telephone|recontacte|recontactera|appelle)\b"),
        False,
    ),
    (
        re.compile(
            r"\b(?:un )?rappel (?:est|a ete|sera) (?:programme|prevu|planifie|fixe)"
            r"|\b(?:programme|planifie|prevois|prevoyons) un rappel\b"
        ),
        False,
    ),
    (
        re.compile(
            r"\bvous (?:tiens|tiendrai|tiendrons|tenons) (?:informee?s?|au courant)"
            r" par (?:telephone|tel)\b"
        ),
        False,
    ),
]
# "je vous rappelle" is a promise, unless it is "je vous rappelle que…" (I remind you).
_FR_PRESENT = re.compile(rf"\b(?:je|j|nous|on) vous ({_FR_CALL_PRESENT})\b(?: (\w+))?(?: (\w+))?")
_FR_REMIND_OBJECTS = frozenset(
    [
        "que",
        "qu",
        "les",
        "le",
        "la",
        "l",
        "votre",
        "vos",
        "notre",
        "nos",
        "mon",
        "ma",
        "mes",
        "son",
        "sa",
        "ses",
        "leur",
        "leurs",
        "un",
        "une",
        "cette",
        "ces",
        "egalement",
        "aussi",
        "au",
        "a",
    ]
)
_FR_COMEBACK = re.compile(r"\b(?:reviens|reviendrai|revenons|reviendrons|reviendra) vers vous\b")
_FR_BY_PHONE = re.compile(r"\b(?:par telephone|par tel|par un appel|telephoniquement)\b")

_EN_CALL = r"(?:call|calling|ring|ringing|phone|phoning|telephone|contact|contacting)"
_EN_PROMISE = [
    (
        re.compile(
            r"\b(?:will|shall|ill|gonna|going to)((?: (?!not\b|never\b)\w+){0,2}?) "
            rf"{_EN_CALL} you\b"
        ),
        True,
    ),
    (
        re.compile(
            r"\b(?:will|ill|going to)(?: \w+)? (?:give|make) you a (?:quick )?(?:call|ring|bell)\b"
        ),
        False,
    ),
    (
        re.compile(
            r"\byou (?:will|are going to) (?:\w+ )?(?:get|receive|have) a "
            r"(?:quick )?(?:phone call|call back|callback|call|ring)\b"
        ),
        False,
    ),
    (re.compile(r"\byou will be (?:called|contacted|phoned|rung)\b"), True),
    (re.compile(rf"\b(?:promise|undertake|commit) to {_EN_CALL} you\b"), True),
    (re.compile(r"\bexpect (?:a|our) (?:phone )?call\b"), False),
    (
        re.compile(
            r"\bmake sure (?:someone|somebody|an? \w+|the \w+|they|he|she)"
            r" (?:calls|rings|phones) you\b"
        ),
        False,
    ),
    (
        re.compile(
            r"\b(?:will|ill|shall|going to) (?:\w+ )?(?:update|inform|contact|call|ring)(?: you)?"
            r" (?:by|over the|on the) (?:phone|telephone)\b"
        ),
        False,
    ),
]
_EN_COMEBACK = re.compile(
    r"\b(?:will|ill|shall|going to)(?: \w+)? (?:get back to you|be in touch|get in touch"
    r"|hear from (?:me|us))\b|\byou will hear from (?:me|us)\b"
)
_EN_BY_PHONE = re.compile(r"\b(?:by phone|by telephone|on the phone|over the phone|by call)\b")

_DEADLINES_WITHIN = [
    (re.compile(r"\b(?:dans l heure|within the hour|in the next hour)\b"), 60),
    (re.compile(r"\b(?:une demi heure|half an hour|half hour)\b"), 30),
]
_WITHIN_AMOUNT = re.compile(
    r"\b(?:dans|d ici|sous|en moins de|within|in|in about|in around)(?: les| the next| about| environ)?"
    r" (\d+|une?|deux|trois|quatre|cinq|six|a|an|one|two|three|four|five)"
    r" ?(h|heures?|hrs?|hours?|min|minutes?|mn|jours?|days?)\b"
)
_DEADLINE_TODAY = re.compile(
    r"\b(?:aujourd hui|dans la journee|cet apres midi|ce soir|dans la soiree|ce matin"
    r"|tout a l heure|(?:en|d ici la) (?:fin|debut) (?:de|d) (?:journee|matinee|soiree|apres midi)"
    r"|dans la matinee|dans l apres midi|d ici ce soir|avant (?:\d+ ?h\w*|midi|ce soir)"
    r"|today|tonight|this afternoon|this evening|this morning|end of the day"
    r"|close of business|later on|(?:by|before) (?:\d+ ?(?:am|pm)|noon|midday|lunchtime))\b"
)
_DEADLINE_DAY_AFTER = re.compile(r"\b(?:apres demain|day after tomorrow)\b")
_DEADLINE_TOMORROW = re.compile(r"\b(?:demain|tomorrow|tommorow|tommorrow|tomorow|tmrw|tmr)\b")
_WEEKDAYS = {
    **{
        n: i
        for i, n in enumerate(
            ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
        )
    },
    **{n: i for i, n in enumerate(WEEKDAY_NAMES)},
}
_DEADLINE_WEEKDAY = re.compile(r"\b(" + "|".join(_WEEKDAYS) + r")\b")


def deadline_of(normalised_sentence: str) -> Deadline:
    """The deadline a promise's sentence states: a delay in minutes, hours or days
    first, then the day after tomorrow, tomorrow, a weekday (so "demain avant 10h" is
    tomorrow), then today or a time of today ("cet après-midi", "avant 17h", "by 5pm");
    none of them is ``DEFAULT``."""
    s = normalised_sentence
    for pattern, minutes in _DEADLINES_WITHIN:
        if pattern.search(s):
            return Deadline(DeadlineKind.WITHIN, minutes)
    match = _WITHIN_AMOUNT.search(s)
    if match:
        number, unit = match.groups()
        n = int(number) if number.isdigit() else _NUMBER_WORDS[number]
        if n > 0:
            minutes = n * (1 if unit.startswith("m") else 1440 if unit[0] in "jd" else 60)
            return Deadline(DeadlineKind.WITHIN, minutes)
    if _DEADLINE_DAY_AFTER.search(s):
        return Deadline(DeadlineKind.DAY_AFTER_TOMORROW)
    if _DEADLINE_TOMORROW.search(s):
        return Deadline(DeadlineKind.TOMORROW)
    match = _DEADLINE_WEEKDAY.search(s)
    if match:
        return Deadline(DeadlineKind.WEEKDAY, _WEEKDAYS[match.group(1)])
    if _DEADLINE_TODAY.search(s):
        return Deadline(DeadlineKind.TODAY)
    return Deadline(DeadlineKind.DEFAULT)


# "nous vous rappellerons si nous avons besoin…": a call that may never be needed is not
# a promise to the customer.
_IF_NEEDED = re.compile(
    r"\b(?:si (?:nous avons|on a|j ai) besoin|si besoin|au besoin|si necessaire"
    r"|en cas de besoin|if (?:we|i) need|if needed|if necessary|should we need)\b"
)


_THEN_NEGATED = re.compile(r" (?:pas|jamais|plus|point)\b")


def _promise_in(normalised: str) -> str | None:
    """The promising words of one normalised sentence, or None."""
    if _IF_NEEDED.search(normalised):
        return None
    found = _promise_words(normalised)
    if found is None:
        return None
    words_, end = found
    # Spoken French drops the "ne": "je vous rappellerai pas".
    if _THEN_NEGATED.match(normalised, end):
        return None
    return words_


def _promise_words(normalised: str) -> tuple[str, int] | None:
    """The promising words and where they end, or None."""
    about_email = bool(_EMAIL_WORDS.search(normalised))
    for pattern, email_excludes in _FR_PROMISE + _EN_PROMISE:
        match = pattern.search(normalised)
        if match and not (email_excludes and about_email):
            return match.group(0), match.end()
    for match in _FR_PRESENT.finditer(normalised):
        following, after = match.group(2), match.group(3)
        if following in _FR_REMIND_OBJECTS:
            continue
        # "dès que" folds to "des que"; "des" before anything else is an article.
        if following == "des" and after not in ("que", "qu"):
            continue
        if following == "ce" and after in ("que", "qu", "dont"):
            continue
        if match.group(1).startswith(("contacte", "recontacte", "re contacte")) and about_email:
            continue
        return " ".join(match.group(0).split()[:3]), match.end(1)
    for comeback, by_phone in ((_FR_COMEBACK, _FR_BY_PHONE), (_EN_COMEBACK, _EN_BY_PHONE)):
        match = comeback.search(normalised)
        if match and by_phone.search(normalised):
            return match.group(0), match.end()
    return None


def find_callback_promise(text: str, language: str | None = None) -> Promise | None:
    """The first sentence in which the writer promises to call the customer, with its
    deadline. Questions ("voulez-vous que je vous rappelle ?") are offers, not
    promises. Both languages' rules are tried: the phrases cannot be mistaken for each
    other, and a short message in the wrong language still counts."""
    language = language or detect_language(text)
    for sentence in sentences(text):
        if sentence.rstrip().endswith("?"):
            continue
        normalised = normalise(sentence)
        evidence = _promise_in(normalised)
        if evidence is not None:
            return Promise(
                language=language,
                evidence=evidence,
                sentence=sentence,
                deadline=deadline_of(normalised),
            )
    return None


def _end_of_day(day: date) -> datetime:
    """Midnight at the end of a Paris day (it always exists: the clocks change at 2 or
    3 a.m.), in UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=PARIS).astimezone(UTC)


def working_day_calendar(years: Iterable[int]) -> BusinessCalendar:
    """Paris working days: Monday to Friday, French public holidays closed (the hours
    do not matter to a count of days)."""
    weekday = (Window(time(0), time(0)),)
    return BusinessCalendar(
        tz="Europe/Paris",
        windows=dict.fromkeys(range(5), weekday),
        closed_dates=public_holidays("FR", years),
    )


def callback_due_at(promised_at: datetime, deadline: Deadline) -> datetime:
    """When the promised call is due (UTC). Day deadlines end at the Paris midnight
    closing the day, so a day of 23 or 25 hours (DST) is counted as it is; delays are
    real time."""
    if promised_at.tzinfo is None:
        raise ValueError("promised_at must be timezone-aware")
    local_day = promised_at.astimezone(PARIS).date()
    if deadline.kind == DeadlineKind.WITHIN:
        # In UTC: Python adds a timedelta to a zoned datetime on the wall clock, which
        # would make "within the hour" last two hours across the autumn change.
        return promised_at.astimezone(UTC) + timedelta(minutes=deadline.amount)
    if deadline.kind == DeadlineKind.TODAY:
        return _end_of_day(local_day)
    if deadline.kind == DeadlineKind.TOMORROW:
        return _end_of_day(local_day + timedelta(days=1))
    if deadline.kind == DeadlineKind.DAY_AFTER_TOMORROW:
        return _end_of_day(local_day + timedelta(days=2))
    if deadline.kind == DeadlineKind.WEEKDAY:
        ahead = (deadline.amount - local_day.weekday() - 1) % 7 + 1
        return _end_of_day(local_day + timedelta(days=ahead))
    calendar = working_day_calendar({local_day.year, local_day.year + 1})
    return add_working_days(calendar, promised_at, 1)


# --- Forbidden phrases --------------------------------------------------------------------

FORBIDDEN_PHRASES: dict[str, tuple[str, ...]] = {
    # Documented in docs/kpi-text.md; each is a regular expression on the normalised
    # text (accents folded, apostrophes and hyphens as spaces).
    FR: (
        r"\bpas (?:mon|notre) (?:probleme|souci|affaire|travail|boulot|role|metier|rayon)\b",
        r"\bc est votre probleme\b",
        r"\bca ne (?:nous|me) (?:concerne|regarde) pas\b",
        r"\bc est a vous de voir\b",
        r"\binutile de (?:vous enerver|crier|insister)\b",
        r"\bbaissez d un ton\b",
        r"\bje n ai pas que ca a faire\b",
        r"\bvous n avez qu a\b",
        r"\bil fallait (?:lire|relire|faire attention)\b",
        r"\bpas (?:de|du) (?:mon|notre) ressort\b",
        r"\bcalmez vous\b",
        r"\bcalme toi\b",
        r"\bdu calme\b",
        r"\b(?:peux|peut|pouvons) rien (?:faire|y faire|pour vous)\b",
        r"\brien (?:que|qu) (?:je|nous|on) (?:puisse|puissions) faire\b",
        r"\by (?:peux|peut|pouvons) rien\b",
        r"\bdebrouillez vous\b",
        r"\bvous n? ?aviez qu a\b",
        r"\bpas (?:ma|notre) faute\b",
        r"\barretez de (?:crier|hurler|vous enerver|m interrompre)\b",
        r"\bne criez pas\b",
        r"\bvous ne comprenez rien\b",
    ),
    EN: (
        r"\bnot (?:my|our) (?:problem|issue|job|department|fault|concern)\b",
        r"\bcalm down\b",
        r"\bnothing (?:more )?(?:i|we) can (?:do|say)\b",
        r"\bcan not do anything (?:more |else )?for you\b",
        r"\b(?:that s|that is|it s|it is) (?:all )?your (?:own )?(?:problem|fault)\b",
        r"\bit is what it is\b",
        r"\bnot my responsibility\b",
        r"\bdo not have time for this\b",
        r"\byou are not listening\b",
        r"\blower your voice\b",
        r"\btake it or leave it\b",
        r"^whatever$",
        r"\b(?:i|we) can not help you\b",
        r"\byou should have (?:read|checked|known|listened)\b",
        r"\bstop (?:shouting|yelling|screaming|interrupting)\b",
        r"\bdo not shout\b",
        r"\bthat s (?:just )?(?:how|the way) it is\b",
        r"\bdeal with it\b",
    ),
}
_FORBIDDEN = [re.compile(p) for patterns in FORBIDDEN_PHRASES.values() for p in patterns]


def find_forbidden_phrases(text: str) -> tuple[str, ...]:
    """The forbidden phrases in the text, as matched (normalised), in order, both
    languages' lists."""
    found = []
    # Clause by clause, so a rule may span a clause exactly ("Whatever, I've logged
    # it" but not "whatever time suits you").
    for n, clause in enumerate(_CLAUSE_BREAK.split(_expanded(text))):
        normalised = " ".join(_WORD.findall(clause))
        for pattern in _FORBIDDEN:
            found += [(n, m.start(), m.group(0)) for m in pattern.finditer(normalised)]
    return tuple(phrase for _, _, phrase in sorted(found))


# --- Evidence -----------------------------------------------------------------------------


def excerpt(text: str, terms: Sequence[str], limit: int = EVIDENCE_MAX_CHARS) -> str:
    """The first sentence holding one of ``terms`` (normalised), then the terms:
    « … » — a, b; cut to ``limit`` characters."""
    chosen = next(
        (s for s in sentences(text) if any(t and t in normalise(s) for t in terms)),
        " ".join(text.split()),
    )
    chosen = " ".join(chosen.split())
    tail = f" — {', '.join(dict.fromkeys(terms))}" if terms else ""
    room = max(limit - len(tail) - 4, 20)
    if len(chosen) > room:
        chosen = chosen[: room - 1].rstrip() + "…"
    return f"«{chosen}»{tail}"[:limit]


# --- The labelled sample ------------------------------------------------------------------

NEGATIVE, CALLBACK, FORBIDDEN, NONE = "negative", "callback", "forbidden", "none"
DETECTORS = (NEGATIVE, CALLBACK, FORBIDDEN)
CUSTOMER, AGENT = "customer", "agent"
# The scan reads sentiment in customers' messages and compliance in agents'.
DETECTOR_ROLE = {NEGATIVE: CUSTOMER, CALLBACK: AGENT, FORBIDDEN: AGENT}
SAMPLE_COLUMNS = ("language", "role", "text", "labels", "deadline", "split")


class SampleError(ValueError):
    pass


@dataclass(frozen=True)
class Sample:
    language: str
    role: str
    text: str
    labels: frozenset[str]
    deadline: str = ""
    split: str = ""


def parse_sample(lines: Iterable[str]) -> list[Sample]:
    """Rows of the labelled CSV: language (fr/en), role (customer/agent), text, labels
    ("none" or detectors joined by "|"), deadline (for callbacks: the expected
    ``Deadline.label``), split (free text, e.g. dev/holdout). Raises SampleError with
    the line number on a bad row."""
    reader = csv.DictReader(lines)
    missing = set(SAMPLE_COLUMNS[:4]) - set(reader.fieldnames or ())
    if missing:
        raise SampleError(f"missing columns: {', '.join(sorted(missing))}")
    rows = []
    for row in reader:
        line = reader.line_num
        labels = frozenset(x.strip() for x in (row["labels"] or "").split("|") if x.strip())
        if row["language"] not in LANGUAGES:
            raise SampleError(f"line {line}: language must be fr or en")
        if row["role"] not in (CUSTOMER, AGENT):
            raise SampleError(f"line {line}: role must be customer or agent")
        if not labels or labels - {*DETECTORS, NONE} or (NONE in labels and len(labels) > 1):
            raise SampleError(f"line {line}: labels must be none or {'|'.join(DETECTORS)}")
        if not (row["text"] or "").strip():
            raise SampleError(f"line {line}: empty text")
        rows.append(
            Sample(
                language=row["language"],
                role=row["role"],
                text=row["text"],
                labels=labels - {NONE},
                deadline=(row.get("deadline") or "").strip(),
                split=(row.get("split") or "").strip(),
            )
        )
    return rows


@dataclass(frozen=True)
class Analysis:
    language: str
    labels: frozenset[str]
    sentiment: Sentiment | None = None
    promise: Promise | None = None
    forbidden: tuple[str, ...] = ()


def analyse(text: str, role: str) -> Analysis:
    """What the scan would find in one message: sentiment for a customer's, promises
    and forbidden phrases for an agent's."""
    language = detect_language(text)
    if role == CUSTOMER:
        mood = sentiment(text, language)
        return Analysis(
            language=language,
            labels=frozenset({NEGATIVE} if mood.negative else ()),
            sentiment=mood,
        )
    promise = find_callback_promise(text, language)
    forbidden = find_forbidden_phrases(text)
    labels = {CALLBACK} if promise else set()
    if forbidden:
        labels.add(FORBIDDEN)
    return Analysis(
        language=language,
        labels=frozenset(labels),
        promise=promise,
        forbidden=forbidden,
    )


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def precision(self) -> float | None:
        """None when the detector flagged nothing (precision is undefined)."""
        flagged = self.tp + self.fp
        return self.tp / flagged if flagged else None

    @property
    def recall(self) -> float | None:
        expected = self.tp + self.fn
        return self.tp / expected if expected else None

    def add(self, other: Counts) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.tn += other.tn


@dataclass
class Mistake:
    detector: str
    kind: str  # "false positive" or "false negative"
    sample: Sample
    analysis: Analysis


@dataclass
class Evaluation:
    counts: dict[tuple[str, str], Counts] = field(default_factory=dict)
    language_right: int = 0
    language_total: int = 0
    deadline_right: int = 0
    deadline_total: int = 0
    mistakes: list[Mistake] = field(default_factory=list)

    def overall(self, detector: str) -> Counts:
        total = Counts()
        for (d, _), c in self.counts.items():
            if d == detector:
                total.add(c)
        return total

    @property
    def language_accuracy(self) -> float | None:
        return self.language_right / self.language_total if self.language_total else None

    @property
    def deadline_accuracy(self) -> float | None:
        return self.deadline_right / self.deadline_total if self.deadline_total else None


def evaluate(samples: Iterable[Sample]) -> Evaluation:
    """Precision and recall of each detector per language, on the messages of the role
    it reads (a customer's message is never counted for the compliance detectors). The
    deadline is scored on the callbacks found that were expected, against the sample's
    deadline column."""
    result = Evaluation(
        counts={(d, lang): Counts() for d in DETECTORS for lang in LANGUAGES},
    )
    for sample in samples:
        analysis = analyse(sample.text, sample.role)
        result.language_total += 1
        result.language_right += analysis.language == sample.language
        for detector in DETECTORS:
            if DETECTOR_ROLE[detector] != sample.role:
                continue
            counts = result.counts[(detector, sample.language)]
            expected, found = detector in sample.labels, detector in analysis.labels
            if expected and found:
                counts.tp += 1
            elif found:
                counts.fp += 1
                result.mistakes.append(Mistake(detector, "false positive", sample, analysis))
            elif expected:
                counts.fn += 1
                result.mistakes.append(Mistake(detector, "false negative", sample, analysis))
            else:
                counts.tn += 1
        if CALLBACK in sample.labels and analysis.promise and sample.deadline:
            result.deadline_total += 1
            result.deadline_right += analysis.promise.deadline.label == sample.deadline
    return result
