from django.urls import path

from . import views

app_name = "portal_tickets"

urlpatterns = [
    path("", views.portal_ticket_list, name="list"),
    path("new/", views.portal_ticket_create, name="create"),
    path("<str:reference>/", views.portal_ticket_detail, name="detail"),
    path("<str:reference>/dossier.pdf", views.portal_dossier, name="dossier"),
    path("<str:reference>/deadlock-letter/", views.portal_deadlock_request, name="deadlock"),
    path(
        "<str:reference>/attachments/<int:attachment_id>/",
        views.portal_attachment,
        name="attachment",
    ),
]
