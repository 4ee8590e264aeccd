from django.urls import path

from billing.views import disputes

app_name = "console_billing"

urlpatterns = [
    path("disputes/", disputes.console_list, name="disputes"),
    path("disputes/<int:dispute_id>/", disputes.console_detail, name="dispute_detail"),
    path("disputes/<int:dispute_id>/letter.pdf", disputes.console_letter, name="dispute_letter"),
    path("disputes/<int:dispute_id>/<str:action>/", disputes.console_action, name="dispute_action"),
]
