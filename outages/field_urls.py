from django.urls import path

from .views import field as views

app_name = "field"

urlpatterns = [
    path("", views.field_home, name="home"),
    path("jobs/<int:dispatch_id>/", views.field_job, name="job"),
    path("jobs/<int:dispatch_id>/status/", views.field_status, name="status"),
    path("jobs/<int:dispatch_id>/etr/", views.field_etr, name="etr"),
    path("jobs/<int:dispatch_id>/notes/", views.field_note, name="note"),
    path("jobs/<int:dispatch_id>/diagnostic/notice/", views.field_notice, name="notice"),
    path("jobs/<int:dispatch_id>/diagnostic/charge/", views.field_charge, name="charge"),
    path("notes/<int:note_id>/photo/", views.field_photo, name="photo"),
]
