"""The KPI formulas of docs/kpi.md on small hand-built sets; the expected values are
worked out in the comments. Pure Python: no database."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kpi.domain import metrics as m

PARIS = ZoneInfo("Europe/Paris")


def paris(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS)


def call(offered: str, *, wait: float | None = None, **kwargs) -> m.ContactRecord:
    """An inbound BILLING call offered at `offered` (Paris) and answered after `wait` s."""
    at = paris(offered)
    answered = at + timedelta(seconds=wait) if wait is not None else None
    fields = {"channel": "PHONE", "queue": "BILLING", "answered_at": answered}
    fields.update(kwargs)
    return m.ContactRecord(offered_at=at, **fields)


def abandon(offered: str, after: float, **kwargs) -> m.ContactRecord:
    at = paris(offered)
    return call(offered, abandoned=True, ended_at=at + timedelta(seconds=after), **kwargs)


# c1..c10 of the worked example.
DAY = [
    # c1: waited 10 s, handled 200 + 20 + 40 = 260 s, resolved on first contact
    call(
        "2026-03-10T09:00:00",
        wait=10,
        agent_id=1,
        talk_seconds=200,
        hold_seconds=20,
        wrap_seconds=40,
        first_contact=True,
        resolved_first_contact=True,
    ),
    # c2: waited 30 s, handled 300 + 0 + 60 = 360 s, first contact not resolved
    call(
        "2026-03-10T09:05:00",
        wait=30,
        agent_id=2,
        talk_seconds=300,
        wrap_seconds=60,
        first_contact=True,
        resolved_first_contact=False,
    ),
    # c3: hung up after 45 s of waiting
    abandon("2026-03-10T09:10:00", 45),
    # c4: hung up after 3 s: a short abandon, offered to nobody
    abandon("2026-03-10T09:20:00", 3),
    # c5: waited exactly 20 s, handled 100 + 10 + 30 = 140 s, first contact without verdict
    call(
        "2026-03-10T09:25:00",
        wait=20,
        agent_id=1,
        talk_seconds=100,
        hold_seconds=10,
        wrap_seconds=30,
        first_contact=True,
    ),
    # c6, c7: turned away; c8: outside opening hours
    call("2026-03-10T09:30:00", outcome="BUSY"),
    call("2026-03-10T09:31:00", outcome="BLOCKED"),
    call("2026-03-10T21:00:00", outcome="CLOSED"),
    # c9: an outbound call (a callback), handled 120 s, picked up after 15 s
    call("2026-03-10T10:00:00", wait=15, inbound=False, agent_id=2, talk_seconds=120),
    # c10: an e-mail, resolved by the first answer
    m.ContactRecord(
        offered_at=paris("2026-03-10T10:00:00"),
        channel="EMAIL",
        queue="BILLING",
        first_contact=True,
        resolved_first_contact=True,
    ),
]


def test_contact_figures_of_the_worked_example():
    # ASA: inbound real-time answered c1, c2, c5 → (10 + 30 + 20) / 3 = 20 s
    # (c9 is outbound: its 15 s is the customer picking up, not a queue wait).
    assert m.asa_seconds(DAY) == 20.0
    # AHT: handled c1, c2, c5 and the callback c9 → (260 + 360 + 140 + 120) / 4 = 220 s.
    assert m.aht_seconds(DAY) == 220.0
    # FCR: first contacts with a verdict c1 (yes), c2 (no), c10 (yes) → 2/3; c5 has none.
    assert m.fcr_percent(DAY) == pytest.approx(200 / 3)
    # Offered: c1, c2, c3, c5 = 4 (c4 is a short abandon; c6–c8 never reached a queue).
    # Abandonment: c3 → 1/4 = 25 %.
    assert m.abandonment_percent(DAY) == 25.0
    # Service level at 20 s: c1 (10 s) and c5 (20 s, inclusive) → 2/4 = 50 %.
    assert m.service_level_percent(DAY, answer_seconds=20) == 50.0
    # At 10 s only c1 → 25 %; at 30 s c1, c2, c5 → 75 % (c3 never counts as answered).
    assert m.service_level_percent(DAY, answer_seconds=10) == 25.0
    assert m.service_level_percent(DAY, answer_seconds=30) == 75.0
    # Contact success: reached c1–c5 = 5, turned away c6, c7 → 5/7; c8 (closed) left out.
    assert m.contact_success_percent(DAY) == pytest.approx(500 / 7)


def test_the_short_abandon_threshold_is_a_parameter():
    # With no threshold c4 (3 s) is offered and abandoned: 2 abandoned of 5 = 40 %,
    # and the service level at 20 s falls to 2/5 = 40 %.
    assert m.abandonment_percent(DAY, short_seconds=0) == 40.0
    assert m.service_level_percent(DAY, short_seconds=0) == 40.0
    # A hang-up at exactly 5 s is not short (short is "< 5 s").
    assert not m.is_short_abandon(abandon("2026-03-10T09:00:00", 5))
    # An abandon with no end instant has an unknown wait: it is not short, it counts.
    assert m.is_offered(call("2026-03-10T09:00:00", abandoned=True))


def test_no_contacts_gives_no_figure_not_zero():
    for figure in (
        m.asa_seconds,
        m.aht_seconds,
        m.fcr_percent,
        m.abandonment_percent,
        m.service_level_percent,
        m.contact_success_percent,
        m.repeat_contact_percent,
    ):
        assert figure([]) is None, figure.__name__


def test_all_abandoned():
    contacts = [abandon("2026-03-10T09:00:00", 40), abandon("2026-03-10T09:01:00", 90)]
    # Nobody answered: no ASA and no AHT (undefined, not 0 s)...
    assert m.asa_seconds(contacts) is None
    assert m.aht_seconds(contacts) is None
    # ...but the offered contacts are there: 2/2 abandoned, 0/2 answered in time,
    # and both reached a queue, so the attempts succeeded.
    assert m.abandonment_percent(contacts) == 100.0
    assert m.service_level_percent(contacts) == 0.0
    assert m.contact_success_percent(contacts) == 100.0
    # All of them short abandons: nothing offered, so no abandonment rate at all.
    shorts = [abandon("2026-03-10T09:00:00", 2)]
    assert m.abandonment_percent(shorts) is None
    assert m.service_level_percent(shorts) is None


def test_contacts_on_non_real_time_channels_stay_out_of_queue_figures():
    # An e-mail answered a day later is not a 86,400 s ASA, nor a handled call.
    mail = m.ContactRecord(
        offered_at=paris("2026-03-10T09:00:00"),
        channel="EMAIL",
        queue="BILLING",
        answered_at=paris("2026-03-11T09:00:00"),
    )
    assert m.asa_seconds([mail]) is None
    assert m.aht_seconds([mail]) is None
    assert m.service_level_percent([mail]) is None
    # A chat after the chatbot's handover is real-time: waited 40 s.
    handoff = call("2026-03-10T09:00:00", wait=40, channel="CHATBOT_HANDOFF")
    assert m.asa_seconds([mail, handoff]) == 40.0


SURVEYS = [
    m.SurveyRecord(answered_at=paris("2026-03-10T12:00"), csat=5, nps=10, queue="BILLING"),
    m.SurveyRecord(answered_at=paris("2026-03-10T12:00"), csat=4, nps=8, queue="BILLING"),
    m.SurveyRecord(answered_at=paris("2026-03-10T12:00"), csat=2, nps=3, queue="GENERAL"),
    m.SurveyRecord(answered_at=paris("2026-03-10T12:00"), csat=None, nps=9, queue="GENERAL"),
    m.SurveyRecord(answered_at=paris("2026-03-10T12:00"), csat=3, nps=None, queue="GENERAL"),
]


def test_csat_and_nps():
    # CSAT answers 5, 4, 2, 3 → two of 4–5 out of four = 50 %.
    assert m.csat_percent(SURVEYS) == 50.0
    # NPS answers 10, 8, 3, 9 → promoters 10 and 9 (2), detractor 3 (1), passive 8:
    # (2 − 1) / 4 = +25.
    assert m.nps(SURVEYS) == 25.0
    assert m.csat_percent([]) is None
    assert m.nps([]) is None
    # Everyone a detractor: −100; nobody answered NPS: None.
    zeros = [m.SurveyRecord(answered_at=paris("2026-03-10T12:00"), csat=1, nps=0)] * 3
    assert m.nps(zeros) == -100.0
    assert m.nps([SURVEYS[4]]) is None


def test_a_survey_without_a_contact_still_counts():
    # The ticket had no contact record (say, opened by an agent on paper): its survey
    # takes the ticket's queue and channel, and no agent. It counts overall and per queue
    # and lands in the agent breakdown under None ("unattributed"), not lost.
    orphan = m.SurveyRecord(
        answered_at=paris("2026-03-10T12:00"), csat=5, nps=10, queue="METERING", channel="LETTER"
    )
    assert m.csat_percent([orphan]) == 100.0
    per_queue = m.breakdown(
        [*SURVEYS, orphan],
        m.csat_percent,
        instant=lambda s: s.answered_at,
        grain="day",
        dimension="queue",
    )
    day = date(2026, 3, 10)
    # BILLING 5, 4 → 100 %; GENERAL 2, 3 (and one without CSAT) → 0 %; METERING 5 → 100 %.
    assert per_queue == {(day, "BILLING"): 100.0, (day, "GENERAL"): 0.0, (day, "METERING"): 100.0}
    per_agent = m.breakdown(
        [orphan], m.nps, instant=lambda s: s.answered_at, grain="month", dimension="agent_id"
    )
    assert per_agent == {(date(2026, 3, 1), None): 100.0}


def test_repeat_contacts_same_customer_same_issue_within_seven_days():
    def contact(at: str, customer="acct:1", issue="BILL_QUERY", **kwargs):
        fields = {
            "offered_at": paris(at),
            "channel": "PHONE",
            "queue": "BILLING",
            "answered_at": paris(at),
            "customer_key": customer,
            "issue_key": issue,
        }
        return m.ContactRecord(**{**fields, **kwargs})

    contacts = [
        contact("2026-03-01T10:00"),  # history (before the period): a first contact
        contact("2026-03-05T10:00"),  # 4 days after 1 March → repeat
        contact("2026-03-12T10:00"),  # exactly 7 days after 5 March → repeat (inclusive)
        contact("2026-03-20T10:00"),  # 8 days after 12 March → not a repeat
        contact("2026-03-06T10:00", issue="METER_READING"),  # another issue → not a repeat
        contact("2026-03-05T11:00", customer="tel:+33612345678"),  # another customer → no
        # Not eligible at all: abandoned (never served), unknown customer, outbound.
        contact("2026-03-13T10:00", abandoned=True, answered_at=None),
        contact("2026-03-13T10:00", customer=""),
        contact("2026-03-14T10:00", inbound=False),
    ]
    # In the period 2–31 March: five eligible contacts, two of them repeats → 40 %.
    assert m.repeat_contact_percent(
        contacts, start=paris("2026-03-02T00:00"), end=paris("2026-04-01T00:00")
    ) == pytest.approx(40.0)
    # The same set with 1 March inside: 2 repeats of 6 eligible.
    assert m.repeat_contact_percent(contacts) == pytest.approx(200 / 6)
    # Seven days are real elapsed time: 26 March 10:00 (CET) to 2 April 10:00 (CEST) is
    # 6 days 23 hours, so the second is a repeat of the first.
    across = [contact("2026-03-26T10:00"), contact("2026-04-02T10:00")]
    assert m.repeat_flags(across) == {0: False, 1: True}


BACKLOG_AT = paris("2026-03-10T12:00")
TICKETS = [
    m.TicketRecord(created_at=paris("2026-03-10T08:00"), queue="BILLING", channel="PHONE"),
    m.TicketRecord(created_at=paris("2026-03-08T12:00"), queue="BILLING", channel="EMAIL"),
    m.TicketRecord(created_at=paris("2026-03-07T12:00"), queue="GENERAL", channel="PORTAL"),
    m.TicketRecord(created_at=paris("2026-02-01T12:00"), queue="GENERAL", channel="PORTAL"),
    # resolved before the instant (and never reopened): not open
    m.TicketRecord(
        created_at=paris("2026-03-01T12:00"),
        queue="BILLING",
        channel="PHONE",
        resolved_spans=((paris("2026-03-09T12:00"), None),),
    ),
    # resolved on the 5th, reopened by a customer reply on the 6th, resolved again after
    # the instant: open at it, 9 days old
    m.TicketRecord(
        created_at=paris("2026-03-01T12:00"),
        queue="BILLING",
        channel="PHONE",
        resolved_spans=(
            (paris("2026-03-05T12:00"), paris("2026-03-06T12:00")),
            (paris("2026-03-11T12:00"), None),
        ),
    ),
    # merged into another ticket, an outage command ticket, one not yet created
    m.TicketRecord(
        created_at=paris("2026-03-09T12:00"), queue="BILLING", channel="PHONE", merged=True
    ),
    m.TicketRecord(created_at=paris("2026-03-09T12:00"), queue="INCIDENT", channel="SYSTEM"),
    m.TicketRecord(created_at=paris("2026-03-11T12:00"), queue="BILLING", channel="PHONE"),
]


def test_backlog_and_its_ageing():
    # Open at 10 March 12:00: the 4 h, 2 d, 3 d, 37 d and 9 d old ones = 5.
    assert m.backlog(TICKETS, at=BACKLOG_AT) == 5
    assert m.backlog_ageing(TICKETS, at=BACKLOG_AT) == {
        "0-1d": 1,  # 4 hours
        "1-3d": 1,  # 2 days
        "3-7d": 1,  # exactly 3 days: the lower bound is inclusive
        "7-14d": 1,  # 9 days
        "14-30d": 0,
        "30d+": 1,  # 37 days
    }
    # On 5 March at 18:00: open are the 1 February ticket and the 1 March one resolved
    # on the 9th = 2; the other 1 March one was resolved (not yet reopened), the 7, 8, 9
    # and 10 March ones did not exist yet.
    assert m.backlog(TICKETS, at=paris("2026-03-05T18:00")) == 2
    # A backlog is a stock: none open is a real 0.
    assert m.backlog([], at=BACKLOG_AT) == 0


def test_sla_attainment_by_commitment():
    now = paris("2026-03-31T12:00")
    due = paris("2026-03-10T12:00")
    late, early = due + timedelta(minutes=1), due - timedelta(hours=1)
    records = [
        m.CommitmentRecord("Ticket 24 h", due, "MET", met_at=early),  # met
        m.CommitmentRecord("Ticket 24 h", due, "MET", met_at=late),  # met late → missed
        m.CommitmentRecord("Ticket 24 h", due, "BREACHED"),  # missed
        m.CommitmentRecord("Dispute ack 24 h", due, "MET", met_at=due),  # on the dot → met
        m.CommitmentRecord("Dispute ack 24 h", due, "RUNNING"),  # past due, unswept → missed
        m.CommitmentRecord("Outage notice 15 min", now + timedelta(hours=1), "RUNNING"),  # open
        m.CommitmentRecord("Outage notice 15 min", due, "CANCELLED"),  # withdrawn
        m.CommitmentRecord("Outage notice 15 min", due, "PAUSED"),  # not decided
        m.CommitmentRecord("Outage notice 15 min", due, "MET", met_at=early),  # met
    ]
    # Decided: 6 (three tickets, two disputes, one notice); met: 3 → 50 %.
    overall = m.sla_attainment(records, now=now)
    assert (overall.met, overall.due, overall.percent) == (3, 6, 50.0)
    by = m.sla_attainment_by_commitment(records, now=now)
    assert {name: (a.met, a.due) for name, a in by.items()} == {
        "Dispute ack 24 h": (1, 2),
        "Outage notice 15 min": (1, 1),
        "Ticket 24 h": (1, 3),
    }
    assert by["Ticket 24 h"].percent == pytest.approx(100 / 3)
    # Nothing decided: no figure (and no empty row in the breakdown).
    assert m.sla_attainment(records[5:8], now=now).percent is None
    assert m.sla_attainment_by_commitment(records[5:8], now=now) == {}


def test_mttr_counts_unplanned_restored_incidents():
    start = paris("2026-03-10T08:00")
    incidents = [
        m.IncidentRecord(start, start + timedelta(hours=2), "RESTORED"),
        m.IncidentRecord(start, start + timedelta(hours=4), "CLOSED"),
        m.IncidentRecord(start, start + timedelta(hours=10), "RESTORED", planned=True),
        m.IncidentRecord(start, start + timedelta(hours=9), "CANCELLED"),
        m.IncidentRecord(start, None, "CONFIRMED"),
    ]
    # (2 h + 4 h) / 2 = 3 h = 10,800 s; planned works, cancelled and live ones left out.
    assert m.mttr_seconds(incidents) == 10_800.0
    assert m.mttr_seconds(incidents[2:]) is None
    # Across the spring change: 01:30 CET to 03:30 CEST is 1 real hour, not 2.
    dst = m.IncidentRecord(paris("2026-03-29T01:30"), paris("2026-03-29T03:30"), "RESTORED")
    assert m.mttr_seconds([dst]) == 3600.0


def test_intervals_of_a_dst_day():
    # 29 March 2026: clocks jump from 02:00 to 03:00, the day lasts 23 hours.
    spring = m.day_intervals(date(2026, 3, 29), minutes=30)
    assert len(spring) == 46
    local = [s.astimezone(PARIS).strftime("%H:%M") for s in spring]
    assert local[:5] == ["00:00", "00:30", "01:00", "01:30", "03:00"]
    assert local[-1] == "23:30"
    assert len(m.day_intervals(date(2026, 3, 29), minutes=15)) == 92
    assert len(m.day_intervals(date(2026, 3, 10), minutes=30)) == 48
    # 25 October 2026: 02:00–03:00 happens twice, the day lasts 25 hours, and the two
    # 02:00 intervals are distinct keys.
    autumn = m.day_intervals(date(2026, 10, 25), minutes=30)
    assert len(autumn) == len(set(autumn)) == 50
    assert [s.astimezone(PARIS).strftime("%H:%M") for s in autumn[4:8]] == [
        "02:00",
        "02:30",
        "02:00",
        "02:30",
    ]


def test_contacts_land_in_the_right_interval_across_the_change():
    before = paris("2026-03-29T01:59:59")  # CET, 00:59:59 UTC
    after = paris("2026-03-29T03:00:00")  # CEST, 01:00 UTC: one real second later
    assert m.interval_start(before) == datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    assert m.interval_start(after) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    # Bucket a day's calls per half-hour: every key is one of the day's 46 intervals.
    calls = [
        call("2026-03-29T00:10:00", wait=10),
        call("2026-03-29T01:45:00", wait=30),
        call("2026-03-29T03:05:00", wait=20),
        call("2026-03-29T03:25:00", wait=40),
        call("2026-03-29T23:59:00", wait=5),
    ]
    asa = m.breakdown(
        calls, m.asa_seconds, instant=lambda c: c.offered_at, grain="30min", dimension=None
    )
    intervals = m.day_intervals(date(2026, 3, 29))
    assert {key for key, _ in asa} <= set(intervals)
    assert [(intervals.index(key), value) for (key, _), value in asa.items()] == [
        (0, 10.0),  # 00:00
        (3, 30.0),  # 01:30
        (4, 30.0),  # 03:00: (20 + 40) / 2
        (45, 5.0),  # 23:30
    ]
    # The two 02:10 of 25 October fall in different intervals.
    first = datetime(2026, 10, 25, 2, 10, tzinfo=PARIS, fold=0)
    second = datetime(2026, 10, 25, 2, 10, tzinfo=PARIS, fold=1)
    assert m.interval_start(second) - m.interval_start(first) == timedelta(hours=1)
    with pytest.raises(ValueError):
        m.interval_start(first, minutes=45)


def test_days_and_months_are_paris_local():
    # 23:30 UTC on 31 March is 01:30 on 1 April in Paris (CEST).
    late = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
    assert m.period_key(late, "day") == date(2026, 4, 1)
    assert m.period_key(late, "month") == date(2026, 4, 1)
    start, end = m.local_month_bounds(date(2026, 3, 1))
    # March 2026 has 743 hours; December wraps into January.
    assert (end - start) == timedelta(hours=743)
    assert m.local_month_bounds(date(2026, 12, 1))[1] == datetime(2026, 12, 31, 23, tzinfo=UTC)
    with pytest.raises(ValueError):
        m.period_key(late, "week")


def test_breakdown_per_queue_channel_and_agent():
    contacts = [
        call("2026-03-10T09:00:00", wait=10, agent_id=1, queue="BILLING"),
        call("2026-03-10T09:10:00", wait=50, agent_id=2, queue="GENERAL"),
        call("2026-03-10T09:20:00", wait=30, agent_id=1, queue="GENERAL", channel="CHAT"),
        abandon("2026-03-11T09:00:00", 60, queue="GENERAL"),
    ]
    asa = m.breakdown(contacts, m.asa_seconds, instant=lambda c: c.offered_at, grain="day")
    # 10 March: (10 + 50 + 30) / 3 = 30 s; 11 March: offered, nobody answered → None.
    assert asa == {(date(2026, 3, 10), None): 30.0, (date(2026, 3, 11), None): None}
    per_queue = m.breakdown(
        contacts, m.asa_seconds, instant=lambda c: c.offered_at, grain="month", dimension="queue"
    )
    # BILLING 10 s; GENERAL (50 + 30) / 2 = 40 s (the abandon does not count).
    assert per_queue == {(date(2026, 3, 1), "BILLING"): 10.0, (date(2026, 3, 1), "GENERAL"): 40.0}
    per_channel = m.breakdown(
        contacts,
        m.abandonment_percent,
        instant=lambda c: c.offered_at,
        grain="month",
        dimension="channel",
    )
    # PHONE: 3 offered, 1 abandoned → 33.3 %; CHAT: 1 offered, none abandoned → 0 %.
    assert per_channel[(date(2026, 3, 1), "PHONE")] == pytest.approx(100 / 3)
    assert per_channel[(date(2026, 3, 1), "CHAT")] == 0.0
    per_agent = m.breakdown(
        contacts, m.asa_seconds, instant=lambda c: c.offered_at, grain="month", dimension="agent_id"
    )
    # Agent 1: (10 + 30) / 2 = 20 s; agent 2: 50 s; no agent: the abandon → None.
    assert per_agent == {
        (date(2026, 3, 1), 1): 20.0,
        (date(2026, 3, 1), 2): 50.0,
        (date(2026, 3, 1), None): None,
    }


def test_waits_and_deadlines_are_real_time_across_the_autumn_change():
    # 25 October 2026: 02:59:50 CEST (00:59:50 UTC), answered at the second 02:00:10,
    # in CET (01:00:10 UTC): a 20 s wait, although the wall clock went backwards.
    offered = datetime(2026, 10, 25, 2, 59, 50, tzinfo=PARIS, fold=0)
    answered = datetime(2026, 10, 25, 2, 0, 10, tzinfo=PARIS, fold=1)
    contact = m.ContactRecord(offered, "PHONE", "BILLING", answered_at=answered)
    assert m.asa_seconds([contact]) == 20.0
    # Due at the second 02:30 (CET, 01:30 UTC), met at the first 02:45 (CEST, 00:45 UTC):
    # 45 minutes early, though its wall clock reads later.
    due = datetime(2026, 10, 25, 2, 30, tzinfo=PARIS, fold=1)
    met = datetime(2026, 10, 25, 2, 45, tzinfo=PARIS, fold=0)
    record = m.CommitmentRecord("Outage update 30 min", due, "MET", met_at=met)
    assert m.commitment_verdict(record, now=due) is True
