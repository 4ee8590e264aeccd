from django.urls import path, re_path

from .views import public as views

app_name = "outages_public"

urlpatterns = [
    path("", views.status, name="status"),
    path("report/", views.report, name="report"),
    path("report/<str:reference>/", views.report_done, name="report_done"),
    path("streetlight/", views.streetlight, name="streetlight"),
    path("track/", views.track, name="track"),
    path("subscribe/", views.subscribe, name="subscribe"),
    path("subscribe/done/<str:token>/", views.subscribed, name="subscribed"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("feedback/<str:token>/", views.feedback, name="feedback"),
    re_path(r"^(?P<reference>INC-\d{4}-\d{5,})/$", views.incident, name="incident"),
]
