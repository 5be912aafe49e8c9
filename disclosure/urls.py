from django.urls import path

from . import views, views_holds, views_notifications

app_name = "disclosure"

urlpatterns = [
    path("warrants/<int:pk>/scope/", views.warrant_scope_panel, name="warrant-scope"),
    path("warrants/<int:pk>/exports/", views.export_panel_view, name="export-panel"),
    path("warrants/<int:pk>/exports/start/", views.export_start, name="export-start"),
    path("exports/<int:pk>/download/", views.export_download, name="export-download"),
    path("exports/<int:pk>/manifest/", views.export_manifest, name="export-manifest"),
    path("exports/<int:pk>/deliver/", views.export_deliver, name="export-deliver"),
    path("exports/<int:pk>/link/", views.export_link, name="export-link"),
    path("holds/", views_holds.hold_list, name="hold-list"),
    path("notifications/", views_notifications.notification_list, name="notification-list"),
    path("warrants/<int:pk>/notifications/", views_notifications.warrant_notifications, name="warrant-notifications"),
    path("notifications/<int:pk>/", views_notifications.notification_preview, name="notification-preview"),
    path("notifications/<int:pk>/defer/", views_notifications.notification_defer, name="notification-defer"),
    path("notifications/<int:pk>/letter.pdf", views_notifications.notification_letter, name="notification-letter"),
    path(
        "notifications/<int:pk>/letter.html",
        views_notifications.notification_letter_html,
        name="notification-letter-html",
    ),
    path(
        "notifications/<int:pk>/email.html", views_notifications.notification_email_html, name="notification-email-html"
    ),
    path(
        "notifications/<int:pk>/mark-sent/", views_notifications.notification_mark_sent, name="notification-mark-sent"
    ),
    path("notifications/<int:pk>/requeue/", views_notifications.notification_requeue, name="notification-requeue"),
    path(
        "notifications/<int:pk>/to-letter/", views_notifications.notification_to_letter, name="notification-to-letter"
    ),
]
