"""Demo KPI data: thirteen months of contacts of a realistic contact centre (docs/kpi-demo.md).

About 1,200 contacts on a weekday (Monday the busiest; Saturday about a third, Sunday about
a sixth), phone and chat open 08:00–20:00 on weekdays and 09:00–13:00 on Saturdays, the
outage line, the chatbot and the written channels around the clock. Waits, handle times,
abandons, first-contact resolution, repeat contacts and surveys follow simple queueing and
satisfaction models; two bad spells make their months miss targets: the February price
change (billing floods in, calls get longer) and a November storm (the outage line
saturates, e-mails wait, satisfaction drops).

Everything is drawn from a `random.Random` seeded by the day, so a day always gives the same
rows. Contacts carry `external_id` "demo-<origin day>-<n>" and are inserted in bulk
(COPY into a temporary table, then `INSERT … ON CONFLICT DO NOTHING`): a day already loaded
is skipped, and a second run adds nothing. The snapshots of the days and months loaded are
then built by the real services (kpi.services.snapshots), so the dashboard opens on twelve
months of trends.
"""

from __future__ import annotations

import bisect
import io
import itertools
import math
import random
import time as timer
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction

from accounts.models import Role, User
from tickets.domain.calendar import public_holidays
from tickets.models import Contact

from .domain import metrics, quality
from .models import KpiSnapshot, QaReview, SnapshotDimension, SnapshotKind
from .selectors import qa_checklist_active
from .services import snapshots
from .services.quality import qa_review_submit

PARIS = ZoneInfo("Europe/Paris")
PER_DAY = 1200  # contacts on an average weekday, repeats and retries included
MONTHS = 13  # the current month and the twelve before it
PREFIX = "demo-"
TICKET_PREFIX = "DEMO-"
CUSTOMERS = 400_000
# Days whose DAY snapshots the demo builds (with the current month's): a day takes about
# 0.15 s, so the whole range would double the demo's time; months are always built.
RECENT_DAYS = 35
# A share of each day's volume is left for the repeat contacts and retries it spawns.
FIRST_TIME_SHARE = 0.9

FIRST_NAMES = (
    "Camille", "Léa", "Hugo", "Chloé", "Nicolas", "Emma", "Antoine", "Sarah", "Julien",
    "Manon", "Maxime", "Laura", "Romain", "Pauline", "Alexandre", "Marion", "Thomas",
    "Julie", "Guillaume", "Anaïs", "Mathieu", "Céline", "Quentin", "Élodie", "Kevin",
    "Margaux", "Florian", "Justine", "Adrien", "Mélanie", "Benjamin", "Clara", "Yanis",
    "Aurélie", "Sofiane", "Océane", "Damien", "Lucie", "Mehdi", "Gaëlle",
)  # fmt: skip
LAST_NAMES = (
    "Durand", "Lambert", "Fontaine", "Rousseau", "Vincent", "Muller", "Lefebvre", "Faure",
    "André", "Mercier", "Blanc", "Guerin", "Boyer", "Garnier", "Chevalier", "François",
    "Legrand", "Gauthier", "Perrin", "Robin", "Clément", "Morin", "Nicolas", "Henry",
    "Roussel", "Mathieu", "Gautier", "Masson", "Marchand", "Duval", "Denis", "Dumont",
    "Marie", "Lemaire", "Noël", "Meyer", "Dufour", "Meunier", "Brun", "Blanchard",
)  # fmt: skip
SUPERVISORS = (("Hélène", "Carpentier"), ("Olivier", "Barbier"))

# Each agent's home queue (40 agents): they take most of its contacts, and overflow.
AGENT_QUEUES = (
    ("BILLING", 14),
    ("METERING", 6),
    ("OUTAGE", 6),
    ("COMMERCIAL", 3),
    ("COMPLAINTS", 2),
    ("GENERAL", 9),
)
AGENTS = sum(n for _, n in AGENT_QUEUES)

# --- Shapes ------------------------------------------------------------------------------

# Weight of each local wall-clock hour (absent: closed).
OFFICE = {
    8: 0.75, 9: 1.15, 10: 1.4, 11: 1.3, 12: 0.85, 13: 0.8,
    14: 1.2, 15: 1.15, 16: 1.0, 17: 0.9, 18: 0.7, 19: 0.45,
}  # fmt: skip
OFFICE_SATURDAY = {9: 1.0, 10: 1.25, 11: 1.15, 12: 0.8}
EMERGENCY = dict(
    enumerate(
        (0.25, 0.15, 0.1, 0.1, 0.1, 0.15, 0.3, 0.6, 0.9, 1.0, 1.0, 1.0,
         0.9, 0.9, 1.0, 1.0, 1.0, 1.1, 1.3, 1.35, 1.2, 0.9, 0.6, 0.4)
    )
)  # fmt: skip
WRITTEN = dict(
    enumerate(
        (0.15, 0.08, 0.05, 0.05, 0.05, 0.1, 0.3, 0.6, 1.0, 1.3, 1.35, 1.25,
         1.0, 1.0, 1.2, 1.15, 1.05, 1.0, 1.0, 1.05, 1.0, 0.8, 0.55, 0.3)
    )
)  # fmt: skip
SOCIAL = dict.fromkeys(range(7, 22), 1.0)
SOCIAL_WEEKEND = dict.fromkeys(range(8, 21), 1.0)

# How hard the queues are pushed, by hour (office hours; the outage line is flat).
HOUR_PRESSURE = {
    8: 0.8, 9: 1.0, 10: 1.2, 11: 1.12, 12: 0.9, 13: 0.85,
    14: 1.08, 15: 1.05, 16: 0.95, 17: 0.9, 18: 0.85, 19: 0.8,
}  # fmt: skip
# Monday .. Sunday: volume (weekdays average 1) and pressure (Saturday runs short-staffed).
DAY_VOLUME = (1.22, 1.03, 0.98, 0.95, 0.82)
DAY_PRESSURE = (1.3, 1.04, 1.0, 0.96, 0.92, 1.1, 1.0)
# January .. December.
SEASON = (1.08, 1.04, 1.02, 0.98, 0.96, 0.97, 0.92, 0.85, 1.05, 1.02, 1.03, 0.95)

