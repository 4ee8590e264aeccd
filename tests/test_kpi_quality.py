"""Quality and people (docs/kpi-quality.md): QA reviews of a contact against the
versioned checklist, monthly calibration between supervisors, coaching notes and
training records — the scoring rules by hand, the services' refusals (nothing half
written), and the /supervisor/quality/ pages: access, field errors, constant queries."""

import importlib
import itertools
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps
from django.urls import reverse

from accounts.models import Role
from kpi import selectors
from kpi.domain import quality as rules
from kpi.models import (
    CalibrationSession,
    CoachingNote,
    QaAnswer,
    QaChecklist,
    QaReview,
    TrainingRecord,
)
from kpi.services import AlreadyDone, InvalidInput, NotAllowed, NotEnoughScores, SessionClosed
from kpi.services import quality as qa
from tickets.models import Contact, Message, Ticket

PARIS = ZoneInfo("Europe/Paris")
# Mid-March 2026 in Paris: every page test runs at this instant.
NOW = datetime(2026, 3, 20, 10, 0, tzinfo=PARIS)
MET, NOT, NA = rules.MET, rules.NOT_MET, rules.NOT_APPLICABLE
_refs = itertools.count(1)


def paris(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def checklist(db) -> QaChecklist:
    """The default checklist of the data migration (put back after a flush)."""
    importlib.import_module("kpi.migrations.0002_default_qa_checklist").create(apps, None)
    return selectors.qa_checklist_active()


@pytest.fixture
def supervisor(make_user):
    return make_user(Role.SUPERVISOR, totp=True, first_name="Sara", last_name="Viseur")


@pytest.fixture
def agent(make_user):
    return make_user(Role.AGENT, totp=True, first_name="Alex", last_name="Conseil")


@pytest.fixture
def as_supervisor(login, supervisor):
    return login(supervisor)


def ticket(*, messages: int = 0) -> Ticket:
    n = next(_refs)
    t = Ticket.objects.create(
        reference=f"PN-2026-{900000 + n:06d}",
        channel="PHONE",
        queue="BILLING",
        category="billing_question",
        subject=f"Question de facture {n}",
        created_at=NOW - timedelta(days=1),
        last_activity_at=NOW - timedelta(days=1),
        requester_name="Claire Martin",
    )
    for i in range(messages):
        Message.objects.create(
            ticket=t,
            from_customer=i % 2 == 0,
            visibility="INTERNAL" if i == 1 else "PUBLIC",
            channel="PHONE",
            body=f"Message {i} du dossier",
            created_at=NOW - timedelta(hours=20 - i),
        )
    return t


def contact(agent, *, on_ticket: Ticket | None = None, at: datetime | None = None) -> Contact:
    at = at or NOW - timedelta(hours=3)
    return Contact.objects.create(
        ticket=on_ticket,
        channel="PHONE",
        queue="BILLING",
        agent=agent,
        offered_at=at,
        answered_at=at + timedelta(seconds=14),
        ended_at=at + timedelta(seconds=300),
        talk_seconds=260,
        hold_seconds=26,
        wrap_seconds=40,
        first_contact=True,
        resolved_first_contact=True,
    )


def answers(checklist: QaChecklist, pattern: list[str]) -> dict[int, str]:
    """The answers in the checklist's order: pattern[0] for item 1, and so on."""
    items = list(checklist.items.order_by("position"))
    assert len(items) == len(pattern)
    return {item.pk: answer for item, answer in zip(items, pattern, strict=True)}


def form_data(grid: QaChecklist, pattern: list[str], **extra) -> dict:
    data = {f"item_{k}": v for k, v in answers(grid, pattern).items()}
    data.update({"checklist": str(grid.pk), "comments": ""}, **extra)
    return data


# The default checklist's weights, in order: 1, 3, 2, 3, 2, 1, 1, 2 (item 8 critical).
# Worked example: items 2 and 8 do not apply (3 + 2 out), items 4 and 7 are missed:
# applicable 1 + 2 + 3 + 2 + 1 + 1 = 10, met 1 + 2 + 2 + 1 = 6 → 60 %.
SIXTY = [MET, NA, MET, NOT, MET, MET, NOT, NA]
# Same, but the safety script was needed and not followed: critical → 0 %.
CRITICAL = [MET, NA, MET, NOT, MET, MET, NOT, NOT]
ALL_MET = [MET] * 8
# Only item 1 missed: 14 / 15 = 93.333… → 93.33.
ONE_MISSED = [NOT] + [MET] * 7


# --- Rules (pure Python) -------------------------------------------------------------


def test_weighted_score_leaves_not_applicable_out():
    criteria = [
        rules.Criterion("greeting", 1),
        rules.Criterion("security", 3),
        rules.Criterion("need", 2),
        rules.Criterion("info", 3),
        rules.Criterion("safety", 2, critical=True),
    ]
    # applicable: 1 + 2 + 3 = 6 (security and safety n/a); met: 1 + 3 = 4 → 66.666… → 66.67
    score = rules.qa_score(
        criteria, {"greeting": MET, "security": NA, "need": NOT, "info": MET, "safety": NA}
    )
    assert score == rules.Score(
        percent=Decimal("66.67"), critical_failed=False, earned=4, possible=6
    )
    # A critical criterion not met wipes out everything else.
    failed = rules.qa_score(
        criteria, {"greeting": MET, "security": MET, "need": MET, "info": MET, "safety": NOT}
    )
    assert failed.percent == Decimal("0.00") and failed.critical_failed
    assert failed.earned == 9 and failed.possible == 11
    # Nothing applicable: no score, rather than a flattering 100.
    none = rules.qa_score(
        criteria, dict.fromkeys(["greeting", "security", "need", "info", "safety"], NA)
    )
    assert none.percent is None and none.possible == 0


def test_every_criterion_needs_a_valid_answer():
    criteria = [rules.Criterion(1, 1), rules.Criterion(2, 1), rules.Criterion(3, 1)]
    with pytest.raises(rules.UnansweredCriteria) as exc:
        rules.qa_score(criteria, {1: MET, 3: "MAYBE"})
    assert exc.value.keys == [2, 3]


def test_scores_round_half_up_to_the_hundredth():
    assert rules.round_score(Decimal("0.125")) == Decimal("0.13")
    assert rules.round_score(Decimal(200) / 3) == Decimal("66.67")


def test_spread_and_disagreements():
    assert rules.score_spread([Decimal("60"), Decimal("93.33"), None, Decimal("80")]) == Decimal(
        "33.33"
    )
    assert rules.score_spread([None]) is None
    assert rules.score_spread([Decimal(70)]) == 0
    assert rules.disagreements(
        [{1: MET, 2: NA, 3: NOT}, {1: MET, 2: MET, 3: NOT}, {1: MET, 2: MET, 3: MET}]
    ) == {2, 3}


def test_checklist_check_reports_every_problem():
    with pytest.raises(rules.InvalidChecklist) as exc:
        rules.checklist_check(
            [("Accueil", 1, False), (" ", 2, False), ("accueil", 1, False), ("Ton", 11, False)]
        )
    assert exc.value.errors == {
        1: "empty label",
        2: "duplicate label",
        3: f"weight must be between 1 and {rules.MAX_WEIGHT}",
    }
    with pytest.raises(rules.InvalidChecklist):
        rules.checklist_check([])


def test_mentored_weeks_counts_distinct_iso_weeks():
    # Mon 2 and Fri 6 March are week 10; Mon 9 March is week 11; 29 Dec 2025 is 2026-W01.
    days = [
        date(2026, 3, 2),
        date(2026, 3, 6),
        date(2026, 3, 9),
        date(2025, 12, 29),
        date(2026, 1, 2),
    ]
    assert rules.mentored_weeks(days) == 3
    assert rules.mentored_weeks([]) == 0


# --- Services --------------------------------------------------------------------------


@pytest.mark.django_db
def test_default_checklist_is_seeded(checklist):
    items = list(checklist.items.order_by("position"))
    assert checklist.code == "standard" and checklist.version == 1 and checklist.active
    assert [i.weight for i in items] == [1, 3, 2, 3, 2, 1, 1, 2]
    assert [i.critical for i in items] == [False] * 7 + [True]
    assert "sécurité" in items[1].label and "Consignes de sécurité" in items[7].label


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("pattern", "score", "critical"),
    [
        (SIXTY, Decimal("60.00"), False),
        (CRITICAL, Decimal("0.00"), True),
        (ALL_MET, Decimal("100.00"), False),
        (ONE_MISSED, Decimal("93.33"), False),
        ([NA] * 8, None, False),
    ],
)
def test_review_submit_scores_the_contact(checklist, supervisor, agent, pattern, score, critical):
    c = contact(agent)
    review = qa.qa_review_submit(
        contact_id=c.pk,
        reviewer=supervisor,
        answers=answers(checklist, pattern),
        comments="  Bon accueil.  ",
        now=NOW,
    )
    review.refresh_from_db()
    assert review.score == score and review.critical_failed is critical
    assert review.agent == agent and review.reviewer == supervisor
    assert review.checklist == checklist and review.calibration is None
    assert review.comments == "Bon accueil." and review.created_at == NOW
    assert QaAnswer.objects.filter(review=review).count() == 8


