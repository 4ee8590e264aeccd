"""The chat widget, customer side (docs/self-service.md, "Chatbot")."""

from django.urls import path

from .views import chat as views

app_name = "chat"

urlpatterns = [
    path("", views.page, name="page"),
    path("panel/", views.panel, name="panel"),
    path("start/", views.start, name="start"),
    path("<uuid:public_id>/send/", views.post, name="post"),
    path("<uuid:public_id>/hand-off/", views.hand_off, name="hand_off"),
    path("<uuid:public_id>/messages/", views.messages, name="messages"),
]
