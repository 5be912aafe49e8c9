"""The published transparency reports, public (no login): mounted at /transparency/ by warrantdesk.urls.

``<reference>`` is a version (``2026-h1-2``) or a period (``2026-h1``: its latest version)."""

from django.urls import path

from . import report_views

urlpatterns = [
    path("", report_views.transparency_list, name="transparency"),
    path("<str:reference>/", report_views.transparency_report, name="transparency-report"),
    path("<str:reference>/report.json", report_views.transparency_json, name="transparency-report-json"),
    path("<str:reference>/report.sig", report_views.transparency_signature, name="transparency-report-sig"),
    path("<str:reference>/report.csv", report_views.transparency_csv, name="transparency-report-csv"),
    path("<str:reference>/report.pdf", report_views.transparency_pdf, name="transparency-report-pdf"),
]
