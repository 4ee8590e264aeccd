"""Routing: which queue, priority and urgency a new contact gets. Pure rules."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

CATEGORY_QUEUE = {
    "BILL_QUERY": "BILLING",
    "BILL_DISPUTE": "BILLING",
    "PAYMENT": "BILLING",
    "METER_READING": "METERING",
    "METER_FAULT": "METERING",
    "OUTAGE": "OUTAGE",
    "SAFETY": "OUTAGE",
    "STREETLIGHT": "OUTAGE",
    "MOVE": "GENERAL",
    "TARIFF": "GENERAL",
    "CONTRACT": "COMMERCIAL",
    "COMPLAINT": "COMPLAINTS",
    "OTHER": "GENERAL",
}
PRIORITY_RANK = {"LOW": 10, "NORMAL": 20, "HIGH": 30, "URGENT": 40}
SAFETY_WORDS = (
    "fumee",
    "etincelle",
    "bourdonn",
    "cable tombe",
    "fil tombe",
    "brule",
    "incendie",
    "feu",
    "smoke",
    "spark",
    "humming",
    "fallen line",
    "fire",
    "electrocut",
)
DISSATISFACTION_WORDS = (
    "reclamation",
    "inadmissible",
    "scandale",
    "mecontent",
    "plainte",
    "mediateur",
    "complaint",
    "unacceptable",
    "disgrace",
    "ombudsman",
)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def mentions_safety(text: str) -> bool:
    folded = _fold(text)
    return any(word in folded for word in SAFETY_WORDS)


def expresses_dissatisfaction(text: str) -> bool:
    folded = _fold(text)
    return any(word in folded for word in DISSATISFACTION_WORDS)


@dataclass(frozen=True)
class Route:
    queue: str
    priority: str
    urgency_rank: int
    safety_critical: bool
    complaint: bool


def route(
    *,
    category: str,
    text: str,
    sla_package: str | None,
    priority_register: bool,
    declared_safety: bool = False,
) -> Route:
    """Safety first; then ENTERPRISE accounts and priority-register customers."""
    safety = declared_safety or category == "SAFETY" or mentions_safety(text)
    complaint = category == "COMPLAINT" or expresses_dissatisfaction(text)
    queue = CATEGORY_QUEUE.get(category, "GENERAL")
    if safety:
        queue, priority = "OUTAGE", "URGENT"
    elif sla_package == "ENTERPRISE":
        queue = "COMMERCIAL" if queue == "GENERAL" else queue
        priority = "HIGH"
    elif priority_register or complaint:
        priority = "HIGH"
    else:
        priority = "NORMAL"
    rank = PRIORITY_RANK[priority] + (5 if safety else 0) + (2 if priority_register else 0)
    return Route(queue, priority, rank, safety, complaint)
