from django.urls import path

from . import views

app_name = "chat"

urlpatterns = [
    path("", views.index, name="index"),
    path("nouveau/", views.start, name="start"),
    path("disponibilite/", views.availability, name="availability"),
    path("<int:pk>/", views.conversation, name="conversation"),
    path("<int:pk>/envoyer/", views.send, name="send"),
    path("<int:pk>/documents/", views.upload, name="upload"),
    path("<int:pk>/documents/<uuid:public_id>/", views.attachment, name="attachment"),
    path("<int:pk>/quitter/", views.leave, name="leave"),
    path("<int:pk>/avis/", views.rate, name="rate"),
    path("agent/", views.agent_workspace, name="agent"),
    path("agent/<int:pk>/panneau/", views.panel, name="panel"),
    path("agent/<int:pk>/terminer/", views.finish, name="finish"),
    path("agent/<int:pk>/transferer/", views.transfer, name="transfer"),
    path("supervision/", views.supervision, name="supervision"),
]
