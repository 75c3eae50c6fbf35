from django.urls import path

from . import views

app_name = "mail"

urlpatterns = [
    path("pieces-jointes/<uuid:pk>/", views.attachment_download, name="attachment"),
]
