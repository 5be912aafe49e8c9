from django.urls import path

from . import views

app_name = "disclosure"

urlpatterns = [
    path("warrants/<int:pk>/scope/", views.warrant_scope_panel, name="warrant-scope"),
    path("warrants/<int:pk>/exports/", views.export_panel, name="export-panel"),
    path("warrants/<int:pk>/exports/start/", views.export_start, name="export-start"),
    path("exports/<int:pk>/download/", views.export_download, name="export-download"),
    path("exports/<int:pk>/deliver/", views.export_deliver, name="export-deliver"),
    path("exports/<int:pk>/link/", views.export_link, name="export-link"),
]
