from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.access import supervisor_required
from accounts.selectors import staff_counts_by_role, staff_directory


@supervisor_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "supervisor/home.html",
        {"staff": staff_directory(), "staff_counts": staff_counts_by_role()},
    )
