from celery import shared_task


@shared_task(name="powernext.tasks.ping_task", acks_late=True)
def ping_task(*, payload: str) -> dict:
    """Echo task used by health checks and tests to prove a broker round trip."""
    return {"pong": payload}