@pytest.mark.django_db
def test_review_submit_refusals_write_nothing(checklist, supervisor, agent, make_user):
    c = contact(agent)
    partial = answers(checklist, SIXTY)
    missing = sorted(partial)[2:4]
    for key in missing:
        del partial[key]
    with pytest.raises(InvalidInput) as exc:
        qa.qa_review_submit(
            contact_id=c.pk, reviewer=supervisor, answers=partial, comments="", now=NOW
        )
    assert set(exc.value.errors) == {f"item_{k}" for k in missing}

    with pytest.raises(InvalidInput) as exc:
        qa.qa_review_submit(
            contact_id=c.pk + 10_000,
            reviewer=supervisor,
            answers=answers(checklist, SIXTY),
            comments="",
            now=NOW,
        )
    assert set(exc.value.errors) == {"contact"}

    nobody = contact(None)
    with pytest.raises(InvalidInput) as exc:
        qa.qa_review_submit(
            contact_id=nobody.pk,
            reviewer=supervisor,
            answers=answers(checklist, SIXTY),
            comments="",
            now=NOW,
        )
    assert "aucun conseiller" in exc.value.errors["contact"]

    # A supervisor who took the call cannot grade it.
    own = contact(supervisor)
    with pytest.raises(InvalidInput):
        qa.qa_review_submit(
            contact_id=own.pk,
            reviewer=supervisor,
            answers=answers(checklist, SIXTY),
            comments="",
            now=NOW,
        )

    for role in (Role.AGENT, Role.CUSTOMER, Role.FIELD_TECHNICIAN):
        with pytest.raises(NotAllowed):
            qa.qa_review_submit(
                contact_id=c.pk,
                reviewer=make_user(role),
                answers=answers(checklist, SIXTY),
                comments="",
                now=NOW,
            )

    with pytest.raises(InvalidInput) as exc:
        qa.qa_review_submit(
            contact_id=c.pk,
            reviewer=supervisor,
            answers=answers(checklist, SIXTY),
            comments="x" * 5001,
            now=NOW,
        )
    assert set(exc.value.errors) == {"comments"}

    assert not QaReview.objects.exists() and not QaAnswer.objects.exists()


