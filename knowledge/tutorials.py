"""Video tutorials: checks on upload, anonymous view counting, and the "views versus messages"
indicator (DILA's measure of a tutorial: does it lower the messages received on its subject?).

- ``inspect_video`` parses the uploaded file's container with PyAV (FFmpeg's libraries): an
  allowed container and video codec, a real decodable first frame, a duration within limits.
  The file's name and the browser's content type are never trusted.
- ``parse_webvtt`` checks the captions (RGAA): the ``WEBVTT`` header, well-formed cues in
  order, each ending after it starts and within the video.
- ``check_embed_url``: https and an allowed host only.
- ``record_view``: one row per (tutorial, day, start/half/complete, visitor), the visitor being a
  keyed hash of a random token the browser draws each day. No account, no IP address.
- ``indicators``: per tutorial, views over a period against the cases opened on its topic in
  the same period (every channel: written requests, chats, calls…), the ratio, and the same
  figures over the period before (the trend). One grouped query per measure.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from contactcenter.models import Case

from .models import Tutorial, TutorialView

# Container names as FFmpeg reports them, and the formats served to browsers.
CONTAINERS = {"matroska,webm": "webm", "mov,mp4,m4a,3gp,3g2,mj2": "mp4"}
VIDEO_CODECS = {"webm": {"vp8", "vp9", "av1"}, "mp4": {"h264", "av1"}}
CONTENT_TYPES = {"webm": "video/webm", "mp4": "video/mp4"}
VISITOR_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_TIMING = r"(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})"
CUE_TIMING = re.compile(rf"^{_TIMING}[ \t]+-->[ \t]+{_TIMING}(?:[ \t]+.*)?$")


@dataclass(frozen=True)
class VideoInfo:
    format: str  # "webm" or "mp4"
    codec: str
    width: int
    height: int
    duration: float  # seconds


def inspect_video(handle: IO[bytes], size: int) -> VideoInfo:
    """Parse the file's container and decode its first frame; ``ValidationError`` says why not."""
    import av  # FFmpeg bindings, loaded only when a video is checked

    limit = settings.GUICHET_TUTORIAL_MAX_BYTES
    if size > limit:
        raise ValidationError(
            _("La vidéo dépasse la taille maximale de %(max)s Mo.") % {"max": limit // 1_000_000}
        )
    try:
        handle.seek(0)
        with av.open(handle, mode="r") as container:
            fmt = CONTAINERS.get(container.format.name)
            if fmt is None:
                raise ValidationError(
                    _("Format de fichier non accepté : seuls les conteneurs WebM et MP4 le sont.")
                )
            if not container.streams.video:
                raise ValidationError(_("Le fichier ne contient aucune piste vidéo."))
            stream = container.streams.video[0]
            codec = stream.codec_context.name
            if codec not in VIDEO_CODECS[fmt]:
                raise ValidationError(
                    _("Codec vidéo « %(codec)s » non accepté dans un fichier %(fmt)s.")
                    % {"codec": codec, "fmt": fmt.upper()}
                )
            frame = next(container.decode(stream), None)
            if frame is None:
                raise ValidationError(_("La vidéo ne contient aucune image lisible."))
            duration = _duration(container, stream)
            width, height = frame.width, frame.height
    except av.FFmpegError as exc:
        raise ValidationError(_("Le fichier n'est pas une vidéo lisible.")) from exc
    finally:
        handle.seek(0)
    if not 0 < duration <= settings.GUICHET_TUTORIAL_MAX_SECONDS:
        raise ValidationError(
            _("La durée de la vidéo doit être comprise entre 1 seconde et %(max)s minutes.")
            % {"max": settings.GUICHET_TUTORIAL_MAX_SECONDS // 60}
        )
    return VideoInfo(format=fmt, codec=codec, width=width, height=height, duration=duration)


def _duration(container: Any, stream: Any) -> float:
    if container.duration:
        return float(container.duration) / 1_000_000  # av.time_base
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return 0.0


def _seconds(groups: tuple[str | None, ...]) -> float:
    hours, minutes, seconds, millis = (int(part or 0) for part in groups)
    return hours * 3600 + minutes * 60 + seconds + millis / 1000


def parse_webvtt(text: str, duration: float | None = None) -> int:
    """Check WebVTT captions; return the number of cues (``ValidationError`` names the line)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not lines or not re.match(r"^\ufeff?WEBVTT(?:[ \t].*)?$", lines[0]):
        raise ValidationError(_("Les sous-titres doivent commencer par la ligne « WEBVTT »."))
    cues = 0
    previous_start = 0.0
    for number, line in enumerate(lines[1:], start=2):
        if "-->" not in line:
            continue
        match = CUE_TIMING.match(line.strip())
        if match is None:
            raise ValidationError(
                _(
                    "Sous-titres, ligne %(line)s : horodatage mal formé (attendu 00:00:01.000 --> "
                    "00:00:03.500)."
                )
                % {"line": number}
            )
        start, end = _seconds(match.groups()[:4]), _seconds(match.groups()[4:])
        if end <= start or start < previous_start:
            raise ValidationError(
                _("Sous-titres, ligne %(line)s : la fin doit suivre le début, dans l'ordre.")
                % {"line": number}
            )
        if duration is not None and start >= duration + 1:
            raise ValidationError(
                _("Sous-titres, ligne %(line)s : ce sous-titre commence après la fin de la vidéo.")
                % {"line": number}
            )
        if not (number < len(lines) and lines[number].strip()):
            raise ValidationError(
                _("Sous-titres, ligne %(line)s : ce sous-titre n'a pas de texte.")
                % {"line": number}
            )
        previous_start = start
        cues += 1
    if not cues:
        raise ValidationError(_("Les sous-titres ne contiennent aucun sous-titre horodaté."))
    return cues


def check_embed_url(url: str) -> str:
    parts = urlsplit(url)
    hosts = settings.GUICHET_TUTORIAL_EMBED_HOSTS
    if parts.scheme != "https" or (parts.hostname or "").lower() not in hosts:
        raise ValidationError(
            _("Seules les vidéos en https de ces hébergeurs sont acceptées : %(hosts)s.")
            % {"hosts": ", ".join(hosts)}
        )
    return url


def published_tutorials():
    return Tutorial.objects.filter(
        status=Tutorial.Status.PUBLISHED, topic__is_active=True
    ).select_related("topic")


def visitor_digest(token: str, tutorial_id: int, day: dt.date) -> str:
    key = settings.SECRET_KEY.encode()
    message = f"{day.isoformat()}:{tutorial_id}:{token}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def record_view(tutorial: Tutorial, kind: str, token: str, now: dt.datetime | None = None) -> bool:
    """Count ``kind`` once per visitor and day; False when it was already counted."""
    if kind not in TutorialView.Kind.values or not VISITOR_TOKEN.match(token or ""):
        raise ValidationError(_("Mesure d'audience mal formée."))
    day = timezone.localdate(now)
    view = TutorialView(
        tutorial=tutorial, day=day, kind=kind, visitor=visitor_digest(token, tutorial.pk, day)
    )
    try:
        with transaction.atomic():
            view.save()
    except IntegrityError:
        return False
    return True


@dataclass
class Indicator:
    tutorial: Tutorial
    starts: int
    completions: int
    messages: int
    previous_starts: int
    previous_messages: int

    @property
    def ratio(self) -> float | None:
        return self.starts / self.messages if self.messages else None

    @property
    def previous_ratio(self) -> float | None:
        return self.previous_starts / self.previous_messages if self.previous_messages else None

    @property
    def completion_rate(self) -> float | None:
        return self.completions / self.starts if self.starts else None

    @property
    def messages_trend(self) -> float | None:
        """Relative change of the messages on the topic against the period before."""
        if not self.previous_messages:
            return None
        return (self.messages - self.previous_messages) / self.previous_messages


def indicators(
    start: dt.datetime,
    end: dt.datetime,
    *,
    service_ids: list[int] | None = None,
    topic_id: int | None = None,
    channel: str | None = None,
) -> list[Indicator]:
    """Views of each published tutorial in [start, end) and the period of the same length before,
    against the cases opened on its topic in both periods. Three queries, whatever the count."""
    before = start - (end - start)
    tutorials = Tutorial.objects.exclude(status=Tutorial.Status.DRAFT).select_related("topic")
    if service_ids is not None:
        tutorials = tutorials.filter(topic__service_id__in=service_ids)
    if topic_id is not None:
        tutorials = tutorials.filter(topic_id=topic_id)
    rows = list(tutorials.order_by("topic__title", "title"))
    if not rows:
        return []
    first_day, split_day, last_day = (
        timezone.localdate(before),
        timezone.localdate(start),
        timezone.localdate(end - dt.timedelta(microseconds=1)),
    )
    now_q, then_q = Q(day__gte=split_day), Q(day__lt=split_day)
    start_kind, done_kind = TutorialView.Kind.START, TutorialView.Kind.COMPLETE
    views = {
        row["tutorial"]: row
        for row in TutorialView.objects.filter(
            tutorial__in=[t.pk for t in rows], day__gte=first_day, day__lte=last_day
        )
        .values("tutorial")
        .annotate(
            starts=Count("pk", filter=now_q & Q(kind=start_kind)),
            completions=Count("pk", filter=now_q & Q(kind=done_kind)),
            previous_starts=Count("pk", filter=then_q & Q(kind=start_kind)),
        )
    }
    cases = Case.objects.filter(
        topic_id__in={t.topic_id for t in rows}, created_at__gte=before, created_at__lt=end
    )
    if channel:
        cases = cases.filter(channel=channel)
    messages = {
        row["topic"]: row
        for row in cases.values("topic").annotate(
            now=Count("pk", filter=Q(created_at__gte=start)),
            then=Count("pk", filter=Q(created_at__lt=start)),
        )
    }
    empty: dict[str, int] = {}
    return [
        Indicator(
            tutorial=t,
            starts=views.get(t.pk, empty).get("starts", 0),
            completions=views.get(t.pk, empty).get("completions", 0),
            messages=messages.get(t.topic_id, empty).get("now", 0),
            previous_starts=views.get(t.pk, empty).get("previous_starts", 0),
            previous_messages=messages.get(t.topic_id, empty).get("then", 0),
        )
        for t in rows
    ]
