"""The process definition (deploy/processes.yml): read it, check it, and turn a process into a command line.

    python -m scripts.processes local NAME [VAR=VALUE ...]   # argv for this checkout, NUL-separated
    python -m scripts.processes every NAME                   # a periodic process's interval in seconds
    python -m scripts.processes exec NAME [ARG ...]          # run it here (the images' ENTRYPOINT)
    python -m scripts.processes show [NAME]                  # the command lines as defined

`local` is what scripts/run_all.sh and the integration tests use: the program comes from the process's own
environment (.venv-rasa or .venv-app); `exec` is what the containers run: the program from PATH. Both read
${VAR} from the environment (VAR=VALUE arguments win) and refuse with exit 78 (a configuration error, which
scripts/supervise.py does not restart) when a variable without a default is not set.

Python 3.10 and 3.11, standard library and PyYAML only: it runs in every image, before anything else.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFINITION = ROOT / "deploy" / "processes.yml"
EX_USAGE, EX_CONFIG = 64, 78  # sysexits.h
LAUNCHER = ["python", "-m", "scripts.processes", "exec"]  # the images' ENTRYPOINT; the process name follows
KINDS = ("server", "worker", "periodic", "once")
RUNTIMES = {"rasa": ".venv-rasa", "app": ".venv-app"}  # local environment of each runtime
PLACEHOLDER = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}")


class DefinitionError(ValueError):
    """deploy/processes.yml is not what the readers expect (the message names the process and the field)."""


class MissingVariable(LookupError):
    """A ${VAR} without a default whose variable is not set."""

    def __init__(self, process: str, names: Sequence[str]) -> None:
        super().__init__(f"{process}: {', '.join(names)} not set (needed by its command line in deploy/processes.yml)")
        self.names = list(names)


@dataclass(frozen=True)
class Process:
    name: str
    title: str
    image: str
    runtime: str
    kind: str
    command: List[str]
    port_variable: Optional[str] = None
    container_port: Optional[int] = None
    health: Dict[str, str] = field(default_factory=dict)
    metrics: Optional[str] = None
    every: Optional[str] = None
    schedule: Optional[str] = None
    optional: Optional[str] = None

    def required(self) -> List[str]:
        """Variables the command line needs that have no default."""
        return sorted({m.group(1) for arg in self.command for m in PLACEHOLDER.finditer(arg) if m.group(2) is None})

    def variables(self) -> List[str]:
        """Every variable the command line reads."""
        return sorted({m.group(1) for arg in self.command for m in PLACEHOLDER.finditer(arg)})

    def argv(self, env: Mapping[str, str]) -> List[str]:
        """The command line with every ${VAR} replaced from `env`."""
        missing = [name for name in self.required() if name not in env]
        if missing:
            raise MissingVariable(self.name, missing)
        return [substitute(arg, env) for arg in self.command]


@dataclass(frozen=True)
class Definition:
    images: Dict[str, Dict[str, str]]
    processes: Dict[str, Process]

    def __getitem__(self, name: str) -> Process:
        try:
            return self.processes[name]
        except KeyError:
            raise KeyError(f"no process {name!r} in deploy/processes.yml (there are: {', '.join(self.processes)})") from None


def substitute(text: str, env: Mapping[str, str]) -> str:
    """${VAR} -> env[VAR]; ${VAR:-default} -> env[VAR] unless unset or empty, else default (as a shell does)."""

    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = env.get(name)
        if default is not None:
            return value if value else default
        if value is None:
            raise MissingVariable("command", [name])
        return value

    return PLACEHOLDER.sub(one, text)


def load(path: Path = DEFINITION) -> Definition:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise DefinitionError(f"{path}: cannot read: {error}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("images"), dict) or not isinstance(raw.get("processes"), dict):
        raise DefinitionError(f"{path}: needs the mappings `images` and `processes`")
    images = {str(k): dict(v or {}) for k, v in raw["images"].items()}
    processes = {str(name): _process(str(name), spec, images) for name, spec in raw["processes"].items()}
    return Definition(images, processes)


def _process(name: str, spec: object, images: Mapping[str, object]) -> Process:
    def bad(what: str) -> DefinitionError:
        return DefinitionError(f"deploy/processes.yml: process {name!r}: {what}")

    if not isinstance(spec, dict):
        raise bad("must be a mapping")
    unknown = set(spec) - {"title", "image", "runtime", "kind", "command", "port", "health", "metrics", "every",
                           "schedule", "optional"}
    if unknown:
        raise bad(f"unknown field(s) {', '.join(sorted(unknown))}")
    command = spec.get("command")
    if not isinstance(command, list) or not command or not all(isinstance(a, (str, int)) for a in command):
        raise bad("`command` must be a non-empty list of strings")
    command = [str(a) for a in command]
    for arg in command:
        if "$" in PLACEHOLDER.sub("", arg):
            raise bad(f"{arg!r}: write variables as ${{VAR}} or ${{VAR:-default}}")
    if PLACEHOLDER.search(command[0]):
        raise bad("the program itself (first word) cannot be a variable")
    if spec.get("image") not in images:
        raise bad(f"`image` must be one of {', '.join(images)}")
    if spec.get("runtime") not in RUNTIMES:
        raise bad(f"`runtime` must be one of {', '.join(RUNTIMES)}")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise bad(f"`kind` must be one of {', '.join(KINDS)}")
    port, health = spec.get("port") or {}, spec.get("health") or {}
    if kind == "server":
        if not isinstance(port, dict) or not port.get("variable") or not isinstance(port.get("container"), int):
            raise bad("a server needs `port: {variable: NAME, container: NUMBER}`")
        if f"${{{port['variable']}}}" not in " ".join(command):
            raise bad(f"its command line must listen on ${{{port['variable']}}}")
        if set(health) != {"live", "ready"} or not all(str(p).startswith("/") for p in health.values()):
            raise bad("a server needs `health: {live: /path, ready: /path}`")
    elif port or health:
        raise bad("only a server has a port and health paths")
    if (kind == "periodic") != bool(spec.get("every")) or (kind == "periodic") != bool(spec.get("schedule")):
        raise bad("a periodic process (and only one) has `every` (seconds) and `schedule` (cron, for Kubernetes)")
    return Process(
        name=name, title=str(spec.get("title") or name), image=str(spec["image"]), runtime=str(spec["runtime"]),
        kind=str(kind), command=command,
        port_variable=port.get("variable") if port else None, container_port=port.get("container") if port else None,
        health={str(k): str(v) for k, v in health.items()}, metrics=spec.get("metrics"),
        every=str(spec["every"]) if spec.get("every") else None, schedule=spec.get("schedule"),
        optional=spec.get("optional"),
    )


def local_argv(name: str, env: Optional[Mapping[str, str]] = None, root: Optional[Path] = None,
               definition: Optional[Definition] = None) -> List[str]:
    """The command line for this checkout: ${VAR} from `env` (default: os.environ), the program from the
    process's environment under `root` (default: a path relative to the working directory)."""
    process = (definition or load())[name]
    argv = process.argv(os.environ if env is None else env)
    program = Path(RUNTIMES[process.runtime]) / "bin" / argv[0]
    return [str(root / program if root is not None else program), *argv[1:]]


