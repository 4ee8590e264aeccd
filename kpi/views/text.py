"""Supervisor pages of the text analytics (docs/kpi-text.md): the open flags that put
contacts on the QA reviewers' list, and dismissing one."""

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.access import supervisor_required

from ..models import TextFlagKind
from ..selectors import text as selectors
from ..services import AlreadyDone
from ..services import text as services


class FlagFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=gettext_lazy("Type de signalement"),
        choices=[("", gettext_lazy("Tous")), *TextFlagKind.choices],
        required=False,
    )


@supervisor_required
def quality_flags(request: HttpRequest) -> HttpResponse:
    """The open flags, newest first, optionally of one kind; an unknown kind is a 400
    with the message on the field."""
    form = FlagFilterForm(request.GET or None)
    valid = not form.is_bound or form.is_valid()
    kind = form.cleaned_data.get("kind") if form.is_bound and valid else None
    return render(
        request,
        "supervisor/quality/flags.html",
        {"form": form, "page": selectors.text_flags_open(kind=kind)},
        status=200 if valid else 400,
    )


@supervisor_required
@require_POST
def quality_flag_dismiss(request: HttpRequest, flag_id: int) -> HttpResponse:
    try:
        services.text_flag_dismiss(flag_id=flag_id, actor=request.user, now=timezone.now())
    except services.FlagNotFound as exc:
        raise Http404(str(exc)) from exc
    except AlreadyDone as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Signalement écarté : il quitte la liste."))
    return redirect("supervisor:quality_flags")
