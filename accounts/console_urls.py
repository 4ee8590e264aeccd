from django.urls import path

from . import views

app_name = "console"

urlpatterns = [
    path("", views.console_search, name="home"),
    path("customers/<str:number>/", views.console_customer, name="customer"),
    path("customers/<str:number>/priority-register/", views.console_priority, name="priority"),
    path("documents/<int:document_id>/", views.console_document_file, name="document_file"),
    path(
        "documents/<int:document_id>/review/", views.console_document_review, name="document_review"
    ),
    path(
        "erasure/<int:request_id>/process/", views.console_erasure_process, name="erasure_process"
    ),
]
