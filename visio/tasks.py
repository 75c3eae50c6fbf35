from celery import shared_task

from . import services


@shared_task(name="visio.tasks.expire_rooms", ignore_result=True)
def expire_rooms() -> int:
    """Rooms past their expiry end (their call recorded on the timeline)."""
    return services.expire_rooms()
