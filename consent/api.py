"""REST API: "may I message this person?" and recording consent events.

Integrators (POS, e-shop) ask before they send and record consents they collect;
both go through consent.services like the counter does. A refused record comes
back as 400 with İYS's rule as ``code`` and a readable ``detail``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from consent import services
from consent.models import (
    ConsentEvent,
    ConsentOrigin,
    ConsentSource,
    ConsentStatus,
    ConsentType,
    RecipientType,
)
from crm import selectors as crm_selectors
from crm.api import TenantAPIMixin
from crm.models import User
from crm.permissions import ApiScope, Perm
from customers.models import Customer, Touchpoint


class CheckQuerySerializer(serializers.Serializer[Any]):
    type = serializers.ChoiceField(choices=ConsentType.choices)
    recipient = serializers.CharField(max_length=265)


class DecisionSerializer(serializers.Serializer[Any]):
    recipient = serializers.CharField()
    type = serializers.CharField()
    allowed = serializers.BooleanField()
    reason = serializers.CharField()
    reason_text = serializers.CharField()


class ConsentCheckApi(TenantAPIMixin, APIView):
    """May we send this type of commercial message to this recipient now?"""

    required_permission = Perm.VIEW_CUSTOMERS
    required_scope = ApiScope.CONSENTS_READ

    @extend_schema(
        parameters=[
            OpenApiParameter("type", str, enum=ConsentType.values, required=True),
            OpenApiParameter("recipient", str, required=True),
        ],
        responses={200: DecisionSerializer},
    )
    def get(self, request: Request, tenant_slug: str) -> Response:
        query = CheckQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        decision = services.may_send(
            tenant=self.tenant,
            channel_type=query.validated_data["type"],
            recipient=query.validated_data["recipient"],
        )
        return Response(
            {
                "recipient": query.validated_data["recipient"],
                "type": query.validated_data["type"],
                "allowed": decision.allowed,
                "reason": decision.reason,
                "reason_text": decision.reason_text,
            }
        )


class ConsentInputSerializer(serializers.Serializer[Any]):
    recipient = serializers.CharField(max_length=265)
    type = serializers.ChoiceField(choices=ConsentType.choices)
    recipient_type = serializers.ChoiceField(
        choices=RecipientType.choices, default=RecipientType.BIREYSEL
    )
    status = serializers.ChoiceField(choices=ConsentStatus.choices)
    source = serializers.ChoiceField(  # type: ignore[assignment]  # "source" is a Field attr
        choices=ConsentSource.choices, required=False, default=""
    )
    consent_date = serializers.DateTimeField(required=False, allow_null=True, default=None)
    customer_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    branch_code = serializers.CharField(required=False, allow_blank=True, default="")
    touchpoint = serializers.ChoiceField(
        choices=Touchpoint.choices, required=False, allow_blank=True, default=""
    )
    document_ref = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    ip_address = serializers.IPAddressField(required=False, allow_null=True, default=None)
    user_agent = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class ConsentEventSerializer(serializers.ModelSerializer[ConsentEvent]):
    class Meta:
        model = ConsentEvent
        fields = [
            "id",
            "recipient",
            "type",
            "recipient_type",
            "status",
            "source",
            "consent_date",
            "brand_code",
            "customer",
            "origin",
            "sync_status",
            "created_at",
        ]


class ConsentRecordApi(TenantAPIMixin, APIView):
    """Record a consent change (checked as İYS would; pushed to İYS afterwards)."""

    required_permission = {"POST": Perm.RECORD_CONSENT}
    required_scope = {"POST": ApiScope.CONSENTS_WRITE}

    @extend_schema(request=ConsentInputSerializer, responses={201: ConsentEventSerializer})
    def post(self, request: Request, tenant_slug: str) -> Response:
        incoming = ConsentInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        customer = None
        if data["customer_id"] is not None:
            customer = Customer.objects.filter(tenant=self.tenant, pk=data["customer_id"]).first()
            if customer is None:
                raise Http404(_("No such customer."))
        branch = None
        if data["branch_code"]:
            branch = crm_selectors.branches_by_code(
                tenant=self.tenant, codes={data["branch_code"]}
            ).get(data["branch_code"])
            if branch is None:
                return Response(
                    {"branch_code": [_("No branch has this code.")]},
                    status=status.HTTP_400_BAD_REQUEST,
                )
        actor = request.user if isinstance(request.user, User) else None
        try:
            event = services.consent_record(
                tenant=self.tenant,
                actor=actor,
                recipient=data["recipient"],
                consent_type=data["type"],
                status=data["status"],
                source=data["source"],
                consent_date=data["consent_date"],
                recipient_type=data["recipient_type"],
                customer=customer,
                origin=ConsentOrigin.API,
                proof=services.Proof(
                    recorded_by=actor,
                    branch=branch,
                    touchpoint=data["touchpoint"] or Touchpoint.API,
                    document_ref=data["document_ref"],
                    ip_address=data["ip_address"],
                    user_agent=data["user_agent"],
                ),
            )
        except ValidationError as error:
            return Response(
                {
                    "detail": " ".join(error.messages),
                    "code": getattr(error, "code", None) or "invalid",
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(ConsentEventSerializer(event).data, status=status.HTTP_201_CREATED)
