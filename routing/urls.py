from django.urls import path

from . import api, views

app_name = "routing"

urlpatterns = [
    path("api/routing/availability/", api.AvailabilityView.as_view(), name="availability_api"),
    path(
        "api/routing/cases/<int:pk>/position/",
        api.QueuePositionView.as_view(),
        name="queue_position_api",
    ),
    path("routage/statut/", views.status_widget, name="status_widget"),
    path("rappel/nouveau/", views.callback_new, name="callback_new"),
    path("rappel/creneaux/", views.callback_slots_partial, name="callback_slots"),
    path("rappel/<int:pk>/", views.callback_detail, name="callback_detail"),
    path("rappel/<int:pk>/annuler/", views.callback_cancel, name="callback_cancel"),
    path("rappel/<int:pk>/resultat/", views.callback_outcome, name="callback_outcome"),
    path("supervision/", views.supervision, name="supervision"),
    path("supervision/direct/", views.supervision_live, name="supervision_live"),
    path("supervision/agents/<int:pk>/", views.supervision_agent, name="supervision_agent"),
    path(
        "supervision/demandes/<int:pk>/reattribuer/",
        views.supervision_reassign,
        name="supervision_reassign",
    ),
]
