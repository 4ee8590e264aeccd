"""Console URLs of the live chat, agent side (docs/self-service.md)."""

from django.urls import path

from .views import console as views

app_name = "console_chats"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("live/", views.queue_live, name="queue_live"),
    path("<int:conversation_id>/", views.chat, name="chat"),
    path("<int:conversation_id>/pick-up/", views.pick_up, name="pick_up"),
    path("<int:conversation_id>/reply/", views.reply, name="reply"),
    path("<int:conversation_id>/messages/", views.messages_since, name="messages"),
    path("<int:conversation_id>/close/", views.close, name="close"),
]
