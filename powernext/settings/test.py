"""Test settings: the same real PostgreSQL and Redis, with cheaper hashing."""

import os

# Tests never need a real secret, and use their own Redis database so that a
# running dev worker does not consume the test suite's tasks.
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")

from .base import *  # noqa: F403
from .base import STORAGES

# The production hasher costs about a second of CPU per check here.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
ALLOWED_HOSTS = ["*"]
# Serve static files straight from the source folders, as `runserver` does.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# Lets two test runs on one machine (say, two checkouts) use separate databases.
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME", "test_powernext")}  # noqa: F405

# seed_demo runs in several tests: a few days of KPI contacts are enough there
# (tests/test_kpi_demo.py loads its own sizes).
KPI_DEMO_DAYS = 3
KPI_DEMO_PER_DAY = 100
