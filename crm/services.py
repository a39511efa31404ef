"""Writes of the tenancy core: tenants, branches, members, invitations, branch import."""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from crm.jobs import JobFailure, JobProgress
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
from crm.permissions import ApiScope, Role, assignable_roles
from crm.selectors import API_KEY_MARK, API_KEY_PREFIX_LENGTH, api_key_hash
from crm.tables import ImportFileError, read_table
from crm.tenancy import dangerously_all_tenants, ensure_same_tenant, tenant_context
from crm.text import matching_key, province_code

INVITATION_VALID_FOR = timedelta(days=7)


@transaction.atomic
def tenant_create(*, slug: str, name: str, owner: User, **fields: Any) -> Tenant:
    """Create a tenant with ``owner`` as its first member."""
    tenant = Tenant(slug=slug, name=name, **fields)
    tenant.full_clean()
    tenant.save()
    with tenant_context(tenant):
        Membership.objects.create(tenant=tenant, user=owner, role=Role.OWNER)
    return tenant


@transaction.atomic
def tenant_update(*, tenant: Tenant, **fields: Any) -> Tenant:
    for name, value in fields.items():
        setattr(tenant, name, value)
    tenant.full_clean()
    tenant.save()
    return tenant


@transaction.atomic
def branch_save(*, tenant: Tenant, branch: Branch | None = None, **fields: Any) -> Branch:
    """Create or update a branch; codes are unique within the tenant."""
    if branch is None:
        branch = Branch(tenant=tenant)
    ensure_same_tenant(tenant, branch)
    for name, value in fields.items():
        setattr(branch, name, value)
    branch.full_clean()
    branch.save()
    return branch


def _role_guard(*, actor_membership: Membership, role: str) -> None:
    if role not in assignable_roles(actor_membership.role):
        raise ValidationError(_("You cannot give the role %(role)s.") % {"role": Role(role).label})


@transaction.atomic
def member_update(
    *,
    tenant: Tenant,
    actor_membership: Membership,
    membership: Membership,
    role: str,
    branch: Branch | None,
    is_active: bool,
) -> Membership:
    ensure_same_tenant(tenant, membership, branch)
    _role_guard(actor_membership=actor_membership, role=role)
    if membership.role == Role.OWNER and actor_membership.role != Role.OWNER:
        raise ValidationError(_("Only an owner can change another owner's role or access."))
    losing_owner = membership.role == Role.OWNER and (role != Role.OWNER or not is_active)
    if losing_owner:
        other_owners = Membership.objects.filter(
            tenant=tenant, role=Role.OWNER, is_active=True
        ).exclude(pk=membership.pk)
        if not other_owners.exists():
            raise ValidationError(_("A company needs at least one active owner."))
    if role == Role.BRANCH_STAFF and branch is None:
        raise ValidationError(_("Branch staff need a branch."))
    membership.role, membership.branch, membership.is_active = role, branch, is_active
    membership.save()
    return membership


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class SentInvitation:
    invitation: Invitation
    accept_url: str


@transaction.atomic
def invitation_create(
    *,
    tenant: Tenant,
    actor_membership: Membership,
    email: str,
    role: str,
    branch: Branch | None,
    base_url: str,
) -> SentInvitation:
    """Invite ``email`` with ``role``; e-mails a one-time link valid for seven days."""
    ensure_same_tenant(tenant, branch)
    _role_guard(actor_membership=actor_membership, role=role)
    email = email.strip().lower()
    if role == Role.BRANCH_STAFF and branch is None:
        raise ValidationError(_("Branch staff need a branch."))
    if Membership.objects.filter(tenant=tenant, user__email__iexact=email).exists():
        raise ValidationError(_("%(email)s is already a member.") % {"email": email})
    # A fresh invitation replaces older pending ones for the same address.
    Invitation.objects.filter(
        tenant=tenant, email=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        tenant=tenant,
        email=email,
        role=role,
        branch=branch,
        token_hash=_token_hash(token),
        invited_by=actor_membership.user,
        expires_at=timezone.now() + INVITATION_VALID_FOR,
    )
    accept_url = base_url.rstrip("/") + reverse("invitation_accept", args=[token])
    context = {
        "tenant": tenant,
        "inviter": actor_membership.user,
        "role": invitation.get_role_display(),
        "accept_url": accept_url,
        "expires_at": invitation.expires_at,
    }
    subject = _("%(tenant)s invites you to Tekil CRM") % {"tenant": tenant.name}
    body = render_to_string("crm/email/invitation.txt", context)
    transaction.on_commit(lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email]))
    return SentInvitation(invitation=invitation, accept_url=accept_url)


def invitation_by_token(*, token: str) -> Invitation | None:
    """Find a pending invitation from the link (the token names its tenant)."""
    with dangerously_all_tenants():
        invitation = (
            Invitation.objects.select_related("tenant")
            .filter(token_hash=_token_hash(token))
            .first()
        )
    if invitation is None or not invitation.is_pending:
        return None
    return invitation


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    if not invitation.is_pending:
        raise ValidationError(_("This invitation is no longer valid."))
    if user.email.lower() != invitation.email.lower():
        raise ValidationError(
            _("This invitation was sent to %(email)s. Log in with that address.")
            % {"email": invitation.email}
        )
    with tenant_context(invitation.tenant_id):
        membership, _created = Membership.objects.update_or_create(
            tenant_id=invitation.tenant_id,
            user=user,
            defaults={"role": invitation.role, "branch": invitation.branch, "is_active": True},
        )
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


@transaction.atomic
def invitation_revoke(*, tenant: Tenant, invitation: Invitation) -> None:
    ensure_same_tenant(tenant, invitation)
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])


# --- Branch import (the first job that reports progress) ---------------------------

