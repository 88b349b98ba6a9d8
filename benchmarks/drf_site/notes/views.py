"""A model viewset for the router, and the API view the reload measurement edits (TOKEN)."""

from notes.models import Note
from rest_framework import serializers, viewsets
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

TOKEN = "token-000"


class NoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Note
        fields = ["id", "title", "body", "created"]


class NoteViewSet(viewsets.ModelViewSet):
    queryset = Note.objects.all()
    serializer_class = NoteSerializer


@api_view(["GET"])
def hello(request: Request) -> Response:
    return Response({"token": TOKEN})
