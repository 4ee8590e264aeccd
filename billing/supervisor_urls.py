from django.urls import path

from billing.views import disputes

app_name = "supervisor_billing"

urlpatterns = [
    path("credits/", disputes.supervisor_credits, name="credits"),
    path(
        "credits/<int:request_id>/decide", disputes.supervisor_credit_decide, name="credit_decide"
    ),
]
