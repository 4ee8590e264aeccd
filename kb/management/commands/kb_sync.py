from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from kb.services import articles


class Command(BaseCommand):
    help = "Load kb/content into the knowledge base (idempotent; new articles are published)."

    def handle(self, *args, **opts):
        try:
            report = articles.kb_content_sync(now=timezone.now())
        except (articles.ContentError, articles.NoOwner) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(str(report))