QUEUE_MIX = {
    "phone": {"BILLING": 45, "METERING": 17, "COMMERCIAL": 10, "COMPLAINTS": 5, "GENERAL": 23},
    "outage": {"OUTAGE": 100},
    "written": {
        "BILLING": 42, "METERING": 17, "OUTAGE": 5, "COMMERCIAL": 8, "COMPLAINTS": 9,
        "GENERAL": 19,
    },
    "bot": {"BILLING": 45, "METERING": 20, "OUTAGE": 10, "GENERAL": 25},
}  # fmt: skip
ISSUES = {
    "BILLING": (("BILL_QUERY", 60), ("PAYMENT", 25), ("BILL_DISPUTE", 15)),
    "METERING": (("METER_READING", 70), ("METER_FAULT", 30)),
    "OUTAGE": (("OUTAGE", 92), ("STREETLIGHT", 5), ("SAFETY", 3)),
    "COMMERCIAL": (("CONTRACT", 100),),
    "COMPLAINTS": (("COMPLAINT", 100),),
    "GENERAL": (("MOVE", 45), ("TARIFF", 35), ("OTHER", 20)),
}
SUBJECTS = {
    "BILL_QUERY": "Question sur une facture",
    "PAYMENT": "Paiement, échéancier",
    "BILL_DISPUTE": "Contestation de facture",
    "METER_READING": "Relevé de compteur",
    "METER_FAULT": "Compteur en panne",
    "OUTAGE": "Coupure de courant",
    "STREETLIGHT": "Éclairage public",
    "SAFETY": "Sécurité",
    "CONTRACT": "Contrat professionnel",
    "COMPLAINT": "Réclamation",
    "MOVE": "Déménagement",
    "TARIFF": "Offre et tarif",
    "OTHER": "Autre demande",
}
# Chance that a first contact is resolved there and then, per queue.
FCR = {
    "BILLING": 0.85,
    "METERING": 0.78,
    "OUTAGE": 0.9,
    "COMMERCIAL": 0.82,
    "COMPLAINTS": 0.64,
    "GENERAL": 0.89,
}
# Handle time per queue, relative to the channel's.
QUEUE_HANDLE = {
    "BILLING": 1.05,
    "METERING": 1.0,
    "OUTAGE": 0.7,
    "COMMERCIAL": 1.25,
    "COMPLAINTS": 1.45,
    "GENERAL": 0.9,
}


@dataclass(frozen=True)
class Stream:
    """One way contacts come in: its channel, its share of a weekday and its weekend
    shares, its opening hours and its queue mix."""

    name: str
    channel: str
    share: float
    saturday: float
    sunday: float
    mix: str


STREAMS = (
    Stream("phone", "PHONE", 0.48, 0.18, 0.0, "phone"),
    Stream("outage", "PHONE", 0.07, 0.8, 0.6, "outage"),
    Stream("chat", "CHAT", 0.07, 0.3, 0.0, "written"),
    # Chatbot sessions: those it handles alone round the clock, those it hands over to a
    # person while chat is open; their split follows the containment of the day.
    Stream("bot", "CHATBOT", 0.17, 0.55, 0.3, "bot"),
    Stream("handoff", "CHATBOT_HANDOFF", 0.17, 0.55, 0.3, "bot"),
    Stream("email", "EMAIL", 0.11, 0.45, 0.25, "written"),
    Stream("portal", "PORTAL", 0.07, 0.5, 0.3, "written"),
    Stream("social", "SOCIAL", 0.03, 0.5, 0.3, "written"),
)


def _hours(stream: Stream, weekday: int, holiday: bool) -> dict[int, float]:
    """The stream's wall-clock hours on a day (Monday 0), with their weights."""
    closed = holiday or weekday == 6
    if stream.name in {"phone", "chat", "handoff"}:
        if closed:
            return {}
        return OFFICE_SATURDAY if weekday == 5 else OFFICE
    if stream.name == "outage":
        return EMERGENCY
    if stream.name == "social":
        return SOCIAL_WEEKEND if weekday >= 5 or holiday else SOCIAL
    return WRITTEN


def chat_open(weekday: int, holiday: bool, hour: int) -> bool:
    """Live chat (and the chatbot's hand-over to a person) keeps the phone's hours."""
    return hour in _hours(STREAMS[0], weekday, holiday)


# --- Bad spells ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Spell:
    """What a bad spell does on one day: more volume for some queues, more pressure on the
    queues, longer calls, fewer first-contact resolutions, slower e-mail answers, less
    satisfied customers."""

    name: str = ""
    volume: dict[str, float] = field(default_factory=dict)
    outage_line: float = 1.0
    pressure: dict[str, float] = field(default_factory=dict)
    handle: dict[str, float] = field(default_factory=dict)
    fcr: dict[str, float] = field(default_factory=dict)
    email_delay: float = 1.0
    satisfaction: float = 0.0


CALM = Spell()


def spell(day: date) -> Spell:
    """The February price change (the 2nd to the 20th) and the November storm (the 10th to
    the 23rd): each year, so every 13-month range holds one of each."""
    if day.month == 2 and 2 <= day.day <= 20:
        fade = 1.0 - (day.day - 2) / 30
        return Spell(
            "tarif",
            volume={"BILLING": 1.0 + 0.45 * fade},
            pressure={"BILLING": 1.0 + 0.5 * fade, "*": 1.0 + 0.15 * fade},
            handle={"BILLING": 1.0 + 0.22 * fade},
            fcr={"BILLING": -0.1},
            email_delay=1.6,
            satisfaction=-0.05,
        )
    if day.month == 11 and 10 <= day.day <= 23:
        n = day.day - 10
        surge = max(1.2, 4.5 - 0.35 * n)
        return Spell(
            "tempête",
            volume={"OUTAGE": surge},
            outage_line=surge,
            pressure={"OUTAGE": 1.0 + surge / 2.2, "*": 1.0 + surge / 5},
            fcr={"OUTAGE": -0.2, "*": -0.04},
            email_delay=6.0 if n < 7 else 3.0,
            satisfaction=-0.12,
        )
    return CALM


