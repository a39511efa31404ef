"""Customers: one record per real person or company, their contact points, what they
bought and every contact with them.

Contact points keep the normalised value (E.164 phone, lower-cased e-mail) that
identity resolution indexes, plus source/verified/primary for survivorship when
records are merged.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from localflavor.tr.tr_provinces import PROVINCE_CHOICES

from crm.models import Branch
from crm.tenancy import TenantOwnedModel, tenant_key


class Touchpoint(models.TextChoices):
    BRANCH_VISIT = "branch_visit", _("Branch visit")
    CALL_IN = "call_in", _("Incoming call")
    CALL_OUT = "call_out", _("Outgoing call")
    FRONT_DESK = "front_desk", _("Front desk")
    ECOMMERCE = "ecommerce", _("E-commerce")
    DEALER = "dealer", _("Dealer")
    MEETING = "meeting", _("Face-to-face meeting")
    TRADE_FAIR = "trade_fair", _("Trade fair")
    SERVICE_VISIT = "service_visit", _("Service visit")
    EMAIL = "email", _("E-mail")
    COMPLAINT = "complaint", _("Complaint")
    IMPORT = "import", _("Data import")
    API = "api", _("API")


class Channel(models.TextChoices):
    SMS = "sms", _("SMS")
    CALL = "call", _("Phone call")
    EMAIL = "email", _("E-mail")


class Customer(TenantOwnedModel):
    class Kind(models.TextChoices):
        PERSON = "person", _("Person")
        COMPANY = "company", _("Company")

    class Gender(models.TextChoices):
        FEMALE = "f", _("Female")
        MALE = "m", _("Male")
        OTHER = "o", _("Other")

    class Size(models.TextChoices):
        MICRO = "micro", _("Micro (1–9)")
        SMALL = "small", _("Small (10–49)")
        MEDIUM = "medium", _("Medium (50–249)")
        LARGE = "large", _("Large (250+)")

    # Every index of the table begins with tenant_id; one on it alone is paid by every insert.
    tenant = tenant_key(db_index=False)
    kind = models.CharField(_("type"), max_length=10, choices=Kind.choices, default=Kind.PERSON)
    customer_number = models.CharField(_("customer number"), max_length=20)
    # Person
    first_name = models.CharField(_("first name(s)"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    tckn = models.CharField(_("T.C. identity number"), max_length=11, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, blank=True)
    # Company
    trade_name = models.CharField(_("trade name"), max_length=250, blank=True)
    tax_id = models.CharField(_("tax number (VKN or TCKN)"), max_length=11, blank=True)
    tax_office = models.CharField(_("tax office"), max_length=100, blank=True)
    sector = models.CharField(_("sector"), max_length=100, blank=True)
    size = models.CharField(_("size"), max_length=10, choices=Size.choices, blank=True)
    # Both
    preferred_channel = models.CharField(
        _("preferred channel"), max_length=10, choices=Channel.choices, blank=True
    )
    preferred_language = models.CharField(
        _("preferred language"), max_length=5, choices=settings.LANGUAGES, default="tr"
    )
    home_branch = models.ForeignKey(
        Branch,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("home branch"),
        db_index=False,  # customer_home_branch_idx, only the customers that have one
    )
    source = models.CharField(_("source"), max_length=20, choices=Touchpoint.choices, blank=True)
    # Matching key of the display name (Turkish-folded), for search and blocking.
    name_key = models.CharField(max_length=250, editable=False, db_index=False)
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="merged_from",
        editable=False,
        db_index=False,  # customer_merged_into_idx, only the merged ones
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # Set when KVKK erasure destroyed the personal fields (consent.kvkk.services).
    anonymised_at = models.DateTimeField(_("erased"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["name_key"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "customer_number"], name="customer_number_unique_per_tenant"
            ),
            models.UniqueConstraint(
                fields=["tenant", "tckn"],
                condition=~Q(tckn="") & Q(merged_into__isnull=True),
                name="customer_tckn_unique_per_tenant",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "name_key"], name="customer_name_key_idx"),
            # Partial, like the unique T.C. number's: most customers are people with no
            # tax number, and an entry per empty value was paid by every insert for a
            # lookup that never asks for "". A query with a list of numbers says
            # ``tax_id <> ''`` itself (the planner cannot prove it from a long list).
            models.Index(
                fields=["tenant", "tax_id"],
                condition=~Q(tax_id=""),
                name="customer_tax_id_given_idx",
            ),
            models.Index(
                fields=["home_branch"],
                condition=Q(home_branch__isnull=False),
                name="customer_home_branch_idx",
            ),
            # Few customers are merged; an index over every customer's NULL was paid
            # by every insert.
            models.Index(
                fields=["merged_into"],
                condition=Q(merged_into__isnull=False),
                name="customer_merged_into_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.anonymised_at is not None:
            return str(_("Erased customer %(number)s") % {"number": self.customer_number})
        if self.kind == self.Kind.COMPANY:
            return self.trade_name
        return f"{self.first_name} {self.last_name}".strip()


class CustomerNameWord(TenantOwnedModel):
    """One word of a customer's ``name_key``, for "a word of the name starts with …".

    Search looks names up here with ``starts_with(word, …)``: under row-level security
    PostgreSQL only lets leakproof conditions use an index, and ``LIKE '% word%'`` on
    the name is neither leakproof nor indexable. A trigger on customers_customer
    (migration 0005, PostgreSQL only) keeps the rows in step with ``name_key`` on every
    write path: ORM saves, bulk loads, merges.
    """

    # The trigger writes words only for the customer row it fires on, so the
    # database need not check each word's customer and tenant again (they were a
    # third of an import's insert time, with the two indexes the covering indexes
    # of migrations 0007 and 0010 make redundant). Django still deletes a
    # customer's words with it.
    tenant = tenant_key(db_index=False, db_constraint=False)
    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    # Searched with a (tenant_id, word varchar_pattern_ops) index made in migration 0005.
    word = models.CharField(max_length=100)


class CustomerNumberCounter(TenantOwnedModel):
    """The next customer number of a tenant, handed out under a row lock."""

    next_value = models.PositiveBigIntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"], name="one_counter_per_tenant")]


class ContactPerson(TenantOwnedModel):
    """A person at a company customer, in the role we deal with them in."""

    class Role(models.TextChoices):
        PURCHASING = "purchasing", _("Purchasing")
        PAYMENTS = "payments", _("Payments")
        FINANCE = "finance", _("Finance")
        QUALITY = "quality", _("Quality")
        PRODUCTION = "production", _("Production")
        DEALER_SALES = "dealer_sales", _("Dealer sales")
        OTHER = "other", _("Other")

    company = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    first_name = models.CharField(_("first name(s)"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    title = models.CharField(_("title"), max_length=100, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("contact person")
        verbose_name_plural = _("contact people")
        ordering = ["role", "last_name"]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class ContactPoint(TenantOwnedModel):
    source = models.CharField(_("source"), max_length=20, choices=Touchpoint.choices, blank=True)
    is_verified = models.BooleanField(_("verified"), default=False)
    is_primary = models.BooleanField(_("primary"), default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True


# A contact point's customer and tenant are checked together, by one foreign key
# (tenant_id, customer_id) → customers_customer (tenant_id, id) that Django cannot
# declare (migration 0012, PostgreSQL): one check per row where two ran (an import
# writes tens of thousands), and a contact point cannot belong to another tenant's
# customer. SQLite (the embedded demo) checks neither. Hence db_constraint=False on
# both fields of Phone, Email and Address.


class Phone(ContactPoint):
    # Indexes: every one a write pays, none another covers (migration 0011).
    tenant = tenant_key(db_index=False, db_constraint=False)  # phone_e164_idx begins with it
    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        related_name="phones",
        db_index=False,  # phone_once_per_owner begins with it
        db_constraint=False,
    )
    contact_person = models.ForeignKey(
        ContactPerson,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="phones",
        db_index=False,  # phone_contact_person_idx, only the contact people's
    )
    e164 = models.CharField(_("phone"), max_length=20)
    is_mobile = models.BooleanField(_("mobile"), default=False)

    class Meta:
        ordering = ["-is_primary", "created_at"]
        indexes = [
            # Pattern operators: the index answers "= …" and "starts with …" (search as
            # you type) alike, in any database collation.
            # Covering the customer: a lookup by number (import, search, the
            # counter's check) reads no phone row (migration 0015); and the contact
            # person, so the import tells a customer's own numbers apart (0017).
            models.Index(
                fields=["tenant", "e164"],
                name="phone_e164_idx",
                opclasses=["int8_ops", "varchar_pattern_ops"],
                include=["customer", "contact_person"],
            ),
            models.Index(
                fields=["contact_person"],
                condition=Q(contact_person__isnull=False),
                name="phone_contact_person_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "contact_person", "e164"],
                name="phone_once_per_owner",
                nulls_distinct=False,
                include=["tenant"],  # a customer's numbers from the index alone
            )
        ]


class Email(ContactPoint):
    # Indexes as Phone's.
    tenant = tenant_key(db_index=False, db_constraint=False)  # email indexes begin with it
    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        related_name="emails",
        db_index=False,  # email_once_per_owner begins with it
        db_constraint=False,
    )
    contact_person = models.ForeignKey(
        ContactPerson,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="emails",
        db_index=False,  # email_contact_person_idx
    )
    address = models.CharField(_("e-mail"), max_length=254)
    match_key = models.CharField(max_length=254, editable=False)

    class Meta:
        ordering = ["-is_primary", "created_at"]
        indexes = [
            # Covering as phone_e164_idx, and the address the import compares.
            models.Index(
                fields=["tenant", "match_key"],
                name="email_key_idx",
                include=["customer", "contact_person", "address"],
            ),
            models.Index(
                fields=["tenant", "address"],
                name="email_address_idx",
                opclasses=["int8_ops", "varchar_pattern_ops"],
                include=["customer"],
            ),
            models.Index(
                fields=["contact_person"],
                condition=Q(contact_person__isnull=False),
                name="email_contact_person_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "contact_person", "address"],
                name="email_once_per_owner",
                nulls_distinct=False,
                include=["tenant", "match_key"],
            )
        ]


class Address(ContactPoint):
    tenant = tenant_key(db_constraint=False)
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="addresses", db_constraint=False
    )
    # Old files often hold only a customer's il ("İl: Bursa") or a line whose province
    # cannot be told; either alone is still worth keeping (segments by province, the
    # line for the courier), but not neither.
    line = models.CharField(_("address"), max_length=300, blank=True)
    province = models.CharField(
        _("province (il)"), max_length=2, choices=PROVINCE_CHOICES, blank=True
    )
    district = models.CharField(_("district (ilçe)"), max_length=80, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=5, blank=True)

    class Meta:
        ordering = ["-is_primary", "created_at"]
        indexes = [
            models.Index(fields=["tenant", "province", "district"], name="address_district_idx")
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(line="") | ~models.Q(province=""),
                name="address_has_line_or_province",
            )
        ]

    def __str__(self) -> str:
        place = " / ".join(
            part
            for part in (self.district, self.get_province_display() if self.province else "")
            if part
        )
        return ", ".join(part for part in (self.line, place) if part)


class ProductCategory(TenantOwnedModel):
    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True)

    class Meta:
        verbose_name = _("product category")
        verbose_name_plural = _("product categories")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name"], name="category_name_unique_per_tenant"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Product(TenantOwnedModel):
    sku = models.CharField(_("SKU"), max_length=50)
    name = models.CharField(_("name"), max_length=200)
    category = models.ForeignKey(
        ProductCategory, on_delete=models.SET_NULL, null=True, blank=True, related_name="products"
    )
    list_price = models.DecimalField(
        _("list price"), max_digits=12, decimal_places=2, default=Decimal("0")
    )

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "sku"], name="product_sku_unique_per_tenant")
        ]

    def __str__(self) -> str:
        return f"{self.sku} · {self.name}"


class Purchase(TenantOwnedModel):
    """A receipt. Returns are purchases with negative amounts pointing at the original."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="purchases")
    branch = models.ForeignKey(
        Branch, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    touchpoint = models.CharField(
        _("touchpoint"), max_length=20, choices=Touchpoint.choices, default=Touchpoint.BRANCH_VISIT
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    purchased_at = models.DateTimeField(_("time"))
    total_amount = models.DecimalField(_("total"), max_digits=12, decimal_places=2)
    discount_amount = models.DecimalField(
        _("discount"), max_digits=12, decimal_places=2, default=Decimal("0")
    )
    is_return = models.BooleanField(_("return"), default=False)
    returned_purchase = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="returns"
    )
    # The POS / shop's own receipt id: importing the same receipt twice is a no-op.
    external_ref = models.CharField(_("receipt number"), max_length=64, blank=True)

    class Meta:
        ordering = ["-purchased_at"]
        indexes = [
            # Covers what the customer page shows of a customer's purchases (the
            # latest ones, the count and the total): read from the index alone, not
            # from a heap page per purchase scattered over millions (PostgreSQL).
            models.Index(
                fields=["tenant", "customer", "purchased_at"],
                include=[
                    "id",
                    "total_amount",
                    "discount_amount",
                    "branch",
                    "touchpoint",
                    "is_return",
                ],
                name="purchase_customer_idx",
            ),
            models.Index(fields=["tenant", "branch", "purchased_at"], name="purchase_branch_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "external_ref"],
                condition=~Q(external_ref=""),
                name="purchase_external_ref_unique_per_tenant",
            )
        ]


class PurchaseLine(TenantOwnedModel):
    # Indexed by purchaseline_purchase_cover_idx below.
    purchase = models.ForeignKey(
        Purchase, on_delete=models.CASCADE, related_name="lines", db_index=False
    )
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(
        _("quantity"), max_digits=10, decimal_places=3, default=Decimal("1")
    )
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)
    discount_amount = models.DecimalField(
        _("discount"), max_digits=12, decimal_places=2, default=Decimal("0")
    )
    line_total = models.DecimalField(_("line total"), max_digits=12, decimal_places=2)
    # Copies of the receipt's customer, time and return flag. With them "who bought
    # from this category in this period" is one index range per product (segment
    # rules) instead of joining the category's lines with every purchase: 4–5 s at
    # 10M purchases. Written with the line (services._purchase_write) and moved with
    # the receipt on merge and unmerge (merge._lines_follow_purchases). No key or
    # index of its own: the receipt's key guards the customer, and the lines go
    # when their receipt goes.
    customer = models.ForeignKey(
        Customer,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    purchased_at = models.DateTimeField(_("time"))
    is_return = models.BooleanField(_("return"), default=False)

    class Meta:
        indexes = [
            # Covers the segment rule's count: product and period in the key, the
            # customer (and the tenant, which row-level security reads) alongside.
            models.Index(
                fields=["product", "purchased_at"],
                include=["customer", "tenant"],
                condition=Q(is_return=False),
                name="purchaseline_sold_cover",
            ),
            # A receipt's lines in order with their products, from the index alone:
            # the customer page shows each purchase's line count and first products.
            models.Index(
                fields=["purchase", "id"],
                include=["product", "tenant"],
                name="purchaseline_purchase_cover",
            ),
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A line saved on its own takes the copies from its receipt; bulk writers
        # (services._purchase_write, the reference tenant) set them themselves.
        if self.customer_id is None or self.purchased_at is None:
            self.customer_id = self.purchase.customer_id
            self.purchased_at = self.purchase.purchased_at
            self.is_return = self.purchase.is_return
        super().save(*args, **kwargs)


class Interaction(TenantOwnedModel):
    """Any contact with the customer, at any touchpoint."""

    class Outcome(models.TextChoices):
        INFORMED = "informed", _("Informed")
        SOLD = "sold", _("Sale")
        FOLLOW_UP = "follow_up", _("Follow-up needed")
        NO_ANSWER = "no_answer", _("No answer")
        RESOLVED = "resolved", _("Resolved")
        OTHER = "other", _("Other")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="interactions")
    touchpoint = models.CharField(_("touchpoint"), max_length=20, choices=Touchpoint.choices)
    subject = models.CharField(_("subject"), max_length=200)
    notes = models.TextField(_("notes"), blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, blank=True)
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("staff"),
    )
    branch = models.ForeignKey(
        Branch,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("branch"),
    )
    occurred_at = models.DateTimeField(_("time"), default=timezone.now)
    follow_up_on = models.DateField(_("follow up on"), null=True, blank=True)
    # Meetings: who took part on their side, and what happens next.
    participants = models.ManyToManyField(
        ContactPerson,
        through="InteractionParticipant",
        blank=True,
        related_name="+",
        verbose_name=_("participants"),
    )
    next_step = models.CharField(_("next step"), max_length=300, blank=True)

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [
            models.Index(
                fields=["tenant", "customer", "occurred_at"], name="interaction_customer_idx"
            )
        ]


