from django.urls import path

from . import views

app_name = "visio"

urlpatterns = [
    path("", views.my_rooms, name="mine"),
    path("demande/<str:reference>/ouvrir/", views.open_room, name="open"),
    path("salle/<str:token>/", views.room, name="room"),
    path("salle/<str:token>/interprete/", views.invite_interpreter, name="interpreter"),
]
