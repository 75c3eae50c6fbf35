"""Demo: every staff account has the second factor already set up, with the demo's TOTP key and
recovery codes (``contactcenter.demo``, printed by ``manage.py demo_logins``)."""

from __future__ import annotations

import base64

from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from contactcenter import demo


@transaction.atomic
def enrol_staff(people: dict) -> None:
    key = base64.b32decode(demo.DEMO_TOTP_KEY).hex()
    staff = [*people["agents"], *people["supervisors"], *people["admins"]]
    for user in staff:
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        TOTPDevice.objects.create(user=user, name="Démo", key=key, confirmed=True)
        device = StaticDevice.objects.create(user=user, name="Codes de secours", confirmed=True)
        StaticToken.objects.bulk_create(
            StaticToken(device=device, token=code) for code in demo.DEMO_RECOVERY_CODES
        )


def on_demo_loaded(sender, people, **kwargs):
    enrol_staff(people)
