"""Forms of the supervisor's KPI pages."""

from __future__ import annotations

import re
from datetime import date, time
from decimal import Decimal
from fractions import Fraction

from django import forms
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from tickets.models import Channel, Queue

from .domain import erlang, metrics
from .models import QaAnswerChoice, TrainingKind

# --- Staffing planner ---------------------------------------------------------------

SOURCE_MANUAL = "manual"
SOURCE_HISTORY = "history"
INTERVALS = [(15, _("15 minutes")), (30, _("30 minutes")), (60, _("60 minutes"))]
# Entries are separated by line breaks, commas, semicolons or spaces, so the decimal
# mark can only be a dot (a comma already separates two intervals).
_SEPARATORS = re.compile(r"[\s,;]+")
_NUMBER = re.compile(r"^\d+(\.\d+)?$")
_NEGATIVE = re.compile(r"^-\d+(\.\d+)?$")
_SHOWN_ERRORS = 3
# Erlang C models a live queue: the real-time channels of docs/kpi.md, not e-mail.
STAFFED_CHANNELS = [c for c in Channel.choices if c[0] in metrics.REAL_TIME_CHANNELS]
STAFFED_QUEUES = [q for q in Queue.choices if q[0] != "INCIDENT"]


def _percent_field(label, help_text, *, required=True, initial=None, minimum=None):
    return forms.DecimalField(
        label=label,
        help_text=help_text,
        required=required,
        initial=initial,
        max_digits=6,
        decimal_places=3,
        min_value=minimum,
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )


