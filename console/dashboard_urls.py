"""Supervisor dashboard, mounted at /supervision/tableau-de-bord/ (namespace "dashboard")."""

from django.urls import path

from . import dashboard_views as views

app_name = "dashboard"

urlpatterns = [
    path("", views.index, name="index"),
    path("direct/", views.live, name="live"),
    path("export/demandes.csv", views.export_cases, name="export_cases"),
    path("export/<slug:key>.csv", views.export_table, name="export_table"),
]
