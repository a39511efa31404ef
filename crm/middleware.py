"""Resolve the tenant from the URL once, for every HTML page and API call.

A URL with a ``tenant_slug`` kwarg belongs to a tenant. The user must be a member
(otherwise 404: outsiders learn nothing), the view must declare the permission it
needs (otherwise the request is refused: a forgotten declaration fails closed), and
the member's role must have it (otherwise 403). The request then runs inside the
tenant's scope until the response is complete.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.locale import LocaleMiddleware
from django.shortcuts import redirect
from django.utils import translation
from django.utils.translation import gettext as _

from crm import selectors, services
from crm.permissions import ROLES_REQUIRING_TWO_FACTOR, ApiScope, Perm, role_has_permission
from crm.tenancy import tenant_context


def declared_permission(view_func: Callable[..., Any]) -> Perm | dict[str, Perm] | None:
    """What a view declares: one Perm, or a {method: Perm} map (function, CBV or DRF)."""
    declared = getattr(view_func, "required_permission", None)
    if declared is None:
        view_class = getattr(view_func, "view_class", None) or getattr(view_func, "cls", None)
        declared = getattr(view_class, "required_permission", None)
    return declared


def declared_scope(view_func: Callable[..., Any]) -> ApiScope | dict[str, ApiScope] | None:
    """The ``required_scope`` an API view declares for API keys (None: keys refused)."""
    view_class = getattr(view_func, "view_class", None) or getattr(view_func, "cls", None)
    return getattr(view_func, "required_scope", None) or getattr(view_class, "required_scope", None)


_Needed = TypeVar("_Needed", Perm, ApiScope)


def permission_for_method(declared: _Needed | dict[str, _Needed], method: str) -> _Needed | None:
    if not isinstance(declared, dict):
        return declared
    if method in ("HEAD", "OPTIONS"):
        method = "GET"
    return declared.get(method) or declared.get("*")


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


class TenantMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.tenant = None  # type: ignore[attr-defined]
        request.membership = None  # type: ignore[attr-defined]
        request.api_key = None  # type: ignore[attr-defined]
        request._tenant_scope = None  # type: ignore[attr-defined]
        try:
            return self.get_response(request)
        finally:
            scope = request._tenant_scope  # type: ignore[attr-defined]
            if scope is not None:
                scope.__exit__(None, None, None)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        slug = view_kwargs.get("tenant_slug")
        if slug is None:
            return None
        raw_key = api_key_from_header(request)
        if raw_key is not None:
            return self._admit_api_key(request, view_func, slug, raw_key)
        if not request.user.is_authenticated:
            if is_api_request(request):
                return JsonResponse({"detail": _("Log in first.")}, status=401)
            return redirect_to_login(request.get_full_path())
        # All of the user's memberships in one query: the layout's tenant switch needs
        # them too (crm.context_processors), so the page does not ask twice.
        memberships = selectors.memberships_for_user(user=request.user)
        request.user_memberships = memberships  # type: ignore[attr-defined]
        membership = next((m for m in memberships if m.tenant.slug == slug), None)
        if membership is None:
            raise Http404(_("No such company, or you are not a member of it."))
        declared = declared_permission(view_func)
        if declared is None:
            raise ImproperlyConfigured(
                f"{view_func.__module__}.{view_func.__name__} declares no required_permission"
            )
        permission = permission_for_method(declared, request.method or "GET")
        if permission is None:
            return HttpResponse(status=405)
        request.tenant = membership.tenant  # type: ignore[attr-defined]
        request.membership = membership  # type: ignore[attr-defined]
        if not role_has_permission(membership.role, permission):
            raise PermissionDenied(_("Your role does not allow this."))
        scope = tenant_context(membership.tenant)
        scope.__enter__()
        request._tenant_scope = scope  # type: ignore[attr-defined]
        return None

    def _admit_api_key(
        self, request: HttpRequest, view_func: Callable[..., Any], slug: str, raw_key: str
    ) -> HttpResponse | None:
        """An API key stands in for a membership: its tenant, its scopes instead of a role."""
        key = selectors.api_key_resolve(raw_key=raw_key)
        if key is None:
            return _api_key_refused(_("This API key is not valid. Check that it was copied whole."))
        if key.revoked_at is not None:
            return _api_key_refused(_("This API key was revoked. Ask your admin for a new one."))
        if not key.is_active:
            return _api_key_refused(_("This API key has expired. Ask your admin for a new one."))
        if key.tenant.slug != slug:
            raise Http404(_("No such company, or you are not a member of it."))
        declared = declared_scope(view_func)
        if declared is None:
            return JsonResponse(
                {"detail": _("This endpoint cannot be used with an API key.")}, status=403
            )
        scope_needed = permission_for_method(declared, request.method or "GET")
        if scope_needed is None:
            return HttpResponse(status=405)
        if scope_needed not in key.scopes:
            return JsonResponse(
                {"detail": _("This API key lacks the scope %(scope)s.") % {"scope": scope_needed}},
                status=403,
            )
        request.tenant = key.tenant  # type: ignore[attr-defined]
        request.api_key = key  # type: ignore[attr-defined]
        scope = tenant_context(key.tenant)
        scope.__enter__()
        request._tenant_scope = scope  # type: ignore[attr-defined]
        services.api_key_touch(key=key)
        return None


def api_key_from_header(request: HttpRequest) -> str | None:
    """The key of ``Authorization: Api-Key tk_...`` on an API request, else None."""
    if not is_api_request(request):
        return None
    kind, _space, value = request.headers.get("Authorization", "").partition(" ")
    if kind.lower() != "api-key":
        return None
    return value.strip()


def _api_key_refused(message: str) -> JsonResponse:
    response = JsonResponse({"detail": message}, status=401)
    response["WWW-Authenticate"] = "Api-Key"
    return response


AFTER_TWO_FACTOR_SESSION_KEY = "tekil_after_two_factor"


class RequireTwoFactorMiddleware:
    """Owners and admins reach tenant pages only once their TOTP is set up."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        membership = getattr(request, "membership", None)
        if membership is None or membership.role not in ROLES_REQUIRING_TWO_FACTOR:
            return None
        from allauth.mfa.models import Authenticator

        if Authenticator.objects.filter(user=request.user, type=Authenticator.Type.TOTP).exists():
            request.session.pop(AFTER_TWO_FACTOR_SESSION_KEY, None)
            return None
        text = _("Your role requires two-factor authentication. Set it up to continue.")
        if is_api_request(request):
            return JsonResponse({"detail": text}, status=403)
        messages.warning(request, text)
        # allauth shows the recovery codes after activation and forgets "next"; the
        # layout offers a link back to where the user was going.
        request.session[AFTER_TWO_FACTOR_SESSION_KEY] = request.get_full_path()
        return redirect(f"{_mfa_setup_url()}?{urlencode({'next': request.get_full_path()})}")


def _mfa_setup_url() -> str:
    from django.urls import reverse

    return reverse("mfa_activate_totp")


class TurkishFirstLocaleMiddleware(LocaleMiddleware):
    """Pages are Turkish unless the user chose English with the language switch.

    Django would follow the browser's Accept-Language, but many Turkish staff
    browse with an English browser and expect a Turkish product. The API still
    honours Accept-Language, since integrators set it on purpose.
    """

    def process_request(self, request: HttpRequest) -> None:
        if is_api_request(request):
            super().process_request(request)
            return
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        try:
            language = translation.get_supported_language_variant(chosen or "")
        except LookupError:
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
