"""The Kustomize base (deploy/k8s/base/) and the Telegram component, generated from deploy/processes.yml.

Sizes are measured (README, Deploy: one Rasa server, the action server and the web app on this repository's
model, 240 chat messages, 10 conversations at once; the worker idle, the retention job and the migrations once):
requests are what a process uses when busy, limits leave headroom for start-up and bursts. Replace them with
`make bench` figures from your own hardware.
"""

from __future__ import annotations

import shlex
from typing import Any, Dict, List, Optional

from scripts.deploy import CONFIG_NAME, IMAGES, PART_OF, SECRET_NAME, UID
from scripts.deploy.settings import SECRETS_OF, settings
from scripts.processes import LAUNCHER, Definition, Process

Resource = Dict[str, Any]

# Measured RSS / CPU per message here: rasa 660 MiB, 26 ms; actions 143 MiB, 3 ms; web 110 MiB, 7 ms; worker 65 MiB
# idle; retention 83 MiB and migrations 89 MiB at their peak. The bridge was not measured (it needs a bot token):
# sized like the worker plus python-telegram-bot, an estimate.
RESOURCES: Dict[str, Dict[str, Dict[str, str]]] = {
    "rasa": {"requests": {"cpu": "500m", "memory": "768Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
    "actions": {"requests": {"cpu": "100m", "memory": "192Mi"}, "limits": {"cpu": "500m", "memory": "384Mi"}},
    "web": {"requests": {"cpu": "250m", "memory": "160Mi"}, "limits": {"cpu": "1", "memory": "384Mi"}},
    "worker": {"requests": {"cpu": "20m", "memory": "96Mi"}, "limits": {"cpu": "250m", "memory": "192Mi"}},
    "retention": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
    "migrate": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
    "telegram": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
    "funnel": {"requests": {"cpu": "20m", "memory": "96Mi"}, "limits": {"cpu": "250m", "memory": "192Mi"}},
}
REPLICAS = {"rasa": 2, "actions": 2, "web": 2, "worker": 1, "telegram": 1, "funnel": 1}
AUTOSCALED = {"rasa": (2, 8), "web": (2, 6)}  # HorizontalPodAutoscaler min, max at 70 % of the CPU request
START_SECONDS = {"rasa": 240, "actions": 120, "web": 60}  # as scripts/run_all.sh waits: model load, data load
# Where a server listens inside its pod: the pod's own address for the internal ones (nothing on loopback or
# elsewhere, as on a host), every interface for the web app (the ingress controller and port-forward reach it).
POD_IP_HOST = {"rasa": "RASA_HOST", "actions": "ACTIONS_HOST"}
INGRESS_NAMESPACE = "ingress-nginx"  # the ingress controller's namespace (an overlay changes it)
MONITORING_NAMESPACE = "monitoring"  # Prometheus's namespace


def name_of(process: str) -> str:
    return f"{PART_OF}-{process}"


def selector(process: str) -> Dict[str, str]:
    return {"app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/component": process}


def labels(process: str) -> Dict[str, str]:
    return {"app.kubernetes.io/name": name_of(process), **selector(process)}


def metadata(process: str, name: Optional[str] = None, **extra: Any) -> Dict[str, Any]:
    return {"name": name or name_of(process), "labels": labels(process), **extra}


def config_map(definition: Definition) -> Resource:
    """Settings every container reads (envFrom): .env.example's, and where each service is."""
    web, rasa, actions = definition["web"], definition["rasa"], definition["actions"]
    placed = {
        "APP_ENV": "production",
        "RASA_PORT": str(rasa.container_port), "ACTIONS_PORT": str(actions.container_port),
        "APP_PORT": str(web.container_port), "APP_HOST": "0.0.0.0",
        # One Service in front of the replicas: the HPA changes their number (README: Deploy, scaling).
        "RASA_URLS": f"http://{name_of('rasa')}:{rasa.container_port}",
        "RASA_URL": f"http://{name_of('rasa')}:{rasa.container_port}",
        "ACTION_ENDPOINT_URL": f"http://{name_of('actions')}:{actions.container_port}/webhook",
        "INTAKE_URL": f"http://{name_of('web')}:{web.container_port}",
        "TELEGRAM_WEBHOOK_LISTEN": "0.0.0.0",
        # uvicorn takes the client address from X-Forwarded-For (per-address rate limits): only the ingress
        # controller can reach the web app (NetworkPolicy gzcp-web), so its header is the one trusted.
        "FORWARDED_ALLOW_IPS": "*",
    }
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": CONFIG_NAME, "labels": CONFIG_LABELS},
            "data": {**placed, **settings()}}


def env(process: Process) -> List[Dict[str, Any]]:
    out: List[Dict[str, Any]] = []
    if process.name in POD_IP_HOST:
        out.append({"name": POD_IP_HOST[process.name], "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}})
    for name, optional in SECRETS_OF[process.name]:
        ref: Dict[str, Any] = {"name": SECRET_NAME, "key": name}
        if optional:
            ref["optional"] = True
        out.append({"name": name, "valueFrom": {"secretKeyRef": ref}})
    return out


def container(process: Process) -> Dict[str, Any]:
    spec: Dict[str, Any] = {
        "name": process.name,
        "image": IMAGES[process.image],
        "command": LAUNCHER,  # as the image's ENTRYPOINT: the command line comes from deploy/processes.yml
        "args": [process.name],
        "envFrom": [{"configMapRef": {"name": CONFIG_NAME}}],
        "env": env(process),
        "resources": RESOURCES[process.name],
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if process.kind == "server":
        spec["ports"] = [{"name": "http", "containerPort": process.container_port}]
        start = START_SECONDS.get(process.name, 60)
        live, ready = process.health["live"], process.health["ready"]
        spec["startupProbe"] = probe(live, period=5, timeout=3, failures=max(1, start // 5))
        spec["livenessProbe"] = probe(live, period=10, timeout=5, failures=3)
        spec["readinessProbe"] = probe(ready, period=5, timeout=5, failures=2)
    return spec


def probe(path: str, period: int, timeout: int, failures: int) -> Dict[str, Any]:
    return {"httpGet": {"path": path, "port": "http"}, "periodSeconds": period, "timeoutSeconds": timeout,
            "failureThreshold": failures}


def pod_spec(process: Process, restart: Optional[str] = None) -> Dict[str, Any]:
    spec: Dict[str, Any] = {
        "serviceAccountName": PART_OF,
        "automountServiceAccountToken": False,  # no process talks to the Kubernetes API
        "enableServiceLinks": False,  # no *_PORT variables injected next to RASA_PORT and friends
        "securityContext": {"runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID, "fsGroup": UID,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "terminationGracePeriodSeconds": 30,
        "containers": [container(process)],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}],  # the model unpacks here; jieba's cache
    }
    if restart:
        spec["restartPolicy"] = restart
    if REPLICAS.get(process.name, 1) > 1:
        spec["topologySpreadConstraints"] = [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                              "whenUnsatisfiable": "ScheduleAnyway",
                                              "labelSelector": {"matchLabels": selector(process.name)}}]
    return spec


def annotations(process: Process) -> Dict[str, str]:
    return {"gzcp/command": shlex.join(process.command), "gzcp/defined-in": "deploy/processes.yml"}


def deployment(process: Process) -> Resource:
    template_meta: Dict[str, Any] = {"labels": labels(process.name)}
    if process.metrics:
        template_meta["annotations"] = {  # for Prometheus's annotation discovery; it must send the Bearer token
            "prometheus.io/scrape": "true", "prometheus.io/port": str(process.container_port),
            "prometheus.io/path": process.metrics}
    single = process.name == "telegram"  # polling: two bridges would take each other's updates
    strategy = {"type": "Recreate"} if single else {"type": "RollingUpdate",
                                                    "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    spec: Dict[str, Any] = {"replicas": REPLICAS[process.name], "revisionHistoryLimit": 5,
                            "selector": {"matchLabels": selector(process.name)}, "strategy": strategy,
                            "template": {"metadata": template_meta, "spec": pod_spec(process)}}
    if process.name in AUTOSCALED:
        del spec["replicas"]  # the autoscaler owns it: a replica count here would be reset on every apply
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": metadata(process.name, annotations=annotations(process)), "spec": spec}


def service(process: Process) -> Resource:
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata(process.name),
            "spec": {"type": "ClusterIP", "selector": selector(process.name),
                     "ports": [{"name": "http", "port": process.container_port, "targetPort": "http"}]}}


def autoscaler(process: Process) -> Resource:
    low, high = AUTOSCALED[process.name]
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": metadata(process.name),
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name_of(process.name)},
                     "minReplicas": low, "maxReplicas": high,
                     "metrics": [{"type": "Resource", "resource": {
                         "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}],
                     # a Rasa replica takes about a minute to load: scale up at once, down slowly
                     "behavior": {"scaleUp": {"stabilizationWindowSeconds": 0},
                                  "scaleDown": {"stabilizationWindowSeconds": 300}}}}


def disruption_budget(process: Process) -> Resource:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": metadata(process.name),
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(process.name)}}}


