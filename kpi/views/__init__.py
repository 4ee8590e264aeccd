from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.access import supervisor_required
from accounts.selectors import staff_counts_by_role, staff_directory

from .. import selectors
from ..domain import erlang
from ..forms import (
    CalibrationCloseForm,
    CalibrationOpenForm,
    CoachingNoteForm,
    ContactPickForm,
    DashboardPeriodForm,
    QaMonthForm,
    QaReviewFilterForm,
    QaReviewForm,
    StaffingForm,
    TrainingRecordForm,
    WallboardForm,
)
from ..selectors import people as people_selectors
from ..services import AlreadyDone, InvalidInput, NotEnoughScores, SessionClosed
from ..services import quality as qa


@supervisor_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The supervisor's home: the KPI dashboard (section "Dashboard and snapshots"),
    with the quarterly NPS and channel-mix panels of its month (docs/kpi-people.md)."""

    def people_panels(now, page) -> dict:
        return {"people": people_selectors.dashboard_people(now=now, month=page.period.month)}

    return _kpi_page(request, template="supervisor/home.html", extra=people_panels)


# --- Staffing planner ---------------------------------------------------------------


@supervisor_required
def staffing(request: HttpRequest) -> HttpResponse:
    """The Erlang C planner: the form alone, or its plan; bad input or a load that no
    staffing can serve is a 400 with the message on the field to change."""
    template = "supervisor/staffing.html"
    form = StaffingForm(request.GET or None, today=timezone.localdate())
    if not form.is_bound:
        return render(request, template, {"form": form, "report": None})
    if not form.is_valid():
        return render(request, template, {"form": form, "report": None}, status=400)
    try:
        report = selectors.staffing_plan(**form.plan_arguments())
    except erlang.StaffingError as exc:
        form.add_staffing_error(exc)
        return render(request, template, {"form": form, "report": None}, status=400)
    return render(request, template, {"form": form, "report": report})


# --- Quality and people -------------------------------------------------------------
# QA reviews of contacts, calibration between supervisors, coaching notes and training
# records (docs/kpi-quality.md). Writes go through kpi.services.quality; a refusal
# lands on the field it is about, with a 400 and nothing saved.

QA = "supervisor/quality/"


def _errors_to_form(form, exc: InvalidInput) -> None:
    for field, message in exc.errors.items():
        form.add_error(field if field in form.fields else None, message)


@supervisor_required
def quality_reviews(request: HttpRequest) -> HttpResponse:
    """Latest reviews, filtered by agent and month."""
    form = QaReviewFilterForm(request.GET or None, today=timezone.localdate())
    valid = not form.is_bound or form.is_valid()
    page = selectors.qa_review_list(**form.filters()) if valid else selectors.qa_review_list()
    form.set_agents(page.agents)
    return render(
        request,
        QA + "reviews.html",
        {"form": form, "reviews": page.reviews if valid else None},
        status=200 if valid else 400,
    )


@supervisor_required
def quality_contact(request: HttpRequest) -> HttpResponse:
    """Find the contact to review by its number or its ticket's reference; one match
    opens the review form, several are listed."""
    form = ContactPickForm(request.GET or None)
    contacts = None
    status = 200
    if form.is_bound:
        if form.is_valid():
            contacts = selectors.qa_contact_find(query=form.cleaned_data["q"])
            if len(contacts) == 1:
                return redirect("supervisor:quality_review_new", contact_id=contacts[0].pk)
            if not contacts:
                form.add_error("q", _("Aucun contact ne correspond à ce numéro ou ce dossier."))
        if form.errors:
            status = 400
    return render(
        request, QA + "contact_pick.html", {"form": form, "contacts": contacts}, status=status
    )


@supervisor_required
def quality_review_new(request: HttpRequest, contact_id: int) -> HttpResponse:
    """The contact's facts and messages beside the checklist to score it."""
    page = selectors.qa_contact_for_review(contact_id=contact_id, viewer=request.user)
    context = {"page": page, "contact": page.contact, "form": None}
    if page.checklist is None or page.own_review is not None:
        return render(request, QA + "review_form.html", context)
    form = QaReviewForm(
        request.POST if request.method == "POST" else None, checklist=page.checklist
    )
    context["form"] = form
    if request.method != "POST":
        return render(request, QA + "review_form.html", context)
    if form.is_valid():
        try:
            review = qa.qa_review_submit(
                contact_id=page.contact.pk,
                reviewer=request.user,
                answers=form.answers(),
                comments=form.cleaned_data["comments"],
                checklist_id=form.cleaned_data["checklist"],
                now=timezone.now(),
            )
        except InvalidInput as exc:
            _errors_to_form(form, exc)
        except AlreadyDone as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Évaluation enregistrée."))
            return redirect("supervisor:quality_review", review_id=review.pk)
    return render(request, QA + "review_form.html", context, status=400)


