"""Video tutorials: container and captions checks, the accessible player, anonymous view
counting (deduplicated per visitor and day) and the "views versus messages" indicator."""

import datetime as dt
import io
from fractions import Fraction

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from contactcenter.models import Case
from contactcenter.services import open_case
from knowledge import tutorials
from knowledge.kpi_providers import tutorial_kpis
from knowledge.models import Article, Tutorial, TutorialView
from knowledge.tutorial_demo import load_demo_tutorials, make_webm

CAPTIONS = "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nBonjour.\n\n00:02.000 --> 00:03.500\nSuite.\n"
TOKEN = "a" * 32


@pytest.fixture(scope="module")
def webm():
    return make_webm(4)


def _mpeg4_in_matroska() -> bytes:
    import av
    import numpy as np

    out = io.BytesIO()
    with av.open(out, mode="w", format="matroska") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = Fraction(1, 10)
        for index in range(10):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def test_a_real_webm_is_parsed(webm):
    info = tutorials.inspect_video(io.BytesIO(webm), len(webm))
    assert (info.format, info.codec, info.width, info.height) == ("webm", "vp8", 160, 90)
    assert info.duration == pytest.approx(4, abs=0.2)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x1aE\xdf\xa3 not really a webm", "n'est pas une vidéo lisible"),
        (b"WEBVTT\n\nrenamed captions", "conteneurs WebM et MP4"),
    ],
)
def test_files_that_are_not_videos_are_refused(content, message):
    with pytest.raises(ValidationError, match=message):
        tutorials.inspect_video(io.BytesIO(content), len(content))


def test_a_codec_outside_the_list_is_refused_by_name():
    data = _mpeg4_in_matroska()
    with pytest.raises(ValidationError, match="mpeg4"):
        tutorials.inspect_video(io.BytesIO(data), len(data))


def test_size_and_duration_limits(webm, settings):
    settings.GUICHET_TUTORIAL_MAX_BYTES = 100
    with pytest.raises(ValidationError, match="taille maximale"):
        tutorials.inspect_video(io.BytesIO(webm), len(webm))
    settings.GUICHET_TUTORIAL_MAX_BYTES = 10_000_000
    settings.GUICHET_TUTORIAL_MAX_SECONDS = 2
    with pytest.raises(ValidationError, match="durée"):
        tutorials.inspect_video(io.BytesIO(webm), len(webm))


def test_webvtt_checks_name_the_line():
    assert tutorials.parse_webvtt(CAPTIONS, 4) == 2
    assert (
        tutorials.parse_webvtt("\ufeffWEBVTT - titre\r\n\r\n01:00:00.000 --> 01:00:01.000\r\nx")
        == 1
    )
    cases = [
        ("00:00.000 --> 00:01.000\nx", "WEBVTT"),
        ("WEBVTT\n\n00:00 --> 00:01.000\nx", "ligne 3 : horodatage"),
        ("WEBVTT\n\n00:00:02.000 --> 00:00:01.000\nx", "ligne 3 : la fin"),
        (
            "WEBVTT\n\n00:00:02.000 --> 00:00:03.000\nx\n\n00:00:01.000 --> 00:00:04.000\ny",
            "ligne 6",
        ),
        ("WEBVTT\n\n00:00:09.000 --> 00:00:10.000\nx", "après la fin de la vidéo"),
        ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n", "pas de texte"),
        ("WEBVTT\n\nNOTE rien", "aucun sous-titre"),
    ]
    for text, message in cases:
        with pytest.raises(ValidationError, match=message):
            tutorials.parse_webvtt(text, 4)


def test_embedded_videos_only_from_allowed_https_hosts():
    assert tutorials.check_embed_url("https://www.dailymotion.com/embed/video/x8abc")
    for url in ("http://www.dailymotion.com/embed/video/x8abc", "https://evil.example/v"):
        with pytest.raises(ValidationError, match="hébergeurs"):
            tutorials.check_embed_url(url)


def _tutorial(article: Article, webm: bytes, **extra) -> Tutorial:
    tutorial = Tutorial(
        slug=extra.pop("slug", "tuto-ceam"),
        title="Demander la carte européenne",
        topic=article.topic,
        article=article,
        video_format="webm",
        duration=4,
        captions=CAPTIONS,
        transcript="Ouvrez votre compte, puis « Mes démarches ».",
        status=Tutorial.Status.PUBLISHED,
        published_at=timezone.now(),
        **extra,
    )
    tutorial.video.save(f"{tutorial.slug}.webm", ContentFile(webm))
    return tutorial


