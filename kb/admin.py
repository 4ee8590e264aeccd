"""Admin of the knowledge base. Text is edited here (the search vector is recomputed on
save); the status only changes through kb.services.articles.article_transition, with
the actions "Publier", "Repasser en brouillon" and "Archiver", so every change leaves an
ArticleEvent. Votes are read-only."""

from datetime import timedelta

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import Article, ArticleEvent, ArticleStatus, ArticleVote, Category
from .services import articles as services


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["slug", "name_fr", "name_en", "position"]
    ordering = ["position", "slug"]
    search_fields = ["slug", "name_fr", "name_en"]


class EventInline(admin.TabularInline):
    model = ArticleEvent
    fields = ["at", "from_status", "to_status", "actor"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class ReviewDueFilter(admin.SimpleListFilter):
    title = _("révision")
    parameter_name = "review"

    def lookups(self, request, model_admin):
        return [("due", _("À revoir sous 30 jours")), ("late", _("Révision dépassée"))]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        if self.value() == "due":
            return queryset.exclude(status=ArticleStatus.ARCHIVED).filter(
                review_on__lte=today + timedelta(days=30)
            )
        if self.value() == "late":
            return queryset.exclude(status=ArticleStatus.ARCHIVED).filter(review_on__lt=today)
        return queryset


def _transition(modeladmin, request, queryset, to_status: str) -> None:
    done, refused = 0, 0
    for article in queryset:
        try:
            services.article_transition(
                article_id=article.pk, to_status=to_status, actor=request.user, now=timezone.now()
            )
            done += 1
        except services.IllegalTransition:
            refused += 1
    if done:
        modeladmin.message_user(request, _("%(n)d article(s) modifié(s).") % {"n": done})
    if refused:
        modeladmin.message_user(
            request,
            _("%(n)d article(s) ignoré(s) : changement de statut impossible.") % {"n": refused},
            level=messages.WARNING,
        )


@admin.action(description=_("Publier"))
def publish(modeladmin, request, queryset):
    _transition(modeladmin, request, queryset, ArticleStatus.PUBLISHED)


@admin.action(description=_("Repasser en brouillon"))
def unpublish(modeladmin, request, queryset):
    _transition(modeladmin, request, queryset, ArticleStatus.DRAFT)


@admin.action(description=_("Archiver"))
def archive(modeladmin, request, queryset):
    _transition(modeladmin, request, queryset, ArticleStatus.ARCHIVED)


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "language", "status", "owner", "review_on", "category"]
    list_filter = ["status", "language", "category", ReviewDueFilter]
    search_fields = ["title", "key", "slug", "summary", "keywords"]
    list_select_related = ["owner", "category"]
    raw_id_fields = ["owner"]
    readonly_fields = ["status", "published_at", "updated_at"]
    fields = [
        "key",
        "language",
        "category",
        "slug",
        "title",
        "summary",
        "keywords",
        "body",
        "owner",
        "review_on",
        "status",
        "published_at",
        "updated_at",
    ]
    actions = [publish, unpublish, archive]
    inlines = [EventInline]

    def save_model(self, request, obj, form, change):
        """New articles start as drafts; the search vector follows the text."""
        obj.updated_at = timezone.now()
        if not change:
            obj.status = ArticleStatus.DRAFT
        super().save_model(request, obj, form, change)
        services.article_search_refresh(article_ids=[obj.pk])


@admin.register(ArticleVote)
class ArticleVoteAdmin(admin.ModelAdmin):
    list_display = ["article", "helpful", "created_at", "short_comment"]
    list_filter = ["helpful", "article__language"]
    search_fields = ["comment", "article__title"]
    list_select_related = ["article"]
    readonly_fields = ["article", "helpful", "comment", "user", "session_key", "created_at"]

    @admin.display(description=_("commentaire"))
    def short_comment(self, obj) -> str:
        return obj.comment[:80]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
