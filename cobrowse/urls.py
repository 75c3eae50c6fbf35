from django.urls import path

from . import views

app_name = "cobrowse"

urlpatterns = [
    path("", views.citizen_help, name="citizen"),
    path("code/", views.create_code, name="code"),
    path("arreter/", views.end_current, name="end_current"),
    path("agent/", views.agent_home, name="agent"),
    path("inviter/", views.invite, name="invite"),
    path("session/<uuid:session_id>/", views.viewer, name="viewer"),
    path("lecteur/", views.player, name="player"),
    path("session/<uuid:session_id>/terminer/", views.agent_end, name="agent_end"),
]
