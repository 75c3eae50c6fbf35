"""Routes of the knowledge app, included at the root with the "knowledge" namespace."""

from django.urls import path

from . import api, tutorial_views, views

app_name = "knowledge"

urlpatterns = [
    # Public FAQ
    path("faq/", views.faq, name="faq"),
    path("faq/themes/<slug:slug>/", views.faq_topic, name="faq_topic"),
    path("faq/articles/<slug:slug>/", views.article_detail, name="article"),
    path("faq/tutoriels/<slug:slug>/", tutorial_views.tutorial, name="tutorial"),
    path(
        "faq/tutoriels/<slug:slug>/video/",
        tutorial_views.tutorial_media,
        {"kind": "video"},
        name="tutorial_video",
    ),
    path(
        "faq/tutoriels/<slug:slug>/sous-titres.vtt",
        tutorial_views.tutorial_media,
        {"kind": "captions"},
        name="tutorial_captions",
    ),
    path("faq/tutoriels/<slug:slug>/vue/", tutorial_views.tutorial_view, name="tutorial_view"),
    # Chatbot
    path("assistant/", views.assistant, name="assistant"),
    path("assistant/relais/<int:conversation_id>/<str:kind>/", views.handoff, name="handoff"),
    path("api/chatbot/messages", api.ChatbotMessageView.as_view(), name="api_chatbot_messages"),
    path(
        "api/chatbot/messages/<int:turn_id>/rating",
        api.ChatbotRatingView.as_view(),
        name="api_chatbot_rating",
    ),
    # Contact-form deflection (htmx fragment + "cette réponse me suffit")
    path("faq/suggestions/", views.deflection_suggestions, name="deflection_suggestions"),
    path("faq/suggestions/suffisant/", views.deflection_sufficient, name="deflection_sufficient"),
    # Agents
    path("console/connaissances/", views.agent_search, name="agent_search"),
    path("console/connaissances/a-revoir/", views.review_list, name="review"),
    path("console/connaissances/apercu/", views.markdown_preview, name="markdown_preview"),
    path("console/diagnostic/", views.diagnosis_list, name="diagnosis_list"),
    path("console/diagnostic/<slug:slug>/", views.diagnosis_walk, name="diagnosis_walk"),
]
