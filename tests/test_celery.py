"""Celery: the beat schedule is in code and every entry names a registered task."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from powernext.celery import app
from powernext.tasks import ping_task

ROOT = Path(__file__).resolve().parent.parent


def test_every_scheduled_task_is_registered():
    app.loader.import_default_modules()
    assert app.conf.beat_schedule, "the beat schedule must not be empty"
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks, entry["task"]
        assert entry["task"].endswith("_task")


def test_our_tasks_ack_late():
    app.loader.import_default_modules()
    ours = [t for name, t in app.tasks.items() if not name.startswith("celery.")]
    assert ours
    for task in ours:
        assert task.acks_late, task.name


@pytest.mark.stack
def test_task_round_trips_through_redis_with_a_real_worker():
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "powernext.settings.test"}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "powernext",
            "worker",
            "-Q",
            queue,
            "--concurrency=1",
            "--pool=solo",
            "--loglevel=WARNING",
            f"--hostname={queue}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        result = ping_task.apply_async(kwargs={"payload": queue}, queue=queue)
        assert result.get(timeout=60) == {"pong": queue}
        assert result.successful()
    finally:
        worker.terminate()
        worker.wait(timeout=30)