@pytest.mark.django_db
def test_one_review_per_supervisor_and_contact_but_admins_and_calibration_may_add(
    checklist, supervisor, agent, make_user
):
    c = contact(agent)
    qa.qa_review_submit(
        contact_id=c.pk,
        reviewer=supervisor,
        answers=answers(checklist, SIXTY),
        comments="",
        now=NOW,
    )
    with pytest.raises(AlreadyDone):
        qa.qa_review_submit(
            contact_id=c.pk,
            reviewer=supervisor,
            answers=answers(checklist, ALL_MET),
            comments="",
            now=NOW,
        )
    admin = make_user(Role.ADMIN)
    qa.qa_review_submit(
        contact_id=c.pk, reviewer=admin, answers=answers(checklist, ALL_MET), comments="", now=NOW
    )
    session = qa.calibration_open(
        month=date(2026, 3, 1), contact_id=c.pk, opened_by=supervisor, now=NOW
    )
    qa.calibration_score(
        session_id=session.pk,
        reviewer=supervisor,
        answers=answers(checklist, ALL_MET),
        comments="",
        now=NOW,
    )
    assert QaReview.objects.filter(contact=c, reviewer=supervisor).count() == 2
    assert QaReview.objects.filter(contact=c).count() == 3


@pytest.mark.django_db
def test_calibration_spread_and_the_two_scores_rule(checklist, supervisor, agent, make_user):
    c = contact(agent)
    other = make_user(Role.SUPERVISOR)
    third = make_user(Role.ADMIN)
    session = qa.calibration_open(
        month=date(2026, 3, 14), contact_id=c.pk, opened_by=supervisor, now=NOW
    )
    assert session.month == date(2026, 3, 1) and session.is_open

    qa.calibration_score(
        session_id=session.pk,
        reviewer=supervisor,
        answers=answers(checklist, SIXTY),
        comments="",
        now=NOW,
    )
    with pytest.raises(AlreadyDone):
        qa.calibration_score(
            session_id=session.pk,
            reviewer=supervisor,
            answers=answers(checklist, ALL_MET),
            comments="",
            now=NOW,
        )
    with pytest.raises(NotEnoughScores):
        qa.calibration_close(
            session_id=session.pk, closed_by=supervisor, agreed_score=Decimal(70), notes="", now=NOW
        )

    qa.calibration_score(
        session_id=session.pk,
        reviewer=other,
        answers=answers(checklist, ONE_MISSED),
        comments="",
        now=NOW,
    )
    qa.calibration_score(
        session_id=session.pk,
        reviewer=third,
        answers=answers(checklist, ALL_MET),
        comments="",
        now=NOW,
    )
    view = selectors.calibration_detail(session_id=session.pk, viewer=other)
    # 60, 93.33 and 100: the spread is 100 − 60 = 40 points.
    assert [r.score for r in view.reviews] == [
        Decimal("60.00"),
        Decimal("93.33"),
        Decimal("100.00"),
    ]
    assert view.spread == Decimal("40.00")
    # SIXTY differs from the others on items 1 (NOT in ONE_MISSED), 2, 4, 7 and 8.
    assert [row.item.position for row in view.rows if row.disagreement] == [1, 2, 4, 7, 8]
    assert view.rows[0].answers == [MET, NOT, MET]
    assert view.can_close

    for bad in (Decimal(-1), Decimal("100.01")):
        with pytest.raises(InvalidInput) as exc:
            qa.calibration_close(
                session_id=session.pk, closed_by=other, agreed_score=bad, notes="", now=NOW
            )
        assert set(exc.value.errors) == {"agreed_score"}
    closed = qa.calibration_close(
        session_id=session.pk,
        closed_by=other,
        agreed_score=Decimal("85.5"),
        notes="Item 2 : sans objet.",
        now=NOW,
    )
    closed.refresh_from_db()
    assert closed.agreed_score == Decimal("85.50") and closed.spread_at_close == Decimal("40.00")
    assert closed.closed_by == other and closed.closed_at == NOW and not closed.is_open

    with pytest.raises(SessionClosed):
        qa.calibration_close(
            session_id=session.pk, closed_by=other, agreed_score=Decimal(80), notes="", now=NOW
        )
    with pytest.raises(SessionClosed):
        qa.calibration_score(
            session_id=session.pk,
            reviewer=make_user(Role.SUPERVISOR),
            answers=answers(checklist, SIXTY),
            comments="",
            now=NOW,
        )
    # Calibration scorings never count as the agent's reviews.
    assert selectors.qa_reviews_recent() == []


@pytest.mark.django_db
def test_calibration_open_refusals(checklist, supervisor, agent, make_user):
    c = contact(agent)
    with pytest.raises(InvalidInput) as exc:
        qa.calibration_open(month=date(2026, 4, 1), contact_id=c.pk, opened_by=supervisor, now=NOW)
    assert set(exc.value.errors) == {"month"}
    qa.calibration_open(month=date(2026, 2, 1), contact_id=c.pk, opened_by=supervisor, now=NOW)
    with pytest.raises(InvalidInput) as exc:
        qa.calibration_open(month=date(2026, 2, 1), contact_id=c.pk, opened_by=supervisor, now=NOW)
    assert set(exc.value.errors) == {"contact"}
    with pytest.raises(InvalidInput):
        qa.calibration_open(
            month=date(2026, 3, 1), contact_id=contact(None).pk, opened_by=supervisor, now=NOW
        )
    with pytest.raises(NotAllowed):
        qa.calibration_open(month=date(2026, 3, 1), contact_id=c.pk, opened_by=agent, now=NOW)
    assert CalibrationSession.objects.count() == 1


