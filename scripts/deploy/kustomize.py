"""Build a Kustomize directory the way `kubectl kustomize` does, for the features deploy/k8s/ uses.

No kustomize binary is installed here, so the overlays are built by this reader and the result validated. It
knows `resources` (files and directories), `components`, `patches` (strategic-merge patch files, matched to a
resource by kind and name; lists of named items, such as containers and env, merged by name, other lists
replaced), `images`, `replicas` and `namespace`. Anything else in a kustomization.yaml is refused rather than
ignored, so what is validated here is what kustomize would apply.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict, List

import yaml

Resource = Dict[str, Any]
KNOWN = {"apiVersion", "kind", "resources", "components", "patches", "images", "replicas", "namespace"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PriorityClass"}


class KustomizeError(ValueError):
    """The directory cannot be built; the message names the file."""


def load_documents(path: Path) -> List[Resource]:
    try:
        docs = [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]
    except (OSError, yaml.YAMLError) as error:
        raise KustomizeError(f"{path}: {error}") from None
    for doc in docs:
        if not isinstance(doc, dict) or "kind" not in doc or "metadata" not in doc:
            raise KustomizeError(f"{path}: every document needs kind and metadata")
    return docs


def _kustomization(directory: Path) -> Dict[str, Any]:
    path = directory / "kustomization.yaml"
    if not path.is_file():
        raise KustomizeError(f"{directory}: no kustomization.yaml")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = set(data) - KNOWN
    if unknown:
        raise KustomizeError(f"{path}: this reader does not apply {', '.join(sorted(unknown))}")
    return data


def build(directory: Path) -> List[Resource]:
    data = _kustomization(directory)
    resources: List[Resource] = []
    for entry in data.get("resources", []):
        target = (directory / entry).resolve()
        resources += build(target) if target.is_dir() else load_documents(target)
    for entry in data.get("components", []):
        component = (directory / entry).resolve()
        if _kustomization(component).get("kind") != "Component":
            raise KustomizeError(f"{component}: a component's kustomization.yaml has kind: Component")
        resources = _apply(component, _kustomization(component), resources + _own_resources(component))
    _unique(resources, directory)
    return _apply(directory, data, resources)


def _own_resources(component: Path) -> List[Resource]:
    out: List[Resource] = []
    for entry in _kustomization(component).get("resources", []):
        out += load_documents((component / entry).resolve())
    return out


def _apply(directory: Path, data: Dict[str, Any], resources: List[Resource]) -> List[Resource]:
    resources = copy.deepcopy(resources)
    for patch in data.get("patches", []):
        if set(patch) != {"path"}:
            raise KustomizeError(f"{directory}: patches take a `path` to a strategic-merge patch file only")
        for doc in load_documents(directory / patch["path"]):
            target = _find(resources, doc["kind"], doc["metadata"]["name"])
            if target is None:
                raise KustomizeError(f"{directory / patch['path']}: no {doc['kind']} {doc['metadata']['name']} to patch")
            resources[resources.index(target)] = merge(target, doc)
    for image in data.get("images", []):
        _set_image(resources, image)
    for replicas in data.get("replicas", []):
        target = _find(resources, "Deployment", replicas["name"])
        if target is None:
            raise KustomizeError(f"{directory}: replicas for unknown Deployment {replicas['name']}")
        target["spec"]["replicas"] = replicas["count"]
    if "namespace" in data:
        for doc in resources:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = data["namespace"]
    return resources


def _find(resources: List[Resource], kind: str, name: str) -> Any:
    return next((r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name), None)


def _unique(resources: List[Resource], directory: Path) -> None:
    seen = set()
    for doc in resources:
        key = (doc["kind"], doc["metadata"]["name"])
        if key in seen:
            raise KustomizeError(f"{directory}: {key[0]} {key[1]} is defined twice")
        seen.add(key)


def merge(base: Any, patch: Any) -> Any:
    """Strategic merge: mappings recursively (a null value deletes the key), lists of mappings that all have a
    `name` merged by name, any other list replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(patch, list) and _named(base) and _named(patch):
        out_list = [dict(item) for item in base]
        for item in patch:
            index = next((i for i, have in enumerate(out_list) if have["name"] == item["name"]), None)
            if index is None:
                out_list.append(copy.deepcopy(item))
            else:
                out_list[index] = merge(out_list[index], item)
        return out_list
    return copy.deepcopy(patch)


def _named(items: List[Any]) -> bool:
    return bool(items) and all(isinstance(item, dict) and "name" in item for item in items)


def _pod_specs(doc: Resource) -> List[Dict[str, Any]]:
    spec = doc.get("spec", {})
    if doc["kind"] == "CronJob":
        return [spec["jobTemplate"]["spec"]["template"]["spec"]]
    if "template" in spec and isinstance(spec["template"], dict) and "spec" in spec["template"]:
        return [spec["template"]["spec"]]
    return []


def containers(doc: Resource) -> List[Dict[str, Any]]:
    return [c for pod in _pod_specs(doc) for c in pod.get("initContainers", []) + pod.get("containers", [])]


def _set_image(resources: List[Resource], image: Dict[str, Any]) -> None:
    for doc in resources:
        for container in containers(doc):
            name = container["image"].split("@")[0].rsplit(":", 1)[0] if ":" in container["image"].split("/")[-1] \
                else container["image"].split("@")[0]
            if name != image["name"]:
                continue
            new = image.get("newName", name)
            if "digest" in image:
                container["image"] = f"{new}@{image['digest']}"
            elif "newTag" in image:
                container["image"] = f"{new}:{image['newTag']}"
            else:
                container["image"] = new
