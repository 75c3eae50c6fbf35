"""The demo forum: pseudonyms only, no personal data, a certified answer."""

from community import demo
from community.models import Post, Thread
from community.personal_data import find_personal_data, is_personal_health_question
from contactcenter.demo import ensure_reference_data, load_people
from contactcenter.models import Service, Topic


def test_demo_texts_pass_the_checks_they_would_face():
    for _slug, _lang, _author, title, question, replies, _resolved in demo.THREADS:
        for text in [title, question, *(r[1] for r in replies)]:
            assert find_personal_data(text) == [], text
            assert not is_personal_health_question(text), text


def test_load_demo_adds_threads_once_with_a_certified_answer(db):
    service = Service.objects.create(code="tmp", name="Temporaire")
    for slug in ("impots", "titres"):
        Topic.objects.create(slug=slug, title=slug, service=service)
    people = load_people(ensure_reference_data())
    assert demo.load_demo(people) == len(demo.THREADS)
    assert demo.load_demo(people) == 0
    assert Thread.objects.count() == len(demo.THREADS)
    certified = Post.objects.get(certified_at__isnull=False)
    assert certified.author.is_agent and certified.certified_by == certified.author
    names = {u.last_name for group in people.values() for u in group}
    for post in Post.objects.all():
        assert not any(name in post.body for name in names)