@supervisor_required
def quality_review(request: HttpRequest, review_id: int) -> HttpResponse:
    return render(
        request,
        QA + "review_detail.html",
        {"detail": selectors.qa_review_detail(review_id=review_id)},
    )


@supervisor_required
def quality_calibrations(request: HttpRequest) -> HttpResponse:
    """Sessions, and the form opening a new one."""
    today = timezone.localdate()
    form = CalibrationOpenForm(request.POST if request.method == "POST" else None, today=today)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                session = qa.calibration_open(
                    month=form.cleaned_data["month"],
                    contact_id=form.cleaned_data["contact"],
                    opened_by=request.user,
                    now=timezone.now(),
                )
            except InvalidInput as exc:
                _errors_to_form(form, exc)
            else:
                messages.success(request, _("Séance de calibrage ouverte."))
                return redirect("supervisor:quality_calibration", session_id=session.pk)
        status = 400
    return render(
        request,
        QA + "calibrations.html",
        {"form": form, "sessions": selectors.calibration_sessions()},
        status=status,
    )


def _calibration_page(request, session_id, *, score_form=None, close_form=None, status=200):
    view = selectors.calibration_detail(session_id=session_id, viewer=request.user)
    may_score = (
        view.session.is_open
        and not view.viewer_has_scored
        and view.session.contact.agent_id != request.user.pk
    )
    if may_score and score_form is None:
        # The session's own checklist version, even if a newer one is active now.
        score_form = QaReviewForm(checklist=view.session.checklist, items=view.items)
    if view.can_close and close_form is None:
        close_form = CalibrationCloseForm()
    return render(
        request,
        QA + "calibration_detail.html",
        {
            "view": view,
            "session": view.session,
            "contact": view.session.contact,
            "score_form": score_form if may_score else None,
            # A refused close keeps its form and message, even below two scores.
            "close_form": close_form if view.session.is_open and view.visible else None,
        },
        status=status,
    )


@supervisor_required
def quality_calibration(request: HttpRequest, session_id: int) -> HttpResponse:
    return _calibration_page(request, session_id)


@supervisor_required
@require_POST
def quality_calibration_score(request: HttpRequest, session_id: int) -> HttpResponse:
    view = selectors.calibration_detail(session_id=session_id, viewer=request.user)
    form = QaReviewForm(request.POST, checklist=view.session.checklist, items=view.items)
    if form.is_valid():
        try:
            qa.calibration_score(
                session_id=view.session.pk,
                reviewer=request.user,
                answers=form.answers(),
                comments=form.cleaned_data["comments"],
                now=timezone.now(),
            )
        except InvalidInput as exc:
            _errors_to_form(form, exc)
        except (AlreadyDone, SessionClosed) as exc:
            messages.error(request, str(exc))
            return redirect("supervisor:quality_calibration", session_id=session_id)
        else:
            messages.success(request, _("Votre notation est enregistrée."))
            return redirect("supervisor:quality_calibration", session_id=session_id)
    return _calibration_page(request, session_id, score_form=form, status=400)


@supervisor_required
@require_POST
def quality_calibration_close(request: HttpRequest, session_id: int) -> HttpResponse:
    form = CalibrationCloseForm(request.POST)
    if form.is_valid():
        try:
            qa.calibration_close(
                session_id=session_id,
                closed_by=request.user,
                agreed_score=form.cleaned_data["agreed_score"],
                notes=form.cleaned_data["notes"],
                now=timezone.now(),
            )
        except InvalidInput as exc:
            _errors_to_form(form, exc)
        except NotEnoughScores as exc:
            form.add_error(None, str(exc))
        except SessionClosed as exc:
            messages.error(request, str(exc))
            return redirect("supervisor:quality_calibration", session_id=session_id)
        else:
            messages.success(request, _("Séance close : score retenu enregistré."))
            return redirect("supervisor:quality_calibration", session_id=session_id)
    return _calibration_page(request, session_id, close_form=form, status=400)


@supervisor_required
def quality_agents(request: HttpRequest) -> HttpResponse:
    """Every agent with the month's QA average."""
    form = QaMonthForm(request.GET or None, today=timezone.localdate())
    valid = not form.is_bound or form.is_valid()
    return render(
        request,
        QA + "agents.html",
        {
            "form": form,
            "month": form.selected_month,
            "agents": selectors.agents_quality_overview(month=form.selected_month),
        },
        status=200 if valid else 400,
    )


