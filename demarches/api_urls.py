"""Routes of the démarches API, included under /api/demarches/ by contactcenter/urls.py."""

from django.urls import path

from . import api

app_name = "demarches-api"

ONE = "<slug:type_code>/<str:reference>/"

urlpatterns = [
    path("", api.DemarcheCreate.as_view(), name="create"),
    path("batch/", api.DemarcheBatch.as_view(), name="batch"),
    path(ONE, api.DemarcheDetail.as_view(), name="detail"),
    path(ONE + "step/", api.DemarcheStepView.as_view(), name="step"),
    path(ONE + "close/", api.DemarcheClose.as_view(), name="close"),
    path(ONE + "documents/", api.DemarcheDocuments.as_view(), name="documents"),
    path(ONE + "documents/<uuid:document_id>/", api.DemarcheDocument.as_view(), name="document"),
]
