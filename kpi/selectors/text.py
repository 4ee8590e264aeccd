"""Reads of the text analytics (docs/kpi-text.md): the QA reviewers' list of open flags."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count

from ..models import TextFlag, TextFlagKind

# The list shows the newest flags; older ones stay open and are counted.
FLAGS_SHOWN = 200


@dataclass(frozen=True)
class OpenFlags:
    flags: list[TextFlag]
    # Open flags of each kind (every kind, 0 included), whatever the filter.
    counts: dict[str, int]
    kind: str | None

    @property
    def by_kind(self) -> list[tuple[str, str, int]]:
        """(kind, label, open flags) in the kinds' order."""
        return [(k, TextFlagKind(k).label, self.counts[k]) for k in TextFlagKind.values]

    @property
    def total(self) -> int:
        return self.counts[self.kind] if self.kind else sum(self.counts.values())


def text_flags_open(*, kind: str | None = None, limit: int = FLAGS_SHOWN) -> OpenFlags:
    """The open flags (not dismissed, contact not reviewed since), newest first, with
    their ticket, contact and agent; two queries whatever the number of flags."""
    rows = TextFlag.objects.filter(handled_at__isnull=True)
    counts = dict.fromkeys(TextFlagKind.values, 0)
    counts.update(
        rows.order_by().values_list("kind").annotate(n=Count("pk")).values_list("kind", "n")
    )
    if kind:
        rows = rows.filter(kind=kind)
    flags = list(
        rows.select_related("ticket", "contact", "agent").order_by("-created_at", "-pk")[:limit]
    )
    return OpenFlags(flags=flags, counts=counts, kind=kind or None)
