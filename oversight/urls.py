"""The auditor's pages, mounted under ``/audit/`` by warrantdesk.urls (no namespace: the names are
``audit-*`` like the audit log's own)."""

from django.urls import path

from . import views

urlpatterns = [
    path("dashboard/", views.dashboard, name="audit-dashboard"),
    path("cases/<str:reference>/", views.audit_case, name="audit-case"),
]

# The transparency report (issue 13, point 4): computed for auditors and administrators, published by
# an administrator; the published versions are public under /transparency/ (warrantdesk.urls).
from . import report_views  # noqa: E402

urlpatterns += [
    path("report/", report_views.report_page, name="audit-report"),
    path("report.json", report_views.report_json, name="audit-report-json"),
    path("report.csv", report_views.report_csv, name="audit-report-csv"),
    path("report.pdf", report_views.report_pdf, name="audit-report-pdf"),
    path("report/publish/", report_views.report_publish, name="audit-report-publish"),
]