@pytest.mark.django_db
def test_new_checklist_version_leaves_old_reviews_and_open_sessions_alone(
    checklist, supervisor, agent
):
    c = contact(agent)
    old_review = qa.qa_review_submit(
        contact_id=c.pk,
        reviewer=supervisor,
        answers=answers(checklist, SIXTY),
        comments="",
        now=NOW,
    )
    session = qa.calibration_open(
        month=date(2026, 3, 1), contact_id=c.pk, opened_by=supervisor, now=NOW
    )
    v2 = qa.qa_checklist_create(
        code="standard",
        name="Grille qualité standard",
        items=[
            qa.ChecklistItemSpec("Accueil", 1),
            qa.ChecklistItemSpec("Sécurité", 5, critical=True),
        ],
        author=supervisor,
        now=NOW + timedelta(minutes=1),
    )
    checklist.refresh_from_db()
    assert v2.version == 2 and v2.active and not checklist.active
    assert selectors.qa_checklist_active() == v2
    # The session still scores against version 1 (8 items), new reviews against version 2.
    scored = qa.calibration_score(
        session_id=session.pk,
        reviewer=supervisor,
        answers=answers(checklist, ALL_MET),
        comments="",
        now=NOW,
    )
    assert scored.checklist == checklist
    old_review.refresh_from_db()
    assert old_review.score == Decimal("60.00") and old_review.checklist == checklist
    # Answers for version 1 sent to version 2 are refused.
    with pytest.raises(InvalidInput):
        qa.qa_review_submit(
            contact_id=contact(agent).pk,
            reviewer=supervisor,
            answers=answers(checklist, ALL_MET),
            comments="",
            now=NOW,
        )

    with pytest.raises(InvalidInput) as exc:
        qa.qa_checklist_create(
            code="standard",
            name=" ",
            items=[qa.ChecklistItemSpec("Accueil", 0)],
            author=supervisor,
            now=NOW,
        )
    assert set(exc.value.errors) == {"name", "items.0"}
    assert QaChecklist.objects.filter(code="standard").count() == 2


@pytest.mark.django_db
def test_coaching_note_add(checklist, supervisor, agent, make_user):
    review = qa.qa_review_submit(
        contact_id=contact(agent).pk,
        reviewer=supervisor,
        answers=answers(checklist, SIXTY),
        comments="",
        now=NOW,
    )
    note = qa.coaching_note_add(
        agent_id=agent.pk,
        author=supervisor,
        on=date(2026, 3, 20),
        text=" Reformuler le besoin avant de répondre. ",
        review_id=review.pk,
        follow_up_on=date(2026, 4, 3),
        now=NOW,
    )
    assert note.text == "Reformuler le besoin avant de répondre." and note.review == review

    with pytest.raises(InvalidInput) as exc:
        qa.coaching_note_add(
            agent_id=agent.pk,
            author=supervisor,
            on=date(2026, 3, 21),
            text="   ",
            follow_up_on=date(2026, 3, 20),
            now=NOW,
        )
    assert set(exc.value.errors) == {"text", "on", "follow_up_on"}

    colleague = make_user(Role.AGENT)
    with pytest.raises(InvalidInput) as exc:
        qa.coaching_note_add(
            agent_id=colleague.pk,
            author=supervisor,
            on=date(2026, 3, 20),
            text="x",
            review_id=review.pk,
            now=NOW,
        )
    assert set(exc.value.errors) == {"review"}
    with pytest.raises(InvalidInput):
        qa.coaching_note_add(
            agent_id=supervisor.pk, author=supervisor, on=date(2026, 3, 20), text="x", now=NOW
        )
    with pytest.raises(NotAllowed):
        qa.coaching_note_add(
            agent_id=agent.pk, author=colleague, on=date(2026, 3, 20), text="x", now=NOW
        )
    assert CoachingNote.objects.count() == 1


@pytest.mark.django_db
def test_training_records_and_summary(supervisor, agent):
    def add(kind, quantity, on, **kw):
        return qa.training_record_add(
            agent_id=agent.pk,
            kind=kind,
            quantity=Decimal(quantity),
            on=on,
            notes="",
            recorded_by=supervisor,
            now=NOW,
            **kw,
        )

    add("ONBOARDING_HOURS", "7.5", date(2026, 1, 5))
    add("ONBOARDING_HOURS", "14", date(2026, 1, 6))
    add("REFRESHER_HOURS", "2", date(2026, 3, 2))
    # Two records in ISO week 2026-W03 and one in W04: two weeks, 12 + 8 + 10 calls.
    add("MENTORED_CALLS_WEEK", "12", date(2026, 1, 12))
    add("MENTORED_CALLS_WEEK", "8", date(2026, 1, 16))
    add("MENTORED_CALLS_WEEK", "10", date(2026, 1, 19))
    summary = selectors.training_summary(agent_id=agent.pk)
    assert summary.onboarding_hours == Decimal("21.5")
    assert summary.refresher_hours == Decimal(2)
    assert summary.mentored_weeks == 2 and summary.mentored_calls == 30
    assert len(summary.records) == 6 and summary.records[0].on == date(2026, 3, 2)

    bad = [
        ({"kind": "NAPPING_HOURS", "quantity": "1"}, "kind"),
        ({"kind": "ONBOARDING_HOURS", "quantity": "0"}, "quantity"),
        ({"kind": "ONBOARDING_HOURS", "quantity": "501"}, "quantity"),
        ({"kind": "MENTORED_CALLS_WEEK", "quantity": "2.5"}, "quantity"),
        ({"kind": "MENTORED_CALLS_WEEK", "quantity": "1001"}, "quantity"),
    ]
    for values, field in bad:
        with pytest.raises(InvalidInput) as exc:
            add(values["kind"], values["quantity"], date(2026, 3, 1))
        assert set(exc.value.errors) == {field}
    with pytest.raises(InvalidInput) as exc:
        add("ONBOARDING_HOURS", "1", date(2026, 3, 21))
    assert set(exc.value.errors) == {"on"}
    assert TrainingRecord.objects.count() == 6


