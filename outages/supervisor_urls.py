from django.urls import path

from .views import supervisor as views

app_name = "outages_supervisor"

urlpatterns = [
    path("", views.home, name="home"),
    path("reliability/", views.reliability, name="reliability"),
    path("mttr/", views.mttr, name="mttr"),
    path("cadence/", views.cadence, name="cadence"),
    path("compensation/", views.compensation, name="compensation"),
    path("reviews/", views.reviews, name="reviews"),
    path("reviews/<int:review_id>/", views.review_detail, name="review"),
]