@pytest.mark.django_db
def test_the_database_refuses_a_published_tutorial_without_captions_or_transcript(kb):
    topic = Article.objects.get(slug="ceam").topic
    for missing in ({"captions": ""}, {"transcript": ""}):
        fields = {"captions": CAPTIONS, "transcript": "Texte", **missing}
        with pytest.raises(IntegrityError), transaction.atomic():
            Tutorial.objects.create(
                slug="x",
                title="x",
                topic=topic,
                embed_url="https://player.vimeo.com/video/1",
                status="published",
                **fields,
            )
    with pytest.raises(IntegrityError), transaction.atomic():  # neither file nor address
        Tutorial.objects.create(slug="y", title="y", topic=topic, captions=CAPTIONS)


@pytest.mark.django_db
def test_article_page_plays_the_tutorial_with_captions_and_transcript(client, kb, webm):
    _tutorial(Article.objects.get(slug="ceam"), webm)
    page = client.get("/faq/articles/ceam/").content.decode()
    assert '<video class="fr-responsive-vid" controls' in page
    assert '<track kind="captions" srclang="fr"' in page and "default>" in page
    assert "Transcription textuelle" in page and "« Mes démarches »" in page
    captions = client.get("/faq/tutoriels/tuto-ceam/sous-titres.vtt")
    assert captions["Content-Type"].startswith("text/vtt")
    assert captions.content.decode() == CAPTIONS
    video = client.get("/faq/tutoriels/tuto-ceam/video/")
    assert video["Content-Type"] == "video/webm"
    assert b"".join(video.streaming_content) == webm
    assert "tuto-ceam" in client.get("/faq/themes/sante/").content.decode()


@pytest.mark.django_db
def test_drafts_are_not_served(client, kb, webm):
    _tutorial(Article.objects.get(slug="ceam"), webm, slug="brouillon")
    Tutorial.objects.filter(slug="brouillon").update(status="draft")
    for url in ("/faq/tutoriels/brouillon/", "/faq/tutoriels/brouillon/video/"):
        assert client.get(url).status_code == 404
    assert "<video" not in client.get("/faq/articles/ceam/").content.decode()


@pytest.mark.django_db
def test_an_embedded_tutorial_is_loaded_on_request_and_its_host_framed(client, kb):
    article = Article.objects.get(slug="ceam")
    Tutorial.objects.create(
        slug="tuto-embed",
        title="Vidéo hébergée",
        topic=article.topic,
        article=article,
        embed_url="https://player.vimeo.com/video/76979871",
        captions=CAPTIONS,
        transcript="Texte",
        status="published",
    )
    response = client.get("/faq/tutoriels/tuto-embed/")
    assert (
        "frame-src 'self' blob: about: https://player.vimeo.com;"
        in response["Content-Security-Policy"]
    )
    page = response.content.decode()
    assert "Lancer la vidéo" in page and "<iframe" not in page
    assert "https://player.vimeo.com" not in client.get("/faq/")["Content-Security-Policy"]


@pytest.mark.django_db
def test_views_are_counted_once_per_visitor_and_day_without_personal_data(client, kb, webm):
    tutorial = _tutorial(Article.objects.get(slug="ceam"), webm)
    url = "/faq/tutoriels/tuto-ceam/vue/"
    assert client.post(url, {"kind": "start", "visitor": TOKEN}).status_code == 201
    assert client.post(url, {"kind": "start", "visitor": TOKEN}).json() == {"counted": False}
    assert client.post(url, {"kind": "complete", "visitor": TOKEN}).status_code == 201
    assert client.post(url, {"kind": "start", "visitor": "b" * 32}).status_code == 201
    assert client.post(url, {"kind": "replay", "visitor": TOKEN}).status_code == 400
    assert client.post(url, {"kind": "start", "visitor": "short"}).status_code == 400
    rows = list(TutorialView.objects.filter(tutorial=tutorial))
    assert len(rows) == 3
    assert all(TOKEN not in row.visitor for row in rows)
    # The next day, the same token counts again (and hashes differently).
    tomorrow = timezone.now() + dt.timedelta(days=1)
    assert tutorials.record_view(tutorial, "start", TOKEN, now=tomorrow)
    fields = {f.name for f in TutorialView._meta.get_fields()}
    assert fields == {"id", "tutorial", "day", "kind", "visitor"}


