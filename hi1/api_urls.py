from django.urls import path

from . import views

urlpatterns = [path("", views.endpoint, name="hi1-endpoint")]
