from django.core.management.base import BaseCommand

from kb.management import evaluation
from kb.selectors.articles import kb_search
from kb.services.articles import CONTENT_DIR

DEFAULT_PATH = CONTENT_DIR.parent / "eval" / "questions.csv"


class Command(BaseCommand):
    help = (
        "Evaluate self-service on kb/eval/questions.csv: top-1/top-3 accuracy of kb_search "
        "on FAQ questions, intent accuracy, and the containment estimate."
    )

    def add_arguments(self, parser):
        parser.add_argument("--path", default=str(DEFAULT_PATH))
        parser.add_argument(
            "--guess-language",
            action="store_true",
            help="Let kb_search guess each question's language instead of giving it.",
        )

    def handle(self, *args, path, guess_language, **opts):
        _, lines = evaluation.run(path, search=kb_search, guess_language=guess_language)
        for line in lines:
            self.stdout.write(line)
