"""factory_boy factories. Tenant-owned objects are created inside their tenant's scope.

FACTORIES maps every tenant-owned model to its factory: the isolation harness uses
it to make tenant B's objects for whatever URL names them. A new tenant-owned model
needs an entry here (tests/isolation fails until it has one).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import factory
from django.utils import timezone

from consent.iys.crypto import encrypt_secret
from consent.iys.models import IysAccount, IysBrand, IysPushBatch, IysPushItem
from consent.kvkk.models import (
    DataKind,
    DataSubjectRequest,
    DestructionRun,
    ErasureLog,
    PrivacyDecision,
    PrivacyDecisionKind,
    PrivacyText,
    PrivacyTextKind,
    ProcessingPurpose,
    RequestKind,
    RetentionRule,
)
from consent.models import (
    ConsentEvent,
    ConsentReach,
    ConsentReachBuild,
    ConsentReachDirty,
    ConsentSettings,
    ConsentState,
    ConsentStatus,
    ConsentType,
    RecipientType,
    TacirPolicy,
)
from crm.models import (
    ApiKey,
    Branch,
    Invitation,
    Job,
    Membership,
    PersonalDataAccess,
    Tenant,
    User,
)
from crm.permissions import Role
from crm.tenancy import tenant_context
from crm.text import matching_key
from customers.models import (
    Address,
    Complaint,
    ContactPerson,
    Customer,
    CustomerNameWord,
    CustomerNumberCounter,
    DuplicatePair,
    Email,
    ImportMapping,
    Interaction,
    InteractionParticipant,
    MergeLog,
    Phone,
    Product,
    ProductCategory,
    Purchase,
    PurchaseLine,
    RiskFlag,
    Touchpoint,
)
from segmentation.models import (
    BehaviourCluster,
    CustomerScore,
    NextBestOffer,
    SegmentationRun,
)

factory.Faker._DEFAULT_LOCALE = "tr_TR"


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"firma-{n}")
    name = factory.Faker("company")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"kisi{n}@example.com")
    full_name = factory.Faker("name")
    password = factory.django.Password("test-parola-123")


class TenantOwnedFactory(factory.django.DjangoModelFactory):
    tenant = factory.SubFactory(TenantFactory)

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        with tenant_context(kwargs["tenant"]):
            return super()._create(model_class, *args, **kwargs)


class BranchFactory(TenantOwnedFactory):
    class Meta:
        model = Branch

    code = factory.Sequence(lambda n: f"S{n:03d}")
    name = factory.Faker("city")
    province = "34"
    district = "Kadıköy"


class MembershipFactory(TenantOwnedFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    role = Role.BRANCH_STAFF
    branch = factory.SubFactory(BranchFactory, tenant=factory.SelfAttribute("..tenant"))


class InvitationFactory(TenantOwnedFactory):
    class Meta:
        model = Invitation

    email = factory.Sequence(lambda n: f"davet{n}@example.com")
    role = Role.MARKETING
    token_hash = factory.Sequence(lambda n: f"{n:064x}")
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))


class JobFactory(TenantOwnedFactory):
    class Meta:
        model = Job

    kind = "test"
    title = "Test job"
    output_name = "out.csv"
    output_content_type = "text/csv"
    output_data = b"a;b\n"


class PersonalDataAccessFactory(TenantOwnedFactory):
    class Meta:
        model = PersonalDataAccess

    subject_type = "customer"
    subject_id = 1
    action = PersonalDataAccess.Action.VIEW


class ApiKeyFactory(TenantOwnedFactory):
    """A key whose secret is unknown (tests that need a working key use the service)."""

    class Meta:
        model = ApiKey

    name = "Kasa"
    prefix = factory.Sequence(lambda n: f"{n:08x}")
    secret_hash = factory.Sequence(lambda n: f"{n:064x}")
    scopes = factory.LazyFunction(lambda: ["customers:read"])


class CustomerFactory(TenantOwnedFactory):
    class Meta:
        model = Customer

    kind = Customer.Kind.PERSON
    # Far above what customer_number_next hands out, so factory and service numbers never meet.
    customer_number = factory.Sequence(lambda n: f"{n + 9_000_000}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    name_key = factory.LazyAttribute(lambda o: matching_key(f"{o.first_name} {o.last_name}"))


class CompanyFactory(CustomerFactory):
    kind = Customer.Kind.COMPANY
    first_name = ""  # type: ignore[assignment]
    last_name = ""  # type: ignore[assignment]
    trade_name = factory.Faker("company")
    name_key = factory.LazyAttribute(lambda o: matching_key(o.trade_name))


def _same_tenant(attribute: str = "..tenant") -> Any:
    return factory.SelfAttribute(attribute)


class CustomerNameWordFactory(TenantOwnedFactory):
    class Meta:
        model = CustomerNameWord

    customer = factory.SubFactory(CustomerFactory, tenant=_same_tenant())
    word = "ayse"


class CustomerNumberCounterFactory(TenantOwnedFactory):
    class Meta:
        model = CustomerNumberCounter
        django_get_or_create = ("tenant",)


class ContactPersonFactory(TenantOwnedFactory):
    class Meta:
        model = ContactPerson

    company = factory.SubFactory(CompanyFactory, tenant=_same_tenant())
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    role = ContactPerson.Role.PURCHASING


class PhoneFactory(TenantOwnedFactory):
    class Meta:
        model = Phone

    customer = factory.SubFactory(CustomerFactory, tenant=_same_tenant())
    e164 = factory.Sequence(lambda n: f"+90532{n:07d}")
    is_mobile = True


class EmailFactory(TenantOwnedFactory):
    class Meta:
        model = Email

    customer = factory.SubFactory(CustomerFactory, tenant=_same_tenant())
    address = factory.Sequence(lambda n: f"musteri{n}@example.com")
    match_key = factory.SelfAttribute("address")


class AddressFactory(TenantOwnedFactory):
    class Meta:
        model = Address

    customer = factory.SubFactory(CustomerFactory, tenant=_same_tenant())
    line = "Moda Cad. 1"
    province = "34"
    district = "Kadıköy"


class ProductCategoryFactory(TenantOwnedFactory):
    class Meta:
        model = ProductCategory

    name = factory.Sequence(lambda n: f"Kategori {n}")


class ProductFactory(TenantOwnedFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Faker("word")
    category = factory.SubFactory(ProductCategoryFactory, tenant=_same_tenant())
    list_price = Decimal("100.00")


class PurchaseFactory(TenantOwnedFactory):
    class Meta:
        model = Purchase

    customer = factory.SubFactory(CustomerFactory, tenant=_same_tenant())
    purchased_at = factory.LazyFunction(timezone.now)
    total_amount = Decimal("250.00")


class PurchaseLineFactory(TenantOwnedFactory):
    class Meta:
        model = PurchaseLine

    purchase = factory.SubFactory(PurchaseFactory, tenant=_same_tenant())
    product = factory.SubFactory(ProductFactory, tenant=_same_tenant())
    unit_price = Decimal("250.00")
    line_total = Decimal("250.00")


class InteractionFactory(TenantOwnedFactory):
    class Meta:
        model = Interaction

    customer = factory.SubFactory(CustomerFactory, tenant=_same_tenant())
    touchpoint = Touchpoint.CALL_IN
    subject = "Bilgi talebi"


class InteractionParticipantFactory(TenantOwnedFactory):
    class Meta:
        model = InteractionParticipant

    interaction = factory.SubFactory(InteractionFactory, tenant=_same_tenant())
    contact_person = factory.SubFactory(ContactPersonFactory, tenant=_same_tenant())


class ComplaintFactory(TenantOwnedFactory):
    class Meta:
        model = Complaint

    customer = factory.SubFactory(CustomerFactory, tenant=_same_tenant())
    subject = "Geciken teslimat"
    due_on = factory.LazyFunction(lambda: (timezone.now() + timedelta(days=3)).date())


class RiskFlagFactory(TenantOwnedFactory):
    class Meta:
        model = RiskFlag

    customer = factory.SubFactory(CustomerFactory, tenant=_same_tenant())
    kind = RiskFlag.Kind.OVERDUE_PAYMENT


class MergeLogFactory(TenantOwnedFactory):
    """A merge with an empty snapshot: undoing it only restores the dropped record."""

    class Meta:
        model = MergeLog

    kept = factory.SubFactory(CustomerFactory, tenant=_same_tenant())
    dropped = factory.SubFactory(
        CustomerFactory, tenant=_same_tenant(), merged_into=factory.SelfAttribute("..kept")
    )


class DuplicatePairFactory(TenantOwnedFactory):
    class Meta:
        model = DuplicatePair

    left = factory.SubFactory(CustomerFactory, tenant=_same_tenant())
    right = factory.SubFactory(CustomerFactory, tenant=_same_tenant())
    score = 12.5
    evidence = ["same phone"]


class ImportMappingFactory(TenantOwnedFactory):
    class Meta:
        model = ImportMapping

    headers_key = factory.Sequence(lambda n: f"{n:064x}")
    headers = ["Ad Soyad", "GSM"]
    mapping = {"Ad Soyad": "full_name", "GSM": "phone"}


class ConsentEventFactory(TenantOwnedFactory):
    """A ledger row written directly (tests of the rules go through consent.services)."""

    class Meta:
        model = ConsentEvent

    recipient = factory.Sequence(lambda n: f"+90532{n:07d}")
    type = ConsentType.MESAJ
    recipient_type = RecipientType.BIREYSEL
    status = ConsentStatus.ONAY
    source = "HS_FIZIKSEL_ORTAM"
    consent_date = factory.LazyFunction(timezone.now)


class ConsentStateFactory(TenantOwnedFactory):
    class Meta:
        model = ConsentState

    event = factory.SubFactory(ConsentEventFactory, tenant=_same_tenant())
    recipient = factory.SelfAttribute("event.recipient")
    type = factory.SelfAttribute("event.type")
    recipient_type = factory.SelfAttribute("event.recipient_type")
    status = factory.SelfAttribute("event.status")
    source = factory.SelfAttribute("event.source")
    consent_date = factory.SelfAttribute("event.consent_date")


class ConsentSettingsFactory(TenantOwnedFactory):
    class Meta:
        model = ConsentSettings


class ConsentReachFactory(TenantOwnedFactory):
    class Meta:
        model = ConsentReach

    channel = ConsentType.MESAJ
    customer = factory.SubFactory(CustomerFactory, tenant=_same_tenant())


class ConsentReachDirtyFactory(TenantOwnedFactory):
    class Meta:
        model = ConsentReachDirty

    customer = factory.SubFactory(CustomerFactory, tenant=_same_tenant())


class ConsentReachBuildFactory(TenantOwnedFactory):
    class Meta:
        model = ConsentReachBuild
        django_get_or_create = ("tenant", "channel")  # one per tenant and channel

    channel = ConsentType.MESAJ
    tacir_policy = TacirPolicy.RET_ONLY


class IysAccountFactory(TenantOwnedFactory):
    class Meta:
        model = IysAccount
        django_get_or_create = ("tenant",)  # one İYS account per tenant

    iys_code = factory.Sequence(lambda n: f"{700000 + n}")
    username = factory.Sequence(lambda n: f"iys-api-{n}")
    password_encrypted = factory.LazyFunction(lambda: encrypt_secret("iys-gizli-parola"))


class IysBrandFactory(TenantOwnedFactory):
    class Meta:
        model = IysBrand

    account = factory.SubFactory(IysAccountFactory, tenant=_same_tenant())
    brand_code = factory.Sequence(lambda n: f"{800000 + n}")
    is_default = True


class IysPushBatchFactory(TenantOwnedFactory):
    class Meta:
        model = IysPushBatch

    brand = factory.SubFactory(IysBrandFactory, tenant=_same_tenant())
    size = 1


class IysPushItemFactory(TenantOwnedFactory):
    class Meta:
        model = IysPushItem

    batch = factory.SubFactory(IysPushBatchFactory, tenant=_same_tenant())
    event = factory.SubFactory(ConsentEventFactory, tenant=_same_tenant())
    index = factory.Sequence(lambda n: n)


class SegmentationRunFactory(TenantOwnedFactory):
    class Meta:
        model = SegmentationRun

    status = "succeeded"
    as_of = factory.LazyFunction(lambda: timezone.now().date())


class BehaviourClusterFactory(TenantOwnedFactory):
    class Meta:
        model = BehaviourCluster

    run = factory.SubFactory(SegmentationRunFactory, tenant=_same_tenant())
    label = factory.Sequence(lambda n: f"B{n}")
    name = "Hafta içi sabah alışverişçileri"


class CustomerScoreFactory(TenantOwnedFactory):
    class Meta:
        model = CustomerScore

    run = factory.SubFactory(SegmentationRunFactory, tenant=_same_tenant())
    customer = factory.SubFactory(CustomerFactory, tenant=_same_tenant())


class NextBestOfferFactory(TenantOwnedFactory):
    class Meta:
        model = NextBestOffer

    run = factory.SubFactory(SegmentationRunFactory, tenant=_same_tenant())
    customer = factory.SubFactory(CustomerFactory, tenant=_same_tenant())
    category = factory.SubFactory(ProductCategoryFactory, tenant=_same_tenant())
    rank = 1
    score = 0.4


class DataSubjectRequestFactory(TenantOwnedFactory):
    class Meta:
        model = DataSubjectRequest

    customer = factory.SubFactory(CustomerFactory, tenant=_same_tenant())
    requester_name = "Ayşe Yılmaz"
    kind = RequestKind.ACCESS
    due_on = factory.LazyFunction(lambda: (timezone.now() + timedelta(days=30)).date())


class ErasureLogFactory(TenantOwnedFactory):
    class Meta:
        model = ErasureLog

    customer_id_erased = factory.Sequence(lambda n: n + 1)
    customer_number = factory.Sequence(lambda n: f"{n + 8_000_000}")
    reason = "Silme başvurusu"


class PrivacyTextFactory(TenantOwnedFactory):
    class Meta:
        model = PrivacyText

    kind = PrivacyTextKind.NOTICE
    purpose = ProcessingPurpose.CUSTOMER_RELATIONSHIP
    version = factory.Sequence(lambda n: n + 1)
    title = "Müşteri aydınlatma metni"
    body = "Kişisel verileriniz satış ve müşteri ilişkisi amacıyla işlenir."


class PrivacyDecisionFactory(TenantOwnedFactory):
    class Meta:
        model = PrivacyDecision

    customer = factory.SubFactory(CustomerFactory, tenant=_same_tenant())
    text = factory.SubFactory(PrivacyTextFactory, tenant=_same_tenant())
    decision = PrivacyDecisionKind.SHOWN


class RetentionRuleFactory(TenantOwnedFactory):
    class Meta:
        model = RetentionRule
        django_get_or_create = ("tenant", "data_kind")

    data_kind = DataKind.ACCESS_LOG
    keep_months = 24


class DestructionRunFactory(TenantOwnedFactory):
    class Meta:
        model = DestructionRun

    trigger = DestructionRun.Trigger.SCHEDULED
    status = DestructionRun.Status.DONE


FACTORIES: dict[type, type[TenantOwnedFactory]] = {
    Branch: BranchFactory,
    Membership: MembershipFactory,
    Invitation: InvitationFactory,
    Job: JobFactory,
    PersonalDataAccess: PersonalDataAccessFactory,
    ApiKey: ApiKeyFactory,
    Customer: CustomerFactory,
    CustomerNameWord: CustomerNameWordFactory,
    ImportMapping: ImportMappingFactory,
    DuplicatePair: DuplicatePairFactory,
    CustomerNumberCounter: CustomerNumberCounterFactory,
    ContactPerson: ContactPersonFactory,
    Phone: PhoneFactory,
    Email: EmailFactory,
    Address: AddressFactory,
    ProductCategory: ProductCategoryFactory,
    Product: ProductFactory,
    Purchase: PurchaseFactory,
    PurchaseLine: PurchaseLineFactory,
    Interaction: InteractionFactory,
    InteractionParticipant: InteractionParticipantFactory,
    Complaint: ComplaintFactory,
    RiskFlag: RiskFlagFactory,
    MergeLog: MergeLogFactory,
    ConsentEvent: ConsentEventFactory,
    ConsentState: ConsentStateFactory,
    ConsentSettings: ConsentSettingsFactory,
    ConsentReach: ConsentReachFactory,
    ConsentReachDirty: ConsentReachDirtyFactory,
    ConsentReachBuild: ConsentReachBuildFactory,
    IysAccount: IysAccountFactory,
    IysBrand: IysBrandFactory,
    IysPushBatch: IysPushBatchFactory,
    IysPushItem: IysPushItemFactory,
    SegmentationRun: SegmentationRunFactory,
    BehaviourCluster: BehaviourClusterFactory,
    CustomerScore: CustomerScoreFactory,
    NextBestOffer: NextBestOfferFactory,
    DataSubjectRequest: DataSubjectRequestFactory,
    ErasureLog: ErasureLogFactory,
    PrivacyText: PrivacyTextFactory,
    PrivacyDecision: PrivacyDecisionFactory,
    RetentionRule: RetentionRuleFactory,
    DestructionRun: DestructionRunFactory,
}

from tests.factories_segments import SEGMENT_FACTORIES  # noqa: E402

FACTORIES.update(SEGMENT_FACTORIES)