@pytest.mark.django_db
def test_agent_month_average_follows_paris_months(checklist, supervisor, agent, make_user):
    other = make_user(Role.SUPERVISOR)

    def review(pattern, at, reviewer=supervisor):
        with time_machine.travel(at, tick=False):
            return qa.qa_review_submit(
                contact_id=contact(agent, at=at - timedelta(hours=1)).pk,
                reviewer=reviewer,
                answers=answers(checklist, pattern),
                comments="",
                now=at,
            )

    review(SIXTY, paris("2026-03-02T10:00"))
    # 23:30 on 31 March in Paris is 21:30 UTC: still March.
    review(ALL_MET, paris("2026-03-31T23:30"))
    review(CRITICAL, paris("2026-03-10T10:00"), reviewer=other)
    # 00:30 on 1 April in Paris is 22:30 UTC on 31 March: April.
    review(ONE_MISSED, paris("2026-04-01T00:30"))
    # Every criterion n/a: no score, left out of the mean.
    review([NA] * 8, paris("2026-03-11T10:00"), reviewer=other)

    march = selectors.agent_quality(agent_id=agent.pk, month=date(2026, 3, 1))
    # (60 + 100 + 0) / 3 = 53.33
    assert march.qa_average == Decimal("53.33")
    assert len(march.reviews) == 4 and march.critical_failures == 1
    april = selectors.agent_quality(agent_id=agent.pk, month=date(2026, 4, 1))
    assert april.qa_average == Decimal("93.33") and len(april.reviews) == 1
    overview = {
        row.agent.pk: row for row in selectors.agents_quality_overview(month=date(2026, 3, 1))
    }
    assert overview[agent.pk].qa_average == march.qa_average
    assert overview[agent.pk].reviews == 4 and overview[agent.pk].critical_failures == 1


# --- Pages: access -----------------------------------------------------------------------


@pytest.fixture
def world(checklist, supervisor, agent, make_user):
    """One of everything, for the pages that show a record."""
    c = contact(agent, on_ticket=ticket(messages=3))
    review = qa.qa_review_submit(
        contact_id=c.pk,
        reviewer=supervisor,
        answers=answers(checklist, SIXTY),
        comments="",
        now=NOW,
    )
    session = qa.calibration_open(
        month=date(2026, 3, 1), contact_id=c.pk, opened_by=supervisor, now=NOW
    )
    return {"contact": c, "review": review, "session": session, "agent": agent}


def page_urls(world) -> list[str]:
    return [
        reverse("supervisor:quality_reviews"),
        reverse("supervisor:quality_contact"),
        reverse("supervisor:quality_review_new", args=[world["contact"].pk]),
        reverse("supervisor:quality_review", args=[world["review"].pk]),
        reverse("supervisor:quality_calibrations"),
        reverse("supervisor:quality_calibration", args=[world["session"].pk]),
        reverse("supervisor:quality_agents"),
        reverse("supervisor:quality_agent", args=[world["agent"].pk]),
    ]


@pytest.mark.django_db
def test_pages_are_for_supervisors_and_admins_only(client, make_user, login, world):
    for url in page_urls(world):
        client.logout()
        anonymous = client.get(url)
        assert anonymous.status_code == 302 and "/accounts/login" in anonymous["Location"], url
        for role in (Role.CUSTOMER, Role.AGENT, Role.FIELD_TECHNICIAN):
            assert login(make_user(role, totp=role != Role.CUSTOMER)).get(url).status_code == 403, (
                url
            )
        for role in (Role.SUPERVISOR, Role.ADMIN):
            assert login(make_user(role, totp=True)).get(url).status_code == 200, url


@pytest.mark.django_db
def test_posts_are_refused_to_other_roles_and_write_nothing(
    client, make_user, login, world, checklist
):
    posts = [
        (
            reverse("supervisor:quality_review_new", args=[world["contact"].pk]),
            form_data(checklist, ALL_MET),
        ),
        (
            reverse("supervisor:quality_calibrations"),
            {"month": "2026-03", "contact": world["contact"].pk},
        ),
        (
            reverse("supervisor:quality_calibration_score", args=[world["session"].pk]),
            form_data(checklist, ALL_MET),
        ),
        (
            reverse("supervisor:quality_calibration_close", args=[world["session"].pk]),
            {"agreed_score": "80"},
        ),
        (
            reverse("supervisor:quality_coaching_add", args=[world["agent"].pk]),
            {"coaching-on": "2026-03-20", "coaching-text": "Note"},
        ),
        (
            reverse("supervisor:quality_training_add", args=[world["agent"].pk]),
            {
                "training-kind": "ONBOARDING_HOURS",
                "training-quantity": "2",
                "training-on": "2026-03-20",
            },
        ),
    ]
    counts = (QaReview.objects.count(), CalibrationSession.objects.count())
    for url, data in posts:
        client.logout()
        assert client.post(url, data).status_code == 302
        for role in (Role.CUSTOMER, Role.AGENT, Role.FIELD_TECHNICIAN):
            assert (
                login(make_user(role, totp=role != Role.CUSTOMER)).post(url, data).status_code
                == 403
            )
    assert (QaReview.objects.count(), CalibrationSession.objects.count()) == counts
    assert not CoachingNote.objects.exists() and not TrainingRecord.objects.exists()
    session = CalibrationSession.objects.get()
    assert session.is_open


# --- Pages: review list and review form ------------------------------------------------


@pytest.mark.django_db
def test_review_list_filters_by_agent_and_month(
    as_supervisor, checklist, supervisor, agent, make_user
):
    other_agent = make_user(Role.AGENT, first_name="Bea", last_name="Autre")
    mine = qa.qa_review_submit(
        contact_id=contact(agent).pk,
        reviewer=supervisor,
        answers=answers(checklist, SIXTY),
        comments="",
        now=NOW,
    )
    february = paris("2026-02-10T10:00")
    old = qa.qa_review_submit(
        contact_id=contact(agent, at=february).pk,
        reviewer=supervisor,
        answers=answers(checklist, ALL_MET),
        comments="",
        now=february,
    )
    theirs = qa.qa_review_submit(
        contact_id=contact(other_agent).pk,
        reviewer=supervisor,
        answers=answers(checklist, CRITICAL),
        comments="",
        now=NOW,
    )
    url = reverse("supervisor:quality_reviews")

    def listed(response):
        return [r.pk for r in response.context["reviews"]]

    assert listed(as_supervisor.get(url)) == [theirs.pk, mine.pk, old.pk]
    assert listed(as_supervisor.get(url, {"agent": agent.pk})) == [mine.pk, old.pk]
    assert listed(as_supervisor.get(url, {"agent": agent.pk, "month": "2026-02"})) == [old.pk]
    page = as_supervisor.get(url, {"month": "2026-03"})
    assert listed(page) == [theirs.pk, mine.pk]
    html = page.content.decode()
    assert "60 %" in html and "critère critique" in html and "Bea Autre" in html

    for month in ("2026-13", "mars", "2026-04"):
        response = as_supervisor.get(url, {"month": month})
        assert response.status_code == 400
        assert response.context["form"].errors["month"]
        assert 'aria-invalid="true"' in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("count", [2, 25])
