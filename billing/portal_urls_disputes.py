from django.urls import path

from billing.views import disputes

app_name = "portal_disputes"

urlpatterns = [
    path("", disputes.portal_list, name="list"),
    path("new/", disputes.portal_new, name="new"),
    path("<int:dispute_id>/", disputes.portal_detail, name="detail"),
    path("<int:dispute_id>/letter.pdf", disputes.portal_letter, name="letter"),
]
