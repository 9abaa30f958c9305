# syntax=docker/dockerfile:1
# Action server: rasa-sdk on Python 3.10 with actions/ and bot/shared (answers, screening, outbox). Its own
# lock (requirements/actions.runtime.lock.txt) leaves Rasa and TensorFlow out: the actions need neither.
# Build from the repository root:
#   docker build -f deploy/docker/actions.Dockerfile -t gzcp-actions:$(git rev-parse --short HEAD) .
# What it runs: deploy/processes.yml, process `actions`.

FROM python:3.10.19-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements/actions.runtime.lock.txt /tmp/requirements.txt
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --require-hashes --no-deps -r /tmp/requirements.txt

FROM python:3.10.19-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    APP_ENV=production \
    ACTIONS_HOST=0.0.0.0 \
    ACTIONS_PORT=5055
RUN groupadd --system --gid 10001 gzcp \
    && useradd --system --uid 10001 --gid gzcp --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin gzcp
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY bot/__init__.py bot/__init__.py
COPY bot/shared bot/shared
COPY actions actions
COPY rasa_logging.yml ./
COPY deploy/processes.yml deploy/processes.yml
COPY scripts/processes.py scripts/healthcheck.py scripts/
RUN python -m compileall -q bot actions scripts
USER 10001:10001
EXPOSE 5055
ENTRYPOINT ["python", "-m", "scripts.processes", "exec"]
CMD ["actions"]
