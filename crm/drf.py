"""API-wide policy for DRF (referenced from settings.REST_FRAMEWORK)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.response import Response
    from rest_framework.views import APIView


class TenantRolePermission(BasePermission):
    """Default for every API view: TenantMiddleware must have admitted the request.

    The middleware already checked membership and role; an API view mounted outside
    /api/v1/t/<slug>/ has no membership and is refused, so nothing is public by
    accident.
    """

    message = "This endpoint needs a company in its address."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return getattr(request._request, "membership", None) is not None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    from rest_framework.views import exception_handler as drf_exception_handler

    return drf_exception_handler(exc, context)