def every_seconds(name: str, env: Optional[Mapping[str, str]] = None, definition: Optional[Definition] = None) -> float:
    process = (definition or load())[name]
    if process.every is None:
        raise DefinitionError(f"{name} is not a periodic process")
    text = substitute(process.every, os.environ if env is None else env)
    try:
        seconds = float(text)
    except ValueError:
        raise DefinitionError(f"{name}: every = {text!r} is not a number of seconds") from None
    if seconds <= 0:
        raise DefinitionError(f"{name}: every = {text!r} must be more than 0 seconds")
    return seconds


def _overrides(pairs: Sequence[str]) -> Dict[str, str]:
    env = dict(os.environ)
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
            raise DefinitionError(f"{pair!r}: expected VAR=VALUE")
        env[name] = value
    return env


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    usage = __doc__.split("\n\n")[1] if __doc__ else ""
    if not args or args[0] not in ("local", "every", "exec", "show") or (args[0] != "show" and len(args) < 2):
        print(f"usage:\n{usage}", file=sys.stderr)
        return EX_USAGE
    action, rest = args[0], args[1:]
    try:
        definition = load()
        if action == "show":
            for process in definition.processes.values():
                if not rest or process.name in rest:
                    print(f"{process.name}: {shlex.join(process.command)}")
            return 0
        name = rest[0]
        definition[name]  # noqa: B018 (an unknown name is a usage error, said before anything else)
        if action == "local":
            sys.stdout.write("".join(f"{arg}\0" for arg in local_argv(name, _overrides(rest[1:]), definition=definition)))
            return 0
        if action == "every":
            print(f"{every_seconds(name, _overrides(rest[1:]), definition):g}")
            return 0
        command = definition[name].argv(os.environ) + rest[1:]
    except KeyError as error:
        print(f"error: {error.args[0]}", file=sys.stderr)
        return EX_USAGE
    except (DefinitionError, MissingVariable) as error:
        print(f"error: {error}", file=sys.stderr)
        return EX_CONFIG
    sys.stdout.flush()
    try:
        os.execvp(command[0], command)  # the process takes this one's place (its pid, its signals)
    except OSError as error:
        print(f"error: cannot start {name}: {command[0]}: {error.strerror}", file=sys.stderr)
        return 127
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