# --- Time ---------------------------------------------------------------------------------


def local_midnight(day: date) -> datetime:
    """Local midnight of a Paris day, in UTC (midnight always exists in Paris)."""
    return metrics.local_day_bounds(day)[0]


def day_hours(day: date) -> list[tuple[int, int]]:
    """The real hours of a Paris day as (UTC epoch of their start, local wall-clock hour):
    23 on the last Sunday of March (no 02:00), 25 on the last Sunday of October (02:00
    twice). Instants are drawn inside these hours, so none falls in the hour that does not
    exist, and both 02:00s of October get their share."""
    start, end = metrics.local_day_bounds(day)
    first, last = int(start.timestamp()), int(end.timestamp())
    return [
        (epoch, datetime.fromtimestamp(epoch, PARIS).hour) for epoch in range(first, last, 3600)
    ]


def demo_days(*, now: datetime, days: int | None = None) -> tuple[date, date]:
    """The demo's first and last day: up to yesterday (Paris), from the first of the month
    twelve months before the current one, or the last `days` days."""
    today = metrics.local_day(now)
    last = today - timedelta(days=1)
    if days is not None:
        return last - timedelta(days=days - 1), last
    month = today.replace(day=1)
    for _ in range(MONTHS - 1):
        month = (month - timedelta(days=1)).replace(day=1)
    return month, last


# --- One day's rows ---------------------------------------------------------------------

CONTACT_COLUMNS = (
    "external_id", "channel", "queue", "agent", "inbound", "offered", "answered", "ended",
    "wrapped", "talk", "hold", "wrap", "abandoned", "first_contact", "resolved", "outcome",
    "source", "customer_key", "issue_key", "ticket_ref",
)  # fmt: skip
TICKET_COLUMNS = (
    "reference", "channel", "queue", "category", "assignee", "policy", "created",
    "responded", "resolved", "subject", "requester",
)  # fmt: skip
SURVEY_COLUMNS = ("ticket_ref", "sent", "answered", "csat", "nps")


@dataclass
class DayRows:
    day: date
    contacts: list[tuple] = field(default_factory=list)
    tickets: list[tuple] = field(default_factory=list)
    surveys: list[tuple] = field(default_factory=list)


class _Choice:
    """A weighted choice with its cumulative weights computed once."""

    def __init__(self, weights: Iterable[tuple[str, float]]):
        pairs = list(weights)
        self.options = [option for option, _ in pairs]
        self.cumulative = list(itertools.accumulate(weight for _, weight in pairs))
        self.total = self.cumulative[-1]

    def draw(self, rng: random.Random) -> str:
        return self.options[bisect.bisect(self.cumulative, rng.random() * self.total)]


@dataclass(frozen=True)
class Agent:
    """What the dice make of one agent: slower or quicker, better or worse at resolving."""

    index: int
    queue: str
    handle: float
    fcr: float
    satisfaction: float


def agents_profile() -> list[Agent]:
    found = []
    index = 0
    for queue, count in AGENT_QUEUES:
        for _ in range(count):
            r = random.Random(f"agent-{index}")
            found.append(
                Agent(
                    index,
                    queue,
                    handle=0.82 + 0.4 * r.random(),
                    fcr=r.uniform(-0.06, 0.06),
                    satisfaction=r.uniform(-0.05, 0.05),
                )
            )
            index += 1
    return found


PROFILES = agents_profile()
POOLS = {q: [a for a in PROFILES if a.queue == q] for q, _ in AGENT_QUEUES}


