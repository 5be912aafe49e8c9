from django.urls import path

from . import views, views_followups

app_name = "requests_app"

urlpatterns = [
    path("", views.warrant_list, name="warrant-list"),
    path("new/", views.warrant_create, name="warrant-create"),
    path("demo/sample-warrant.pdf", views.demo_sample_warrant, name="demo-sample-warrant"),
    path("demo/sample-request.pdf", views_followups.demo_sample_followup, name="demo-sample-followup"),
    path("<int:pk>/", views.warrant_detail, name="warrant-detail"),
    path("<int:pk>/transition/", views.warrant_transition, name="warrant-transition"),
    path("<int:pk>/assign/", views.warrant_assign, name="warrant-assign"),
    path("<int:pk>/signature/", views.warrant_signature, name="warrant-signature"),
    path("<int:pk>/recheck/", views.warrant_recheck, name="warrant-recheck"),
    path("<int:pk>/documents/", views.document_upload, name="document-upload"),
    path("documents/<int:pk>/download/", views.document_download, name="document-download"),
    # Follow-up de-anonymisation requests (views_followups).
    path("<int:pk>/follow-ups/new/", views_followups.followup_create, name="followup-create"),
    path("follow-ups/<int:pk>/", views_followups.followup_detail, name="followup-detail"),
    path("follow-ups/<int:pk>/signature/", views_followups.followup_signature, name="followup-signature"),
    path("follow-ups/<int:pk>/recheck/", views_followups.followup_recheck, name="followup-recheck"),
    path("follow-ups/<int:pk>/decide/", views_followups.followup_decide, name="followup-decide"),
    path("follow-ups/<int:pk>/sheet/", views_followups.followup_sheet_panel, name="followup-sheet-panel"),
    path("follow-ups/<int:pk>/sheet/build/", views_followups.followup_sheet_start, name="followup-sheet"),
    path("follow-ups/<int:pk>/sheet/deliver/", views_followups.followup_sheet_deliver, name="followup-sheet-deliver"),
    path("follow-ups/<int:pk>/sheet/link/", views_followups.followup_sheet_link, name="followup-sheet-link"),
]
