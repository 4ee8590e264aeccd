"""Knowledge-base articles, without Django: the status machine, the content-file format
(front matter + simple Markdown) and a small, safe Markdown-to-HTML renderer.

The renderer understands only what the content files use — paragraphs, `## ` and `### `
headings, `- ` and `1. ` lists, **bold** and [links](/relative-or-https) — and escapes
everything else, so an article can never inject markup or script into a page.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

# --- Status machine --------------------------------------------------------------------

DRAFT = "DRAFT"
PUBLISHED = "PUBLISHED"
ARCHIVED = "ARCHIVED"
STATUSES = (DRAFT, PUBLISHED, ARCHIVED)

# (from, to) pairs that are allowed; everything else is refused.
TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    {
        (DRAFT, PUBLISHED),  # publish
        (PUBLISHED, DRAFT),  # unpublish to rework it
        (PUBLISHED, ARCHIVED),  # retire
        (ARCHIVED, DRAFT),  # bring back for rework
    }
)


class IllegalTransition(Exception):
    def __init__(self, from_status: str, to_status: str):
        super().__init__(f"article: {from_status} → {to_status} is not allowed")
        self.from_status = from_status
        self.to_status = to_status


def transition_check(from_status: str, to_status: str) -> None:
    """Raise IllegalTransition unless the table allows from_status → to_status."""
    if (from_status, to_status) not in TRANSITIONS:
        raise IllegalTransition(from_status, to_status)


def allowed_targets(from_status: str) -> list[str]:
    return [to for (frm, to) in sorted(TRANSITIONS) if frm == from_status]


# --- Content files -----------------------------------------------------------------------

LANGUAGES = ("fr", "en")
REQUIRED_FIELDS = ("key", "language", "category", "slug", "title", "summary")
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LIMITS = {"key": 80, "slug": 120, "category": 60, "title": 200, "summary": 300, "keywords": 500}


class ContentError(ValueError):
    """A content file that cannot be loaded; the message names the file and the problem."""


@dataclass(frozen=True)
class ContentArticle:
    key: str
    language: str
    category: str
    slug: str
    title: str
    summary: str
    keywords: str
    body: str


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def parse_content(text: str, *, name: str = "<content>") -> ContentArticle:
    """Parse one content file: `---` front matter of `field: value` lines, then the body."""
    text = text.replace("\r\n", "\n").lstrip("\ufeff")
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        raise ContentError(f"{name}: the file must start with a '---' line")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise ContentError(f"{name}: the front matter has no closing '---' line") from None
    fields: dict[str, str] = {}
    for number, line in enumerate(lines[1:end], start=2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        field, sep, value = line.partition(":")
        if not sep:
            raise ContentError(f"{name}:{number}: expected 'field: value'")
        fields[field.strip().lower()] = _unquote(value)
    missing = [f for f in REQUIRED_FIELDS if not fields.get(f)]
    if missing:
        raise ContentError(f"{name}: missing {', '.join(missing)}")
    if fields["language"] not in LANGUAGES:
        raise ContentError(f"{name}: language must be fr or en, not {fields['language']!r}")
    for field in ("key", "slug", "category"):
        if not SLUG_RE.match(fields[field]):
            raise ContentError(f"{name}: {field} {fields[field]!r} is not a slug")
    keywords = ", ".join(k.strip() for k in fields.get("keywords", "").split(",") if k.strip())
    fields["keywords"] = keywords
    for field, limit in LIMITS.items():
        if len(fields.get(field, "")) > limit:
            raise ContentError(f"{name}: {field} is longer than {limit} characters")
    body = "\n".join(lines[end + 1 :]).strip()
    if not body:
        raise ContentError(f"{name}: the body is empty")
    return ContentArticle(
        key=fields["key"],
        language=fields["language"],
        category=fields["category"],
        slug=fields["slug"],
        title=fields["title"],
        summary=fields["summary"],
        keywords=keywords,
        body=body,
    )


# --- Markdown subset -----------------------------------------------------------------------

_LINK_RE = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
_BOLD_RE = re.compile(r"\*\*(.+?)\*\*")
_ORDERED_RE = re.compile(r"^\d{1,3}[.)]\s+")
SAFE_SCHEMES = ("https://", "mailto:", "tel:")


def safe_href(url: str) -> str | None:
    """The URL if a page may link to it (site-relative, https, mailto, tel), else None."""
    if url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    if url.lower().startswith(SAFE_SCHEMES):
        return url
    return None


def _inline(text: str) -> str:
    def link(match: re.Match) -> str:
        label, url = match.group(1), html.unescape(match.group(2))
        href = safe_href(url)
        if href is None:
            return label
        return f'<a href="{html.escape(href, quote=True)}">{label}</a>'

    out = html.escape(text, quote=True)
    out = _LINK_RE.sub(link, out)
    return _BOLD_RE.sub(r"<strong>\1</strong>", out)


def render_markdown(text: str) -> str:
    """HTML for the Markdown subset; any other markup comes out escaped, as text."""
    blocks: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    list_tag = ""

    def flush() -> None:
        nonlocal list_tag
        if paragraph:
            blocks.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if items:
            inner = "".join(f"<li>{_inline(item)}</li>" for item in items)
            blocks.append(f"<{list_tag}>{inner}</{list_tag}>")
            items.clear()
            list_tag = ""

    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if not line:
            flush()
        elif line.startswith("### "):
            flush()
            blocks.append(f"<h3>{_inline(line[4:].strip())}</h3>")
        elif line.startswith(("## ", "# ")):
            flush()
            blocks.append(f"<h2>{_inline(line.lstrip('#').strip())}</h2>")
        elif line.startswith(("- ", "* ")) or _ORDERED_RE.match(line):
            tag = "ul" if line.startswith(("- ", "* ")) else "ol"
            if paragraph or (items and tag != list_tag):
                flush()
            list_tag = tag
            items.append(line[2:].strip() if tag == "ul" else _ORDERED_RE.sub("", line))
        elif items and raw[:1].isspace():
            items[-1] += " " + line  # continuation of a list item
        else:
            if items:
                flush()
            paragraph.append(line)
    flush()
    return "\n".join(blocks)


def plain_text(markdown: str) -> str:
    """The body without Markdown marks (for snippets and descriptions)."""
    text = _LINK_RE.sub(r"\1", markdown)
    text = text.replace("**", "")
    text = re.sub(r"^\s*(#{1,3}\s+|[-*]\s+|\d{1,3}[.)]\s+)", "", text, flags=re.MULTILINE)
    return re.sub(r"\s+", " ", text).strip()