class _DayBuilder:
    """Draws every contact that starts on `day` (and the repeats and retries they lead
    to, on the following days) with the day's own random generator."""

    def __init__(self, day: date, *, first_day: date, span_days: int, per_day: int, end: int):
        self.day = day
        self.rng = random.Random(f"kpi-demo|{day.isoformat()}|{per_day}")
        self.rows = DayRows(day)
        self.end = end  # epoch: nothing is recorded at or after it (the range's end)
        self.weekday = day.weekday()
        self.holidays = _holidays(day.year)
        self.holiday = day in self.holidays
        self.spell = spell(day)
        self.per_day = per_day
        self.progress = (day - first_day).days / max(1, span_days - 1)
        self.n = 0
        self.id_prefix = f"{PREFIX}{day:%Y%m%d}-"
        self.hours = day_hours(day)
        self.start = self.hours[0][0]

    # -- helpers

    def _next_id(self) -> str:
        self.n += 1
        return f"{self.id_prefix}{self.n:05d}"

    def _local(self, epoch: int) -> tuple[int, int, bool]:
        """Weekday, wall-clock hour and holiday of an instant (repeats land on later days)."""
        index = (epoch - self.start) // 3600
        if 0 <= index < len(self.hours):
            return self.weekday, self.hours[index][1], self.holiday
        moment = datetime.fromtimestamp(epoch, PARIS)
        return moment.weekday(), moment.hour, moment.date() in self.holidays

    def _agent(self, queue: str) -> Agent:
        rng = self.rng
        if rng.random() < 0.8:
            return rng.choice(POOLS[queue])
        return rng.choice(PROFILES)

    def _customer(self, channel: str) -> str:
        n = self.rng.randrange(1, CUSTOMERS)
        if channel == "PHONE":
            return f"tel:+336{n:08d}"
        return f"mail:client{n}@example.fr"

    def _pressure(self, queue: str, weekday: int, hour: int, holiday: bool) -> float:
        s = self.spell
        p = DAY_PRESSURE[6 if holiday else weekday] * HOUR_PRESSURE.get(hour, 1.0)
        return p * s.pressure.get(queue, s.pressure.get("*", 1.0))

    # -- the day

    def build(self) -> DayRows:
        rng = self.rng
        wd = self.weekday
        if self.holiday or wd == 6:
            factor = 1.0
            weekend = "sunday"
        elif wd == 5:
            factor, weekend = 1.0, "saturday"
        else:
            factor, weekend = DAY_VOLUME[wd], ""
        base = (
            self.per_day
            * FIRST_TIME_SHARE
            * factor
            * SEASON[self.day.month - 1]
            * math.exp(rng.gauss(0, 0.04))
        )
        hours = self.hours
        # Containment rises over the range, from about 35 % to about 55 %.
        containment = 0.35 + 0.2 * self.progress + rng.gauss(0, 0.01)
        for stream in STREAMS:
            share = stream.share * (getattr(stream, weekend) if weekend else 1.0)
            if stream.name == "bot":
                share *= containment
            elif stream.name == "handoff":
                share *= 1.0 - containment
            if not share:
                continue
            weights = _hours(stream, wd, self.holiday)
            mix = dict(QUEUE_MIX[stream.mix])
            if stream.name == "outage":
                lift = self.spell.outage_line
            else:
                total = sum(mix.values())
                for q in mix:
                    mix[q] *= self.spell.volume.get(q, 1.0)
                lift = sum(mix.values()) / total
            volume = base * share * lift
            slots = [(epoch, weights[h]) for epoch, h in hours if h in weights]
            if not slots:
                continue
            total_weight = sum(w for _, w in slots)
            queues = _Choice(mix.items())
            for epoch, weight in slots:
                for _ in range(_count(rng, volume * weight / total_weight)):
                    at = epoch + rng.randrange(3600)
                    self._first(stream, queues.draw(rng), at)
            if stream.name == "phone":
                self._closed(base * share, hours, weights)
        return self.rows

    def _closed(self, volume: float, hours: list[tuple[int, int]], open_: dict) -> None:
        """Calls in the hour before opening and the hour after closing, refused as CLOSED."""
        rng = self.rng
        edges = {min(open_) - 1: 1.0, max(open_) + 1: 0.6}
        for epoch, hour in hours:
            weight = edges.get(hour)
            if weight is None:
                continue
            for _ in range(_count(rng, volume * 0.02 * weight)):
                at = epoch + rng.randrange(3600)
                queue = _PHONE_QUEUES.draw(rng)
                self._row(
                    "PHONE",
                    queue,
                    at,
                    outcome="CLOSED",
                    customer=self._customer("PHONE"),
                    issue=_issue(rng, queue),
                )

    def _first(self, stream: Stream, queue: str, at: int) -> None:
        rng = self.rng
        channel = stream.channel
        issue = _issue(rng, queue)
        customer = self._customer(channel)
        if channel == "CHATBOT":
            # The chatbot answers on its own: no queue, no agent, no verdict.
            self._row(
                "CHATBOT",
                queue,
                at,
                answered=at,
                ended=at + int(rng.lognormvariate(math.log(150), 0.5)),
                customer=customer,
                issue=issue,
                first=True,
            )
        elif channel in {"PHONE", "CHAT", "CHATBOT_HANDOFF"}:
            self._live(channel, queue, at, issue, customer)
        else:
            self._written(channel, queue, at, issue, customer)

    def _live(
        self,
        channel: str,
        queue: str,
        at: int,
        issue: str,
        customer: str,
        *,
        first: bool = True,
        retry: bool = False,
    ) -> None:
        """A call or a chat: it may be refused, abandoned (short or not), or answered after
        a queue wait, then handled; an unresolved first contact may bring a repeat."""
        rng = self.rng
        weekday, hour, holiday = self._local(at)
        pressure = self._pressure(queue, weekday, hour, holiday)
        if channel == "PHONE":
            busy = min(0.15, max(0.0, (pressure - 1.6) * 0.06))
            draw = rng.random()
            if draw < 0.003 + busy:
                self._row(
                    channel,
                    queue,
                    at,
                    outcome="BLOCKED" if draw < 0.003 else "BUSY",
                    customer=customer,
                    issue=issue,
                )
                if not retry and rng.random() < 0.7:
                    self._live(
                        channel, queue, at + rng.randrange(120, 1800), issue, customer, retry=True
                    )
                return
        # A few hang up at once (a slip in the IVR): short abandons.
        if rng.random() < 0.018:
            self._row(
                channel,
                queue,
                at,
                ended=at + rng.randint(1, 4),
                abandoned=True,
                customer=customer,
                issue=issue,
            )
            return
        waiting = min(0.92, 0.17 * pressure * pressure)
        wait = rng.randint(2, 6)
        if rng.random() < waiting:
            wait += int(rng.expovariate(1.0 / (170.0 * pressure)))
        patience = rng.expovariate(1.0 / (450.0 if channel == "PHONE" else 500.0))
        if wait > 8 and wait - 6 > patience:
            gone = at + 6 + int(patience)
            self._row(
                channel,
                queue,
                at,
                ended=max(gone, at + 5),
                abandoned=True,
                customer=customer,
                issue=issue,
            )
            if not retry and rng.random() < 0.5:
                again = max(gone, at + 5) + rng.randrange(60, 1500)
                self._live(channel, queue, again, issue, customer, first=first, retry=True)
            return
        agent = self._agent(queue)
        scale = QUEUE_HANDLE[queue] * agent.handle * self.spell.handle.get(queue, 1.0)
        if channel == "PHONE":
            talk = rng.lognormvariate(math.log(220), 0.55) * scale
            hold = rng.lognormvariate(math.log(40), 0.6) * scale if rng.random() < 0.35 else 0
            wrap = rng.lognormvariate(math.log(32), 0.45) * scale
        else:
            base = 300 if channel == "CHAT" else 250
            talk = rng.lognormvariate(math.log(base), 0.5) * scale
            hold = 0
            wrap = rng.lognormvariate(math.log(20), 0.4) * scale
        talk, hold, wrap = int(talk) + 15, int(hold), int(wrap)
        answered = at + wait
        ended = answered + talk + hold
        resolved = self._resolved(queue, agent) if first else None
        self._row(
            channel,
            queue,
            at,
            agent=agent,
            answered=answered,
            ended=ended,
            wrapped=ended + wrap,
            talk=talk,
            hold=hold,
            wrap=wrap,
            customer=customer,
            issue=issue,
            first=first,
            resolved=resolved,
            wait=wait,
        )
        if resolved is False:
            self._repeat(channel, queue, ended, issue, customer)

    def _written(self, channel: str, queue: str, at: int, issue: str, customer: str) -> None:
        """An e-mail, a portal request or a social message: answered hours later."""
        rng = self.rng
        median = 4.5 if channel != "SOCIAL" else 2.0
        delay = int(3600 * rng.lognormvariate(math.log(median * self.spell.email_delay), 0.7))
        answered = at + max(300, delay)
        if answered >= self.end:
            # Not answered yet when the demo stops: an unanswered message.
            self._row(channel, queue, at, customer=customer, issue=issue, first=True)
            return
        agent = self._agent(queue)
        handle = int(rng.lognormvariate(math.log(240), 0.5) * agent.handle)
        resolved = self._resolved(queue, agent, channel=channel)
        if channel == "PORTAL" and rng.random() < 0.25:
            resolved = None  # a portal request nobody judged
        self._row(
            channel,
            queue,
            at,
            agent=agent,
            answered=answered,
            ended=answered + handle,
            wrapped=answered + handle,
            talk=handle,
            customer=customer,
            issue=issue,
            first=True,
            resolved=resolved,
        )
        if resolved is False:
            self._repeat(channel, queue, answered + handle, issue, customer)

    def _resolved(self, queue: str, agent: Agent, *, channel: str = "") -> bool:
        s = self.spell
        chance = FCR[queue] + agent.fcr + s.fcr.get(queue, s.fcr.get("*", 0.0))
        if channel in {"EMAIL", "PORTAL", "SOCIAL"}:
            chance -= 0.1
        return self.rng.random() < chance

    def _repeat(self, channel: str, queue: str, after: int, issue: str, customer: str) -> None:
        """The customer comes back on the same issue within the week (or we call back)."""
        rng = self.rng
        if rng.random() >= 0.75:
            return
        at = after + int(rng.uniform(0.15, 6.5) * 86400)
        weekday, hour, holiday = self._local(at)
        live = channel in {"PHONE", "CHAT", "CHATBOT_HANDOFF"}
        if live and queue != "OUTAGE" and not chat_open(weekday, holiday, hour):
            # Back when the lines are open: the next working morning.
            at = self._next_open(at)
        if channel == "PHONE" and queue != "OUTAGE" and rng.random() < 0.2:
            self._callback(queue, at, issue, customer)
            return
        if live:
            self._live(channel, queue, at, issue, customer, first=False, retry=True)
        else:
            self._row(
                channel,
                queue,
                at,
                customer=customer,
                issue=issue,
                **self._written_answer(queue, at),
            )

    def _written_answer(self, queue: str, at: int) -> dict:
        rng = self.rng
        answered = at + int(3600 * rng.lognormvariate(math.log(3 * self.spell.email_delay), 0.7))
        if answered >= self.end:
            return {}
        agent = self._agent(queue)
        handle = int(rng.lognormvariate(math.log(200), 0.5) * agent.handle)
        return {
            "agent": agent,
            "answered": answered,
            "ended": answered + handle,
            "wrapped": answered + handle,
            "talk": handle,
        }

    def _next_open(self, at: int) -> int:
        moment = datetime.fromtimestamp(at, PARIS)
        day = moment.date() + timedelta(days=1 if moment.hour >= 13 else 0)
        while day.weekday() >= 5 or day in self.holidays:
            day += timedelta(days=1)
        local = datetime.combine(day, time(9), PARIS)
        return int(local.timestamp()) + self.rng.randrange(3 * 3600)

    def _callback(self, queue: str, at: int, issue: str, customer: str) -> None:
        """An agent calls the customer back (outbound): handled time, no queue wait."""
        rng = self.rng
        agent = self._agent(queue)
        answered = at + rng.randint(8, 25)
        talk = int(rng.lognormvariate(math.log(180), 0.5) * agent.handle)
        wrap = int(rng.lognormvariate(math.log(30), 0.4))
        self._row(
            "PHONE",
            queue,
            at,
            inbound=False,
            agent=agent,
            answered=answered,
            ended=answered + talk,
            wrapped=answered + talk + wrap,
            talk=talk,
            wrap=wrap,
            customer=customer,
            issue=issue,
        )

    # -- the row, its ticket and its survey

    def _row(
        self,
        channel: str,
        queue: str,
        at: int,
        *,
        agent: Agent | None = None,
        inbound: bool = True,
        answered: int | None = None,
        ended: int | None = None,
        wrapped: int | None = None,
        talk: int = 0,
        hold: int = 0,
        wrap: int = 0,
        abandoned: bool = False,
        first: bool = False,
        resolved: bool | None = None,
        outcome: str = "REACHED_QUEUE",
        customer: str = "",
        issue: str = "",
        wait: int = 0,
    ) -> None:
        if max(at, wrapped or ended or at) >= self.end:
            return  # after the demo's last day
        external_id = self._next_id()
        ticket = ""
        if agent is not None and inbound and channel != "SOCIAL" and self.rng.random() < 0.1:
            ticket = self._surveyed(
                external_id,
                channel,
                queue,
                at,
                agent,
                answered or at,
                wrapped or ended or at,
                resolved,
                issue,
                customer,
                wait,
            )
        self.rows.contacts.append(
            (
                external_id,
                channel,
                queue,
                agent.index if agent else None,
                inbound,
                at,
                answered,
                ended,
                wrapped,
                talk,
                hold,
                wrap,
                abandoned,
                first,
                resolved,
                outcome,
                "CSV" if channel in {"PHONE", "CHAT", "CHATBOT_HANDOFF", "CHATBOT"} else "INTERNAL",
                customer,
                issue,
                ticket,
            )
        )

    def _surveyed(
        self,
        external_id: str,
        channel: str,
        queue: str,
        at: int,
        agent: Agent,
        responded: int,
        done: int,
        resolved: bool | None,
        issue: str,
        customer: str,
        wait: int,
    ) -> str:
        """The ticket of a contact whose customer answered the satisfaction survey:
        resolved soon after a resolved contact, within days otherwise."""
        rng = self.rng
        if resolved is False:
            closed = done + int(rng.lognormvariate(math.log(2 * 86400), 0.6))
        else:
            closed = done + rng.randrange(60, 900)
        answered = closed + int(rng.lognormvariate(math.log(3 * 3600), 1.0))
        if answered >= self.end:
            return ""
        reference = f"{TICKET_PREFIX}{external_id[len(PREFIX) :]}"
        self.rows.tickets.append(
            (
                reference,
                channel,
                queue,
                issue,
                agent.index,
                _policy(channel, queue, issue),
                at,
                responded,
                closed,
                SUBJECTS[issue],
                customer.split(":", 1)[1],
            )
        )
        happy = 0.92 + agent.satisfaction + self.spell.satisfaction
        if resolved is False:
            happy -= 0.3
        if wait > 120:
            happy -= 0.12
        if rng.random() < happy:
            csat = 5 if rng.random() < 0.62 else 4
            draw = rng.random()
            nps = rng.choice((9, 10)) if draw < 0.5 else rng.choice((7, 8)) if draw < 0.9 else 6
        else:
            csat = _UNHAPPY_CSAT.draw(rng)
            draw = rng.random()
            nps = (
                rng.choice((9, 10))
                if draw < 0.03
                else rng.choice((7, 8))
                if draw < 0.2
                else rng.randint(0, 6)
            )
        self.rows.surveys.append((reference, closed, answered, int(csat), nps))
        return reference


