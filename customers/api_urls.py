from __future__ import annotations

from django.urls import path

from customers import api

app_name = "customers_api"

urlpatterns = [
    path("customers/", api.CustomerListCreateApi.as_view(), name="customers"),
    path("customers/upsert/", api.CustomerUpsertApi.as_view(), name="customer_upsert"),
    path("customers/<int:customer_id>/", api.CustomerDetailApi.as_view(), name="customer"),
    path(
        "customers/<int:customer_id>/interactions/",
        api.InteractionListCreateApi.as_view(),
        name="interactions",
    ),
    path(
        "customers/<int:customer_id>/complaints/",
        api.ComplaintCreateApi.as_view(),
        name="complaints",
    ),
    path("purchases/bulk/", api.PurchaseBulkApi.as_view(), name="purchases_bulk"),
]
