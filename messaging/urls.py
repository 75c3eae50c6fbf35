from django.urls import path

from . import views

app_name = "messaging"

urlpatterns = [
    path("espace/", views.space, name="space"),
    path("espace/demandes/nouvelle/", views.new_request, name="new_request"),
    path("espace/demandes/<str:reference>/", views.case_detail, name="case_detail"),
    path("espace/demandes/<str:reference>/repondre/", views.case_reply, name="case_reply"),
    path("espace/demandes/<str:reference>/cloturer/", views.case_close, name="case_close"),
    path("espace/demandes/<str:reference>/rouvrir/", views.case_reopen, name="case_reopen"),
    path("espace/demandes/<str:reference>/avis/", views.case_rate, name="case_rate"),
    path("espace/historique/", views.history, name="history"),
    path("espace/preferences/", views.preferences, name="preferences"),
    path("alertes/desabonnement/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("espace/acces/", views.access_log, name="access_log"),
    path("pieces-jointes/<uuid:public_id>/", views.attachment_download, name="attachment"),
]
