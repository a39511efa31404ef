from __future__ import annotations

from django.urls import path

from segmentation import segment_views as views

app_name = "segments"

urlpatterns = [
    path("segments/", views.segment_list, name="list"),
    path("segments/new/", views.segment_create, name="create"),
    path("segments/count/", views.segment_count, name="count"),
    path("segments/<int:savedsegment_id>/", views.segment_detail, name="detail"),
    path("segments/<int:savedsegment_id>/edit/", views.segment_edit, name="edit"),
    path(
        "segments/<int:savedsegment_id>/materialise/",
        views.segment_materialise,
        name="materialise",
    ),
    path("segments/<int:savedsegment_id>/archive/", views.segment_archive, name="archive"),
    path("segments/<int:savedsegment_id>/movement/", views.segment_movement, name="movement"),
    path("segments/<int:savedsegment_id>/export.csv", views.segment_export, name="export"),
]
