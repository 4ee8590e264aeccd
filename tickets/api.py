"""REST API of `tickets`: open a ticket, list the account's tickets, follow one.

Callers are an OAuth client whose token carries the `tickets:write` scope (acting for the
account it is bound to), or a customer's session that the portal's guard admits. A member
may read with any role and open a ticket if the role may `edit_account` (VIEWER may not).
A ticket of another account is a 404, never a 403.
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors as account_selectors
from accounts.api import ACCOUNT_PARAMETER, ERRORS, ScopeOrCustomer
from accounts.domain import member_can
from accounts.oauth import api_client_of
from accounts.serializers import ApiErrorSerializer
from accounts.throttling import RateLimitHeadersMixin

from . import selectors, services
from .models import Channel, Ticket
from .serializers import (
    TicketCreatedSerializer,
    TicketCreateSerializer,
    TicketDetailSerializer,
    TicketSummarySerializer,
)

TICKETS_SCOPE = "tickets:write"


class TicketPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class _TicketApiMixin(RateLimitHeadersMixin):
    permission_classes = [ScopeOrCustomer]
    required_scopes = [TICKETS_SCOPE]

    def caller(self, action: str) -> dict:
        """The caller's account, and who acts for it. 404 without one; 403 if the member's
        role may not do `action` ("view" to read, "edit_account" to open a ticket)."""
        number = self.request.query_params.get("account")
        api_client = api_client_of(self.request)
        if api_client is not None:
            if number is not None and number != api_client.account.number:
                raise NotFound()
            return {"api_client": api_client, "user": None, "account": api_client.account}
        memberships = list(account_selectors.user_memberships(user=self.request.user))
        if not memberships:
            raise NotFound()
        membership = memberships[0]
        if number is not None:
            membership = next((m for m in memberships if m.account.number == number), None)
            if membership is None:
                raise NotFound()
        if not member_can(membership.role, action):
            raise PermissionDenied("Your role on this account may not do this.")
        return {"api_client": None, "user": self.request.user, "account": membership.account}


@extend_schema_view(
    get=extend_schema(
        operation_id="tickets_list",
        summary="Tickets of the caller's account",
        description="Cursor-paginated, newest first. Merged duplicates are left out.",
        parameters=[ACCOUNT_PARAMETER],
        responses={200: TicketSummarySerializer(many=True), **ERRORS},
    ),
    post=extend_schema(
        operation_id="tickets_create",
        summary="Open a ticket",
        description="Routed like any other contact (queue and priority), with its SLA "
        "clocks started at once; `promised` gives their deadlines. A signed-in member needs "
        "a role that may edit the account (not VIEWER).",
        parameters=[ACCOUNT_PARAMETER],
        request=TicketCreateSerializer,
        responses={201: TicketCreatedSerializer, 400: ApiErrorSerializer, **ERRORS},
    ),
)
class TicketListCreateView(_TicketApiMixin, generics.ListAPIView):
    serializer_class = TicketSummarySerializer
    pagination_class = TicketPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Ticket.objects.none()
        return selectors.customer_tickets(account_id=self.caller("view")["account"].pk)

    def post(self, request: Request) -> Response:
        caller = self.caller("edit_account")
        serializer = TicketCreateSerializer(data=request.data, context={"caller": caller})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        api_client = caller["api_client"]
        try:
            ticket = services.ticket_create(
                channel=Channel.APP if api_client is not None else Channel.PORTAL,
                category=data["category"],
                subject=data["subject"],
                body=data["body"],
                account=caller["account"],
                requester=caller["user"],
                requester_name=caller["account"].name if api_client is not None else "",
                supply_point=data.get("supply_point_id"),
                declared_safety=data["safety"],
                details={"api_client": api_client.name} if api_client is not None else None,
                now=timezone.now(),
            )
        except services.TicketError as exc:
            raise ValidationError({"non_field_errors": [str(exc)]}) from exc
        return Response(TicketCreatedSerializer(ticket).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(
        operation_id="tickets_retrieve",
        summary="One ticket of the caller's account",
        description="With its public messages (never the internal notes) and its clocks. "
        "A ticket of another account is a 404.",
        parameters=[ACCOUNT_PARAMETER],
        responses={200: TicketDetailSerializer, **ERRORS},
    )
)
class TicketDetailView(_TicketApiMixin, generics.RetrieveAPIView):
    serializer_class = TicketDetailSerializer
    lookup_field = "reference"

    def get_queryset(self):  # schema generation only: get_object asks the selector
        return Ticket.objects.none()

    def get_object(self) -> Ticket:
        account = self.caller("view")["account"]
        return selectors.customer_ticket(account_id=account.pk, reference=self.kwargs["reference"])
