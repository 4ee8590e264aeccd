"""Celery application. The beat schedule lives here, in code, not in a database."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "powernext.settings.base")

app = Celery("powernext")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Project-level tasks (the broker round-trip probe) live outside the apps.
app.autodiscover_tasks(["powernext"])

app.conf.beat_schedule = {
    "tickets-clocks-sweep": {
        "task": "tickets.tasks.clocks_sweep_task",
        "schedule": 60.0,
    },
    "accounts-sessions-purge": {
        "task": "accounts.tasks.sessions_purge_task",
        "schedule": crontab(hour=3, minute=17),
    },
    "accounts-documents-purge": {
        "task": "accounts.tasks.documents_purge_task",
        "schedule": crontab(hour=2, minute=41),
    },
    "accounts-access-attempts-purge": {
        "task": "accounts.tasks.access_attempts_purge_task",
        "schedule": crontab(hour=3, minute=23),
    },
    "metering-interval-partitions": {
        "task": "metering.tasks.interval_partitions_task",
        "schedule": crontab(hour=1, minute=53),
    },
    # After the night's head-end files; yesterday and the day before (late hours).
    "metering-daily-consumption": {
        "task": "metering.tasks.daily_consumption_task",
        "schedule": crontab(hour=6, minute=7),
    },
    # Payment plans: reminders 3 days before an instalment, broken plans 7 days after.
    "billing-plan-instalments-sweep": {
        "task": "billing.tasks.plan_instalments_sweep_task",
        "schedule": crontab(hour=7, minute=31),
    },
    # Outages: system notices, fan-out, delivery (priority first), reviews, compensation.
    "outages-sweep": {
        "task": "outages.tasks.outages_sweep_task",
        "schedule": 60.0,
    },
    # Chat: close the conversations idle for 15 minutes (CONTAINED or ABANDONED) and
    # record the chatbot contact (docs/self-service.md, "Chatbot").
    "kb-conversation-idle-sweep": {
        "task": "kb.tasks.kb_conversation_idle_sweep_task",
        "schedule": 60.0,
    },
    # ENTERPRISE availability credits for the month just ended (daily: a missed run
    # on the 1st is made up the next day; the credit is unique per account and month).
    "outages-availability-credits": {
        "task": "outages.tasks.availability_credits_task",
        "schedule": crontab(hour=4, minute=13),
    },
    # KPI snapshots (idempotent rebuilds from the raw records, Paris periods): today's
    # intervals just after each quarter-hour closes, yesterday complete at night, last
    # month on the 1st and again on the 2nd in case the 1st was missed.
    "kpi-snapshots-interval": {
        "task": "kpi.tasks.kpi_snapshots_interval_task",
        "schedule": crontab(minute="1,16,31,46"),
    },
    "kpi-snapshots-daily": {
        "task": "kpi.tasks.kpi_snapshots_daily_task",
        "schedule": crontab(hour=2, minute=37),
    },
    "kpi-snapshots-monthly": {
        "task": "kpi.tasks.kpi_snapshots_monthly_task",
        "schedule": crontab(day_of_month="1,2", hour=3, minute=47),
    },
    # Interval alerts: the live ASA and queue length against their thresholds.
    "kpi-alerts-check": {
        "task": "kpi.tasks.kpi_alerts_check_task",
        "schedule": 60.0,
    },
    # Text analytics (docs/kpi-text.md): new messages into QA flags and callback
    # promises; the promises that came due, two minutes later so the two runs do not
    # start together.
    "kpi-text-scan": {
        "task": "kpi.tasks.kpi_text_scan_task",
        "schedule": crontab(minute="*/5"),
    },
    "kpi-callback-promises-sweep": {
        "task": "kpi.tasks.kpi_callback_promises_sweep_task",
        "schedule": crontab(minute="2-59/5"),
    },
}
