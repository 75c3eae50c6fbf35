"""Routes of the forum's public API, included under /api/forum/ by contactcenter/urls.py."""

from rest_framework.routers import SimpleRouter

from .api import ThreadViewSet

app_name = "community-api"

router = SimpleRouter()
router.register("threads", ThreadViewSet, basename="thread")

urlpatterns = router.urls
