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
    return _with_summary(Account.objects.all()).order_by("-created_at", "-id")[:limit]


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


def user_memberships(*, user: User) -> QuerySet[AccountMembership]:
    return (
        AccountMembership.objects.filter(user=user)
        .select_related("account", "account__sla_package")
        .order_by("account__number")
    )


def customer_search(*, query: str, limit: int = 25) -> list[Account]:
    """Find accounts by name, number, PRM/MPAN/EIC, email, phone or postcode.

    Exact keys (numbers, identifiers) use btree lookups; free text uses the
    trigram indexes, so the search stays fast with 100k+ accounts.
    """
    from django.contrib.postgres.search import TrigramSimilarity
    from django.db.models import Exists, OuterRef, Q

    from .models import SupplyPoint

    text = query.strip()
    if len(text) < 2:
        return []
    compact = text.replace(" ", "").upper()
    if compact.startswith("S") and compact[1:].isdigit() and len(compact) == 22:
        compact = compact[1:]  # a full MPAN written with its "S" box
    base = Account.objects.all()
    # Account numbers never start with 0; French phone numbers always do.
    if compact.isdigit() and len(compact) == 10 and not compact.startswith("0"):
        found = base.filter(number=compact)
    elif (compact.isdigit() and len(compact) in (13, 14, 21)) or (
        len(compact) == 16 and compact.replace("-", "").isalnum() and not compact.isdigit()
    ):
        key = compact[-13:] if len(compact) == 21 else compact
        found = base.filter(
            Exists(SupplyPoint.objects.filter(premise__account=OuterRef("pk"), identifier=key))
        )
    elif compact.isdigit() and len(compact) == 5:
        found = base.filter(pk__in=Premise.objects.filter(postcode=compact).values("account_id"))
    elif "@" in text:
        # A subquery on users keeps the trigram index on email in play.
        found = base.filter(pk__in=_accounts_of_users(Q(email__icontains=text.lower())))
    elif compact.lstrip("+").isdigit():
        # Phones are stored normalised (see domain.phone_normalise); compare the
        # last nine digits, which the trigram indexes serve as LIKE '%…'.
        tail = compact.lstrip("+")[-9:]
        found = base.filter(
            Q(phone__endswith=tail) | Q(pk__in=_accounts_of_users(Q(phone__endswith=tail)))
        )
    else:
        # Two small index scans, each cut at `limit` by similarity: one on
        # account names, one on people's surnames (a business's contacts).
        by_name = list(
            base.filter(name__trigram_similar=text)
            .annotate(score=TrigramSimilarity("name", text))
            .order_by("-score", "number")
            .values_list("pk", flat=True)[:limit]
        )
        if not by_name:
            by_name = list(base.filter(name__icontains=text).values_list("pk", flat=True)[:limit])
        people = (
            User.objects.filter(last_name__trigram_similar=text)
            .annotate(score=TrigramSimilarity("last_name", text))
            .order_by("-score")
            .values_list("pk", flat=True)[:limit]
        )
        person_ids = AccountMembership.objects.filter(user__in=list(people)).values_list(
            "account_id", flat=True
        )
        ids = list(dict.fromkeys([*by_name, *person_ids]))[:limit]
        return list(_with_summary(Account.objects.filter(pk__in=ids)).order_by("name"))
    return list(_with_summary(found).order_by("name")[:limit])


def _accounts_of_users(user_filter) -> QuerySet:
    return AccountMembership.objects.filter(
        user__in=User.objects.filter(user_filter).values("pk")
    ).values("account_id")


def _with_summary(queryset: QuerySet[Account]) -> QuerySet[Account]:
    from .models import PriorityRegistration

    return queryset.annotate(
        premise_count=Count("premises", distinct=True),
    ).prefetch_related(
        Prefetch(
            "memberships", queryset=AccountMembership.objects.select_related("user").order_by("id")
        ),
        Prefetch("premises", queryset=Premise.objects.order_by("postcode", "id")),
        Prefetch(
            "priority_registration",
            queryset=PriorityRegistration.objects.filter(active=True),
        ),
    )


