from django.db import migrations

CREATE = """
CREATE TABLE metering_interval (
    supply_point_id bigint NOT NULL,
    start timestamptz NOT NULL,
    wh integer NOT NULL,
    quality smallint NOT NULL DEFAULT 0,
    PRIMARY KEY (supply_point_id, start)
) PARTITION BY RANGE (start);
"""


def partitions(apps, schema_editor):
    # Launch months; afterwards the beat task creates partitions ahead of time.
    with schema_editor.connection.cursor() as cursor:
        for year in range(2024, 2028):
            for month in range(1, 13):
                nxt_year, nxt_month = (year + 1, 1) if month == 12 else (year, month + 1)
                cursor.execute(
                    f"CREATE TABLE IF NOT EXISTS metering_interval_y{year}m{month:02d} "
                    f"PARTITION OF metering_interval FOR VALUES FROM "
                    f"('{year}-{month:02d}-01 00:00+00') TO ('{nxt_year}-{nxt_month:02d}-01 00:00+00')"
                )


class Migration(migrations.Migration):
    """Hourly data: narrow rows, composite key, one partition per month (UTC)."""

    dependencies = [("metering", "0001_initial")]

    operations = [
        migrations.RunSQL(CREATE, "DROP TABLE metering_interval CASCADE"),
        migrations.RunPython(partitions, migrations.RunPython.noop),
    ]
