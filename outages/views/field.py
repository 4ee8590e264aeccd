from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.access import field_required


@field_required
def field_home(request: HttpRequest) -> HttpResponse:
    return render(request, "field/home.html")