class InteractionParticipant(TenantOwnedModel):
    """Explicit join table so that it, too, carries tenant_id and row-level security."""

    interaction = models.ForeignKey(Interaction, on_delete=models.CASCADE, related_name="+")
    contact_person = models.ForeignKey(ContactPerson, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["interaction", "contact_person"], name="participant_once"
            )
        ]


class Complaint(TenantOwnedModel):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        IN_PROGRESS = "in_progress", _("In progress")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="complaints")
    subject = models.CharField(_("subject"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.OPEN
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("owner"),
    )
    branch = models.ForeignKey(
        Branch,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("branch"),
    )
    opened_at = models.DateTimeField(_("opened"), default=timezone.now)
    due_on = models.DateField(_("due date"))
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolution = models.TextField(_("resolution"), blank=True)

    class Meta:
        ordering = ["-opened_at"]
        indexes = [
            models.Index(fields=["tenant", "customer", "status"], name="complaint_customer_idx")
        ]


class RiskFlag(TenantOwnedModel):
    class Kind(models.TextChoices):
        OVERDUE_PAYMENT = "overdue_payment", _("Overdue payment")
        LEGAL_FOLLOW_UP = "legal_follow_up", _("Legal follow-up")
        BOUNCED_CHEQUE = "bounced_cheque", _("Bounced cheque")
        FRAUD_SUSPICION = "fraud_suspicion", _("Fraud suspicion")
        CUSTOM = "custom", _("Other")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="risk_flags")
    kind = models.CharField(_("risk"), max_length=20, choices=Kind.choices)
    note = models.CharField(_("note"), max_length=300, blank=True)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    set_at = models.DateTimeField(default=timezone.now)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-set_at"]


