from django.urls import path

from . import views

app_name = "community"

urlpatterns = [
    path("", views.index, name="index"),
    path("poser-une-question/", views.ask, name="ask"),
    path("fils/<int:pk>/", views.thread_detail, name="thread"),
    path("fils/<int:pk>.json", views.thread_json, name="thread_json"),
    path("fils/<int:pk>/repondre/", views.reply, name="reply"),
    path("fils/<int:pk>/moderer/", views.moderate_thread, name="moderate_thread"),
    path("messages/<int:pk>/signaler/", views.report_post, name="report"),
    path("messages/<int:pk>/meilleure-reponse/", views.accept, name="accept"),
    path("messages/<int:pk>/moderer/", views.moderate_post, name="moderate_post"),
    path("moderation/", views.moderation, name="moderation"),
]
