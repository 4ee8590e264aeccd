from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .serializers import MeSerializer


class MeView(APIView):
    """The signed-in user, as the portal's own scripts see them."""

    @extend_schema(responses=MeSerializer, operation_id="users_me")
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user).data)
