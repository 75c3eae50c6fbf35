"""The API's schema (/api/schema/) and its documentation page (/api/docs/, Swagger UI served
from the npm package swagger-ui-dist through the static files, never from a CDN).

Both are public when ``API_DOCS_PUBLIC`` is on (the default outside production) and reserved
to logged-in users otherwise: the schema maps every operation and field of the API."""

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated


class ApiSchemaView(SpectacularAPIView):
    def get_permissions(self):
        if settings.API_DOCS_PUBLIC:
            return [AllowAny()]
        return [IsAuthenticated()]


def api_docs(request):
    if not settings.API_DOCS_PUBLIC and not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    return render(request, "api/docs.html", {"page_title": _("Documentation de l'API")})
