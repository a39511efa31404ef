"""API-wide policy for DRF (referenced from settings.REST_FRAMEWORK)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
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
        django_request = request._request
        return (
            getattr(django_request, "membership", None) is not None
            or getattr(django_request, "api_key", None) is not None
        )


class ApiKeyAuthentication(BaseAuthentication):
    """Reports the API key TenantMiddleware admitted (it resolved and checked it).

    Listed before SessionAuthentication so that a key request is never asked for a
    CSRF token: it carries no cookie-based credentials to forge. The request has no
    user; ``request.auth`` is the ApiKey.
    """

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        key = getattr(request._request, "api_key", None)
        if key is None:
            return None
        return AnonymousUser(), key

    def authenticate_header(self, request: Request) -> str:
        return "Api-Key"


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "crm.drf.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key tk_<prefix>_<secret>`, created on the API keys page.",
        }


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    from rest_framework.views import exception_handler as drf_exception_handler

    return drf_exception_handler(exc, context)
