"""Demo video tutorials: small real WebM files encoded here with PyAV (VP8), captions and a
transcript, attached to two public articles. Loaded with the demo data (``seed_demo``)."""

from __future__ import annotations

import io
from fractions import Fraction
from typing import Any

from django.core.files.base import ContentFile
from django.utils import timezone

from contactcenter.models import Topic

from .models import Article, Tutorial

DEMO: list[dict[str, Any]] = [
    {
        "slug": "tutoriel-declarer-revenus-en-ligne",
        "title": "Déclarer ses revenus en ligne, pas à pas",
        "article": "declaration-revenus-en-ligne",
        "colour": (0, 99, 203),
        "captions": (
            "WEBVTT\n\n"
            "00:00:00.000 --> 00:00:01.500\nConnectez-vous à votre espace particulier.\n\n"
            "00:00:01.500 --> 00:00:03.000\nVérifiez les montants préremplis.\n\n"
            "00:00:03.000 --> 00:00:04.000\nSignez : un accusé de réception vous est envoyé.\n"
        ),
        "transcript": (
            "Connectez-vous à votre espace particulier avec votre numéro fiscal.\n\n"
            "Ouvrez « Déclarer mes revenus » et vérifiez les montants préremplis : salaires, "
            "pensions, frais de garde.\n\n"
            "Corrigez si besoin, puis signez la déclaration : un accusé de réception vous est "
            "envoyé par courriel."
        ),
    },
    {
        "slug": "tutoriel-carte-vitale-perdue",
        "title": "Commander une nouvelle carte Vitale",
        "article": "carte-vitale-perdue",
        "colour": (24, 117, 60),
        "captions": (
            "WEBVTT\n\n"
            "00:00:00.000 --> 00:00:02.000\nDans votre compte, ouvrez « Mes démarches ».\n\n"
            "00:00:02.000 --> 00:00:04.000\nDéclarez la perte et envoyez votre photo.\n"
        ),
        "transcript": (
            "Dans votre compte, ouvrez « Mes démarches », puis « Commander une carte Vitale ».\n\n"
            "Déclarez la perte ou le vol, envoyez une photo d'identité et une pièce "
            "d'identité : la nouvelle carte arrive en deux à trois semaines."
        ),
    },
]


def make_webm(seconds: int = 4, colour: tuple[int, int, int] = (0, 0, 145)) -> bytes:
    """A small real WebM (VP8, 160×90, 10 images/s): a coloured bar sweeping the frame."""
    import av
    import numpy as np

    out = io.BytesIO()
    with av.open(out, mode="w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 90, "yuv420p"
        stream.time_base = Fraction(1, 10)
        stream.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        stream.codec_context.thread_count = 1  # threads only spin on so small a picture
        for index in range(seconds * 10):
            image = np.full((90, 160, 3), 245, dtype=np.uint8)
            left = (index * 4) % 160
            image[:, left : left + 16] = colour
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def load_demo_tutorials() -> int:
    loaded = 0
    for spec in DEMO:
        if Tutorial.objects.filter(slug=spec["slug"]).exists():
            continue
        article = Article.objects.filter(slug=spec["article"]).first()
        if article is None:
            continue
        tutorial = Tutorial(
            slug=spec["slug"],
            title=spec["title"],
            topic=Topic.objects.get(pk=article.topic_id),
            article=article,
            video_format="webm",
            duration=4,
            captions=spec["captions"],
            transcript=spec["transcript"],
            status=Tutorial.Status.PUBLISHED,
            published_at=timezone.now(),
        )
        tutorial.video.save(f"{spec['slug']}.webm", ContentFile(make_webm(4, spec["colour"])))
        loaded += 1
    return loaded
