"""Pure rules of outage management: no Django, no Celery."""
