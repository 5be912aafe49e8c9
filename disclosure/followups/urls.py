"""The follow-up pages. They sit under ``/warrants/`` (a request belongs to its warrant); warrantdesk.urls
mounts them there with their own namespace, ``followups``."""

from django.urls import path

from . import views

app_name = "followups"

urlpatterns = [
    path("<int:pk>/follow-ups/new/", views.followup_create, name="create"),
    path("follow-ups/<int:pk>/", views.followup_detail, name="detail"),
    path("follow-ups/<int:pk>/signature/", views.followup_signature, name="signature"),
    path("follow-ups/<int:pk>/recheck/", views.followup_recheck, name="recheck"),
    path("follow-ups/<int:pk>/decide/", views.followup_decide, name="decide"),
    path("follow-ups/<int:pk>/sheet/", views.followup_sheet_panel, name="sheet-panel"),
    path("follow-ups/<int:pk>/sheet/build/", views.followup_sheet_start, name="sheet"),
    path("follow-ups/<int:pk>/sheet/deliver/", views.followup_sheet_deliver, name="sheet-deliver"),
    path("follow-ups/<int:pk>/sheet/link/", views.followup_sheet_link, name="sheet-link"),
]
