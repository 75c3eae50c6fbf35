from django.urls import path

from . import views, webhook

app_name = "mail"

urlpatterns = [
    path("pieces-jointes/<uuid:pk>/", views.attachment_download, name="attachment"),
    # Mailgun sends raw MIME to a route URL containing "mime".
    path("entrant/mailgun/mime/", webhook.mailgun_inbound, name="webhook_mailgun"),
]
