from django.urls import path

from . import views

app_name = "console_tickets"

urlpatterns = [
    path("queues/", views.console_queues, name="queues"),
    path("take-next/", views.console_take_next, name="take_next"),
    path("calls/new/", views.console_call, name="call"),
    path("tickets/<str:reference>/", views.console_workspace, name="workspace"),
    path("tickets/<str:reference>/dossier.pdf", views.console_dossier, name="dossier"),
    path("tickets/<str:reference>/<str:action>/", views.console_action, name="action"),
    path("attachments/<int:attachment_id>/", views.console_attachment, name="attachment"),
]
