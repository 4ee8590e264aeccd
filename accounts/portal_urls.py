from django.urls import path

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.portal_home, name="home"),
    path("security/", views.portal_security, name="security"),
    path("switch/<str:number>/", views.portal_switch_account, name="switch_account"),
    path("profile/", views.portal_profile, name="profile"),
    path("profile/email/", views.portal_email, name="email"),
    path("profile/phone/", views.portal_phone, name="phone"),
    path("profile/bank/", views.portal_bank, name="bank"),
    path("priority-register/", views.portal_priority, name="priority"),
    path("users/", views.portal_users, name="users"),
    path("users/add/", views.portal_user_add, name="user_add"),
    path("users/<int:membership_id>/remove/", views.portal_user_remove, name="user_remove"),
    path("api-clients/", views.portal_api_clients, name="api_clients"),
    path("api-clients/new/", views.portal_api_client_create, name="api_client_create"),
    path(
        "api-clients/<int:client_id>/revoke/",
        views.portal_api_client_revoke,
        name="api_client_revoke",
    ),
    path("documents/", views.portal_documents, name="documents"),
    path("privacy/", views.portal_privacy, name="privacy"),
    path("privacy/exports/<int:export_id>/", views.portal_export_download, name="export_download"),
]
