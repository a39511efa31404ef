from __future__ import annotations

from django.urls import path

from customers import views

app_name = "customers"

urlpatterns = [
    path("customers/", views.customer_list, name="list"),
    path("customers/new/", views.customer_create, name="create"),
    path("customers/import/", views.customer_import_upload, name="import"),
    path("duplicates/", views.duplicate_queue, name="duplicates"),
    path(
        "duplicates/<int:duplicatepair_id>/decide/", views.duplicate_decide, name="duplicate_decide"
    ),
    path("customers/import/<int:job_id>/", views.customer_import_mapping, name="import_mapping"),
    path("customers/duplicate-check/", views.customer_duplicate_check, name="duplicate_check"),
    path("customers/<int:customer_id>/", views.customer_detail, name="detail"),
    path(
        "customers/<int:customer_id>/interactions/",
        views.interaction_create,
        name="interaction_create",
    ),
    path(
        "customers/<int:customer_id>/complaints/", views.complaint_create, name="complaint_create"
    ),
    path(
        "customers/<int:customer_id>/risk-flags/", views.risk_flag_create, name="risk_flag_create"
    ),
    path("customers/<int:customer_id>/merge/", views.customer_merge, name="merge"),
    path("merges/", views.merge_log, name="merge_log"),
    path("merges/<int:mergelog_id>/undo/", views.merge_undo, name="merge_undo"),
    path("complaints/<int:complaint_id>/status/", views.complaint_status, name="complaint_status"),
    path("risk-flags/<int:riskflag_id>/clear/", views.risk_flag_clear, name="risk_flag_clear"),
]
