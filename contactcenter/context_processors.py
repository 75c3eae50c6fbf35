from django.conf import settings


def guichet(request):
    user = getattr(request, "user", None)
    return {
        "GUICHET_PRODUCTION": settings.PRODUCTION,
        "is_citizen": bool(user and user.is_authenticated and user.is_citizen),
        "is_staff_member": bool(user and user.is_authenticated and user.is_staff_member),
    }
