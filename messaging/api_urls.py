"""Routes of the messaging API, included under /api/ by contactcenter/urls.py."""

from rest_framework.routers import SimpleRouter

from .api import AttachmentViewSet, CaseViewSet

app_name = "messaging-api"

router = SimpleRouter()
router.register("cases", CaseViewSet, basename="case")
router.register("attachments", AttachmentViewSet, basename="attachment")

urlpatterns = router.urls