class StaffingForm(forms.Form):
    """The planner's inputs. Shares are typed as percentages and handed on as exact
    fractions; the forecast is either typed in or read from a past day's contacts."""

    source = forms.ChoiceField(
        label=_("Prévision"),
        choices=[
            (SOURCE_MANUAL, _("Saisie des volumes par intervalle")),
            (SOURCE_HISTORY, _("Reprise d'une journée passée")),
        ],
        initial=SOURCE_MANUAL,
        widget=forms.RadioSelect,
    )
    forecast = forms.CharField(
        label=_("Contacts par intervalle"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text=_(
            "Un nombre par ligne, ou séparés par des virgules, dans l'ordre de la journée. "
            "Décimales avec un point (12.5)."
        ),
    )
    start_time = forms.TimeField(
        label=_("Début du premier intervalle"),
        required=False,
        initial=time(8, 0),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    history_day = forms.DateField(
        label=_("Journée de référence"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_(
            "Contacts offerts ce jour-là (heure de Paris) : entrants, en direct, mis en file, "
            "hors raccrochés en moins de 5 s."
        ),
    )
    queue = forms.ChoiceField(
        label=_("File"),
        required=False,
        choices=[("", _("Toutes les files")), *STAFFED_QUEUES],
    )
    channel = forms.ChoiceField(
        label=_("Canal"),
        required=False,
        initial=Channel.PHONE,
        choices=[("", _("Tous les canaux en direct")), *STAFFED_CHANNELS],
    )
    interval_minutes = forms.TypedChoiceField(
        label=_("Durée d'un intervalle"), choices=INTERVALS, coerce=int, initial=30
    )
    aht_seconds = forms.IntegerField(
        label=_("Durée moyenne de traitement (s)"),
        min_value=1,
        max_value=86_400,
        initial=300,
        help_text=_("Communication, attente et post-traitement, par contact."),
    )
    target_service_level = _percent_field(
        _("Niveau de service visé (%)"),
        _("Part des contacts répondus dans le délai visé."),
        initial=Decimal(80),
    )
    target_answer_seconds = forms.IntegerField(
        label=_("Délai de réponse visé (s)"), min_value=0, max_value=3_600, initial=20
    )
    shrinkage = _percent_field(
        _("Taux d'indisponibilité (%)"),
        _("Pauses, formation, absences : le temps payé hors des contacts."),
        initial=Decimal(30),
        minimum=Decimal(0),
    )
    max_occupancy = _percent_field(
        _("Occupation maximale (%)"),
        _("Facultatif : part du temps de présence passée à traiter des contacts."),
        required=False,
    )

    def __init__(self, data=None, *, today: date):
        super().__init__(data)
        self.today = today
        self.fields["history_day"].widget.attrs["max"] = date.fromordinal(
            today.toordinal() - 1
        ).isoformat()

    def clean_forecast(self) -> list[Decimal]:
        raw = self.cleaned_data.get("forecast") or ""
        tokens = [t for t in _SEPARATORS.split(raw.strip()) if t]
        negative = [t for t in tokens if _NEGATIVE.match(t)]
        if negative:
            raise forms.ValidationError(
                _("Un volume ne peut pas être négatif : %(values)s."),
                params={"values": ", ".join(negative[:_SHOWN_ERRORS])},
            )
        wrong = [(i, t) for i, t in enumerate(tokens, start=1) if not _NUMBER.match(t)]
        if wrong:
            raise forms.ValidationError(
                _("Ce ne sont pas des nombres : %(values)s."),
                params={
                    "values": ", ".join(
                        _("« %(value)s » (intervalle %(n)s)") % {"value": t[:20], "n": i}
                        for i, t in wrong[:_SHOWN_ERRORS]
                    )
                },
            )
        return [Decimal(t) for t in tokens]

    def clean_target_service_level(self) -> Fraction:
        return self._share("target_service_level", above_zero=True)

    def clean_shrinkage(self) -> Fraction:
        value = self._share("shrinkage", above_zero=False)
        if value >= 1:
            raise forms.ValidationError(_("L'indisponibilité doit rester sous 100 %."))
        return value

    def clean_max_occupancy(self) -> Fraction | None:
        if self.cleaned_data.get("max_occupancy") is None:
            return None
        return self._share("max_occupancy", above_zero=True)

    def _share(self, name: str, *, above_zero: bool) -> Fraction:
        value = self.cleaned_data[name]
        if above_zero and value <= 0:
            raise forms.ValidationError(_("Indiquez un pourcentage supérieur à 0."))
        if value > 100:
            raise forms.ValidationError(_("Indiquez un pourcentage de 100 au plus."))
        return Fraction(value) / 100

    def clean(self) -> dict:
        data = super().clean()
        if data.get("source") == SOURCE_HISTORY:
            day = data.get("history_day")
            if day is None and "history_day" not in self.errors:
                self.add_error("history_day", _("Choisissez la journée à reprendre."))
            elif day is not None and day >= self.today:
                self.add_error("history_day", _("Choisissez une journée passée."))
        elif data.get("source") == SOURCE_MANUAL:
            self._clean_manual(data)
        return data

    def _clean_manual(self, data: dict) -> None:
        contacts = data.get("forecast")
        if "forecast" in self.errors:
            return
        if not contacts:
            self.add_error("forecast", _("Saisissez le volume d'au moins un intervalle."))
            return
        start = data.get("start_time")
        interval = data.get("interval_minutes")
        if start is None:
            if "start_time" not in self.errors:
                self.add_error("start_time", _("Indiquez l'heure du premier intervalle."))
            return
        if interval is None:
            return
        left = 24 * 60 - (start.hour * 60 + start.minute)
        if len(contacts) * interval > left:
            self.add_error(
                "forecast",
                ngettext(
                    "%(count)s intervalle de %(minutes)s min dépasse minuit à partir de "
                    "%(start)s (%(fit)s au plus).",
                    "%(count)s intervalles de %(minutes)s min dépassent minuit à partir de "
                    "%(start)s (%(fit)s au plus).",
                    len(contacts),
                )
                % {
                    "count": len(contacts),
                    "minutes": interval,
                    "start": start.strftime("%H:%M"),
                    "fit": left // interval,
                },
            )

    def plan_arguments(self) -> dict:
        """The selector's keyword arguments, once valid."""
        data = self.cleaned_data
        common = {
            "interval_minutes": data["interval_minutes"],
            "aht_seconds": data["aht_seconds"],
            "target_service_level": data["target_service_level"],
            "target_answer_seconds": data["target_answer_seconds"],
            "shrinkage": data["shrinkage"],
            "max_occupancy": data["max_occupancy"],
        }
        if data["source"] == SOURCE_HISTORY:
            return {
                **common,
                "history_day": data["history_day"],
                "queue": data.get("queue") or "",
                "channel": data.get("channel") or "",
            }
        return {**common, "contacts": data["forecast"], "start": data["start_time"]}

    def add_staffing_error(self, exc: erlang.StaffingError) -> None:
        """Put a staffing question with no answer on the input to change."""
        history = self.cleaned_data.get("source") == SOURCE_HISTORY
        limit = number_format(erlang.MAX_AGENTS, force_grouping=True)
        if isinstance(exc, erlang.EmptyForecast):
            field = "history_day" if history else "forecast"
            message = (
                _("Aucun contact mis en file ce jour-là avec ces critères.")
                if history
                else _("Saisissez le volume d'au moins un intervalle.")
            )
        elif isinstance(exc, erlang.TrafficTooHigh):
            field = "history_day" if history else "forecast"
            message = _("Cette charge demanderait plus de %(limit)s conseillers.") % {
                "limit": limit
            }
        elif isinstance(exc, erlang.TargetUnreachable) and exc.field == "max_occupancy":
            field = "max_occupancy"
            message = _(
                "Une occupation aussi basse demanderait plus de %(limit)s conseillers : "
                "relevez-la ou laissez le champ vide."
            ) % {"limit": limit}
        elif isinstance(exc, erlang.TargetUnreachable):
            field = "target_service_level"
            message = _(
                "Ce niveau de service n'est jamais atteint : avec Erlang C, une part des "
                "contacts attend toujours. Visez moins de 100 %."
            )
        else:
            field, message = None, _("Ces paramètres ne permettent aucun calcul.")
        interval = exc.details.get("interval")
        # Only these two depend on the interval's volume; the others are the same for all.
        load_bound = isinstance(exc, erlang.TrafficTooHigh) or field == "max_occupancy"
        if interval is not None and not history and load_bound:
            message = _("Intervalle %(n)s — %(message)s") % {"message": message, "n": interval + 1}
        self.add_error(field, message)


# --- Quality and people -------------------------------------------------------------

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_FIRST_MONTH = date(2000, 1, 1)
_TEXT_MAX = 5_000


def _month_input(label, *, required: bool = False, help_text=None) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        widget=forms.TextInput(attrs={"type": "month", "placeholder": "AAAA-MM"}),
        help_text=help_text or _("Au format AAAA-MM."),
    )


def _parse_month(raw: str, *, latest: date) -> date:
    """`2026-03` as the first of the month; no month after `latest`."""
    match = _MONTH.match(raw.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise forms.ValidationError(_("Choisissez un mois au format AAAA-MM."))
    month = date(int(match.group(1)), int(match.group(2)), 1)
    if month > latest:
        raise forms.ValidationError(_("Choisissez le mois en cours ou un mois passé."))
    if month < _FIRST_MONTH:
        raise forms.ValidationError(_("Choisissez un mois à partir de janvier 2000."))
    return month


def _date_input(label, *, required: bool = True, initial=None) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=required,
        initial=initial,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


class QaMonthForm(forms.Form):
    """`?month=2026-03` on the agents' pages; this month when absent."""

    month = _month_input(_("Mois"))

    def __init__(self, data=None, *, today: date):
        super().__init__(data)
        self.this_month = today.replace(day=1)
        self.fields["month"].widget.attrs["max"] = f"{self.this_month:%Y-%m}"

    def clean_month(self) -> date:
        raw = self.cleaned_data.get("month") or ""
        return _parse_month(raw, latest=self.this_month) if raw.strip() else self.this_month

    @property
    def selected_month(self) -> date:
        """The month asked for once valid, this month otherwise."""
        if self.is_bound and self.is_valid():
            return self.cleaned_data["month"]
        return self.this_month


class QaReviewFilterForm(forms.Form):
    """Filters of the review list: an agent and a month, each optional."""

    agent = forms.IntegerField(
        label=_("Conseiller"), required=False, min_value=1, widget=forms.Select
    )
    month = _month_input(_("Mois"), help_text=_("Vide : tous les mois."))

    def __init__(self, data=None, *, today: date):
        super().__init__(data)
        self.this_month = today.replace(day=1)
        self.fields["month"].widget.attrs["max"] = f"{self.this_month:%Y-%m}"

    def clean_month(self) -> date | None:
        raw = self.cleaned_data.get("month") or ""
        return _parse_month(raw, latest=self.this_month) if raw.strip() else None

    def set_agents(self, agents) -> None:
        """The agent list comes with the reviews, after validation (one read)."""
        self.fields["agent"].widget.choices = [
            ("", _("Tous les conseillers")),
            *[(a.pk, a.get_full_name() or a.email) for a in agents],
        ]

    def filters(self) -> dict:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return {"agent_id": data.get("agent"), "month": data.get("month")}


class ContactPickForm(forms.Form):
    q = forms.CharField(
        label=_("Numéro du contact ou référence du dossier"),
        max_length=40,
        help_text=_("Par exemple 1234, ou PN-2026-000123 pour choisir parmi ses contacts."),
        error_messages={"required": _("Indiquez un numéro de contact ou une référence.")},
    )

    def clean_q(self) -> str:
        return self.cleaned_data["q"].strip()


_ANSWER_ERRORS = {
    "required": _("Choisissez une réponse."),
    "invalid_choice": _("Choisissez une réponse."),
}


class QaReviewForm(forms.Form):
    """One radio group per checklist item (met / not met / not applicable), then
    comments. The checklist version shown travels with the form, so a new version
    activated meanwhile cannot receive answers meant for the old one."""

    checklist = forms.IntegerField(widget=forms.HiddenInput)
    comments = forms.CharField(
        label=_("Commentaires pour le conseiller"),
        required=False,
        max_length=_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, data=None, *, checklist, items=None):
        super().__init__(data, initial={"checklist": checklist.pk})
        self.checklist_obj = checklist
        self.items = list(checklist.items.all() if items is None else items)
        answer_fields = {
            f"item_{item.pk}": forms.ChoiceField(
                label=item.label,
                help_text=item.guidance,
                choices=QaAnswerChoice.choices,
                widget=forms.RadioSelect,
                error_messages=_ANSWER_ERRORS,
            )
            for item in self.items
        }
        # Items first, comments last, the hidden version anywhere.
        others = dict(self.fields)
        self.fields = {**answer_fields, **others}

    @property
    def item_fields(self) -> list[tuple]:
        return [(item, self[f"item_{item.pk}"]) for item in self.items]

    def clean_checklist(self) -> int:
        value = self.cleaned_data["checklist"]
        if value != self.checklist_obj.pk:
            raise forms.ValidationError(
                _("La grille a changé depuis l'ouverture de la page : recommencez.")
            )
        return value

    def answers(self) -> dict[int, str]:
        return {item.pk: self.cleaned_data[f"item_{item.pk}"] for item in self.items}


class CalibrationOpenForm(forms.Form):
    month = _month_input(_("Mois de la séance"), required=True)
    contact = forms.IntegerField(
        label=_("Numéro du contact à calibrer"),
        min_value=1,
        help_text=_("Le numéro affiché sur la page d'évaluation du contact."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    def __init__(self, data=None, *, today: date):
        this_month = today.replace(day=1)
        super().__init__(data, initial={"month": f"{this_month:%Y-%m}"})
        self.this_month = this_month
        self.fields["month"].widget.attrs["max"] = f"{this_month:%Y-%m}"

    def clean_month(self) -> date:
        raw = self.cleaned_data.get("month") or ""
        if not raw.strip():
            raise forms.ValidationError(_("Choisissez le mois de la séance."))
        return _parse_month(raw, latest=self.this_month)


class CalibrationCloseForm(forms.Form):
    agreed_score = forms.DecimalField(
        label=_("Score retenu (%)"),
        min_value=Decimal(0),
        max_value=Decimal(100),
        max_digits=5,
        decimal_places=2,
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        help_text=_("Le score sur lequel les superviseurs se sont accordés."),
    )
    notes = forms.CharField(
        label=_("Conclusions de la séance"),
        required=False,
        max_length=_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class CoachingNoteForm(forms.Form):
    on = _date_input(_("Date de l'entretien"))
    text = forms.CharField(
        label=_("Note de coaching"),
        max_length=_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("Écrivez la note.")},
    )
    review = forms.TypedChoiceField(
        label=_("Évaluation concernée"), required=False, coerce=int, empty_value=None
    )
    follow_up_on = _date_input(_("Date de suivi"), required=False)

    def __init__(self, data=None, *, today: date, reviews, selected_review: int | None = None):
        super().__init__(data, prefix="coaching", initial={"on": today, "review": selected_review})
        self.today = today
        self.fields["on"].widget.attrs["max"] = today.isoformat()
        self.fields["review"].choices = [
            ("", _("Aucune")),
            *[
                (
                    r.pk,
                    _("Contact n° %(contact)s du %(day)s — %(score)s")
                    % {
                        "contact": r.contact_id,
                        "day": timezone.localtime(r.created_at).strftime("%d/%m/%Y"),
                        "score": "—"
                        if r.score is None
                        else f"{number_format(r.score, decimal_pos=2)} %",
                    },
                )
                for r in reviews
            ],
        ]

    def clean(self) -> dict:
        data = super().clean()
        on, follow_up = data.get("on"), data.get("follow_up_on")
        if on and on > self.today:
            self.add_error("on", _("La date ne peut pas être dans le futur."))
        if on and follow_up and follow_up < on:
            self.add_error("follow_up_on", _("Le suivi ne peut pas précéder la note."))
        return data


class TrainingRecordForm(forms.Form):
    kind = forms.ChoiceField(label=_("Type"), choices=TrainingKind.choices)
    quantity = forms.DecimalField(
        label=_("Quantité"),
        min_value=Decimal("0.01"),
        max_digits=6,
        decimal_places=2,
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        help_text=_("Heures de formation, ou nombre d'appels accompagnés dans la semaine."),
    )
    on = _date_input(_("Date"))
    notes = forms.CharField(
        label=_("Précisions"),
        required=False,
        max_length=_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, data=None, *, today: date):
        super().__init__(data, prefix="training", initial={"on": today})
        self.today = today
        self.fields["on"].widget.attrs["max"] = today.isoformat()


# --- Dashboard and snapshots ----------------------------------------------------------

WALLBOARD_POLL_SECONDS = 10


class DashboardPeriodForm(forms.Form):
    """`?day=2026-03-10` or `?month=2026-03`; neither: today, live."""

    day = forms.DateField(
        label=_("Jour"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    month = _month_input(_("Mois"))

    def __init__(self, data=None, *, today: date):
        super().__init__(data)
        self.today = today
        self.fields["day"].widget.attrs["max"] = today.isoformat()
        self.fields["month"].widget.attrs["max"] = f"{today:%Y-%m}"

    def clean_day(self) -> date | None:
        day = self.cleaned_data.get("day")
        if day is not None and day > self.today:
            raise forms.ValidationError(_("Choisissez aujourd'hui ou un jour passé."))
        if day is not None and day < _FIRST_MONTH:
            raise forms.ValidationError(_("Choisissez un jour à partir du 1er janvier 2000."))
        return day

    def clean_month(self) -> date | None:
        raw = self.cleaned_data.get("month") or ""
        return _parse_month(raw, latest=self.today.replace(day=1)) if raw.strip() else None

    def clean(self):
        data = super().clean()
        if data.get("day") and data.get("month"):
            self.add_error("month", _("Choisissez un jour ou un mois, pas les deux."))
        return data

    def period(self) -> dict:
        """The selector's arguments: a day, a month, or neither (today)."""
        if not self.is_bound or not self.is_valid():
            return {"day": None, "month": None}
        return {"day": self.cleaned_data["day"], "month": self.cleaned_data["month"]}


class WallboardForm(forms.Form):
    """`?poll=N`: seconds between refreshes (0 stops them)."""

    poll = forms.IntegerField(
        label=_("Actualisation (secondes)"), required=False, min_value=0, max_value=300
    )

    @property
    def poll_seconds(self) -> int:
        if self.is_bound and self.is_valid() and self.cleaned_data["poll"] is not None:
            return self.cleaned_data["poll"]
        return WALLBOARD_POLL_SECONDS
