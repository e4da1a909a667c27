"""The answers every mutating API view gives: an action accepted, and a request body read."""

from rest_framework import status
from rest_framework.response import Response

from controlplane.audit.serializers import accepted_body


def accepted_response(event, **extra) -> Response:
    """HTTP 202 for an action: its id, status and URL (also the Location), plus `extra`."""
    body = {**accepted_body(event), **extra}
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


def request_object(request) -> dict:
    """The JSON body when it is an object; anything else reads as empty, so the services
    report each missing field by name instead of failing on the body's type."""
    return request.data if isinstance(request.data, dict) else {}
