from django.contrib import admin
from django.urls import include, path, re_path

from accounts import oidc_views

from . import api, api_docs, views

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("connexion/", views.LoginView.as_view(), name="login"),
    path("deconnexion/", oidc_views.LogoutView.as_view(), name="logout"),
    path("compte/", include("accounts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/schema/", api_docs.ApiSchemaView.as_view(), name="api-schema"),
    path("api/docs/", api_docs.api_docs, name="api-docs"),
    path("api/", include("messaging.api_urls")),
    path("", include("messaging.urls")),
    path("console/", include("messaging.console_urls")),
    path("aide-a-distance/", include("cobrowse.urls")),
    path("supervision/tableau-de-bord/", include("contactcenter.dashboard_urls")),
    path("", include("routing.urls")),
    path("tchat/", include("chat.urls")),
    path("", include("knowledge.urls")),
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
