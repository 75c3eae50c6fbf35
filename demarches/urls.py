from django.urls import path

from . import views

app_name = "demarches"

urlpatterns = [
    path("espace/demarches/", views.demarche_list, name="list"),
    path("espace/demarches/<uuid:public_id>/document/", views.send_document, name="send_document"),
    path(
        "espace/demarches/<uuid:public_id>/documents/<uuid:document_id>/",
        views.download,
        name="download",
    ),
]