def migration_job(process: Process) -> Resource:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata(process.name, annotations=annotations(process)),
            "spec": {"backoffLimit": 3, "activeDeadlineSeconds": 900, "ttlSecondsAfterFinished": 3600,
                     "template": {"metadata": {"labels": labels(process.name)},
                                  "spec": pod_spec(process, restart="Never")}}}


def cron_job(process: Process) -> Resource:
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": metadata(process.name, annotations=annotations(process)),
            "spec": {"schedule": process.schedule, "timeZone": "Asia/Shanghai", "concurrencyPolicy": "Forbid",
                     "startingDeadlineSeconds": 3600, "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 3,
                     "jobTemplate": {"spec": {"backoffLimit": 2, "activeDeadlineSeconds": 3600, "template": {
                         "metadata": {"labels": labels(process.name)}, "spec": pod_spec(process, restart="Never")}}}}}


def _from(*components: str) -> Dict[str, Any]:
    return {"podSelector": {"matchExpressions": [
        {"key": "app.kubernetes.io/component", "operator": "In", "values": list(components)}]}}


def _namespace(name: str) -> Dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def network_policies(definition: Definition) -> List[Resource]:
    """Ingress only (egress goes to managed Redis and PostgreSQL whose addresses are the cluster's own business)."""

    def policy(name: str, pods: Dict[str, Any], rules: List[Dict[str, Any]]) -> Resource:
        return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": PART_OF}},
                "spec": {"podSelector": pods, "policyTypes": ["Ingress"], "ingress": rules}}

    def port(process: str) -> List[Dict[str, Any]]:
        return [{"protocol": "TCP", "port": definition[process].container_port}]

    return [
        policy(f"{PART_OF}-default-deny", {}, []),  # nothing reaches a pod of this namespace unless allowed below
        # The web app: from the ingress controller; the delivery worker and the action server post leads to it;
        # Prometheus scrapes /metrics.
        policy(name_of("web"), {"matchLabels": selector("web")},
               [{"from": [_namespace(INGRESS_NAMESPACE)], "ports": port("web")},
                {"from": [_from("worker", "actions")], "ports": port("web")},
                {"from": [_namespace(MONITORING_NAMESPACE)], "ports": port("web")}]),
        # Rasa: only the web app's chat gateway and the Telegram bridge.
        policy(name_of("rasa"), {"matchLabels": selector("rasa")}, [{"from": [_from("web", "telegram")], "ports": port("rasa")}]),
        # The action server: only Rasa (which also sends ACTION_SERVER_SECRET).
        policy(name_of("actions"), {"matchLabels": selector("actions")}, [{"from": [_from("rasa")], "ports": port("actions")}]),
    ]