def _count(rng: random.Random, expected: float) -> int:
    """A whole number of contacts with the right mean (the fraction drawn at random)."""
    whole = int(expected)
    return whole + (rng.random() < expected - whole)


_ISSUE_CHOICES = {queue: _Choice(options) for queue, options in ISSUES.items()}
_PHONE_QUEUES = _Choice(QUEUE_MIX["phone"].items())
_UNHAPPY_CSAT = _Choice((("3", 45), ("2", 25), ("1", 30)))


def _issue(rng: random.Random, queue: str) -> str:
    return _ISSUE_CHOICES[queue].draw(rng)


def _policy(channel: str, queue: str, issue: str) -> str:
    """The SLA policy the ticket's rules would pick (tickets/migrations 0002)."""
    if issue == "SAFETY":
        return "SAFETY"
    if queue in {"BILLING", "METERING"}:
        return queue
    if channel == "EMAIL":
        return "EMAIL"
    return "STANDARD"


_HOLIDAYS: dict[int, frozenset[date]] = {}


def _holidays(year: int) -> frozenset[date]:
    if year not in _HOLIDAYS:
        _HOLIDAYS[year] = public_holidays("FR", [year - 1, year, year + 1])
    return _HOLIDAYS[year]


def plan_day(day: date, *, first_day: date, last_day: date, per_day: int = PER_DAY) -> DayRows:
    """Every row that starts on `day`, with agents as indexes into PROFILES. Rows that
    would end after `last_day` are left out."""
    end = int(metrics.local_day_bounds(last_day)[1].timestamp())
    span = (last_day - first_day).days + 1
    return _DayBuilder(day, first_day=first_day, span_days=span, per_day=per_day, end=end).build()


