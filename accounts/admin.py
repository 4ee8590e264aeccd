from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import Account, AccountMembership, Premise, User


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
    inlines = [MembershipInline, PremiseInline]