CONFIG_LABELS = {"app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/component": "config"}  # applied before the Job


def service_account() -> Resource:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": PART_OF, "labels": CONFIG_LABELS},
            "automountServiceAccountToken": False}


def base(definition: Definition) -> Dict[str, List[Resource]]:
    """File name (under deploy/k8s/base/) -> its resources."""
    files: Dict[str, List[Resource]] = {"config.yaml": [service_account(), config_map(definition)]}
    for process in definition.processes.values():
        if process.optional:
            continue  # a component of its own (deploy/k8s/components/)
        if process.kind == "server":
            docs = [deployment(process), service(process), disruption_budget(process)]
            if process.name in AUTOSCALED:
                docs.append(autoscaler(process))
        elif process.kind == "worker":
            docs = [deployment(process)]
        elif process.kind == "periodic":
            docs = [cron_job(process)]
        else:
            docs = [migration_job(process)]
        files[f"{process.name}.yaml"] = docs
    files["network-policies.yaml"] = network_policies(definition)
    return files


def components(definition: Definition) -> Dict[str, Dict[str, List[Resource]]]:
    """Optional processes (needing a variable such as TELEGRAM_BOT_TOKEN): component dir -> file -> resources."""
    return {process.name: {f"{process.name}.yaml": [deployment(process)]}
            for process in definition.processes.values() if process.optional}