BRANCH_IMPORT_COLUMNS = ("code", "name", "province", "district", "address")
# Headers are compared by their matching key, so "Şube Kodu", "SUBE KODU" and
# "şube kodu" are the same column.
_HEADER_ALIASES = {
    "kod": "code",
    "sube kodu": "code",
    "code": "code",
    "ad": "name",
    "adi": "name",
    "sube adi": "name",
    "name": "name",
    "il": "province",
    "province": "province",
    "ilce": "district",
    "district": "district",
    "adres": "address",
    "address": "address",
}


def _branch_rows(job: Job) -> list[tuple[int, dict[str, str]]]:
    """The job's file as (line, {field: value}) with the column titles recognised."""
    try:
        table = read_table(bytes(job.input_data or b""), job.input_name or "branches.csv")
    except ImportFileError as error:
        raise JobFailure(str(error)) from error
    fields = [_HEADER_ALIASES.get(matching_key(h), matching_key(h)) for h in table.headers]
    missing = {"code", "name", "province"} - set(fields)
    if missing:
        raise JobFailure(
            _("Missing columns: %(columns)s. Expected: code, name, province, district, address.")
            % {"columns": ", ".join(sorted(missing))}
        )
    return [
        (line, dict(zip(fields, cells, strict=False)))
        for line, cells in table.rows
        if any(cell.strip() for cell in cells)
    ]


def branches_import(*, tenant: Tenant, job: Job, progress: JobProgress) -> None:
    """Upsert branches by code from the job's CSV; bad rows go to an error report.

    Idempotent: importing the same file twice changes nothing the second time.
    """
    rows = _branch_rows(job)
    total = len(rows)
    created = updated = 0
    errors: list[tuple[int, str, str]] = []
    progress.update(
        0,
        total,
        ngettext("Reading %(count)s row", "Reading %(count)s rows", total) % {"count": total},
        force=True,
    )
    for index, (line, row) in enumerate(rows):
        code = (row.get("code") or "").strip()
        province = province_code(row.get("province") or "")
        if province is None:
            errors.append(
                (
                    line,
                    code,
                    _("Unknown province: %(value)s") % {"value": row.get("province") or ""},
                )
            )
            continue
        existing = Branch.objects.filter(tenant=tenant, code=code).first()
        try:
            with transaction.atomic():
                branch_save(
                    tenant=tenant,
                    branch=existing,
                    code=code,
                    name=(row.get("name") or "").strip(),
                    province=province,
                    district=(row.get("district") or "").strip(),
                    address=(row.get("address") or "").strip(),
                )
        except ValidationError as error:
            errors.append((line, code, "; ".join(error.messages)))
            continue
        if existing is None:
            created += 1
        else:
            updated += 1
        progress.update(index + 1, total)
    job.result = {"created": created, "updated": updated, "errors": len(errors), "rows": total}
    if errors:
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";")
        writer.writerow([_("line"), _("code"), _("reason")])
        writer.writerows(errors)
        job.output_name = "branch-import-errors.csv"
        job.output_content_type = "text/csv; charset=utf-8"
        job.output_data = ("\ufeff" + out.getvalue()).encode("utf-8")
    progress.update(
        total,
        total,
        _("%(created)s created, %(updated)s updated, %(errors)s with errors")
        % {
            "created": created,
            "updated": updated,
            "errors": ngettext("%(count)s row", "%(count)s rows", len(errors))
            % {"count": len(errors)},
        },
        force=True,
    )


def personal_data_access_record(
    *,
    tenant: Tenant,
    user: User | None,
    subject_type: str,
    subject_id: int,
    action: str,
    ip_address: str | None = None,
    user_agent: str = "",
    path: str = "",
) -> None:
    """Append to the KVKK access log (who saw or exported whose data, when, from where)."""
    PersonalDataAccess.objects.create(
        tenant=tenant,
        user=user,
        subject_type=subject_type,
        subject_id=subject_id,
        action=action,
        ip_address=ip_address or None,
        user_agent=user_agent[:300],
        path=path[:300],
    )


# --- API keys ------------------------------------------------------------------------

API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)


@transaction.atomic
def api_key_create(
    *,
    tenant: Tenant,
    actor: User,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; returns it with the full ``tk_<prefix>_<secret>``.

    The full key exists only in the return value: only the secret's hash is stored,
    so the caller must show it now or never.
    """
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = [_("Give the key a name, e.g. the system that will use it.")]
    unknown = [scope for scope in scopes if scope not in set(ApiScope)]
    if unknown:
        errors["scopes"] = [_("Unknown scope: %(scope)s") % {"scope": ", ".join(unknown)}]
    elif not scopes:
        errors["scopes"] = [_("Choose at least one thing the key may do.")]
    if expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = [_("The expiry must be in the future.")]
    if errors:
        raise ValidationError(errors)
    prefix = secrets.token_hex(API_KEY_PREFIX_LENGTH // 2)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        tenant=tenant,
        name=name.strip(),
        prefix=prefix,
        secret_hash=api_key_hash(secret),
        scopes=sorted(set(scopes)),
        created_by=actor,
        expires_at=expires_at,
    )
    key.save()
    return key, f"{API_KEY_MARK}_{prefix}_{secret}"


def api_key_revoke(*, tenant: Tenant, key: ApiKey) -> ApiKey:
    ensure_same_tenant(tenant, key)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def api_key_touch(*, key: ApiKey) -> None:
    """Record use, at most once a minute per key (every request would be a write)."""
    now = timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < API_KEY_TOUCH_INTERVAL:
        return
    ApiKey.objects.filter(pk=key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - API_KEY_TOUCH_INTERVAL)
    ).update(last_used_at=now)
    key.last_used_at = now