@pytest.mark.django_db
def test_editor_uploads_a_checked_video_and_needs_captions_and_transcript_to_publish(
    supervisor, client_as, kb_with_personas, webm
):
    client = client_as(supervisor)  # service A: impots
    article = Article.objects.get(slug="payer-impot")
    url = "/console/connaissances/gestion/knowledge/tutorial/add/"
    base = {
        "title": "Payer en ligne",
        "slug": "payer-en-ligne",
        "topic": article.topic_id,
        "article": article.pk,
        "status": "published",
        "embed_url": "",
        "transcript": "",
    }
    refused = client.post(
        url,
        {**base, "video": SimpleUploadedFile("faux.webm", b"pas une video", "video/webm")},
    )
    assert "pas une vidéo lisible" in refused.content.decode()
    missing = client.post(url, {**base, "video": SimpleUploadedFile("v.webm", webm)})
    text = missing.content.decode()
    assert "Des sous-titres sont nécessaires" in text and "Une transcription est nécessaire" in text
    late = "WEBVTT\n\n00:00:30.000 --> 00:00:31.000\nTrop tard\n"
    response = client.post(
        url,
        {
            **base,
            "transcript": "Tout ce qui est dit.",
            "video": SimpleUploadedFile("v.webm", webm),
            "captions_file": SimpleUploadedFile("v.vtt", late.encode()),
        },
    )
    assert "après la fin de la vidéo" in response.content.decode()
    response = client.post(
        url,
        {
            **base,
            "transcript": "Tout ce qui est dit.",
            "video": SimpleUploadedFile("v.webm", webm),
            "captions_file": SimpleUploadedFile("v.vtt", CAPTIONS.encode()),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    saved = Tutorial.objects.get(slug="payer-en-ligne")
    assert (saved.video_format, saved.duration, saved.created_by) == ("webm", 4, supervisor)
    assert saved.published_at is not None and saved.captions == CAPTIONS


def _case(citizen, topic, days_ago: float, channel: str = "web") -> None:
    case, _ = open_case(
        citizen=citizen,
        topic=topic,
        kind=Case.Kind.QUESTION,
        channel=channel,
        subject="Question",
        body="Bonjour",
        route=False,
    )
    Case.objects.filter(pk=case.pk).update(created_at=timezone.now() - dt.timedelta(days=days_ago))


@pytest.mark.django_db
def test_views_versus_messages_per_tutorial_with_trend_in_three_queries(
    kb_with_personas, citizen, webm, django_assert_num_queries
):
    load_demo_tutorials()
    impots = Tutorial.objects.get(slug="tutoriel-declarer-revenus-en-ligne")
    sante = Tutorial.objects.get(slug="tutoriel-carte-vitale-perdue")
    now = timezone.now()
    for days_ago, n in ((1, 6), (8, 2)):  # this week: 6 views; the week before: 2
        for i in range(n):
            tutorials.record_view(
                impots, "start", f"{'v' * 20}{i:02d}", now=now - dt.timedelta(days=days_ago)
            )
    tutorials.record_view(impots, "complete", "v" * 22, now=now - dt.timedelta(days=1))
    for days_ago in (1, 2, 3):  # 3 messages this week, 4 the week before, one by phone
        _case(citizen, impots.topic, days_ago)
    for days_ago in (8, 9, 10, 11):
        _case(citizen, impots.topic, days_ago, channel="phone" if days_ago == 8 else "web")
    start, end = now - dt.timedelta(days=7), now
    with django_assert_num_queries(3):
        rows = {r.tutorial.slug: r for r in tutorials.indicators(start, end)}
    row = rows[impots.slug]
    assert (row.starts, row.completions, row.messages) == (6, 1, 3)
    assert (row.previous_starts, row.previous_messages) == (2, 4)
    assert row.ratio == 2 and row.previous_ratio == 0.5 and row.messages_trend == -0.25
    assert rows[sante.slug].starts == 0 and rows[sante.slug].ratio is None
    phone = {r.tutorial.slug: r for r in tutorials.indicators(start, end, channel="phone")}
    assert phone[impots.slug].previous_messages == 1
    section = tutorial_kpis(start, end, topic_id=impots.topic_id)
    assert section is not None
    assert section["tables"][0]["rows"] == [
        [impots.title, impots.topic.title, 6, 1, 3, 2.0, 0.5, -0.25]
    ]
    # More tutorials: still three queries.
    for index in range(5):
        _tutorial(Article.objects.get(slug="payer-impot"), webm, slug=f"autre-{index}")
    with django_assert_num_queries(3):
        assert len(tutorials.indicators(start, end)) == 7


@pytest.mark.django_db
def test_dashboard_shows_the_tutorials_section_to_supervisors(
    supervisor, client_as, kb_with_personas
):
    load_demo_tutorials()
    page = client_as(supervisor).get("/supervision/tableau-de-bord/").content.decode()
    assert "Tutoriels vidéo : vues et messages reçus sur le sujet" in page
    assert "Déclarer ses revenus en ligne, pas à pas" in page
    # Service A supervises impots only: the health tutorial is not theirs.
    assert "Commander une nouvelle carte Vitale" not in page
