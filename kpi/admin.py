"""Admin views of kpi's own records. Reviews, sessions, notes and training are written
by the supervisor pages' services and shown read-only here, so that no score is edited
without its answers; on a checklist, only the name and the active flag change (a new
version is created with services.quality.qa_checklist_create)."""

from django.contrib import admin

from .models import (
    CalibrationSession,
    CoachingNote,
    QaAnswer,
    QaChecklist,
    QaChecklistItem,
    QaReview,
    TrainingRecord,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ItemInline(admin.TabularInline):
    model = QaChecklistItem
    fields = ["position", "label", "weight", "critical", "guidance"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(QaChecklist)
class QaChecklistAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "version", "active", "created_at"]
    list_filter = ["active", "code"]
    readonly_fields = ["code", "version", "created_at"]
    fields = ["name", "code", "version", "active", "created_at"]
    inlines = [ItemInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class AnswerInline(admin.TabularInline):
    model = QaAnswer
    fields = ["item", "answer"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(QaReview)
class QaReviewAdmin(ReadOnlyAdmin):
    list_display = ["pk", "contact", "agent", "reviewer", "score", "critical_failed", "created_at"]
    list_filter = ["critical_failed", "checklist"]
    list_select_related = ["contact", "agent", "reviewer"]
    search_fields = ["agent__email", "reviewer__email", "agent__last_name"]
    inlines = [AnswerInline]


@admin.register(CalibrationSession)
class CalibrationSessionAdmin(ReadOnlyAdmin):
    list_display = ["month", "contact", "opened_by", "closed_at", "agreed_score", "spread_at_close"]
    list_select_related = ["contact", "opened_by"]


@admin.register(CoachingNote)
class CoachingNoteAdmin(ReadOnlyAdmin):
    list_display = ["on", "agent", "author", "follow_up_on"]
    list_select_related = ["agent", "author"]
    search_fields = ["agent__email", "agent__last_name"]


@admin.register(TrainingRecord)
class TrainingRecordAdmin(ReadOnlyAdmin):
    list_display = ["on", "agent", "kind", "quantity", "recorded_by"]
    list_filter = ["kind"]
    list_select_related = ["agent", "recorded_by"]
    search_fields = ["agent__email", "agent__last_name"]
