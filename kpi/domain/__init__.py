"""Pure Python rules of the kpi app: no Django, no Celery, no DRF, no clock."""
