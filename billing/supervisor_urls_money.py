from django.urls import path

from billing.views import money

app_name = "supervisor_money"

urlpatterns = [
    path("assistance/", money.assistance_queue, name="assistance"),
    path("assistance/<int:credit_id>/decide", money.assistance_decide, name="assistance_decide"),
]