class MergeLog(TenantOwnedModel):
    """One merge of a duplicate customer into another, with what is needed to undo it.

    ``snapshot`` holds both records' fields before the merge, the ids of every row
    that was re-pointed from the dropped record to the kept one (per table) and the
    contact points' flags before they were reconciled; customers.merge uses it to
    restore both records exactly.
    """

    # RESTRICT: the log outlives nothing but its tenant (deleting the tenant cascades).
    kept = models.ForeignKey(
        Customer, on_delete=models.RESTRICT, related_name="+", verbose_name=_("kept record")
    )
    dropped = models.ForeignKey(
        Customer, on_delete=models.RESTRICT, related_name="+", verbose_name=_("merged record")
    )
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("merged by"),
    )
    merged_at = models.DateTimeField(_("merged"), default=timezone.now)
    # Which side won, per field ("keep" or "drop"), and which of those the user picked.
    field_choices = models.JSONField(default=dict, blank=True)
    user_choices = models.JSONField(default=dict, blank=True)
    snapshot = models.JSONField(default=dict, blank=True)
    undone_at = models.DateTimeField(_("undone"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("undone by"),
    )

    class Meta:
        verbose_name = _("merge")
        verbose_name_plural = _("merges")
        ordering = ["-merged_at", "-pk"]
        indexes = [
            models.Index(fields=["tenant", "merged_at"], name="mergelog_tenant_at_idx"),
            models.Index(fields=["tenant", "kept"], name="mergelog_kept_idx"),
            models.Index(fields=["tenant", "dropped"], name="mergelog_dropped_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.dropped_id} → {self.kept_id}"


class ImportMapping(TenantOwnedModel):
    """The column → field mapping last used for files with these headers."""

    headers_key = models.CharField(max_length=64)
    headers = models.JSONField(default=list)
    mapping = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "headers_key"], name="import_mapping_unique_per_headers"
            )
        ]


class DuplicatePair(TenantOwnedModel):
    """The review queue: two records the batch finder thinks are one customer.

    A "not a duplicate" decision is kept, so later runs do not ask again.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("To review")
        MERGED = "merged", _("Merged")
        NOT_DUPLICATE = "not_duplicate", _("Not a duplicate")
        SKIPPED = "skipped", _("Skipped")

    left = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    right = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()
    evidence = models.JSONField(default=list)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    found_by = models.ForeignKey(
        "crm.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    found_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-score"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "left", "right"], name="pair_once"),
            models.CheckConstraint(condition=Q(left__lt=F("right")), name="pair_ordered"),
        ]
        indexes = [models.Index(fields=["tenant", "status", "score"], name="pair_queue_idx")]