def test_review_list_runs_a_constant_number_of_queries(
    as_supervisor, checklist, make_user, django_assert_max_num_queries, count
):
    reviewers = [make_user(Role.SUPERVISOR) for _ in range(3)]
    for i in range(count):
        qa.qa_review_submit(
            contact_id=contact(make_user(Role.AGENT), on_ticket=ticket()).pk,
            reviewer=reviewers[i % 3],
            answers=answers(checklist, SIXTY),
            comments="",
            now=NOW,
        )
    # The guard (session, user, OTP device twice), then the agents and the joined reviews.
    with django_assert_max_num_queries(6):
        response = as_supervisor.get(reverse("supervisor:quality_reviews"), {"month": "2026-03"})
    assert response.status_code == 200 and len(response.context["reviews"]) == count


@pytest.mark.django_db
def test_contact_pick_by_number_or_ticket_reference(as_supervisor, agent):
    t = ticket()
    first = contact(agent, on_ticket=t, at=NOW - timedelta(hours=5))
    second = contact(agent, on_ticket=t, at=NOW - timedelta(hours=2))
    url = reverse("supervisor:quality_contact")

    response = as_supervisor.get(url, {"q": f"#{first.pk}"})
    assert response.status_code == 302
    assert response["Location"] == reverse("supervisor:quality_review_new", args=[first.pk])

    response = as_supervisor.get(url, {"q": t.reference.lower()})
    assert response.status_code == 200
    assert [c.pk for c in response.context["contacts"]] == [second.pk, first.pk]

    for q, message in (("PN-2099-000001", "Aucun contact"), ("", "Indiquez un numéro")):
        response = as_supervisor.get(url, {"q": q})
        assert response.status_code == 400
        assert message in response.context["form"].errors["q"][0]


@pytest.mark.django_db
def test_review_form_shows_the_contact_and_records_the_review(as_supervisor, checklist, agent):
    c = contact(agent, on_ticket=ticket(messages=3))
    url = reverse("supervisor:quality_review_new", args=[c.pk])
    page = as_supervisor.get(url)
    html = page.content.decode()
    assert page.status_code == 200
    assert f"Contact n° {c.pk}" in html and "Alex Conseil" in html
    assert (
        "Message 0 du dossier" in html and "Message 2 du dossier" in html and "Note interne" in html
    )
    assert c.ticket.reference in html and "Consignes de sécurité suivies si nécessaire" in html
    # Read-only: the thread has no reply form.
    assert 'name="body"' not in html

    response = as_supervisor.post(url, form_data(checklist, SIXTY, comments="Bonne écoute."))
    review = QaReview.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("supervisor:quality_review", args=[review.pk])
    assert review.score == Decimal("60.00") and review.comments == "Bonne écoute."

    detail = as_supervisor.get(response["Location"])
    assert "60 %" in detail.content.decode() and len(detail.context["detail"].answers) == 8
    # A second visit offers no form: this supervisor has reviewed the contact.
    again = as_supervisor.get(url)
    assert again.context["form"] is None and "Déjà évalué" in again.content.decode()
    assert as_supervisor.post(url, form_data(checklist, ALL_MET)).status_code == 200
    assert QaReview.objects.count() == 1


