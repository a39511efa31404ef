from __future__ import annotations

from django.urls import path

from crm import views

app_name = "crm"

urlpatterns = [
    path("settings/", views.tenant_settings, name="settings"),
    path("members/", views.members, name="members"),
    path("members/<int:membership_id>/", views.member_edit, name="member_edit"),
    path(
        "invitations/<int:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"
    ),
    path("branches/", views.branches, name="branches"),
    path("branches/import/", views.branch_import, name="branch_import"),
    path("branches/<int:branch_id>/", views.branch_edit, name="branch_edit"),
    path("access-log/", views.access_log, name="access_log"),
    path("jobs/", views.job_list, name="jobs"),
    path("jobs/<int:job_id>/", views.job_detail, name="job"),
    path("jobs/<int:job_id>/progress/", views.job_progress, name="job_progress"),
    path("jobs/<int:job_id>/download/", views.job_download, name="job_download"),
    path("api-keys/", views.api_keys, name="api_keys"),
    path("api-keys/<int:apikey_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
]
