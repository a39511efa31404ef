from __future__ import annotations

from django.urls import path

from crm import api

app_name = "crm_api"

urlpatterns = [
    path("me/", api.MeApi.as_view(), name="me"),
    path("branches/", api.BranchListCreateApi.as_view(), name="branches"),
    path("branches/<int:branch_id>/", api.BranchDetailApi.as_view(), name="branch"),
    path("jobs/<int:job_id>/", api.JobDetailApi.as_view(), name="job"),
]
