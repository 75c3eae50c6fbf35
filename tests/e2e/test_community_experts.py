"""The forum's experts in a real browser: a question left without an expert answer for more
than 72 hours is flagged on the moderation page of the topic's agents and supervisors, and a
thread becomes a knowledge-base draft in one click."""

import re

import pytest

pytestmark = pytest.mark.e2e

TITLE = "Déclarer les frais réels de transport (test des experts)"


def _old_question(e2e_server) -> int:
    """A published question of the demo's first forum member, created 73 hours ago."""
    return e2e_server.shell_json(
        "import datetime as dt\n"
        "from django.utils import timezone\n"
        "from community.models import Member, Post, Thread\n"
        "from contactcenter.models import Topic\n"
        f"Thread.objects.filter(title={TITLE!r}).delete()\n"
        "member = Member.objects.order_by('pk').first()\n"
        f"thread = Thread.objects.create(topic=Topic.objects.get(slug='impots'), title={TITLE!r},"
        " author=member.user, is_published=True)\n"
        "Post.objects.create(thread=thread, author=member.user, is_question=True,"
        " body='Comment déclarer mes frais de transport au réel ?', status='published')\n"
        "Thread.objects.filter(pk=thread.pk).update("
        "created_at=timezone.now() - dt.timedelta(hours=73))\n"
        "result = thread.pk"
    )


def _cleanup(e2e_server, thread_id: int):
    e2e_server.shell(
        "from community.models import Thread\n"
        "from knowledge.models import Article\n"
        f"Article.objects.filter(slug__endswith='-forum-{thread_id}').delete()\n"
        f"Thread.objects.filter(pk={thread_id}).delete()"
    )


def test_72_hour_flag_and_thread_to_article(new_page, check_a11y, demo, e2e_server):
    thread_id = _old_question(e2e_server)
    try:
        supervisor = new_page(demo.supervisor)
        supervisor.goto("/forum/moderation/")
        flagged = supervisor.locator("#forum-unanswered")
        assert TITLE in flagged.inner_text()
        check_a11y(supervisor)

        agent = new_page(demo.agent_fiscalite)
        agent.goto("/forum/moderation/")
        agent.locator("#forum-unanswered").get_by_role("link", name=TITLE).click()
        agent.wait_for_url(re.compile(rf"/forum/fils/{thread_id}/$"))
        button = agent.get_by_role(
            "button", name="Proposer comme article de la base de connaissances"
        )
        button.click()
        agent.wait_for_url(re.compile(rf"/forum/fils/{thread_id}/$"))
        assert "Brouillon d'article « " + TITLE in agent.locator("main").inner_text()
        assert (
            agent.get_by_role(
                "button", name="Proposer comme article de la base de connaissances"
            ).count()
            == 0
        )
        check_a11y(agent)
        draft = e2e_server.shell_json(
            "from knowledge.models import Article\n"
            f"a = Article.objects.get(slug__endswith='-forum-{thread_id}')\n"
            "result = [a.status, a.title, a.body]"
        )
        assert draft[:2] == ["draft", TITLE]
        assert "frais de transport au réel" in draft[2]
    finally:
        _cleanup(e2e_server, thread_id)
