from django.urls import path

from .views import field as views

app_name = "field"

urlpatterns = [path("", views.field_home, name="home")]