# --- Staff --------------------------------------------------------------------------------


def _ascii(text: str) -> str:
    table = str.maketrans("éèëêàâäïîôöùûüçÉ", "eeeeaaaiioouuucE")
    return text.translate(table).lower().replace(" ", "-")


def agent_email(index: int) -> str:
    return f"{_ascii(FIRST_NAMES[index])}.{_ascii(LAST_NAMES[index])}@powernext.example"


def _staff(*, now: datetime) -> tuple[list[int], int]:
    """The 40 demo agents (and two supervisors when there is none), created in bulk with
    no usable password: they exist for the figures, nobody logs in as them (hashing 40
    passwords would cost most of the demo's time)."""
    wanted = [(agent_email(i), Role.AGENT, FIRST_NAMES[i], LAST_NAMES[i]) for i in range(AGENTS)]
    if not User.objects.filter(role=Role.SUPERVISOR).exists():
        wanted += [
            (f"{_ascii(first)}.{_ascii(last)}@powernext.example", Role.SUPERVISOR, first, last)
            for first, last in SUPERVISORS
        ]
    existing = set(
        User.objects.filter(email__in=[w[0] for w in wanted]).values_list("email", flat=True)
    )
    made = []
    for email, role, first, last in wanted:
        if email in existing:
            continue
        user = User(email=email, role=role, first_name=first, last_name=last, date_joined=now)
        user.set_unusable_password()
        made.append(user)
    User.objects.bulk_create(made, ignore_conflicts=True)
    ids = dict(
        User.objects.filter(email__in=[agent_email(i) for i in range(AGENTS)]).values_list(
            "email", "id"
        )
    )
    return [ids[agent_email(i)] for i in range(AGENTS)], len(made)


# --- Loading ------------------------------------------------------------------------------


