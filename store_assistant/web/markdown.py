"""A model's reply made safe to show as markdown: parsed, then written again from a short list.

A reply can carry what a poisoned manual told the model to write. Regexes over the raw text miss
forms (a reference-style image `![x][r]` with `[r]: https://attacker.example/p.png` on its own
line, an autolink, raw HTML), so the reply is parsed with markdown-it (CommonMark, plus tables and
strikethrough) and rebuilt: paragraphs, headings, lists, quotes, code, tables, emphasis and line
breaks keep their form; every image becomes its alt text; every link shows its address as code,
`Volt support (`https://evil.example`)`; raw HTML and anything else is written as plain text.
Text is escaped on the way out, so nothing the rebuild did not choose can render.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

_PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<>!~|${}&])")
# A character that starts a block where it begins a line: '# h', '- item', '> quote', '1. item'.
# A bare address in text: written as code, so it is shown whole and never turned into a link
# that swallows the characters after it (GitHub-style autolinks, which the page's renderer makes).
_ADDRESS = re.compile(r"(?:https?://|www\.)[^\s<>\"'`]+", re.IGNORECASE)
_LINE_START = re.compile(r"(^|\n)([ \t]*)([#+\-=>]|\d+[.)])")


def safe_markdown(text: str) -> str:
    """'Sure ![](https://x.example/p.png?q=1) see [help](https://x.example)'
    -> 'Sure  see help (`https://x.example`)'."""
    root = SyntaxTreeNode(_PARSER.parse(text))
    return _blocks(root.children)


# --- blocks ----------------------------------------------------------------------------------

def _blocks(nodes: list[SyntaxTreeNode], separator: str = "\n\n") -> str:
    return separator.join(part for part in (_block(node) for node in nodes) if part)


def _block(node: SyntaxTreeNode) -> str:
    kind = node.type
    if kind == "paragraph":
        return _inline(node)
    if kind == "heading":
        return "#" * int(node.tag[1]) + " " + _inline(node)
    if kind in ("bullet_list", "ordered_list"):
        return _list(node)
    if kind == "blockquote":
        return "\n".join("> " + line for line in _blocks(node.children).splitlines())
    if kind in ("code_block", "fence"):
        fence = "`" * max(3, _longest_run(node.content, "`") + 1)
        return f"{fence}\n{node.content.rstrip(chr(10))}\n{fence}"
    if kind == "hr":
        return "---"
    if kind == "table":
        return _table(node)
    return _text_with_addresses(node.content)  # html_block and anything unknown: shown as text


def _list(node: SyntaxTreeNode) -> str:
    start = int(node.attrs.get("start", 1)) if node.type == "ordered_list" else None
    items = []
    for number, item in enumerate(node.children, start or 0):
        marker = f"{number}. " if start is not None else "- "
        tight = all(child.hidden for child in item.children if child.type == "paragraph")
        body = _blocks(item.children, "\n" if tight else "\n\n")
        items.append(marker + body.replace("\n", "\n" + " " * len(marker)))
    tight = all(child.hidden for item in node.children for child in item.children
                if child.type == "paragraph")
    return ("\n" if tight else "\n\n").join(items)


def _table(node: SyntaxTreeNode) -> str:
    rows = [row for section in node.children for row in section.children]
    lines = ["| " + " | ".join(_inline(cell) for cell in row.children) + " |" for row in rows]
    if lines:
        lines.insert(1, "|" + "---|" * len(rows[0].children))
    return "\n".join(lines)


# --- inline ----------------------------------------------------------------------------------

def _inline(node: SyntaxTreeNode) -> str:
    return "".join(_span(child) for child in _inline_children(node))


def _inline_children(node: SyntaxTreeNode) -> list[SyntaxTreeNode]:
    """A block's inline content (paragraphs, headings and cells hold one `inline` node)."""
    if len(node.children) == 1 and node.children[0].type == "inline":
        return node.children[0].children
    return node.children


def _span(node: SyntaxTreeNode) -> str:
    kind = node.type
    if kind == "text":
        return _text_with_addresses(node.content)
    if kind == "softbreak":
        return "\n"
    if kind == "hardbreak":
        return "  \n"
    if kind in ("strong", "em", "s"):
        mark = {"strong": "**", "em": "*", "s": "~~"}[kind]
        return mark + _inline(node) + mark
    if kind == "code_inline":
        return _code(node.content)
    if kind == "image":  # never fetched: its alt text, as text
        return _text(_plain(node))
    if kind == "link":
        address = str(node.attrs.get("href", ""))
        label = _inline(node)
        return _code(address) if _plain(node) in (address, address.removeprefix("mailto:")) \
            else f"{label} ({_code(address)})"
    return _text_with_addresses(node.content)  # html_inline, anything unknown: shown as text


def _plain(node: SyntaxTreeNode) -> str:
    """The words of a node without its markup: an image's alt text, a link's label."""
    if node.type in ("text", "code_inline", "html_inline"):
        return node.content
    return "".join(_plain(child) for child in node.children)


def _code(text: str) -> str:
    fence = "`" * (_longest_run(text, "`") + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _text_with_addresses(text: str) -> str:
    """'see https://x.example/a">' -> 'see `https://x.example/a`"\\>'."""
    parts, last = [], 0
    for match in _ADDRESS.finditer(text):
        address = match.group().rstrip(".,;:!?)")  # a sentence's full stop is not the address's
        parts += [_text(text[last:match.start()]), _code(address)]
        last = match.start() + len(address)
    return "".join(parts) + _text(text[last:])


def _text(text: str) -> str:
    """Literal text: every character that could start markup is backslash-escaped."""
    text = _INLINE_SPECIAL.sub(r"\\\1", text)
    return _LINE_START.sub(lambda m: m.group(1) + m.group(2) + _escape_start(m.group(3)), text)


def _escape_start(mark: str) -> str:
    """'#' -> '\\#'; '1.' -> '1\\.' (a number is plain text once its '.' or ')' is escaped)."""
    return mark[:-1] + "\\" + mark[-1] if mark[0].isdigit() else "\\" + mark


def _longest_run(text: str, char: str) -> int:
    return max((len(run) for run in re.findall(re.escape(char) + "+", text)), default=0)
