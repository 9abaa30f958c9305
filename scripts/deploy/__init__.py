"""Deployment files from the process definition, and their offline checks (issue 15).

    python -m scripts.deploy render            # write compose.yaml, deploy/k8s/base/, deploy/k8s/components/
    python -m scripts.deploy check             # everything `make deploy-check` checks (exit 1 on any problem)
    python -m scripts.deploy build OVERLAY     # print deploy/k8s/overlays/OVERLAY as `kubectl kustomize` would

What is generated comes from deploy/processes.yml (commands, ports, health paths, images), .env.example (the
settings every process reads) and bot/shared/secrets.py (the secrets, referenced, never written). The overlays
(deploy/k8s/overlays/) and the Dockerfiles are written by hand and checked. No container engine, kubectl or
kustomize is needed: scripts/deploy/kustomize.py builds the overlays, kubernetes-validate checks them against
the Kubernetes API schemas, check-jsonschema checks compose.yaml against the compose specification, hadolint
and scripts/deploy/dockerfiles.py lint the Dockerfiles.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PART_OF = "gzcp"  # app.kubernetes.io/part-of, and the prefix of every Kubernetes name
SECRET_NAME = "gzcp-secrets"  # created by the operator (README: Deploy); never committed
CONFIG_NAME = "gzcp-config"
IMAGES = {"rasa": "gzcp-rasa", "actions": "gzcp-actions", "app": "gzcp-app"}  # overlays set registry and tag
KUBERNETES_VERSIONS = ("1.33", "1.37")  # the oldest we claim and the newest kubernetes-validate knows
UID = 10001  # the images' non-root user (deploy/docker/*.Dockerfile)
