"""The forum is a channel app: core, routing and the knowledge base's narrow interface only."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OTHER_APPS = ("messaging", "chat", "cobrowse", "voice", "mail", "console", "demarches", "accounts")


def test_community_imports_no_other_channel_and_only_knowledge_search_and_proposal():
    problems = []
    for source in (ROOT / "community").rglob("*.py"):
        for line in source.read_text().splitlines():
            match = re.match(r"\s*(?:from|import) (\w+)", line)
            if not match:
                continue
            if match.group(1) in OTHER_APPS:
                problems.append(f"{source.name}: {line.strip()}")
            if match.group(1) == "knowledge" and not re.fullmatch(
                r"\s*from knowledge\.services import "
                r"((SearchResult, )?search_articles|propose_article)",
                line,
            ):
                problems.append(f"{source.name}: {line.strip()}")
    assert problems == []