def customer_360(*, number: str) -> Account:
    """Everything an agent sees about one account, in a fixed number of queries."""
    from django.shortcuts import get_object_or_404

    from .models import AuditEntry, Document, ErasureRequest, SupplyPoint

    return get_object_or_404(
        Account.objects.select_related(
            "sla_package", "account_manager", "bank_details", "priority_registration"
        ).prefetch_related(
            Prefetch(
                "memberships",
                queryset=AccountMembership.objects.select_related("user").order_by("id"),
            ),
            Prefetch(
                "premises",
                queryset=Premise.objects.order_by("postcode", "id").prefetch_related(
                    Prefetch("supply_points", queryset=SupplyPoint.objects.order_by("id"))
                ),
            ),
            Prefetch(
                "audit_entries",
                queryset=AuditEntry.objects.select_related("actor").order_by("-at", "-id")[:100],
                to_attr="recent_audit",
            ),
            Prefetch(
                "documents",
                queryset=Document.objects.select_related("uploaded_by", "reviewed_by").order_by(
                    "-uploaded_at"
                ),
            ),
            Prefetch(
                "erasure_requests",
                queryset=ErasureRequest.objects.order_by("-requested_at"),
            ),
        ),
        number=number,
    )


def account_for_member(*, user: User, number: str) -> Account:
    from django.shortcuts import get_object_or_404

    return get_object_or_404(Account, number=number, memberships__user=user)


# --- B2B REST API (OAuth clients and signed-in members) ----------------------


def _api_account_id(*, api_client, user: User | None, number: str | None) -> int | None:
    """The account an API caller acts for, or None when there is none (→ 404).

    An OAuth client acts for the account it is bound to. A signed-in user acts for
    the account `number` among their memberships, by default their first one by number.
    """
    from .domain import member_can
    from .models import MemberRole

    if api_client is not None:
        if number is not None and number != api_client.account.number:
            return None
        return api_client.account_id
    if user is None or not user.is_authenticated:
        return None
    roles = [role for role in MemberRole.values if member_can(role, "view")]
    accounts = Account.objects.filter(memberships__user=user, memberships__role__in=roles)
    if number is not None:
        accounts = accounts.filter(number=number)
    return accounts.order_by("number").values_list("pk", flat=True).first()


def api_account_get(*, api_client, user: User | None, number: str | None = None) -> Account | None:
    """The caller's account with its service package and its number of premises."""
    account_id = _api_account_id(api_client=api_client, user=user, number=number)
    if account_id is None:
        return None
    return (
        Account.objects.select_related("sla_package")
        .annotate(premise_count=Count("premises", distinct=True))
        .filter(pk=account_id)
        .first()
    )


def api_supply_points(*, api_client, user: User | None, number: str | None = None):
    """The supply points of the caller's account, by id, with their premise; None: no account."""
    from .models import SupplyPoint

    account_id = _api_account_id(api_client=api_client, user=user, number=number)
    if account_id is None:
        return None
    return (
        SupplyPoint.objects.filter(premise__account_id=account_id)
        .select_related("premise")
        .order_by("id")
    )


def account_on_priority_register(*, account_id: int) -> bool:
    from .models import PriorityRegistration

    return PriorityRegistration.objects.filter(account_id=account_id, active=True).exists()


def account_supply_points(*, account_id: int) -> list:
    from .models import SupplyPoint

    return list(
        SupplyPoint.objects.filter(premise__account_id=account_id)
        .select_related("premise")
        .order_by("id")
    )


def account_by_number(*, number: str) -> Account | None:
    return Account.objects.filter(number=number.replace(" ", "")).first()


def customer_summary(*, account_id: int) -> Account:
    """The 360° facts an agent needs beside a ticket, in a fixed number of queries."""
    from .models import PriorityRegistration, SupplyPoint

    return (
        Account.objects.select_related("sla_package", "account_manager")
        .prefetch_related(
            Prefetch(
                "memberships",
                queryset=AccountMembership.objects.select_related("user").order_by("id"),
            ),
            Prefetch(
                "premises",
                queryset=Premise.objects.order_by("id").prefetch_related(
                    Prefetch("supply_points", queryset=SupplyPoint.objects.order_by("id"))
                ),
            ),
            Prefetch(
                "priority_registration",
                queryset=PriorityRegistration.objects.filter(active=True),
            ),
        )
        .get(pk=account_id)
    )


def account_ids_by_phone(*, phones: list[str]) -> dict[str, int]:
    """Active accounts by their normalised phone, in one query. A number that several
    accounts share names nobody, so it is left out rather than guessed."""
    found: dict[str, list[int]] = {}
    rows = Account.objects.filter(phone__in=set(phones), status="ACTIVE").values_list("phone", "pk")
    for phone, pk in rows:
        found.setdefault(phone, []).append(pk)
    return {phone: pks[0] for phone, pks in found.items() if len(pks) == 1}


def staff_ids_by_email(*, emails: list[str]) -> dict[str, int]:
    """Active staff users by their (lower-case) e-mail, in one query."""
    rows = User.objects.filter(
        email__in={email.lower() for email in emails}, role__in=STAFF_ROLES, is_active=True
    ).values_list("email", "pk")
    return dict(rows)
