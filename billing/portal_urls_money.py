from django.urls import path

from billing.views import money

app_name = "portal_money"

urlpatterns = [
    path("", money.money_home, name="home"),
    path("plan/", money.plan_new, name="plan"),
    path("extension/", money.extension_request, name="extension"),
    path("switch/", money.switch_compare, name="switch"),
    path("switch/<int:point_id>/<str:code>/", money.switch_date, name="switch_date"),
    path("switch/<int:point_id>/<str:code>/confirm/", money.switch_confirm, name="switch_confirm"),
]
