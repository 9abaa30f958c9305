# syntax=docker/dockerfile:1
# Web app on Python 3.11 (chat gateway, intake, staff console, /metrics) and, from the same image, the delivery
# worker, the retention job, the Telegram bridge and the migrations: `docker run IMAGE worker` (the names are
# deploy/processes.yml's). Runtime lock only: no test, lint, audit or benchmark tool is installed.
# Build from the repository root:
#   docker build -f deploy/docker/app.Dockerfile -t gzcp-app:$(git rev-parse --short HEAD) .

FROM python:3.11.14-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements/app.runtime.lock.txt /tmp/requirements.txt
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --require-hashes --no-deps -r /tmp/requirements.txt

FROM python:3.11.14-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    APP_ENV=production \
    APP_HOST=0.0.0.0 \
    APP_PORT=8000
RUN groupadd --system --gid 10001 gzcp \
    && useradd --system --uid 10001 --gid gzcp --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin gzcp
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY bot bot
COPY deploy/processes.yml deploy/processes.yml
COPY scripts/processes.py scripts/supervise.py scripts/healthcheck.py scripts/
RUN python -m compileall -q bot scripts
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["python", "-m", "scripts.processes", "exec"]
CMD ["web"]
