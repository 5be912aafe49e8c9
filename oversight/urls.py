"""The auditor's pages, mounted under ``/audit/`` by warrantdesk.urls (no namespace: the names are
``audit-*`` like the audit log's own)."""

from django.urls import path

from . import views

urlpatterns = [
    path("dashboard/", views.dashboard, name="audit-dashboard"),
    path("cases/<str:reference>/", views.audit_case, name="audit-case"),
]
