"""Supervisor pages: people (see docs/kpi-people.md)."""

from django.urls import path

from .views import people

urlpatterns = [
    path("people/", people.people_month, name="people"),
    path("people/<int:agent_id>/", people.people_agent, name="people_agent"),
]
