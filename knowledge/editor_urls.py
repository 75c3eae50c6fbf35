"""The supervisors' knowledge editor (an admin site), included by contactcenter/urls.py with
the "knowledge_editor" namespace at /console/connaissances/gestion/."""

from .admin import editor_site

app_name = "admin"
urlpatterns = editor_site.get_urls()
