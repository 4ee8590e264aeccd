"""French and English text-search configurations that fold accents: "électricité",
"electricite" and "ELECTRICITE" give the same lexeme, and stemming still applies."""

from django.contrib.postgres.operations import UnaccentExtension
from django.db import migrations

CONFIGS = (("kb_french", "french", "french_stem"), ("kb_english", "english", "english_stem"))

CREATE = "\n".join(
    f"""
    CREATE TEXT SEARCH CONFIGURATION {name} (COPY = {base});
    ALTER TEXT SEARCH CONFIGURATION {name}
        ALTER MAPPING FOR hword, hword_part, word WITH unaccent, {stem};
    """
    for name, base, stem in CONFIGS
)
DROP = "\n".join(f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {name};" for name, _, _ in CONFIGS)


class Migration(migrations.Migration):
    dependencies = [("kb", "0001_articles_and_conversations")]

    operations = [
        UnaccentExtension(),
        migrations.RunSQL(CREATE, DROP),
    ]
