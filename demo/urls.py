"""The sample documents to download in demo mode. warrantdesk.urls mounts them under ``/warrants/``
(``/warrants/demo/sample-warrant.pdf``, ``/warrants/demo/sample-request.pdf``), namespace ``demo``."""

from django.urls import path

from . import views

app_name = "demo"

urlpatterns = [
    path("demo/sample-warrant.pdf", views.sample_warrant_pdf, name="sample-warrant"),
    path("demo/sample-request.pdf", views.sample_followup_pdf, name="sample-request"),
]
