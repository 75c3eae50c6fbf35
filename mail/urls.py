from django.urls import path

from . import views, webhook, webhook_providers

app_name = "mail"

urlpatterns = [
    path("pieces-jointes/<uuid:pk>/", views.attachment_download, name="attachment"),
    # Mailgun sends raw MIME to a route URL containing "mime".
    path("entrant/mailgun/mime/", webhook.mailgun_inbound, name="webhook_mailgun"),
    path("entrant/postmark/", webhook_providers.postmark_inbound, name="webhook_postmark"),
    path("entrant/mailersend/", webhook_providers.mailersend_inbound, name="webhook_mailersend"),
]
