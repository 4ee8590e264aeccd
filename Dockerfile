# syntax=docker/dockerfile:1
# Power Next application image: one image for the web server, the Celery
# worker and Celery beat (docker-compose.yml picks the command).
#
#   docker build -t powernext .
#   docker run --env-file .env -p 8000:8000 powernext
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# WeasyPrint (invoice PDFs) loads Pango and HarfBuzz at run time; gettext
# provides msgfmt for compilemessages.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 \
        libpangoft2-1.0-0 \
        libharfbuzz0b \
        libharfbuzz-subset0 \
        fonts-dejavu-core \
        gettext \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app \
        --shell /usr/sbin/nologin app

WORKDIR /app

# Dependencies first, so that a code change does not reinstall them. Only the
# runtime dependencies of pyproject.toml are installed (no test or lint
# tools), at the exact versions of requirements.lock.
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt -c requirements.lock \
    && pip check \
    && rm /tmp/requirements.txt

# The source runs from /app (not from site-packages): settings locate
# templates/, static/ and locale/ relative to the code.
COPY . .
ENV PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=powernext.settings.base \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/app/media

# Build-time only: collectstatic and compilemessages import the settings,
# which refuse to start without a SECRET_KEY when DEBUG is off. This dummy
# key exists only in this RUN step and is never part of the image's
# environment; real containers must be given their own SECRET_KEY.
RUN mkdir -p locale media \
    && SECRET_KEY=build-only-not-a-secret DJANGO_DEBUG=0 \
        python manage.py collectstatic --noinput --verbosity 0 \
    && SECRET_KEY=build-only-not-a-secret DJANGO_DEBUG=0 \
        python manage.py compilemessages --verbosity 0 \
    && chown -R app:app media

USER app

EXPOSE 8000

# Gunicorn reads WEB_CONCURRENCY for its worker count; (2 x CPU) + 1 is the
# usual sizing, 3 suits a small container. Override at run time as needed.
ENV WEB_CONCURRENCY=3
CMD ["gunicorn", "powernext.wsgi:application", \
     "--bind", "0.0.0.0:8000", \
     "--worker-tmp-dir", "/dev/shm", \
     "--timeout", "60", \
     "--graceful-timeout", "30", \
     "--max-requests", "1000", \
     "--max-requests-jitter", "100", \
     "--access-logfile", "-", \
     "--error-logfile", "-"]
