from django.urls import path

from .views import console as views

app_name = "outages_console"

# Each incident action has its own URL; they share one view that makes its one call.
INCIDENT_ACTIONS = [
    "confirm",
    "override",
    "publish",
    "etr",
    "dispatch",
    "merge",
    "link",
    "restore",
    "cancel",
    "close",
]

urlpatterns = [
    path("", views.board, name="board"),
    path("new/", views.incident_new, name="incident_new"),
    path("planned/new/", views.planned_new, name="planned_new"),
    path(
        "streetlights/<int:report_id>/<str:action>/",
        views.streetlight_action,
        name="streetlight_action",
    ),
    path("calls/<int:entry_id>/done/", views.call_done, name="call_done"),
    path("notes/<int:note_id>/photo/", views.note_photo, name="note_photo"),
    path("<str:reference>/", views.incident_detail, name="incident"),
    path(
        "<str:reference>/dispatches/<int:dispatch_id>/move/",
        views.dispatch_move,
        name="dispatch_move",
    ),
    *[
        path(f"<str:reference>/{action}/", views.incident_action, {"action": action}, name=action)
        for action in INCIDENT_ACTIONS
    ],
]
