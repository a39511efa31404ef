"""REST API of the tenancy core, and the API-wide permission and error handling."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm import selectors, services
from crm.models import Branch, Job, Tenant
from crm.permissions import Perm, permissions_of


class TenantAPIMixin:
    """API views read the tenant TenantMiddleware resolved from the URL."""

    @property
    def tenant(self) -> Tenant:
        request: Request = self.request  # type: ignore[attr-defined]
        return request._request.tenant  # type: ignore[attr-defined]


class BranchSerializer(serializers.ModelSerializer[Branch]):
    class Meta:
        model = Branch
        fields = ["id", "code", "name", "province", "district", "address", "is_active"]


class BranchListCreateApi(TenantAPIMixin, generics.ListCreateAPIView[Branch]):
    required_permission = {"GET": Perm.VIEW_HOME, "POST": Perm.MANAGE_BRANCHES}
    serializer_class = BranchSerializer

    def get_queryset(self) -> Any:
        return selectors.branch_list(tenant=self.tenant)

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.branch_save(tenant=self.tenant, **serializer.validated_data)


class BranchDetailApi(TenantAPIMixin, generics.RetrieveUpdateAPIView[Branch]):
    required_permission = {
        "GET": Perm.VIEW_HOME,
        "PUT": Perm.MANAGE_BRANCHES,
        "PATCH": Perm.MANAGE_BRANCHES,
    }
    serializer_class = BranchSerializer
    lookup_url_kwarg = "branch_id"

    def get_queryset(self) -> Any:
        return selectors.branch_list(tenant=self.tenant)

    def perform_update(self, serializer: Any) -> None:
        serializer.instance = services.branch_save(
            tenant=self.tenant, branch=serializer.instance, **serializer.validated_data
        )


class JobSerializer(serializers.ModelSerializer[Job]):
    percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "title",
            "status",
            "progress_done",
            "progress_total",
            "percent",
            "message",
            "error",
            "result",
            "created_at",
            "started_at",
            "finished_at",
        ]


class JobDetailApi(TenantAPIMixin, generics.RetrieveAPIView[Job]):
    required_permission = Perm.VIEW_JOBS
    serializer_class = JobSerializer
    lookup_url_kwarg = "job_id"

    def get_object(self) -> Job:
        try:
            return selectors.job_get(tenant=self.tenant, job_id=int(self.kwargs["job_id"]))
        except Job.DoesNotExist as missing:
            raise Http404(_("No such job.")) from missing


class MeSerializer(serializers.Serializer[Any]):
    email = serializers.EmailField()
    tenant = serializers.CharField()
    role = serializers.CharField()
    permissions = serializers.ListField(child=serializers.CharField())


class MeApi(TenantAPIMixin, APIView):
    """Who am I in this company, and what may I do (integrators check this first)."""

    required_permission = Perm.VIEW_HOME

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request, tenant_slug: str) -> Response:
        membership = request._request.membership  # type: ignore[attr-defined]
        return Response(
            MeSerializer(
                {
                    "email": request.user.email,  # type: ignore[union-attr]
                    "tenant": membership.tenant.slug,
                    "role": membership.role,
                    "permissions": sorted(permissions_of(membership.role)),
                }
            ).data
        )
