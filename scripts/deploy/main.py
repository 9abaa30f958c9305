"""`python -m scripts.deploy render | check | build OVERLAY` (see scripts/deploy/__init__.py)."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from scripts.deploy import ROOT, render
from scripts.deploy.kustomize import KustomizeError, build
from scripts.deploy.yamlio import dump_all


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.deploy", description="Deployment files: render and check.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("render", help="write compose.yaml and deploy/k8s/{base,components} from deploy/processes.yml")
    sub.add_parser("check", help="what make deploy-check runs: generated files current, manifests, compose, Dockerfiles")
    show = sub.add_parser("build", help="print an overlay as kubectl kustomize would")
    show.add_argument("overlay", help="dev or production (deploy/k8s/overlays/)")
    args = parser.parse_args(argv)
    if args.command == "render":
        changed = render.write()
        print("\n".join(f"wrote {path}" for path in changed) or "nothing to change")
        return 0
    if args.command == "build":
        try:
            print(dump_all(build(ROOT / "deploy" / "k8s" / "overlays" / args.overlay)), end="")
        except KustomizeError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        return 0
    from scripts.deploy.checks import run_all  # heavier imports: only when checking

    problems = run_all()
    for problem in problems:
        print(f"deploy-check: {problem}", file=sys.stderr)
    if not problems:
        print("deploy-check: generated files current; overlays valid; compose.yaml valid; Dockerfiles lint clean")
    return 1 if problems else 0
