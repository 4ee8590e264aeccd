"""REST API of `accounts`: the signed-in user, and the B2B reads of an account.

The B2B endpoints answer an OAuth client (client credentials, acting for the business
account it is bound to) or a signed-in customer's session, which the portal's guard must
admit (second factor included) and in which any membership role may read. A resource of
another account is a 404, never a 403, so that its existence is not revealed.
"""

from drf_spectacular.contrib.django_oauth_toolkit import DjangoOAuthToolkitScheme
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from oauth2_provider.contrib.rest_framework import TokenHasScope
from rest_framework import generics
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import access, selectors
from .domain import ShellDecision
from .models import SupplyPoint
from .oauth import api_client_of
from .serializers import (
    AccountSerializer,
    ApiErrorSerializer,
    MeSerializer,
    SupplyPointSerializer,
)
from .throttling import RateLimitHeadersMixin


class ApiClientOAuth2Scheme(DjangoOAuthToolkitScheme):
    """OpenAPI: endpoints open to any OAuth client of an account list the oauth2 scheme."""

    priority = 1

    def get_security_requirement(self, auto_schema):
        if getattr(auto_schema.view, "api_client_access", False):
            return {self.name: []}
        return super().get_security_requirement(auto_schema)


class IsApiClientOrCustomer(BasePermission):
    """An active OAuth client, or a customer's session that the portal itself would let in.

    The session path asks the portal's guard, second factor included, so the API is no way
    round it. (DRF's `IsAuthenticated` would refuse client tokens: their `request.user` is None.)
    """

    def has_permission(self, request, view) -> bool:
        if api_client_of(request) is not None:
            return True
        return customer_session_allowed(request)


def customer_session_allowed(request) -> bool:
    """A signed-in customer whom the portal's guard (second factor included) lets in."""
    user = request.user
    if user is None or not user.is_authenticated:
        return False
    return access.decide(request, access.CUSTOMER_ROLES) is ShellDecision.ALLOW


class ScopeOrCustomer(TokenHasScope):
    """An OAuth client whose token carries the view's `required_scopes`, or a customer's
    session that the portal's guard lets in (second factor included); staff get 403.

    A subclass of TokenHasScope so that the OpenAPI schema lists the scope."""

    def has_permission(self, request, view) -> bool:
        if api_client_of(request) is not None:
            scopes = self.get_scopes(request, view)
            if request.auth.allow_scopes(scopes):
                return True
            self.message = f"This token does not carry the {' '.join(scopes)} scope."
            self.code = "insufficient_scope"
            return False
        return customer_session_allowed(request)


ACCOUNT_PARAMETER = OpenApiParameter(
    "account",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    description="Signed-in members only: the number of one of their accounts "
    "(default: their first account by number). An OAuth client always acts for its own account.",
)
ERRORS = {
    401: ApiErrorSerializer,
    403: ApiErrorSerializer,
    404: ApiErrorSerializer,
    429: ApiErrorSerializer,
}


class MeView(RateLimitHeadersMixin, APIView):
    """The signed-in user, as the portal's own scripts see them."""

    @extend_schema(responses=MeSerializer, operation_id="users_me")
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user).data)


class _AccountApiMixin(RateLimitHeadersMixin):
    permission_classes = [IsApiClientOrCustomer]
    api_client_access = True

    def caller(self) -> dict:
        return {
            "api_client": api_client_of(self.request),
            "user": self.request.user,
            "number": self.request.query_params.get("account"),
        }


class AccountMeView(_AccountApiMixin, APIView):
    """Number, type, holder name, service package, premises and notification preferences."""

    @extend_schema(
        operation_id="accounts_me",
        summary="The caller's account",
        parameters=[ACCOUNT_PARAMETER],
        responses={200: AccountSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        account = selectors.api_account_get(**self.caller())
        if account is None:
            raise NotFound()
        return Response(AccountSerializer(account).data)


class SupplyPointPagination(CursorPagination):
    ordering = "id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class _SupplyPointsMixin(_AccountApiMixin):
    serializer_class = SupplyPointSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return SupplyPoint.objects.none()
        points = selectors.api_supply_points(**self.caller())
        if points is None:
            raise NotFound()
        return points


@extend_schema_view(
    get=extend_schema(
        operation_id="supply_points_list",
        summary="Supply points of the caller's account",
        parameters=[ACCOUNT_PARAMETER],
        responses={200: SupplyPointSerializer(many=True), **ERRORS},
    )
)
class SupplyPointListView(_SupplyPointsMixin, generics.ListAPIView):
    """Cursor-paginated, ordered by id; each supply point with its premise."""

    pagination_class = SupplyPointPagination


@extend_schema_view(
    get=extend_schema(
        operation_id="supply_points_retrieve",
        summary="One supply point of the caller's account",
        parameters=[ACCOUNT_PARAMETER],
        responses={200: SupplyPointSerializer, **ERRORS},
    )
)
class SupplyPointDetailView(_SupplyPointsMixin, generics.RetrieveAPIView):
    """A supply point of another account is a 404."""
