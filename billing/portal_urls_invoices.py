from django.urls import path

from billing.views import invoices

app_name = "portal_invoices"

urlpatterns = [
    path("", invoices.invoice_list, name="list"),
    path("<str:number>/", invoices.invoice_detail, name="detail"),
    path("<str:number>/pdf/", invoices.invoice_pdf, name="pdf"),
]
