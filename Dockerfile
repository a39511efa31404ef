# syntax=docker/dockerfile:1
#
# Tekil CRM: one image for web (gunicorn + whitenoise), Celery worker and beat,
# and the one-shot migrate job (see docker-compose.yml and docker/README.md).
#
#   docker build -t tekil-crm .

ARG PYTHON_IMAGE=python:3.11-slim

# --- Stage 1: browser assets (npm ci with Debian's Node.js; not in the final image)
FROM ${PYTHON_IMAGE} AS assets
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error

# --- Stage 2: Python dependencies and the project, in a virtualenv ---------------
FROM ${PYTHON_IMAGE} AS pydeps
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /src
# First the dependencies alone (pyproject.toml without the packages installs
# just them), so this layer is rebuilt only when the pins change.
COPY pyproject.toml constraints.txt ./
RUN pip install -c constraints.txt .
# Then the project itself; runtime dependencies only, no dev extras.
COPY . .
RUN pip install --no-deps --force-reinstall -c constraints.txt .

# --- Stage 3: the runtime image ---------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=crm.settings \
    TEKIL_VAR_DIR=/app/var
RUN groupadd --system --gid 10001 tekil \
 && useradd --system --uid 10001 --gid tekil --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin tekil
WORKDIR /app

COPY --from=pydeps /opt/venv /opt/venv
# Only the directories that STATICFILES_DIRS in crm/settings.py serves.
COPY --from=assets /src/node_modules/bootstrap/dist /app/node_modules/bootstrap/dist
COPY --from=assets /src/node_modules/bootstrap-icons/font /app/node_modules/bootstrap-icons/font
COPY --from=assets /src/node_modules/htmx.org/dist /app/node_modules/htmx.org/dist
# The source tree (see .dockerignore); settings.BASE_DIR is /app, so templates,
# static/, locale/ and node_modules/ are found here. Owned by root: read-only
# for the app user.
COPY . /app

# Build-time only: a throwaway SECRET_KEY (nothing is signed) and no database or
# Redis (neither command connects). Static files land in /app/var/staticfiles;
# the file-system broker directory the settings create without REDIS_URL goes.
# Only /app/var itself becomes the app user's (media, celerybeat-schedule);
# the collected static files stay read-only.
RUN SECRET_KEY=build-time-only-not-a-secret python manage.py compile_translations \
 && SECRET_KEY=build-time-only-not-a-secret python manage.py collectstatic --noinput \
 && rm -rf /app/var/broker /app/var/cache \
 && python -m compileall -q /app \
 && chown tekil:tekil /app/var

USER 10001:10001
EXPOSE 8000
CMD ["gunicorn", "crm.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "4", "--access-logfile", "-"]
