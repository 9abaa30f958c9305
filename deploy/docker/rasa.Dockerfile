# syntax=docker/dockerfile:1
# Rasa server: Rasa 3.6 on Python 3.10 with the project's NLU components (components/), its Rasa add-ons
# (rasa_addons/: Redis stores, guarded REST channel, health), bot/shared and the trained model.
#
# The model is built in: models/current.tar.gz as `make model` trained it and `make test` tested it (story
# tests, integration). An image tag is then one exact model + code pair: rolling out a model is rolling out a
# tag, rolling back is the previous tag, and a replica starts without reaching a model store (no credentials,
# no start-up dependency). Build from the repository root after `make model`:
#   docker build -f deploy/docker/rasa.Dockerfile -t gzcp-rasa:$(git rev-parse --short HEAD) .
# What it runs: deploy/processes.yml, process `rasa` (scripts/processes.py fills in ${VAR} at start).

FROM python:3.10.19-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements/rasa.runtime.lock.txt /tmp/requirements.txt
# Runtime packages only, each checked against the lock's hashes; pure-Python sdists (jieba, docopt, ...) build
# without a compiler.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --require-hashes --no-deps -r /tmp/requirements.txt

FROM python:3.10.19-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib \
    TF_CPP_MIN_LOG_LEVEL=2 \
    RASA_TELEMETRY_ENABLED=false \
    APP_ENV=production \
    RASA_HOST=0.0.0.0 \
    RASA_PORT=5005
RUN groupadd --system --gid 10001 gzcp \
    && useradd --system --uid 10001 --gid gzcp --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin gzcp
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY bot/__init__.py bot/__init__.py
COPY bot/shared bot/shared
COPY components components
COPY rasa_addons rasa_addons
COPY endpoints.yml credentials.yml rasa_logging.yml ./
COPY deploy/processes.yml deploy/processes.yml
COPY scripts/processes.py scripts/healthcheck.py scripts/
COPY models/current.tar.gz models/current.tar.gz
# Byte-compiled now: the code is owned by root and read-only to the process (and the root file system may be).
RUN python -m compileall -q bot components rasa_addons scripts
USER 10001:10001
EXPOSE 5005
ENTRYPOINT ["python", "-m", "scripts.processes", "exec"]
CMD ["rasa"]
