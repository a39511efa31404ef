"""The tenancy core: users, tenants (SMEs), their branches, who works where, jobs."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from localflavor.tr.tr_provinces import PROVINCE_CHOICES

from crm.permissions import Role
from crm.tenancy import TenantOwnedModel
from crm.validators import validate_vkn


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person who logs in. Users are global; what they may see is their memberships."""

    username = None  # type: ignore[assignment]
    email = models.EmailField(_("e-mail address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=150, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def display_name(self) -> str:
        return self.full_name or self.email


slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$",
    _(
        "Use 2–50 characters: a–z without Turkish letters, digits and hyphens;"
        " no hyphen at either end."
    ),
)


class Tenant(models.Model):
    """One SME. Not tenant-owned itself: it is the root every tenant row hangs from."""

    slug = models.CharField(
        _("web address name"),
        max_length=50,
        unique=True,
        validators=[slug_validator],
        help_text=_("Appears in your addresses: /t/<name>/"),
    )
    name = models.CharField(_("name"), max_length=150)
    legal_name = models.CharField(_("legal name"), max_length=250, blank=True)
    vkn = models.CharField(
        _("tax number (VKN)"), max_length=10, blank=True, validators=[validate_vkn]
    )
    tax_office = models.CharField(_("tax office"), max_length=100, blank=True)
    iys_code = models.CharField(
        _("İYS code"), max_length=20, blank=True, help_text=_("The iysCode İYS gave your company.")
    )
    iys_brand_code = models.CharField(
        _("İYS brand code"),
        max_length=20,
        blank=True,
        help_text=_("The İYS brandCode of the brand your messages are sent under."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Branch(TenantOwnedModel):
    code = models.CharField(_("code"), max_length=20)
    name = models.CharField(_("name"), max_length=150)
    province = models.CharField(_("province (il)"), max_length=2, choices=PROVINCE_CHOICES)
    district = models.CharField(_("district (ilçe)"), max_length=80, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("branch")
        verbose_name_plural = _("branches")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "code"], name="branch_code_unique_per_tenant"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"


class Membership(TenantOwnedModel):
    """A user's place in one tenant: their role and, for branch staff, their branch."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user")
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    branch = models.ForeignKey(
        Branch,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
        verbose_name=_("branch"),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("joined"), default=timezone.now)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["user__email"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_per_tenant"),
        ]
        indexes = [models.Index(fields=["user"], name="membership_user_idx")]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"


class Invitation(TenantOwnedModel):
    email = models.EmailField(_("e-mail address"))
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    branch = models.ForeignKey(
        Branch, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("branch")
    )
    # Only a hash is stored: a leaked database row cannot be used to join a tenant.
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "email"], name="invitation_email_idx")]

    @property
    def is_pending(self) -> bool:
        return (
            self.accepted_at is None
            and self.revoked_at is None
            and self.expires_at > timezone.now()
        )


class Job(TenantOwnedModel):
    """A background job's visible state: what the progress bar polls.

    Imports, segmentation runs, dedup and campaign sends all report through this.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Waiting for your input")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Finished")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=50)
    title = models.CharField(_("title"), max_length=200)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    message = models.CharField(_("message"), max_length=500, blank=True)
    error = models.TextField(_("error"), blank=True)
    result = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    input_name = models.CharField(max_length=255, blank=True)
    input_data = models.BinaryField(null=True, blank=True, editable=False)
    output_name = models.CharField(max_length=255, blank=True)
    output_content_type = models.CharField(max_length=100, blank=True)
    output_data = models.BinaryField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "status", "created_at"], name="job_status_idx")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    @property
    def percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.progress_total:
            return 0
        return min(100, int(100 * self.progress_done / self.progress_total))


class PersonalDataAccess(TenantOwnedModel):
    """KVKK access log: who opened or exported whose personal data, when and from where.

    Refers to the data subject by id, not by foreign key, so the log outlives the
    record it describes (erasure anonymises the customer; the log must remain).
    """

    class Action(models.TextChoices):
        VIEW = "view", _("Viewed")
        EXPORT = "export", _("Exported")
        UPDATE = "update", _("Changed")

    user = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    subject_type = models.CharField(max_length=30)
    subject_id = models.BigIntegerField()
    action = models.CharField(max_length=10, choices=Action.choices)
    at = models.DateTimeField(default=timezone.now)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    path = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at"]
        indexes = [
            models.Index(
                fields=["tenant", "subject_type", "subject_id", "at"], name="access_subject_idx"
            ),
            models.Index(fields=["tenant", "user", "at"], name="access_user_idx"),
        ]


class ApiKey(TenantOwnedModel):
    """A tenant's key for integrations (POS, e-shop): ``tk_<prefix>_<secret>``.

    Only the SHA-256 of the secret is stored; the full key is shown once, at creation.
    The prefix is stored in clear so the key can be found (and recognised in the list)
    without scanning every hash. A key acts with its scopes, not with a role.
    """

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=8, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(_("scopes"), default=list)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "prefix"], name="apikey_prefix_unique"),
        ]
        # Keys are looked up by prefix before any tenant is known.
        indexes = [models.Index(fields=["prefix"], name="apikey_prefix_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > timezone.now()
        )
