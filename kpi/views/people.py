"""Supervisor pages: agent scorecards, the league table and the training list
(docs/kpi-people.md). Reads only; `?month=YYYY-MM` picks the month (this one by
default), and a bad month is a 400 with the message on the field."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.access import supervisor_required

from ..forms import QaMonthForm
from ..selectors import people

PEOPLE = "supervisor/people/"


def _month_form(request: HttpRequest, now) -> tuple[QaMonthForm, bool]:
    form = QaMonthForm(request.GET or None, today=timezone.localdate(now))
    # Unbound, the field shows the month displayed (this one) rather than a blank.
    form.initial["month"] = f"{form.this_month:%Y-%m}"
    return form, not form.is_bound or form.is_valid()


@supervisor_required
def people_month(request: HttpRequest) -> HttpResponse:
    """Every agent's scorecard for the month, the top five and who needs training."""
    now = timezone.now()
    form, valid = _month_form(request, now)
    if not valid:
        return render(request, PEOPLE + "month.html", {"form": form, "page": None}, status=400)
    page = people.people_month(now=now, month=form.selected_month)
    return render(request, PEOPLE + "month.html", {"form": form, "page": page})


@supervisor_required
def people_agent(request: HttpRequest, agent_id: int) -> HttpResponse:
    """One agent's scorecard for the month and its 12-month trend."""
    now = timezone.now()
    form, valid = _month_form(request, now)
    if not valid:
        return render(request, PEOPLE + "agent.html", {"form": form, "page": None}, status=400)
    page = people.agent_people(agent_id=agent_id, now=now, month=form.selected_month)
    return render(request, PEOPLE + "agent.html", {"form": form, "page": page})
