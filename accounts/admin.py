from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import (
    Account,
    AccountMembership,
    ApiClient,
    AuditEntry,
    Parameter,
    Premise,
    SlaPackage,
    User,
)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "role", "is_active"]
    list_filter = ["role", "is_active"]
    search_fields = ["email", "first_name", "last_name", "phone"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Identité"), {"fields": ("first_name", "last_name", "phone", "preferred_language")}),
        (_("Accès"), {"fields": ("role", "is_active", "is_staff", "is_superuser")}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "role", "password1", "password2")}),
    )


class MembershipInline(admin.TabularInline):
    model = AccountMembership
    extra = 0
    raw_id_fields = ["user"]


class PremiseInline(admin.TabularInline):
    model = Premise
    extra = 0


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["number", "name", "type", "created_at"]
    list_filter = ["type"]
    search_fields = ["number", "name"]
    readonly_fields = ["number", "status", "created_at"]
    inlines = [MembershipInline, PremiseInline]

    def save_model(self, request, obj, form, change):
        """Changes made here land in the audit trail like any other channel's."""
        from django.utils import timezone

        from .models import AuditChannel
        from .services import audit_record

        before = (
            type(obj).objects.filter(pk=obj.pk).values(*form.changed_data).first()
            if change
            else None
        )
        super().save_model(request, obj, form, change)
        if before is not None:
            audit_record(
                account=obj,
                actor=request.user,
                channel=AuditChannel.ADMIN,
                obj=obj,
                changes={f: (before[f], getattr(obj, f)) for f in form.changed_data if f in before},
                now=timezone.now(),
            )


@admin.register(SlaPackage)
class SlaPackageAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "monthly_price",
        "response_business_hours",
        "availability_target_percent",
        "availability_service_credit",
    ]


@admin.register(Parameter)
class ParameterAdmin(admin.ModelAdmin):
    """Configurable figures: a change here takes effect within a minute, no deploy."""

    list_display = ["key", "value", "description"]
    search_fields = ["key"]

    def save_model(self, request, obj, form, change):
        from django.core.cache import cache

        super().save_model(request, obj, form, change)
        cache.delete(f"param:{obj.key}")


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the trail cannot be edited through any interface."""

    list_display = ["at", "account", "actor", "channel", "object_type", "field"]
    list_filter = ["channel", "object_type"]
    search_fields = ["account__number"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    """Clients are created where their secret can be shown once: business ones in the
    portal, staff ones with `manage.py api_client_staff_create`. Here only the name and
    tier change (audited); kind, holder and scopes stay as created, so that no business
    client is ever given a staff scope. Revocation goes through the service, which also
    deletes the tokens."""

    list_display = [
        "name",
        "kind",
        "account",
        "owner",
        "tier",
        "scopes",
        "created_at",
        "revoked_at",
    ]
    list_filter = ["kind", "tier"]
    search_fields = ["name", "account__number", "owner__email"]
    fields = [
        "name",
        "tier",
        "kind",
        "account",
        "owner",
        "scopes",
        "application",
        "created_by",
        "created_at",
        "revoked_at",
    ]
    readonly_fields = [
        "kind",
        "account",
        "owner",
        "scopes",
        "application",
        "created_by",
        "created_at",
        "revoked_at",
    ]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        from django.utils import timezone

        from .models import AuditChannel
        from .services import audit_record

        before = type(obj).objects.filter(pk=obj.pk).values(*form.changed_data).first()
        super().save_model(request, obj, form, change)
        if before is not None:
            audit_record(
                account=obj.account,
                actor=request.user,
                channel=AuditChannel.ADMIN,
                obj=obj,
                changes={f: (before[f], getattr(obj, f)) for f in form.changed_data if f in before},
                now=timezone.now(),
            )

    @admin.action(description=_("Révoquer l'accès des clients sélectionnés"))
    def revoke(self, request, queryset):
        from django.utils import timezone

        from .services import api_client_revoke

        revoked = 0
        for client in queryset.filter(revoked_at__isnull=True):
            api_client_revoke(client=client, actor=request.user, now=timezone.now())
            revoked += 1
        message = ngettext("%(count)d client révoqué.", "%(count)d clients révoqués.", revoked)
        self.message_user(request, message % {"count": revoked})