def _loaded_days() -> set[str]:
    """The origin days (YYYYMMDD) already loaded: each day goes in whole or not at all."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT substr(external_id, %s, 8) FROM tickets_contact"
            " WHERE external_id LIKE %s",
            [len(PREFIX) + 1, PREFIX + "%"],
        )
        return {row[0] for row in cursor.fetchall()}


def _text(value) -> str:
    if value is None:
        return r"\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    return str(value)


def _copy(cursor, table: str, columns: Iterable[str], rows: Iterable[tuple]) -> None:
    buffer = io.StringIO()
    write = buffer.write
    for row in rows:
        write("\t".join(map(_text, row)))
        write("\n")
    buffer.seek(0)
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)


_TEMP_TABLES = """
CREATE TEMP TABLE demo_contact (
    external_id text, channel text, queue text, agent int, inbound bool, offered bigint,
    answered bigint, ended bigint, wrapped bigint, talk int, hold int, wrap int,
    abandoned bool, first_contact bool, resolved bool, outcome text, source text,
    customer_key text, issue_key text, ticket_ref text
) ON COMMIT DROP;
CREATE TEMP TABLE demo_ticket (
    reference text, channel text, queue text, category text, assignee int, policy text,
    created bigint, responded bigint, resolved bigint, subject text, requester text
) ON COMMIT DROP;
CREATE TEMP TABLE demo_survey (
    ticket_ref text, sent bigint, answered bigint, csat int, nps int
) ON COMMIT DROP;
"""

# The tickets first (their STATUS event and first-response clock only for those inserted
# now, so nothing is doubled), then the surveys and contacts that point at them.
_INSERT_TICKETS = """
WITH agents AS (
    SELECT a.ordinality - 1 AS n, a.id FROM unnest(%(agents)s::bigint[]) WITH ORDINALITY a(id)
),
policies AS (
    SELECT DISTINCT ON (p.code) p.code, p.id, p.version
    FROM tickets_slapolicy p WHERE p.active ORDER BY p.code, p.version DESC
),
inserted AS (
    INSERT INTO tickets_ticket (reference, requester_name, requester_contact, channel, queue,
        category, priority, urgency_rank, safety_critical, is_complaint, status,
        escalation_level, subject, details, created_at, first_response_at, last_activity_at,
        resolved_at, assignee_id, policy_id)
    SELECT t.reference, 'Client démo', t.requester, t.channel, t.queue, t.category,
        CASE WHEN t.category = 'SAFETY' THEN 'URGENT' ELSE 'NORMAL' END,
        CASE WHEN t.category = 'SAFETY' THEN 45 ELSE 20 END,
        t.category = 'SAFETY', t.category = 'COMPLAINT', 'RESOLVED', 'AGENT', t.subject,
        '{}'::jsonb, to_timestamp(t.created), to_timestamp(t.responded),
        to_timestamp(t.resolved), to_timestamp(t.resolved), a.id, p.id
    FROM demo_ticket t JOIN agents a ON a.n = t.assignee
    LEFT JOIN policies p ON p.code = t.policy
    ON CONFLICT (reference) DO NOTHING
    RETURNING id, created_at, first_response_at, resolved_at, assignee_id, policy_id
),
events AS (
    INSERT INTO tickets_ticketevent (ticket_id, at, actor_id, kind, from_value, to_value, note)
    SELECT id, resolved_at, assignee_id, 'STATUS', 'OPEN', 'RESOLVED', '' FROM inserted
    RETURNING 1
),
clocks AS (
    INSERT INTO tickets_clockinstance (ticket_id, definition_id, policy_version, name,
        stop_event, unit, amount, calendar_id, pauses_when_waiting, warn_ratio, escalate_to,
        restarts_on_activity, status, started_at, pauses, due_at, met_at, breached_at,
        warn_at)
    SELECT i.id, d.id, p.version, d.name, d.stop_event, d.unit, d.amount, d.calendar_id,
        d.pauses_when_waiting, d.warn_ratio, d.escalate_to, d.restarts_on_activity,
        CASE WHEN i.first_response_at <= due.at THEN 'MET' ELSE 'BREACHED' END,
        i.created_at, '[]'::jsonb, due.at,
        CASE WHEN i.first_response_at <= due.at THEN i.first_response_at END,
        CASE WHEN i.first_response_at > due.at THEN due.at + interval '1 minute' END,
        i.created_at + (due.at - i.created_at) * d.warn_ratio
    FROM inserted i
    JOIN tickets_slapolicy p ON p.id = i.policy_id
    JOIN tickets_clockdefinition d
        ON d.policy_id = p.id AND d.stop_event = 'FIRST_RESPONSE' AND d.unit = 'CLOCK_HOURS'
    CROSS JOIN LATERAL (SELECT i.created_at + make_interval(secs => d.amount * 3600) AS at) due
    RETURNING 1
)
SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM events),
       (SELECT count(*) FROM clocks)
"""

_INSERT_SURVEYS = """
INSERT INTO tickets_survey (ticket_id, created_at, sent_at, csat, nps, comment, answered_at)
SELECT t.id, to_timestamp(s.sent), to_timestamp(s.sent), s.csat, s.nps, '',
       to_timestamp(s.answered)
FROM demo_survey s JOIN tickets_ticket t ON t.reference = s.ticket_ref
ON CONFLICT (ticket_id) DO NOTHING
"""

_INSERT_CONTACTS = """
WITH agents AS (
    SELECT a.ordinality - 1 AS n, a.id FROM unnest(%(agents)s::bigint[]) WITH ORDINALITY a(id)
)
INSERT INTO tickets_contact (ticket_id, channel, queue, agent_id, inbound, external_id,
    offered_at, answered_at, ended_at, wrap_up_ended_at, talk_seconds, hold_seconds,
    wrap_seconds, abandoned, first_contact, resolved_first_contact, outcome, source,
    customer_key, issue_key)
SELECT t.id, c.channel, c.queue, a.id, c.inbound, c.external_id, to_timestamp(c.offered),
    to_timestamp(c.answered), to_timestamp(c.ended), to_timestamp(c.wrapped), c.talk,
    c.hold, c.wrap, c.abandoned, c.first_contact, c.resolved, c.outcome, c.source,
    c.customer_key, c.issue_key
