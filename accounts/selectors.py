from django.db.models import Count, Prefetch, QuerySet
from django_otp import devices_for_user

from .models import STAFF_ROLES, Account, AccountMembership, Premise, Role, User


def user_has_confirmed_device(*, user: User) -> bool:
    return any(True for _ in devices_for_user(user, confirmed=True))


def user_accounts(*, user: User) -> QuerySet[Account]:
    return (
        Account.objects.filter(memberships__user=user)
        .prefetch_related(Prefetch("premises", queryset=Premise.objects.order_by("postcode", "id")))
        .order_by("number")
    )


def accounts_recent(*, limit: int = 20) -> QuerySet[Account]:
    return (
        Account.objects.annotate(premise_count=Count("premises", distinct=True))
        .prefetch_related(
            Prefetch(
                "memberships",
                queryset=AccountMembership.objects.select_related("user").order_by("id"),
            )
        )
        .order_by("-created_at", "-id")[:limit]
    )


def staff_directory() -> QuerySet[User]:
    return User.objects.filter(role__in=STAFF_ROLES, is_active=True).order_by("role", "last_name")


def staff_counts_by_role() -> list[tuple[Role, int]]:
    rows = (
        User.objects.filter(role__in=STAFF_ROLES, is_active=True)
        .values("role")
        .annotate(n=Count("id"))
    )
    found = {r["role"]: r["n"] for r in rows}
    return [(role, found.get(role.value, 0)) for role in Role if role in STAFF_ROLES]


def parameter_get(*, key: str):
    """A configurable figure: the admin's value if set, else the coded default."""
    from django.core.cache import cache

    from .domain import PARAMETER_DEFAULTS
    from .models import Parameter

    cache_key = f"param:{key}"
    value = cache.get(cache_key)
    if value is None:
        row = Parameter.objects.filter(key=key).values_list("value", flat=True).first()
        value = row if row is not None else PARAMETER_DEFAULTS[key]
        cache.set(cache_key, value, 60)
    return value
