from django.contrib import admin
from django.urls import include, path, re_path

from . import api, api_docs, survey_views, views

urlpatterns = [
    # Home, login, logout (and the admin's login page, sent to ours): before the admin.
    path("", include("accounts.entrance_urls")),
    path("favicon.ico", views.favicon, name="favicon"),
    path("compte/", include("accounts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/schema/", api_docs.ApiSchemaView.as_view(), name="api-schema"),
    path("api/docs/", api_docs.api_docs, name="api-docs"),
    path("api/oauth/", include("accounts.oauth_urls")),
    path("api/demarches/", include("demarches.api_urls")),
    path("api/forum/", include("community.api_urls")),
    path("api/", include("messaging.api_urls")),
    path("avis/", survey_views.pending, name="surveys"),
    path("avis/<int:pk>/", survey_views.answer, name="survey_answer"),
    path("avis/lien/<str:token>/", survey_views.by_link, name="survey_link"),
    path("", include("messaging.urls")),
    path("", include("demarches.urls")),
    path("", include("appointments.urls")),
    path("console/", include("console.urls")),
    path("aide-a-distance/", include("cobrowse.urls")),
    path("visio/", include("visio.urls")),
    path("supervision/tableau-de-bord/", include("console.dashboard_urls")),
    path("", include("routing.urls")),
    path("tchat/", include("chat.urls")),
    path("courriels/", include("mail.urls")),
    path("", include("knowledge.urls")),
    path("forum/", include("community.urls")),
    path("simulateurs/", include("simulators.urls")),
    path(
        "console/connaissances/gestion/",
        include("knowledge.editor_urls", namespace="knowledge_editor"),
    ),
    # Last: any other path under /api/ is a 404 in the API's error format.
    re_path(r"^api/(?P<path>[\s\S]*)$", api.not_found),
]

handler400 = "contactcenter.errors.bad_request"
handler403 = "contactcenter.errors.permission_denied"
handler404 = "contactcenter.errors.page_not_found"
handler500 = "contactcenter.errors.server_error"
