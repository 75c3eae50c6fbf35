"""Safe Markdown rendering: Markdown -> HTML -> nh3 allow-list (no script, iframe, style...)."""

from __future__ import annotations

import functools
import re

import markdown
import nh3
from django.utils.html import strip_tags
from django.utils.safestring import SafeString, mark_safe

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "b", "i", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td", "abbr",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "th": {"scope"}}
URL_SCHEMES = {"http", "https", "mailto", "tel"}


def _shift_headings(html: str) -> str:
    # The page title is the only <h1>: article headings start at <h2>.
    def shift(match):
        level = min(int(match.group(2)) + 1, 6)
        return f"<{match.group(1)}h{level}"

    return re.sub(r"<(/?)h([1-5])", shift, html)


def render_markdown(source: str) -> SafeString:
    """Markdown to sanitised HTML (links get rel="noopener noreferrer")."""
    html = markdown.markdown(
        source or "", extensions=["sane_lists", "tables"], output_format="html"
    )
    html = _shift_headings(html)
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    return mark_safe(clean)  # noqa: S308 - sanitised by nh3 just above


def _number_items(match) -> str:
    counter = iter(range(1, 1000))
    return re.sub(r"<li>", lambda _m: f"<li data-n>{next(counter)}. ", match.group(1))


@functools.lru_cache(maxsize=4096)
def plain_text(source: str) -> str:
    """Markdown -> readable plain text (for excerpts, inserting into a reply, transcripts).

    Memoised by source text (a pure function of it): the chatbot, the FAQ lists and the
    deflection show the same few hundred articles over and over."""
    html = markdown.markdown(source or "", extensions=["sane_lists"], output_format="html")
    html = re.sub(r"<ol>(.*?)</ol>", _number_items, html, flags=re.S)
    html = re.sub(r"<li>", "<li>- ", html)
    html = re.sub(r"</(p|li|h\d|pre|blockquote|tr)>", "\n", html)
    text = strip_tags(html)
    text = text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    text = text.replace("&quot;", '"').replace("&#39;", "'")
    lines = [line.strip() for line in text.splitlines()]
    out = "\n".join(lines)
    out = re.sub(r"\n{3,}", "\n\n", out)
    out = re.sub(r"(?m)^(- .*)\n\n(?=- )", r"\1\n", out)
    return re.sub(r"(?m)^(\d+\. .*)\n\n(?=\d+\. )", r"\1\n", out).strip()


def excerpt(source: str, length: int = 200) -> str:
    """The first sentences of an article, cut on a word boundary."""
    text = " ".join(plain_text(source).split())
    if len(text) <= length:
        return text
    cut = text[:length].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"
