from rest_framework import serializers

from .models import Account, NotifyChannel, Premise, SupplyPoint, User


class MeSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["email", "first_name", "last_name", "role", "preferred_language"]
        read_only_fields = fields


class NotificationPreferencesSerializer(serializers.Serializer):
    billing = serializers.ChoiceField(
        NotifyChannel.choices, source="notify_billing", read_only=True
    )
    outages = serializers.ChoiceField(
        NotifyChannel.choices, source="notify_outages", read_only=True
    )
    tickets = serializers.ChoiceField(
        NotifyChannel.choices, source="notify_tickets", read_only=True
    )


class AccountSerializer(serializers.ModelSerializer):
    """An account as its own integration sees it: no personal data of its members."""

    sla_package = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    premise_count = serializers.IntegerField(read_only=True)
    notifications = NotificationPreferencesSerializer(source="*", read_only=True)

    class Meta:
        model = Account
        fields = [
            "number",
            "type",
            "name",
            "sla_package",
            "premise_count",
            "language",
            "notifications",
        ]
        read_only_fields = fields


class PremiseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Premise
        fields = ["address", "postcode", "city", "area_class"]
        read_only_fields = fields


class SupplyPointSerializer(serializers.ModelSerializer):
    premise = PremiseSerializer(read_only=True)

    class Meta:
        model = SupplyPoint
        fields = ["id", "market", "identifier", "subscribed_kva", "meter_reference", "premise"]
        read_only_fields = fields


class ApiErrorDetailSerializer(serializers.Serializer):
    status = serializers.IntegerField()
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class ApiErrorSerializer(serializers.Serializer):
    """The one error format of the API (documentation only)."""

    error = ApiErrorDetailSerializer()
