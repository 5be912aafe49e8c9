from django.urls import path

from . import views, views_preservation

app_name = "requests_app"

urlpatterns = [
    path("", views.warrant_list, name="warrant-list"),
    path("new/", views.warrant_create, name="warrant-create"),
    path("<int:pk>/", views.warrant_detail, name="warrant-detail"),
    path("<int:pk>/transition/", views.warrant_transition, name="warrant-transition"),
    path("<int:pk>/assign/", views.warrant_assign, name="warrant-assign"),
    path("<int:pk>/signature/", views.warrant_signature, name="warrant-signature"),
    path("<int:pk>/recheck/", views.warrant_recheck, name="warrant-recheck"),
    path("<int:pk>/documents/", views.document_upload, name="document-upload"),
    path("documents/<int:pk>/download/", views.document_download, name="document-download"),
    path(
        "<int:pk>/preservation-orders/",
        views_preservation.preservation_order_create,
        name="preservation-order-create",
    ),
]
