from django.urls import include, path

from . import views

app_name = "supervisor"

urlpatterns = [path("", views.dashboard, name="home")]
urlpatterns += [path("staffing/", views.staffing, name="staffing")]

# --- Quality and people -------------------------------------------------------------
urlpatterns += [
    path("quality/", views.quality_reviews, name="quality_reviews"),
    path("quality/contact/", views.quality_contact, name="quality_contact"),
    path(
        "quality/contacts/<int:contact_id>/review/",
        views.quality_review_new,
        name="quality_review_new",
    ),
    path("quality/reviews/<int:review_id>/", views.quality_review, name="quality_review"),
    path("quality/calibration/", views.quality_calibrations, name="quality_calibrations"),
    path(
        "quality/calibration/<int:session_id>/",
        views.quality_calibration,
        name="quality_calibration",
    ),
    path(
        "quality/calibration/<int:session_id>/score/",
        views.quality_calibration_score,
        name="quality_calibration_score",
    ),
    path(
        "quality/calibration/<int:session_id>/close/",
        views.quality_calibration_close,
        name="quality_calibration_close",
    ),
    path("quality/agents/", views.quality_agents, name="quality_agents"),
    path("quality/agents/<int:agent_id>/", views.quality_agent, name="quality_agent"),
    path(
        "quality/agents/<int:agent_id>/coaching/",
        views.quality_coaching_add,
        name="quality_coaching_add",
    ),
    path(
        "quality/agents/<int:agent_id>/training/",
        views.quality_training_add,
        name="quality_training_add",
    ),
]


# --- Dashboard and snapshots ----------------------------------------------------------
urlpatterns += [
    path("kpi/<str:dimension>/<str:key>/", views.kpi_drill, name="kpi_drill"),
    path("wallboard/", views.wallboard, name="wallboard"),
    path("wallboard/live/", views.wallboard_live, name="wallboard_live"),
    path("team/", views.team, name="team"),
]


# --- Monthly report, people (scorecards, league table), text analytics --------------------
urlpatterns += [
    path("", include("kpi.urls_report")),
    path("", include("kpi.urls_people")),
    path("", include("kpi.urls_text")),
]
