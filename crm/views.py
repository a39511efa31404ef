from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm import jobs, selectors, services
from crm.accounts import PENDING_INVITATION_SESSION_KEY
from crm.forms import (
    AccessLogFilterForm,
    ApiKeyForm,
    BranchForm,
    BranchImportForm,
    InvitationForm,
    MembershipForm,
    TenantSettingsForm,
)
from crm.http import TenantRequest, tenant_view
from crm.models import Job, User
from crm.permissions import API_SCOPE_LABELS, Perm, assignable_roles
from crm.tasks import branches_import_task
from customers.selectors import customer_ids_for_number


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send the user to their company, or let them choose when they have several."""
    assert isinstance(request.user, User)
    memberships = selectors.memberships_for_user(user=request.user)
    if len(memberships) == 1:
        return redirect("dashboards:home", tenant_slug=memberships[0].tenant.slug)
    return render(request, "crm/choose_tenant.html", {"memberships": memberships})


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = services.invitation_by_token(token=token)
    if invitation is None:
        request.session.pop(PENDING_INVITATION_SESSION_KEY, None)
        return render(request, "crm/invitation_invalid.html", status=404)
    if not request.user.is_authenticated:
        request.session[PENDING_INVITATION_SESSION_KEY] = token
        known = User.objects.filter(email__iexact=invitation.email).exists()
        messages.info(
            request,
            _("Log in or create your account to join %(tenant)s.")
            % {"tenant": invitation.tenant.name},
        )
        return redirect("account_login" if known else "account_signup")
    assert isinstance(request.user, User)
    if request.method == "POST":
        try:
            membership = services.invitation_accept(invitation=invitation, user=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            request.session.pop(PENDING_INVITATION_SESSION_KEY, None)
            messages.success(request, _("Welcome to %(tenant)s.") % {"tenant": membership.tenant})
            return redirect("dashboards:home", tenant_slug=membership.tenant.slug)
    return render(request, "crm/invitation_accept.html", {"invitation": invitation})


@tenant_view(Perm.MANAGE_SETTINGS)
def tenant_settings(request: TenantRequest, tenant_slug: str) -> HttpResponse:
    form = TenantSettingsForm(request.POST or None, instance=request.tenant)
    if request.method == "POST" and form.is_valid():
        services.tenant_update(tenant=request.tenant, **form.cleaned_data)
        messages.success(request, _("Company settings saved."))
        return redirect("crm:settings", tenant_slug=request.tenant.slug)
    return render(request, "crm/settings.html", {"form": form})


@tenant_view(Perm.MANAGE_MEMBERS)
def members(request: TenantRequest, tenant_slug: str) -> HttpResponse:
    tenant, actor = request.tenant, request.membership
    form = InvitationForm(request.POST or None, tenant=tenant, actor_role=actor.role)
    if request.method == "POST" and form.is_valid():
        try:
            services.invitation_create(
                tenant=tenant,
                actor_membership=actor,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                branch=form.cleaned_data["branch"],
                base_url=request.build_absolute_uri("/"),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request, _("Invitation sent to %(email)s.") % {"email": form.cleaned_data["email"]}
            )
            return redirect("crm:members", tenant_slug=tenant.slug)
    return render(
        request,
        "crm/members.html",
        {
            "form": form,
            "members": selectors.member_list(tenant=tenant),
            "invitations": selectors.invitation_list_pending(tenant=tenant),
            "assignable_roles": assignable_roles(actor.role),
        },
    )


@tenant_view(Perm.MANAGE_MEMBERS)
def member_edit(request: TenantRequest, tenant_slug: str, membership_id: int) -> HttpResponse:
    tenant = request.tenant
    try:
        membership = selectors.member_get(tenant=tenant, membership_id=membership_id)
    except ObjectDoesNotExist as missing:
        raise Http404 from missing
    actor_role = request.membership.role
    form = (
        MembershipForm(request.POST, tenant=tenant, actor_role=actor_role)
        if request.method == "POST"
        else MembershipForm.for_membership(membership, tenant=tenant, actor_role=actor_role)
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.member_update(
                tenant=tenant,
                actor_membership=request.membership,
                membership=membership,
                role=form.cleaned_data["role"],
                branch=form.cleaned_data["branch"],
                is_active=form.cleaned_data["is_active"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Member updated."))
            return redirect("crm:members", tenant_slug=tenant.slug)
    return render(request, "crm/member_edit.html", {"form": form, "member": membership})


@require_POST
@tenant_view(Perm.MANAGE_MEMBERS)
def invitation_revoke(request: TenantRequest, tenant_slug: str, invitation_id: int) -> HttpResponse:
    try:
        invitation = selectors.invitation_get(tenant=request.tenant, invitation_id=invitation_id)
    except ObjectDoesNotExist as missing:
        raise Http404 from missing
    services.invitation_revoke(tenant=request.tenant, invitation=invitation)
    messages.success(request, _("Invitation withdrawn."))
    return redirect("crm:members", tenant_slug=request.tenant.slug)


@tenant_view(Perm.MANAGE_BRANCHES)
def branches(request: TenantRequest, tenant_slug: str) -> HttpResponse:
    tenant = request.tenant
    form = BranchForm(request.POST or None, instance=None)
    form.instance.tenant = tenant
    if request.method == "POST" and form.is_valid():
        branch = services.branch_save(tenant=tenant, **form.cleaned_data)
        messages.success(request, _("Branch %(branch)s added.") % {"branch": branch})
        return redirect("crm:branches", tenant_slug=tenant.slug)
    return render(
        request,
        "crm/branches.html",
        {
            "form": form,
            "import_form": BranchImportForm(),
            "branches": selectors.branch_list(tenant=tenant),
        },
    )


@tenant_view(Perm.MANAGE_BRANCHES)
def branch_edit(request: TenantRequest, tenant_slug: str, branch_id: int) -> HttpResponse:
    tenant = request.tenant
    try:
        branch = selectors.branch_get(tenant=tenant, branch_id=branch_id)
    except ObjectDoesNotExist as missing:
        raise Http404 from missing
    form = BranchForm(request.POST or None, instance=branch)
    if request.method == "POST" and form.is_valid():
        services.branch_save(tenant=tenant, branch=branch, **form.cleaned_data)
        messages.success(request, _("Branch saved."))
        return redirect("crm:branches", tenant_slug=tenant.slug)
    return render(request, "crm/branch_edit.html", {"form": form, "branch": branch})


@require_POST
@tenant_view(Perm.MANAGE_BRANCHES)
def branch_import(request: TenantRequest, tenant_slug: str) -> HttpResponse:
    form = BranchImportForm(request.POST, request.FILES)
    if not form.is_valid():
        for error in form.errors.get("file", []):
            messages.error(request, str(error))
        return redirect("crm:branches", tenant_slug=request.tenant.slug)
    upload = form.cleaned_data["file"]
    job = jobs.job_create(
        tenant=request.tenant,
        kind="branches.import",
        title=_("Branch import: %(name)s") % {"name": upload.name},
        actor=request.user,
        input_name=upload.name,
        input_data=upload.read(),
    )
    jobs.job_enqueue(job, branches_import_task, language=get_language())
    return redirect("crm:job", tenant_slug=request.tenant.slug, job_id=job.pk)


@tenant_view(Perm.VIEW_JOBS)
def job_list(request: TenantRequest, tenant_slug: str) -> HttpResponse:
    return render(request, "crm/jobs.html", {"jobs": selectors.job_list(tenant=request.tenant)})


def _job_or_404(request: TenantRequest, job_id: int, *, with_output: bool = False) -> Job:
    get = selectors.job_get_with_output if with_output else selectors.job_get
    try:
        return get(tenant=request.tenant, job_id=job_id)
    except ObjectDoesNotExist as missing:
        raise Http404 from missing


@tenant_view(Perm.VIEW_JOBS)
def job_detail(request: TenantRequest, tenant_slug: str, job_id: int) -> HttpResponse:
    return render(request, "crm/job_detail.html", {"job": _job_or_404(request, job_id)})


@tenant_view(Perm.VIEW_JOBS)
def job_progress(request: TenantRequest, tenant_slug: str, job_id: int) -> HttpResponse:
    """The HTMX-polled fragment; it stops polling once the job has finished."""
    return render(request, "crm/_job_progress.html", {"job": _job_or_404(request, job_id)})


@tenant_view(Perm.VIEW_JOBS)
def job_download(request: TenantRequest, tenant_slug: str, job_id: int) -> HttpResponse:
    job = _job_or_404(request, job_id, with_output=True)
    if not job.output_data:
        raise Http404(_("This job produced no file."))
    response = HttpResponse(bytes(job.output_data), content_type=job.output_content_type)
    response["Content-Disposition"] = f'attachment; filename="{job.output_name}"'
    return response


@tenant_view(Perm.MANAGE_SETTINGS)
def api_keys(request: TenantRequest, tenant_slug: str) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    full_key = None
    if request.method == "POST" and form.is_valid():
        try:
            key, full_key = services.api_key_create(
                tenant=request.tenant, actor=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("API key “%(name)s” created.") % {"name": key.name})
            form = ApiKeyForm()
    response = render(
        request,
        "crm/api_keys.html",
        {
            "form": form,
            "keys": selectors.api_key_list(tenant=request.tenant),
            "full_key": full_key,
            "scope_labels": API_SCOPE_LABELS,
        },
    )
    # The full key is on this page once; keep it out of every cache.
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@tenant_view(Perm.MANAGE_SETTINGS)
def api_key_revoke(request: TenantRequest, tenant_slug: str, apikey_id: int) -> HttpResponse:
    try:
        key = selectors.api_key_get(tenant=request.tenant, apikey_id=apikey_id)
    except ObjectDoesNotExist as missing:
        raise Http404 from missing
    services.api_key_revoke(tenant=request.tenant, key=key)
    messages.success(request, _("API key “%(name)s” revoked.") % {"name": key.name})
    return redirect("crm:api_keys", tenant_slug=request.tenant.slug)


ACCESS_LOG_PAGE_SIZE = 50


@tenant_view(Perm.VIEW_ACCESS_LOG)
def access_log(request: TenantRequest, tenant_slug: str) -> HttpResponse:
    """Who opened or exported whose personal data (KVKK), with filters."""
    form = AccessLogFilterForm(request.GET or None, tenant=request.tenant)
    filters: dict[str, Any] = {}
    if form.is_valid():
        data = form.cleaned_data
        number = data["customer_number"].strip()
        filters = {
            "user_id": data["user"].pk if data["user"] else None,
            "subject_ids": customer_ids_for_number(tenant=request.tenant, number=number)
            if number
            else None,
            "action": data["action"],
            "since": data["since"],
            "until": data["until"],
        }
    entries = selectors.access_log(tenant=request.tenant, **filters)
    page = Paginator(entries, ACCESS_LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "crm/access_log.html",
        {"form": form, "page": page, "query": query.urlencode()},
    )
