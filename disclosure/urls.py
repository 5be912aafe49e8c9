from django.urls import path

from . import views

app_name = "disclosure"

urlpatterns = [
    path("warrants/<int:pk>/scope/", views.warrant_scope_panel, name="warrant-scope"),
]
