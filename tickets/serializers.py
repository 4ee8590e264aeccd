"""Input and output shapes of the tickets API."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts import selectors as account_selectors

from .domain.routing import CATEGORY_QUEUE
from .models import ClockInstance, ClockStatus, Message, Ticket


class TicketCreateSerializer(serializers.Serializer):
    """Validated against the caller's account, passed as context["caller"]
    (a dict with `api_client`, `user` and `account`)."""

    category = serializers.ChoiceField(choices=sorted(CATEGORY_QUEUE))
    subject = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=20_000)
    supply_point_id = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="A supply point of the caller's account.",
    )
    safety = serializers.BooleanField(
        required=False,
        default=False,
        help_text="True if the request reports a danger (smoke, sparks, a fallen line).",
    )

    def validate_supply_point_id(self, value: int | None):
        if value is None:
            return None
        caller = self.context["caller"]
        points = account_selectors.api_supply_points(
            api_client=caller["api_client"],
            user=caller["user"],
            number=caller["account"].number,
        )
        point = points.filter(pk=value).first() if points is not None else None
        if point is None:
            raise serializers.ValidationError("No supply point of your account has this id.")
        return point


class ClockPromiseSerializer(serializers.ModelSerializer):
    class Meta:
        model = ClockInstance
        fields = ["name", "due_at"]
        read_only_fields = fields


# A plain string in the schema: an enum named after "status" would collide with the
# ticket's own (a settings ENUM_NAME_OVERRIDES entry would allow a proper enum).
@extend_schema_field({"type": "string", "description": f"One of {', '.join(ClockStatus.values)}."})
class ClockStatusField(serializers.ChoiceField):
    pass


class ClockSerializer(serializers.ModelSerializer):
    status = ClockStatusField(choices=ClockStatus.choices, read_only=True)

    class Meta:
        model = ClockInstance
        fields = ["name", "status", "started_at", "due_at", "met_at", "breached_at"]
        read_only_fields = fields


class TicketCreatedSerializer(serializers.ModelSerializer):
    promised = ClockPromiseSerializer(
        source="clocks",
        many=True,
        read_only=True,
        help_text="The commitments started with the ticket, each with its deadline.",
    )

    class Meta:
        model = Ticket
        fields = ["reference", "status", "queue", "priority", "created_at", "promised"]
        read_only_fields = fields


class TicketSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Ticket
        fields = [
            "reference",
            "category",
            "subject",
            "channel",
            "queue",
            "priority",
            "status",
            "created_at",
            "last_activity_at",
            "resolved_at",
        ]
        read_only_fields = fields


class TicketMessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ["created_at", "from_customer", "channel", "body"]
        read_only_fields = fields


class TicketDetailSerializer(TicketSummarySerializer):
    """Public messages only (the selector leaves internal notes out), and the clocks."""

    messages = TicketMessageSerializer(source="public_messages", many=True, read_only=True)
    clocks = ClockSerializer(many=True, read_only=True)

    class Meta(TicketSummarySerializer.Meta):
        fields = [*TicketSummarySerializer.Meta.fields, "messages", "clocks"]
        read_only_fields = fields
