from django.urls import path

from . import agent_views, contact_views, views

app_name = "appointments"

urlpatterns = [
    path("rendez-vous/", views.my_appointments, name="list"),
    path("rendez-vous/nouveau/", views.book, name="book"),
    path("rendez-vous/<uuid:public_id>/", views.detail, name="detail"),
    path("rendez-vous/<uuid:public_id>/agenda.ics", views.ics, name="ics"),
    path("rendez-vous/<uuid:public_id>/annuler/", views.cancel, name="cancel"),
    path("rendez-vous/<uuid:public_id>/deplacer/", views.move, name="move"),
    path("console/rendez-vous/", agent_views.day, name="agent_day"),
    path("console/rendez-vous/poste/", agent_views.ws_day, name="ws_day"),
    path("console/rendez-vous/<int:pk>/etat/", agent_views.mark, name="mark"),
    path(
        "console/demandes/<str:reference>/proposer-rendez-vous/",
        agent_views.propose,
        name="propose",
    ),
    path("nous-contacter/", contact_views.contact, name="contact"),
]
