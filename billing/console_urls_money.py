from django.urls import path

from billing.views import money

app_name = "console_money"

urlpatterns = [
    path("assistance/new", money.assistance_new, name="assistance_new"),
]
