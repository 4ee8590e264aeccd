"""Demo knowledge base: the articles of kb/content, loaded and published through
kb_content_sync (idempotent: a second run changes nothing)."""

from __future__ import annotations

from datetime import datetime

from .services import articles


def seed(*, now: datetime) -> str:
    return str(articles.kb_content_sync(now=now))
