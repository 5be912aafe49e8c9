from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path, re_path
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import routers

from disclosure import api as disclosure_api
from disclosure import views as disclosure_views
from disclosure.followups import api as followups_api
from requests_app import api as requests_api

from . import api_views, two_factor, views, views_checkpoints
from .access import refuse_auditors
from .api import LoggedIn


class Router(routers.DefaultRouter):
    include_format_suffixes = False  # one representation (JSON): no ".json" twins of every route

    class APIRootView(routers.APIRootView):
        permission_classes = [LoggedIn]


router = Router()
router.register("warrants", requests_api.WarrantViewSet, basename="warrant")
router.register("documents", requests_api.DocumentViewSet, basename="document")
router.register("follow-ups", followups_api.FollowUpViewSet, basename="follow-up")
router.register("agencies", requests_api.AgencyViewSet, basename="agency")
router.register("investigators", requests_api.InvestigatorViewSet, basename="investigator")
router.register("exports", disclosure_api.ExportViewSet, basename="export")
router.register("audit", api_views.AuditEntryViewSet, basename="audit")

handler500 = "warrantdesk.views_errors.server_error"  # a database out of reach: 503, not 500

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", login_not_required(auth_views.LoginView.as_view()), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/two-factor/", two_factor.verify, name="two-factor-verify"),
    path("accounts/two-factor/setup/", two_factor.setup, name="two-factor-setup"),
    path("accounts/two-factor/recovery-codes/", two_factor.codes, name="two-factor-codes"),
    # The language can be chosen on the login page too.
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("warrants/", include("requests_app.urls")),
    path("warrants/", include("disclosure.followups.urls")),
    path("warrants/", include("demo.urls")),  # /warrants/demo/…: the sample documents of demo mode
    path("disclosure/", include("disclosure.urls")),
    path("hi1/", include("hi1.urls")),  # the warrant page's HI-1 download (hi1 is included by name)
    path("api/hi1/", include("hi1.api_urls")),  # the ETSI TS 103 120 (HI-1) endpoint
    path("d/<str:token>/", refuse_auditors(disclosure_views.link_download), name="link-download"),
    # The operator's public key, for agencies to pin (public: no account needed).
    path("operator-key/", disclosure_views.operator_key, name="operator-key"),
    path("operator-key/operator-public-key.pem", disclosure_views.operator_key_pem, name="operator-key-pem"),
    path("operator-key/verify_package.py", disclosure_views.verify_script, name="verify-script"),
    path("audit/", views.audit_log, name="audit-log"),
    path("audit/export.csv", views.audit_export, name="audit-export"),
    path("audit/export.json", views.audit_export_json, name="audit-export-json"),
    path("audit/verify/", views.audit_verify, name="audit-verify"),
    path("audit/", include("oversight.urls")),  # the auditor's workspace: dashboard, case pages
    path("transparency/", include("oversight.report_urls")),  # published transparency reports (public)
    path("audit/checkpoints/", views_checkpoints.checkpoint_list, name="audit-checkpoints"),
    path("audit/checkpoints/<int:size>.txt", views_checkpoints.checkpoint_note, name="audit-checkpoint-note"),
    path("audit/key/", views_checkpoints.audit_key, name="audit-key"),
    path("audit/key/audit-public-key.pem", views_checkpoints.audit_key_pem, name="audit-key-pem"),
    path("audit/key/verify_checkpoint.py", views_checkpoints.verify_script, name="audit-verify-script"),
    path("api/v1/audit/checkpoints/", api_views.CheckpointListView.as_view(), name="audit-checkpoints-api"),
    path("api/v1/audit/checkpoints/<str:size>/", api_views.CheckpointDetailView.as_view(), name="audit-checkpoint-api"),
    path(
        "api/v1/audit/checkpoints/<str:size>/inclusion/",
        api_views.InclusionProofView.as_view(),
        name="audit-inclusion-api",
    ),
    path(
        "api/v1/audit/checkpoints/<str:size>/consistency/",
        api_views.ConsistencyProofView.as_view(),
        name="audit-consistency-api",
    ),
    path("api/v1/operator-key/", disclosure_api.OperatorKeyView.as_view(), name="operator-key-api"),
    # What disclosure adds to a warrant of the API (the router's warrant routes belong to requests_app).
    re_path(
        r"^api/v1/warrants/(?P<pk>[^/.]+)/scope/$", disclosure_api.WarrantScopeView.as_view(), name="warrant-scope"
    ),
    re_path(
        r"^api/v1/warrants/(?P<pk>[^/.]+)/exports/$",
        disclosure_api.WarrantExportsView.as_view(),
        name="warrant-exports",
    ),
    re_path(
        r"^api/v1/warrants/(?P<pk>[^/.]+)/follow-ups/$",
        followups_api.WarrantFollowUpsView.as_view(),
        name="warrant-follow-ups",
    ),
    path("api/v1/", include(router.urls)),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The Swagger page's script is a second request (?script), not inline: the CSP allows no inline script.
    path(
        "api/v1/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="warrantdesk/swagger_ui.html"),
        name="api-docs",
    ),
    path("admin/", admin.site.urls),
]

# Under /api/v1/ a 404 or 400 raised before any API view (no route matches, a NUL in the path, a body
# Django refused) answers in JSON like every other API error (warrantdesk/api.py).
handler404 = "warrantdesk.api.not_found"
handler400 = "warrantdesk.api.bad_request"
