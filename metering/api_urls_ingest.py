from django.urls import path

from .api_ingest import IntervalPushView

urlpatterns = [
    path("readings/intervals", IntervalPushView.as_view(), name="api-readings-intervals"),
]
