import pytest

from community import services
from community.models import Member


@pytest.fixture
def member(citizen, topic_a):
    return Member.objects.create(user=citizen, pseudonym="Lilas75")


@pytest.fixture
def thread(member, topic_a):
    return services.post_question(
        member.user,
        topic=topic_a,
        title="Comment déclarer une pension alimentaire ?",
        body="Je verse une pension à mon fils étudiant : où la déclarer ?",
    )
