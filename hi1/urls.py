from django.urls import path

from . import views

app_name = "hi1"

urlpatterns = [
    path("warrants/<int:pk>/export/", views.warrant_export, name="warrant-export"),
]