def _agent_page(request, agent_id, *, coaching_form=None, training_form=None, status=200):
    today = timezone.localdate()
    month_form = QaMonthForm(request.GET or None, today=today)
    page = selectors.agent_quality(agent_id=agent_id, month=month_form.selected_month)
    if coaching_form is None:
        selected = request.GET.get("review", "")
        coaching_form = CoachingNoteForm(
            today=today,
            reviews=page.review_choices,
            selected_review=int(selected) if selected.isdigit() else None,
        )
    if training_form is None:
        training_form = TrainingRecordForm(today=today)
    if month_form.is_bound and not month_form.is_valid():
        status = 400
    return render(
        request,
        QA + "agent.html",
        {
            "page": page,
            "agent": page.agent,
            "month_form": month_form,
            "coaching_form": coaching_form,
            "training_form": training_form,
            "today": today,
        },
        status=status,
    )


@supervisor_required
def quality_agent(request: HttpRequest, agent_id: int) -> HttpResponse:
    """An agent's QA average for the month, coaching notes and training summary."""
    return _agent_page(request, agent_id)


@supervisor_required
@require_POST
def quality_coaching_add(request: HttpRequest, agent_id: int) -> HttpResponse:
    today = timezone.localdate()
    reviews = selectors.qa_reviews_for_coaching(agent_id=agent_id)
    form = CoachingNoteForm(request.POST, today=today, reviews=reviews)
    if form.is_valid():
        try:
            qa.coaching_note_add(
                agent_id=agent_id,
                author=request.user,
                on=form.cleaned_data["on"],
                text=form.cleaned_data["text"],
                review_id=form.cleaned_data["review"],
                follow_up_on=form.cleaned_data["follow_up_on"],
                now=timezone.now(),
            )
        except InvalidInput as exc:
            _errors_to_form(form, exc)
        else:
            messages.success(request, _("Note de coaching enregistrée."))
            return redirect(reverse("supervisor:quality_agent", args=[agent_id]) + "#coaching")
    return _agent_page(request, agent_id, coaching_form=form, status=400)


@supervisor_required
@require_POST
def quality_training_add(request: HttpRequest, agent_id: int) -> HttpResponse:
    form = TrainingRecordForm(request.POST, today=timezone.localdate())
    if form.is_valid():
        try:
            qa.training_record_add(
                agent_id=agent_id,
                kind=form.cleaned_data["kind"],
                quantity=form.cleaned_data["quantity"],
                on=form.cleaned_data["on"],
                notes=form.cleaned_data["notes"],
                recorded_by=request.user,
                now=timezone.now(),
            )
        except InvalidInput as exc:
            _errors_to_form(form, exc)
        else:
            messages.success(request, _("Formation enregistrée."))
            return redirect(reverse("supervisor:quality_agent", args=[agent_id]) + "#training")
    return _agent_page(request, agent_id, training_form=form, status=400)


# --- Dashboard and snapshots ----------------------------------------------------------
# docs/kpi.md, "Snapshots and dashboard": past periods from the snapshots, today live.


def _kpi_page(request, *, template: str, dimension: str = "OVERALL", key: str = "", extra=None):
    now = timezone.now()
    form = DashboardPeriodForm(request.GET or None, today=timezone.localdate(now))
    if form.is_bound and not form.is_valid():
        return render(request, template, {"form": form, "page": None}, status=400)
    page = selectors.kpi_dashboard(now=now, dimension=dimension, key=key, **form.period())
    # `extra(now, page)`: more context for one page (the home's people panels).
    more = extra(now, page) if extra is not None else {}
    return render(request, template, {"form": form, "page": page, **more})


@supervisor_required
def kpi_drill(request: HttpRequest, dimension: str, key: str) -> HttpResponse:
    """The dashboard's tiles and trend for one queue, channel or agent."""
    if dimension not in selectors.DRILL_DIMENSIONS:
        raise Http404("No such breakdown.")
    return _kpi_page(
        request,
        template="supervisor/dashboard/drill.html",
        dimension=selectors.DRILL_DIMENSIONS[dimension],
        key=key,
    )


def _wallboard(request, template: str) -> HttpResponse:
    form = WallboardForm(request.GET or None)
    valid = not form.is_bound or form.is_valid()
    return render(
        request,
        template,
        {
            "form": form,
            "poll": form.poll_seconds,
            "board": selectors.wallboard(now=timezone.now()),
        },
        status=200 if valid else 400,
    )


@supervisor_required
def wallboard(request: HttpRequest) -> HttpResponse:
    """Today's live picture; its panel polls `wallboard_live` (htmx)."""
    return _wallboard(request, "supervisor/dashboard/wallboard.html")


@supervisor_required
def wallboard_live(request: HttpRequest) -> HttpResponse:
    """The wallboard's panel alone, for the htmx poll."""
    return _wallboard(request, "supervisor/dashboard/_wallboard_live.html")


@supervisor_required
def team(request: HttpRequest) -> HttpResponse:
    """The staff directory (the supervisor's home before the dashboard)."""
    return render(
        request,
        "supervisor/dashboard/team.html",
        {"staff": staff_directory(), "staff_counts": staff_counts_by_role()},
    )