FROM demo_contact c
LEFT JOIN agents a ON a.n = c.agent
LEFT JOIN tickets_ticket t ON t.reference = c.ticket_ref AND c.ticket_ref <> ''
ON CONFLICT DO NOTHING
"""


@dataclass
class LoadReport:
    days: int = 0
    contacts: int = 0
    tickets: int = 0
    clocks: int = 0
    surveys: int = 0
    touched: set[date] = field(default_factory=set)  # Paris days that got new contacts


def _load(plans: list[DayRows], agent_ids: list[int]) -> LoadReport:
    report = LoadReport(days=len(plans))
    if not plans:
        return report
    with transaction.atomic(), connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg2's, for COPY
        raw.execute(_TEMP_TABLES)
        _copy(raw, "demo_contact", CONTACT_COLUMNS, (r for p in plans for r in p.contacts))
        _copy(raw, "demo_ticket", TICKET_COLUMNS, (r for p in plans for r in p.tickets))
        _copy(raw, "demo_survey", SURVEY_COLUMNS, (r for p in plans for r in p.surveys))
        raw.execute(_INSERT_TICKETS, {"agents": agent_ids})
        report.tickets, _events, report.clocks = raw.fetchone()
        raw.execute(_INSERT_SURVEYS)
        report.surveys = raw.rowcount
        raw.execute(_INSERT_CONTACTS, {"agents": agent_ids})
        report.contacts = raw.rowcount
        if report.contacts > 10_000:
            # Fresh statistics, or the snapshots' repeat-contact lookups plan badly.
            raw.execute("ANALYZE tickets_contact")
    if report.contacts:
        for plan in plans:
            for row in plan.contacts:
                report.touched.add(datetime.fromtimestamp(row[5], PARIS).date())
    return report


# --- Snapshots ----------------------------------------------------------------------------


def _built(kind: str, starts: list[datetime]) -> set[datetime]:
    return set(
        KpiSnapshot.objects.filter(
            kind=kind, dimension=SnapshotDimension.OVERALL, key="", period_start__in=starts
        ).values_list("period_start", flat=True)
    )


def _months(first: date, last: date) -> list[date]:
    found, month = [], first.replace(day=1)
    while month <= last:
        found.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return found


def _build_snapshots(
    *, first_day: date, last_day: date, touched: set[date], now: datetime, recent_days: int | None
) -> tuple[int, int]:
    """The DAY snapshots (with their intervals) of the last `recent_days` days and of the
    current month (None: every day of the range), and the MONTH snapshots of every month
    over: what the dashboard, the report and the scorecards read. A period is built when
    it has no snapshot yet or got new contacts."""
    this_month = metrics.local_day(now).replace(day=1)
    since = first_day
    if recent_days is not None:
        since = max(first_day, min(this_month, last_day - timedelta(days=recent_days - 1)))
    days = [since + timedelta(days=n) for n in range((last_day - since).days + 1)]
    done = _built(SnapshotKind.DAY, [local_midnight(d) for d in days])
    day_count = 0
    for day in days:
        if day in touched or local_midnight(day) not in done:
            snapshots.snapshot_day_build(day=day, now=now)
            day_count += 1
    months = [m for m in _months(first_day, last_day) if m < this_month]
    done = _built(SnapshotKind.MONTH, [local_midnight(m) for m in months])
    touched_months = {d.replace(day=1) for d in touched}
    month_count = 0
    for month in months:
        if month in touched_months or local_midnight(month) not in done:
            snapshots.snapshot_month_build(month=month, now=now)
            month_count += 1
    return day_count, month_count


# --- QA reviews -----------------------------------------------------------------------------
# The scorecards, the league table and the training list need QA scores: a few reviews per
# agent over the last months, through the real service, by the first demo supervisor.

QA_MONTHS = 3
QA_PER_AGENT_MONTH = 2


def _qa_reviews(*, agent_ids: list[int], now: datetime) -> int:
    checklist = qa_checklist_active()
    reviewer = User.objects.filter(role=Role.SUPERVISOR, is_active=True).order_by("pk").first()
    if checklist is None or reviewer is None:
        return 0
    items = list(checklist.items.order_by("position"))
    rng = random.Random(f"qa-{now:%Y%m}")
    # A few agents struggle on the criteria, so the training list has someone on it.
    struggling = set(agent_ids[::9])
    month = metrics.local_month(now)
    made = 0
    for _ in range(QA_MONTHS):
        month = (month - timedelta(days=1)).replace(day=1)
        start, end = metrics.local_month_bounds(month)
        reviewed = set(
            QaReview.objects.filter(
                agent_id__in=agent_ids, created_at__gte=start, created_at__lt=end
            ).values_list("agent_id", flat=True)
        )
        for agent_id in agent_ids:
            if agent_id in reviewed:
                continue
            contacts = list(
                Contact.objects.filter(
                    agent_id=agent_id,
                    offered_at__gte=start,
                    offered_at__lt=end,
                    answered_at__isnull=False,
                    external_id__startswith=PREFIX,
                )
                .order_by("offered_at")
                .values_list("pk", "ended_at")[:QA_PER_AGENT_MONTH]
            )
            miss = 0.35 if agent_id in struggling else 0.06
            for contact_id, ended_at in contacts:
                answers = {
                    item.pk: (quality_choice(rng.random() < miss and not item.critical))
                    for item in items
                }
                qa_review_submit(
                    contact_id=contact_id,
                    reviewer=reviewer,
                    answers=answers,
                    comments="",
                    now=min(end - timedelta(hours=1), (ended_at or start) + timedelta(days=2)),
                )
                made += 1
    return made


def quality_choice(missed: bool) -> str:
    return quality.NOT_MET if missed else quality.MET


# --- Entry point --------------------------------------------------------------------------


def seed(
    *,
    now: datetime,
    days: int | None = None,
    per_day: int | None = None,
    recent_days: int | None = RECENT_DAYS,
) -> str:
    """Load the demo contacts up to yesterday and build their snapshots. `days` (default:
    13 months, from the first of the month) and `per_day` (default 1,200) shrink it; the
    settings KPI_DEMO_DAYS and KPI_DEMO_PER_DAY give their defaults (a test suite that
    runs seed_demo can keep it small). Older days get their DAY snapshots from
    `manage.py kpi_rebuild`, or here with `recent_days=None`."""
    started = timer.perf_counter()
    days = days if days is not None else getattr(settings, "KPI_DEMO_DAYS", None)
    per_day = per_day or getattr(settings, "KPI_DEMO_PER_DAY", None) or PER_DAY
    agent_ids, staff_made = _staff(now=now)
    first_day, last_day = demo_days(now=now, days=days)
    loaded = _loaded_days()
    plans = []
    day = first_day
    while day <= last_day:
        if f"{day:%Y%m%d}" not in loaded:
            plans.append(plan_day(day, first_day=first_day, last_day=last_day, per_day=per_day))
        day += timedelta(days=1)
    report = _load(plans, agent_ids)
    loaded_at = timer.perf_counter()
    day_count, month_count = _build_snapshots(
        first_day=first_day,
        last_day=last_day,
        touched=report.touched,
        now=now,
        recent_days=recent_days,
    )
    reviews = _qa_reviews(agent_ids=agent_ids, now=now)
    return (
        f"{reviews} QA reviews, {staff_made} staff, {report.days} days ({first_day} to {last_day}): "
        f"{report.contacts} contacts, {report.tickets} tickets, {report.surveys} surveys, "
        f"{report.clocks} clocks in {loaded_at - started:.1f} s; snapshots of "
        f"{day_count} days and {month_count} months in "
        f"{timer.perf_counter() - loaded_at:.1f} s"
    )
