"""REST API for integrators (POS, e-shop) and staff: customers, upsert, purchases,
interactions and complaints.

Every view declares ``required_permission`` (session users, by role) and
``required_scope`` (API keys); TenantMiddleware enforces both. Writes go through
customers.services; a ValidationError from a service comes back as field errors.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import prefetch_related_objects
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm import selectors as crm_selectors
from crm import services as crm_services
from crm.api import TenantAPIMixin
from crm.models import Branch, PersonalDataAccess, Tenant, User
from crm.permissions import ApiScope, Perm
from customers import selectors, services
from customers.models import Address, Complaint, Customer, Email, Interaction, Phone, Touchpoint


def _actor(request: Request) -> User | None:
    """The staff member behind the request; None for an API key (it has no user)."""
    user = request.user
    return user if isinstance(user, User) else None


def _branch_or_error(tenant: Tenant, code: str, field: str) -> Branch | None:
    if not code:
        return None
    branch = crm_selectors.branches_by_code(tenant=tenant, codes={code}).get(code)
    if branch is None:
        raise ValidationError({field: [_("No branch has the code %(code)s.") % {"code": code}]})
    return branch


def _customer_or_404(tenant: Tenant, customer_id: Any) -> Customer:
    try:
        return selectors.customer_get(tenant=tenant, customer_id=int(customer_id))
    except Customer.DoesNotExist as missing:
        raise Http404(_("No such customer.")) from missing


# --- Output -------------------------------------------------------------------------


class PhoneSerializer(serializers.ModelSerializer[Phone]):
    class Meta:
        model = Phone
        fields = ["e164", "is_mobile", "is_primary", "is_verified", "source"]


class EmailSerializer(serializers.ModelSerializer[Email]):
    class Meta:
        model = Email
        fields = ["address", "is_primary", "is_verified", "source"]


class AddressSerializer(serializers.ModelSerializer[Address]):
    class Meta:
        model = Address
        fields = ["line", "province", "district", "postal_code", "is_primary", "is_verified"]


CUSTOMER_FIELDS = [
    "id",
    "customer_number",
    "kind",
    "display_name",
    "first_name",
    "last_name",
    "trade_name",
    "tax_id",
    "tax_office",
    "birth_date",
    "gender",
    "preferred_channel",
    "preferred_language",
    "home_branch_code",
    "source",
    "created_at",
    "phones",
    "emails",
]


class CustomerSerializer(serializers.ModelSerializer[Customer]):
    """A customer as listed. The T.C. identity number is write-only (KVKK)."""

    display_name = serializers.CharField(read_only=True)
    home_branch_code = serializers.CharField(
        source="home_branch.code", read_only=True, allow_null=True, default=None
    )
    phones = PhoneSerializer(many=True, read_only=True)
    emails = EmailSerializer(many=True, read_only=True)

    class Meta:
        model = Customer
        fields = CUSTOMER_FIELDS


class CustomerDetailSerializer(CustomerSerializer):
    addresses = AddressSerializer(many=True, read_only=True)
    merged_into_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Customer
        fields = [*CUSTOMER_FIELDS, "addresses", "merged_into_id"]


# --- Customers ----------------------------------------------------------------------


class CustomerInputSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(Customer.Kind.choices, default=Customer.Kind.PERSON)
    first_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    trade_name = serializers.CharField(max_length=250, required=False, allow_blank=True)
    tckn = serializers.CharField(max_length=20, required=False, allow_blank=True)
    tax_id = serializers.CharField(max_length=20, required=False, allow_blank=True)
    tax_office = serializers.CharField(max_length=100, required=False, allow_blank=True)
    sector = serializers.CharField(max_length=100, required=False, allow_blank=True)
    size = serializers.ChoiceField(Customer.Size.choices, required=False, allow_blank=True)
    birth_date = serializers.CharField(
        max_length=20, required=False, allow_blank=True, help_text="e.g. 1985-04-23 or 23.04.1985"
    )
    gender = serializers.ChoiceField(Customer.Gender.choices, required=False, allow_blank=True)
    preferred_channel = serializers.ChoiceField(
        Customer._meta.get_field("preferred_channel").choices or [],
        required=False,
        allow_blank=True,
    )
    preferred_language = serializers.ChoiceField(
        Customer._meta.get_field("preferred_language").choices or [], default="tr"
    )
    home_branch_code = serializers.CharField(max_length=20, required=False, allow_blank=True)
    phones = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, max_length=10
    )
    emails = serializers.ListField(
        child=serializers.CharField(max_length=254), required=False, max_length=10
    )

    def to_input(self, tenant: Tenant) -> services.CustomerInput:
        data = dict(self.validated_data)
        branch = _branch_or_error(tenant, data.pop("home_branch_code", ""), "home_branch_code")
        return services.CustomerInput(**data, home_branch=branch, source=Touchpoint.API)


class CustomerListCreateApi(TenantAPIMixin, generics.ListAPIView[Customer]):
    """Search (``?q=`` by name, phone, e-mail, number or TCKN/VKN) or page through all."""

    required_permission = {"GET": Perm.VIEW_CUSTOMERS, "POST": Perm.EDIT_CUSTOMERS}
    required_scope = {"GET": ApiScope.CUSTOMERS_READ, "POST": ApiScope.CUSTOMERS_WRITE}
    serializer_class = CustomerSerializer

    def get_queryset(self) -> Any:
        query = self.request.query_params.get("q", "").strip()
        if query:
            found = selectors.customer_search(tenant=self.tenant, query=query, limit=100)
            prefetch_related_objects(found, "emails")
            return found
        return selectors.customer_list(tenant=self.tenant)

    @extend_schema(parameters=[OpenApiParameter("q", str, description="search text")])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=CustomerInputSerializer, responses={201: CustomerDetailSerializer})
    def post(self, request: Request, tenant_slug: str) -> Response:
        incoming = CustomerInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        customer = services.customer_create(
            tenant=self.tenant, actor=_actor(request), data=incoming.to_input(self.tenant)
        )
        customer = _customer_or_404(self.tenant, customer.pk)
        return Response(CustomerDetailSerializer(customer).data, status=status.HTTP_201_CREATED)


class CustomerDetailApi(TenantAPIMixin, APIView):
    required_permission = Perm.VIEW_CUSTOMERS
    required_scope = ApiScope.CUSTOMERS_READ

    @extend_schema(responses=CustomerDetailSerializer)
    def get(self, request: Request, tenant_slug: str, customer_id: int) -> Response:
        customer = _customer_or_404(self.tenant, customer_id)
        key = getattr(request._request, "api_key", None)
        crm_services.personal_data_access_record(
            tenant=self.tenant,
            user=_actor(request),
            subject_type="customer",
            subject_id=customer.pk,
            action=PersonalDataAccess.Action.VIEW,
            ip_address=request.META.get("REMOTE_ADDR"),
            user_agent=(f"api-key {key.prefix}; " if key else "")
            + request.headers.get("user-agent", ""),
            path=request.path,
        )
        return Response(CustomerDetailSerializer(customer).data)


class UpsertResultSerializer(serializers.Serializer[Any]):
    customer = CustomerDetailSerializer()
    created = serializers.BooleanField()
    matched_on = serializers.ListField(child=serializers.CharField())
    score = serializers.FloatField(allow_null=True)


class CustomerUpsertApi(TenantAPIMixin, APIView):
    """Link to the customer this surely is (same phone and name, same TCKN…) or create.

    200 with ``created: false`` and the evidence when linked (new phones and e-mails
    are added to it); 201 with ``created: true`` when a new customer was made.
    """

    required_permission = {"POST": Perm.EDIT_CUSTOMERS}
    required_scope = {"POST": ApiScope.CUSTOMERS_WRITE}

    @extend_schema(
        request=CustomerInputSerializer,
        responses={200: UpsertResultSerializer, 201: UpsertResultSerializer},
    )
    def post(self, request: Request, tenant_slug: str) -> Response:
        incoming = CustomerInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        result = services.customer_upsert(
            tenant=self.tenant, actor=_actor(request), data=incoming.to_input(self.tenant)
        )
        result.customer = _customer_or_404(self.tenant, result.customer.pk)
        return Response(
            UpsertResultSerializer(result).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


# --- Purchases ----------------------------------------------------------------------


class PurchaseLineInputSerializer(serializers.Serializer[Any]):
    sku = serializers.CharField(max_length=50)
    quantity = serializers.DecimalField(max_digits=10, decimal_places=3, default=Decimal("1"))
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2)
    discount_amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0"), min_value=Decimal("0")
    )


class PurchaseInputSerializer(serializers.Serializer[Any]):
    customer_id = serializers.IntegerField(required=False, min_value=1)
    customer_number = serializers.CharField(max_length=20, required=False)
    branch_code = serializers.CharField(max_length=20, required=False, allow_blank=True)
    purchased_at = serializers.DateTimeField()
    total_amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    discount_amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0"), min_value=Decimal("0")
    )
    touchpoint = serializers.ChoiceField(Touchpoint.choices, required=False)
    external_ref = serializers.CharField(
        max_length=64, required=False, allow_blank=True, help_text="receipt number; idempotent"
    )
    lines = PurchaseLineInputSerializer(many=True, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("customer_id") and not attrs.get("customer_number"):
            raise serializers.ValidationError(
                {"customer_id": _("Give customer_id or customer_number.")}
            )
        return attrs

    def to_input(self) -> services.PurchaseInput:
        data = dict(self.validated_data)
        lines = [services.PurchaseLineInput(**line) for line in data.pop("lines", [])]
        return services.PurchaseInput(**data, lines=lines)


class PurchaseBulkInputSerializer(serializers.Serializer[Any]):
    purchases = PurchaseInputSerializer(many=True)


# Documentation only: "errors" cannot be a field name of a Serializer class.
PurchaseResultSerializer = inline_serializer(
    name="PurchaseResult",
    fields={
        "index": serializers.IntegerField(),
        "status": serializers.ChoiceField(["created", "skipped", "invalid"]),
        "purchase_id": serializers.IntegerField(allow_null=True),
        "errors": serializers.DictField(
            child=serializers.JSONField(), help_text="field name: messages"
        ),
    },
)


class PurchaseBulkResultSerializer(serializers.Serializer[Any]):
    created = serializers.IntegerField()
    skipped = serializers.IntegerField()
    invalid = serializers.IntegerField()
    results = serializers.ListField(child=PurchaseResultSerializer)


def _parse_purchases(raw: Any) -> tuple[dict[int, services.PurchaseInput], dict[int, Any]]:
    """Validate each item on its own: the valid ones, and the errors of the others."""
    valid: dict[int, services.PurchaseInput] = {}
    errors: dict[int, Any] = {}
    for index, item in enumerate(raw):
        parsed = PurchaseInputSerializer(data=item)
        if parsed.is_valid():
            valid[index] = parsed.to_input()
        else:
            errors[index] = parsed.errors
    return valid, errors


class PurchaseBulkApi(TenantAPIMixin, APIView):
    """Up to 1000 receipts per call. Each item gets a result; bad items never block good ones.

    A receipt whose ``external_ref`` is already recorded is ``skipped`` (safe to resend).
    """

    required_permission = {"POST": Perm.EDIT_CUSTOMERS}
    required_scope = {"POST": ApiScope.PURCHASES_WRITE}

    @extend_schema(request=PurchaseBulkInputSerializer, responses=PurchaseBulkResultSerializer)
    def post(self, request: Request, tenant_slug: str) -> Response:
        # {"purchases": [...]} as documented, or the bare list.
        raw = request.data.get("purchases") if isinstance(request.data, dict) else request.data
        if not isinstance(raw, list) or not raw:
            raise ValidationError({"purchases": [_("Send a non-empty list of purchases.")]})
        if len(raw) > services.MAX_PURCHASES_PER_BATCH:
            raise ValidationError(
                {
                    "purchases": [
                        _("Send at most %(count)d purchases at once.")
                        % {"count": services.MAX_PURCHASES_PER_BATCH}
                    ]
                }
            )
        valid, invalid = _parse_purchases(raw)
        written = services.purchases_bulk_create(
            tenant=self.tenant, actor=_actor(request), purchases=valid
        )
        results = [
            {"index": i, "status": "invalid", "purchase_id": None, "errors": invalid[i]}
            if i in invalid
            else {
                "index": i,
                "status": written[i].status,
                "purchase_id": written[i].purchase_id,
                "errors": written[i].errors,
            }
            for i in range(len(raw))
        ]
        counts = {s: sum(1 for r in results if r["status"] == s) for s in ("created", "skipped")}
        return Response(
            {**counts, "invalid": len(results) - sum(counts.values()), "results": results}
        )


# --- Interactions and complaints ----------------------------------------------------


class InteractionSerializer(serializers.ModelSerializer[Interaction]):
    branch_code = serializers.CharField(
        source="branch.code", read_only=True, allow_null=True, default=None
    )
    staff_email = serializers.EmailField(
        source="staff.email", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Interaction
        fields = [
            "id",
            "touchpoint",
            "subject",
            "notes",
            "outcome",
            "branch_code",
            "staff_email",
            "occurred_at",
            "follow_up_on",
            "next_step",
        ]


class InteractionInputSerializer(serializers.Serializer[Any]):
    touchpoint = serializers.ChoiceField(Touchpoint.choices, default=Touchpoint.API)
    subject = serializers.CharField(max_length=200)
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    outcome = serializers.ChoiceField(
        Interaction.Outcome.choices, required=False, allow_blank=True, default=""
    )
    branch_code = serializers.CharField(max_length=20, required=False, allow_blank=True)
    occurred_at = serializers.DateTimeField(required=False)
    follow_up_on = serializers.DateField(required=False)
    next_step = serializers.CharField(max_length=300, required=False, allow_blank=True)


class InteractionListCreateApi(TenantAPIMixin, generics.ListAPIView[Interaction]):
    required_permission = {"GET": Perm.VIEW_CUSTOMERS, "POST": Perm.EDIT_CUSTOMERS}
    required_scope = {"GET": ApiScope.INTERACTIONS_READ, "POST": ApiScope.INTERACTIONS_WRITE}
    serializer_class = InteractionSerializer

    def get_queryset(self) -> Any:
        customer = _customer_or_404(self.tenant, self.kwargs["customer_id"])
        return selectors.interaction_list(tenant=self.tenant, customer=customer)

    @extend_schema(request=InteractionInputSerializer, responses={201: InteractionSerializer})
    def post(self, request: Request, tenant_slug: str, customer_id: int) -> Response:
        customer = _customer_or_404(self.tenant, customer_id)
        incoming = InteractionInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        branch = _branch_or_error(self.tenant, data.pop("branch_code", ""), "branch_code")
        interaction = services.interaction_log(
            tenant=self.tenant, actor=_actor(request), customer=customer, branch=branch, **data
        )
        return Response(InteractionSerializer(interaction).data, status=status.HTTP_201_CREATED)


class ComplaintSerializer(serializers.ModelSerializer[Complaint]):
    branch_code = serializers.CharField(
        source="branch.code", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Complaint
        fields = ["id", "subject", "description", "status", "branch_code", "opened_at", "due_on"]


class ComplaintInputSerializer(serializers.Serializer[Any]):
    subject = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    branch_code = serializers.CharField(max_length=20, required=False, allow_blank=True)
    due_on = serializers.DateField(required=False)


class ComplaintCreateApi(TenantAPIMixin, APIView):
    required_permission = {"POST": Perm.EDIT_CUSTOMERS}
    required_scope = {"POST": ApiScope.COMPLAINTS_WRITE}

    @extend_schema(request=ComplaintInputSerializer, responses={201: ComplaintSerializer})
    def post(self, request: Request, tenant_slug: str, customer_id: int) -> Response:
        customer = _customer_or_404(self.tenant, customer_id)
        incoming = ComplaintInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        branch = _branch_or_error(self.tenant, data.pop("branch_code", ""), "branch_code")
        complaint = services.complaint_open(
            tenant=self.tenant, actor=_actor(request), customer=customer, branch=branch, **data
        )
        return Response(ComplaintSerializer(complaint).data, status=status.HTTP_201_CREATED)
