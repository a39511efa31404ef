from __future__ import annotations

from django.urls import path

from segmentation import views

app_name = "segmentation_runs"

urlpatterns = [
    path("segmentation/runs/", views.run_list, name="list"),
    path("segmentation/runs/<int:segmentationrun_id>/", views.run_detail, name="detail"),
    path(
        "customers/<int:customer_id>/value-card/",
        views.customer_value_card,
        name="customer_card",
    ),
]