@pytest.mark.django_db
def test_review_form_errors_are_on_the_fields_and_nothing_is_saved(as_supervisor, checklist, agent):
    c = contact(agent)
    url = reverse("supervisor:quality_review_new", args=[c.pk])
    items = list(checklist.items.order_by("position"))
    data = form_data(checklist, SIXTY)
    del data[f"item_{items[3].pk}"]
    data[f"item_{items[5].pk}"] = "PERHAPS"
    response = as_supervisor.post(url, data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert set(errors) == {f"item_{items[3].pk}", f"item_{items[5].pk}"}
    html = response.content.decode()
    assert "Choisissez une réponse." in html and f'id="id_item_{items[3].pk}_error"' in html
    # The answers given are kept.
    assert response.context["form"][f"item_{items[0].pk}"].value() == MET
    assert len(re.findall(r"<input[^>]* checked", html)) == 6

    stale = form_data(checklist, SIXTY, checklist=str(checklist.pk + 999))
    response = as_supervisor.post(url, stale)
    assert response.status_code == 400 and "checklist" in response.context["form"].errors

    long = form_data(checklist, SIXTY, comments="x" * 5001)
    response = as_supervisor.post(url, long)
    assert response.status_code == 400 and "comments" in response.context["form"].errors
    assert not QaReview.objects.exists()

    assert (
        as_supervisor.get(reverse("supervisor:quality_review_new", args=[c.pk + 999])).status_code
        == 404
    )


@pytest.mark.django_db
@pytest.mark.parametrize("count", [2, 30])
def test_review_form_page_runs_a_constant_number_of_queries(
    as_supervisor, checklist, agent, make_user, django_assert_max_num_queries, count
):
    c = contact(agent, on_ticket=ticket(messages=count))
    for _ in range(min(count, 5)):
        qa.qa_review_submit(
            contact_id=c.pk,
            reviewer=make_user(Role.SUPERVISOR),
            answers=answers(checklist, SIXTY),
            comments="",
            now=NOW,
        )
    # The guard (4), then the contact, its messages, its reviews, the checklist and items.
    with django_assert_max_num_queries(9):
        response = as_supervisor.get(reverse("supervisor:quality_review_new", args=[c.pk]))
    assert response.status_code == 200 and len(response.context["page"].messages) == count


# --- Pages: calibration ----------------------------------------------------------------


@pytest.mark.django_db
def test_calibration_pages_from_opening_to_closing(
    client, login, checklist, supervisor, agent, make_user
):
    c = contact(agent, on_ticket=ticket(messages=2))
    first = login(supervisor)
    response = first.post(
        reverse("supervisor:quality_calibrations"), {"month": "2026-03", "contact": str(c.pk)}
    )
    session = CalibrationSession.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("supervisor:quality_calibration", args=[session.pk])
    detail_url = response["Location"]
    score_url = reverse("supervisor:quality_calibration_score", args=[session.pk])
    close_url = reverse("supervisor:quality_calibration_close", args=[session.pk])

    page = first.get(detail_url)
    assert page.context["score_form"] is not None and page.context["close_form"] is None
    assert first.post(score_url, form_data(checklist, SIXTY)).status_code == 302
    page = first.get(detail_url)
    assert page.context["score_form"] is None and page.context["view"].visible
    assert "close-needs-two" in page.content.decode()
    # Closing with one score is refused on the form, nothing changes.
    response = first.post(close_url, {"agreed_score": "70"})
    assert response.status_code == 400
    assert "au moins deux notations" in str(response.context["close_form"].non_field_errors())

    second_user = make_user(Role.SUPERVISOR, totp=True, first_name="Paul", last_name="Pair")
    second = login(second_user)
    page = second.get(detail_url)
    html = page.content.decode()
    # Before scoring, the other's answers stay hidden.
    assert not page.context["view"].visible and "hidden-scores" in html and "60 %" not in html
    response = second.post(score_url, form_data(checklist, ONE_MISSED))
    assert response.status_code == 302
    page = second.get(detail_url)
    html = page.content.decode()
    assert page.context["view"].visible and page.context["close_form"] is not None
    # 93.33 − 60 = 33.33 points; items 1, 2, 4, 7 and 8 differ.
    assert "33,33 points" in html
    flagged = [row.item.position for row in page.context["view"].rows if row.disagreement]
    assert flagged == [1, 2, 4, 7, 8] and html.count('data-disagreement="1"') == 5

    response = second.post(close_url, {"agreed_score": "abc"})
    assert response.status_code == 400 and "agreed_score" in response.context["close_form"].errors
    response = second.post(close_url, {"agreed_score": "101"})
    assert response.status_code == 400 and "agreed_score" in response.context["close_form"].errors
    session.refresh_from_db()
    assert session.is_open

    response = second.post(close_url, {"agreed_score": "80,5", "notes": "Item 2 sans objet."})
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.agreed_score == Decimal("80.50") and session.spread_at_close == Decimal("33.33")
    page = second.get(detail_url)
    assert page.context["close_form"] is None and "80,50 %" in page.content.decode()
    listing = second.get(reverse("supervisor:quality_calibrations")).content.decode()
    assert "retenu 80,50 % · écart 33,33 pts" in listing


@pytest.mark.django_db
def test_calibration_score_errors_stay_on_the_page(as_supervisor, checklist, agent, supervisor):
    c = contact(agent)
    session = qa.calibration_open(
        month=date(2026, 3, 1), contact_id=c.pk, opened_by=supervisor, now=NOW
    )
    data = form_data(checklist, SIXTY)
    first_item = checklist.items.order_by("position").first()
    del data[f"item_{first_item.pk}"]
    response = as_supervisor.post(
        reverse("supervisor:quality_calibration_score", args=[session.pk]), data
    )
    assert response.status_code == 400
    assert set(response.context["score_form"].errors) == {f"item_{first_item.pk}"}
    assert not QaReview.objects.exists()

    bad_open = as_supervisor.post(
        reverse("supervisor:quality_calibrations"), {"month": "2026-04", "contact": ""}
    )
    assert bad_open.status_code == 400
    assert set(bad_open.context["form"].errors) == {"month", "contact"}
    duplicate = as_supervisor.post(
        reverse("supervisor:quality_calibrations"), {"month": "2026-03", "contact": c.pk}
    )
    assert duplicate.status_code == 400 and "contact" in duplicate.context["form"].errors
    assert CalibrationSession.objects.count() == 1
    assert (
        as_supervisor.get(
            reverse("supervisor:quality_calibration_score", args=[session.pk])
        ).status_code
        == 405
    )


@pytest.mark.django_db
@pytest.mark.parametrize("scorers", [2, 6])
def test_calibration_pages_run_a_constant_number_of_queries(
    login, checklist, supervisor, make_user, django_assert_max_num_queries, scorers
):
    sessions = []
    for _ in range(scorers):
        c = contact(make_user(Role.AGENT), on_ticket=ticket(messages=scorers))
        sessions.append(
            qa.calibration_open(
                month=date(2026, 3, 1), contact_id=c.pk, opened_by=supervisor, now=NOW
            )
        )
    for _ in range(scorers):
        qa.calibration_score(
            session_id=sessions[0].pk,
            reviewer=make_user(Role.SUPERVISOR),
            answers=answers(checklist, SIXTY),
            comments="",
            now=NOW,
        )
    client = login(supervisor)
    # The guard (session, user, OTP device twice), then the sessions with their counts.
    with django_assert_max_num_queries(5):
        assert client.get(reverse("supervisor:quality_calibrations")).status_code == 200
    # The guard (4); the session, its items, scores, answers and the ticket's messages.
    with django_assert_max_num_queries(9):
        response = client.get(reverse("supervisor:quality_calibration", args=[sessions[0].pk]))
    assert response.status_code == 200 and len(response.context["view"].reviews) == scorers


# --- Pages: agents, coaching, training -------------------------------------------------


@pytest.mark.django_db
def test_agent_page_adds_coaching_notes_and_training(as_supervisor, checklist, supervisor, agent):
    review = qa.qa_review_submit(
        contact_id=contact(agent).pk,
        reviewer=supervisor,
        answers=answers(checklist, SIXTY),
        comments="",
        now=NOW,
    )
    url = reverse("supervisor:quality_agent", args=[agent.pk])
    page = as_supervisor.get(url, {"review": review.pk})
    assert page.status_code == 200
    assert page.context["page"].qa_average == Decimal("60.00")
    assert page.context["coaching_form"]["review"].value() == review.pk

    response = as_supervisor.post(
        reverse("supervisor:quality_coaching_add", args=[agent.pk]),
        {
            "coaching-on": "2026-03-20",
            "coaching-text": "Annoncer la prochaine étape.",
            "coaching-review": str(review.pk),
            "coaching-follow_up_on": "2026-04-03",
        },
    )
    assert response.status_code == 302 and response["Location"] == url + "#coaching"
    note = CoachingNote.objects.get()
    assert (
        note.review == review
        and note.author == supervisor
        and note.follow_up_on == date(2026, 4, 3)
    )

    response = as_supervisor.post(
        reverse("supervisor:quality_training_add", args=[agent.pk]),
        {
            "training-kind": "ONBOARDING_HOURS",
            "training-quantity": "3,5",
            "training-on": "2026-03-19",
        },
    )
    assert response.status_code == 302 and response["Location"] == url + "#training"
    as_supervisor.post(
        reverse("supervisor:quality_training_add", args=[agent.pk]),
        {
            "training-kind": "MENTORED_CALLS_WEEK",
            "training-quantity": "15",
            "training-on": "2026-03-16",
        },
    )
    page = as_supervisor.get(url)
    html = page.content.decode()
    assert "Annoncer la prochaine étape." in html and "3,5" in html
    assert page.context["page"].training.mentored_weeks == 1
    assert page.context["page"].training.onboarding_hours == Decimal("3.5")


@pytest.mark.django_db
def test_agent_page_bad_input_is_a_400_on_the_fields(as_supervisor, agent, make_user):
    coaching = as_supervisor.post(
        reverse("supervisor:quality_coaching_add", args=[agent.pk]),
        {
            "coaching-on": "2026-03-21",
            "coaching-text": "",
            "coaching-follow_up_on": "2026-03-01",
            "coaching-review": "999",
        },
    )
    assert coaching.status_code == 400
    assert set(coaching.context["coaching_form"].errors) == {"on", "text", "review", "follow_up_on"}
    assert 'id="id_coaching-text_error"' in coaching.content.decode()

    follow = as_supervisor.post(
        reverse("supervisor:quality_coaching_add", args=[agent.pk]),
        {"coaching-on": "2026-03-10", "coaching-text": "Ok", "coaching-follow_up_on": "2026-03-01"},
    )
    assert follow.status_code == 400 and set(follow.context["coaching_form"].errors) == {
        "follow_up_on"
    }

    training = as_supervisor.post(
        reverse("supervisor:quality_training_add", args=[agent.pk]),
        {
            "training-kind": "MENTORED_CALLS_WEEK",
            "training-quantity": "2,5",
            "training-on": "2026-03-10",
        },
    )
    assert training.status_code == 400
    assert set(training.context["training_form"].errors) == {"quantity"}
    training = as_supervisor.post(
        reverse("supervisor:quality_training_add", args=[agent.pk]),
        {"training-kind": "SLEEP", "training-quantity": "-1", "training-on": ""},
    )
    assert training.status_code == 400
    assert set(training.context["training_form"].errors) == {"kind", "quantity", "on"}
    assert not CoachingNote.objects.exists() and not TrainingRecord.objects.exists()

    assert (
        as_supervisor.get(
            reverse("supervisor:quality_agent", args=[agent.pk]), {"month": "2027-01"}
        ).status_code
        == 400
    )
    # Only agents have a page.
    for who in (make_user(Role.SUPERVISOR), make_user(Role.CUSTOMER)):
        assert (
            as_supervisor.get(reverse("supervisor:quality_agent", args=[who.pk])).status_code == 404
        )
        assert (
            as_supervisor.post(
                reverse("supervisor:quality_coaching_add", args=[who.pk]),
                {"coaching-on": "2026-03-20", "coaching-text": "x"},
            ).status_code
            == 404
        )


@pytest.mark.django_db
@pytest.mark.parametrize("count", [2, 20])
def test_agent_pages_run_a_constant_number_of_queries(
    as_supervisor, checklist, supervisor, make_user, django_assert_max_num_queries, count
):
    agents = [make_user(Role.AGENT) for _ in range(count)]
    for i in range(count):
        review = qa.qa_review_submit(
            contact_id=contact(agents[0]).pk,
            reviewer=make_user(Role.SUPERVISOR),
            answers=answers(checklist, SIXTY),
            comments="",
            now=NOW,
        )
        qa.coaching_note_add(
            agent_id=agents[0].pk,
            author=supervisor,
            on=date(2026, 3, 1 + i % 19),
            text=f"Note {i}",
            review_id=review.pk,
            now=NOW,
        )
        qa.training_record_add(
            agent_id=agents[0].pk,
            kind="MENTORED_CALLS_WEEK",
            quantity=Decimal(5),
            on=date(2026, 1, 1) + timedelta(days=3 * i),
            notes="",
            recorded_by=supervisor,
            now=NOW,
        )
        qa.qa_review_submit(
            contact_id=contact(agents[i]).pk,
            reviewer=supervisor,
            answers=answers(checklist, ALL_MET),
            comments="",
            now=NOW,
        )
    # The guard (4), the month's figures per agent, the agents.
    with django_assert_max_num_queries(6):
        response = as_supervisor.get(reverse("supervisor:quality_agents"))
    assert response.status_code == 200 and len(response.context["agents"]) == count
    # The guard (4); agent, reviews, coaching choices, the month's figures, notes, training.
    with django_assert_max_num_queries(10):
        response = as_supervisor.get(reverse("supervisor:quality_agent", args=[agents[0].pk]))
    assert response.status_code == 200
    assert len(response.context["page"].reviews) == count + 1
    assert len(response.context["page"].notes) == count
