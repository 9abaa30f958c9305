"""The bot configurations the bench measures, one function each.

A configuration is a `BotSetup`: the processes to start together (the Rasa server, and whatever else it
needs), the transport messages go through, and realistic conversations. The bench measures each setup the
same way, one after the other (see main.py: `measure_bot`).

Adding a configuration is one function returning a `BotSetup`, added to `setups()`. The planned
"ours via gateway, 2 replicas" (for when bot/chat/rasa.py reads RASA_URLS) would be:

    def ours_via_gateway(ctx: Context) -> BotSetup:
        replicas = [ours_rasa_service(ctx, port) for port in (ctx.ports.replica_a, ctx.ports.replica_b)]
        gateway = Service("web app", [str(ctx.app_python), "-m", "uvicorn", "bot.main:app", "--port", ...],
                          env={**ours_env(ctx), "RASA_URLS": "http://127.0.0.1:A,http://127.0.0.1:B",
                               "CHAT_RATE_PER_MINUTE": "100000", "CHAT_RATE_PER_MINUTE_IP": "100000"})
        return BotSetup(key="ours_gateway", services=[actions_service(ctx), *replicas, gateway],
                        rasa_services=("rasa A", "rasa B"), transport=chat_gateway(gateway_url), ...)

with `chat_gateway(url)` a `Transport` posting {"session_id", "message"} to /api/chat and reading
`messages` from the reply. Its `parse_url` would be one replica's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from scripts.bench.load import Conversation, Transport, rest_webhook

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "bench-token"


@dataclass(frozen=True)
class Ports:
    stock: int = 25005
    ours: int = 25006
    actions: int = 25055
    intake: int = 28000
    bare: int = 28001


@dataclass(frozen=True)
class Context:
    """Where things are: the two virtualenvs, the stock project, the bench's scratch directory."""

    root: Path
    stock_dir: Path
    work: Path  # temporary: training output and caches, the intake's database
    logs: Path  # every process's output
    ports: Ports = field(default_factory=Ports)
    redis_db: int = 12

    @property
    def rasa(self) -> Path:
        return self.root / ".venv-rasa/bin/rasa"

    @property
    def rasa_python(self) -> Path:
        return self.root / ".venv-rasa/bin/python"

    @property
    def app_python(self) -> Path:
        return self.root / ".venv-app/bin/python"

    @property
    def ours_model(self) -> Path:
        return self.root / "models/current.tar.gz"


@dataclass(frozen=True)
class Service:
    name: str
    argv: List[str]
    cwd: Path
    env: Dict[str, str]


@dataclass(frozen=True)
class BotSetup:
    key: str  # "stock", "ours": the keys of results/bench.json
    title: str
    services: List[Service]  # started together, in this order
    rasa_services: Tuple[str, ...]  # whose resident memory counts as "Rasa"
    transport: Transport
    base_url: str  # a Rasa server's HTTP API (for /model/parse)
    conversations: Sequence[Conversation]
    probe: str  # the message sent until the first answer comes back
    parse_texts: Sequence[str]


# --- conversations ---------------------------------------------------------------------------------
# Six messages each, sent in order; every conversation gets its own sender id.

# What `rasa init`'s nlu.yml covers: greet, moods, affirm/deny, bot_challenge, goodbye.
STOCK_CONVERSATIONS: List[Conversation] = [
    ["hello", "I am feeling great", "are you a bot?", "perfect", "thanks, that's all", "bye"],
    ["hi there", "I'm sad", "yes", "are you a human?", "good morning", "goodbye"],
    ["hey", "very unhappy", "no", "am I talking to a bot?", "I am great", "see you later"],
    ["good evening", "extremely sad", "yes it did", "wonderful", "are you real?", "bye bye"],
]

# Program questions in English and Chinese (nlu/en, nlu/zh), the way people chat; no screening form.
OURS_CONVERSATIONS: List[Conversation] = [
    [
        "hello",
        "what is the city partner program?",
        "what are the benefits?",
        "城市合伙人有哪些类别？",
        "那城市梦想家呢？",
        "thanks",
    ],
    ["你好", "城市合伙人计划是什么", "成为合伙人有什么好处", "who can join?", "what about city ambassadors?", "bye"],
    ["hi", "what partner categories are there?", "can foreign companies participate", "加入有什么权益", "谢谢", "goodbye"],
    ["您好", "有哪几类合伙人", "what are the benefits?", "who is eligible", "what is a super partner?", "再见"],
]


# --- environments ----------------------------------------------------------------------------------


def _base_env() -> Dict[str, str]:
    env = dict(os.environ)
    for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):  # the sub-make of `make model` must not join our make
        env.pop(name, None)
    return env


def stock_env(ctx: Context) -> Dict[str, str]:
    """The stock bot gets nothing of ours: no PYTHONPATH, Rasa's own defaults."""
    env = _base_env()
    env.pop("PYTHONPATH", None)
    return env


def ours_env(ctx: Context) -> Dict[str, str]:
    """As `make run` (scripts/run_all.sh) runs it, on the bench's ports and Redis DB (like tests/integration)."""
    env = _base_env()
    env.update(
        {
            "PYTHONPATH": str(ctx.root),
            "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{ctx.ports.actions}/webhook",
            "REDIS_HOST": env.get("REDIS_HOST") or "127.0.0.1",
            "REDIS_PORT": env.get("REDIS_PORT") or "6379",
            "REDIS_DB": str(ctx.redis_db),
            "TRACKER_TTL_SECONDS": "3600",
            "RASA_AUTH_TOKEN": TOKEN,
            "INTAKE_URL": f"http://127.0.0.1:{ctx.ports.intake}",
            # No alert or Telegram message may leave the machine because of the bench.
            "TELEGRAM_BOT_TOKEN": "",
            "STAFF_TELEGRAM_CHAT_ID": "",
        }
    )
    return env


# --- services and setups ---------------------------------------------------------------------------


def latest_model(directory: Path) -> Optional[Path]:
    models = sorted(directory.glob("*.tar.gz"), key=lambda path: path.stat().st_mtime)
    return models[-1] if models else None


def stock_setup(ctx: Context) -> BotSetup:
    model = latest_model(ctx.stock_dir / "models")
    if model is None:
        raise FileNotFoundError(f"no model in {ctx.stock_dir / 'models'}: delete {ctx.stock_dir} to run `rasa init` again")
    port = ctx.ports.stock
    rasa = Service(
        "stock rasa",
        [str(ctx.rasa), "run", "--model", str(model), "--port", str(port), "--enable-api", "--auth-token", TOKEN],
        ctx.stock_dir,
        stock_env(ctx),
    )
    base_url = f"http://127.0.0.1:{port}"
    return BotSetup(
        key="stock",
        title="stock `rasa init` bot",
        services=[rasa],
        rasa_services=("stock rasa",),
        transport=rest_webhook(base_url),
        base_url=base_url,
        conversations=STOCK_CONVERSATIONS,
        probe="hello",
        parse_texts=[text for conversation in STOCK_CONVERSATIONS for text in conversation],
    )


def actions_service(ctx: Context) -> Service:
    return Service(
        "actions",
        [
            str(ctx.rasa_python),
            "-m",
            "rasa_sdk",
            "--actions",
            "actions",
            "--port",
            str(ctx.ports.actions),
            "--logging-config_file",
            "rasa_logging.yml",
        ],
        ctx.root,
        ours_env(ctx),
    )


def ours_rasa_service(ctx: Context, port: int, name: str = "rasa") -> Service:
    return Service(
        name,
        [
            str(ctx.rasa),
            "run",
            "--model",
            str(ctx.ours_model),
            "--port",
            str(port),
            "--enable-api",
            "--auth-token",
            TOKEN,
            "--endpoints",
            "endpoints.yml",
            "--credentials",
            "credentials.yml",
            "--logging-config-file",
            "rasa_logging.yml",
        ],
        ctx.root,
        ours_env(ctx),
    )


def ours_setup(ctx: Context) -> BotSetup:
    base_url = f"http://127.0.0.1:{ctx.ports.ours}"
    return BotSetup(
        key="ours",
        title="this assistant (REST webhook)",
        services=[actions_service(ctx), ours_rasa_service(ctx, ctx.ports.ours)],
        rasa_services=("rasa",),
        transport=rest_webhook(base_url),
        base_url=base_url,
        conversations=OURS_CONVERSATIONS,
        probe="hello",
        parse_texts=[text for conversation in OURS_CONVERSATIONS for text in conversation],
    )


def setups(ctx: Context, only: Optional[Sequence[str]] = None) -> List[BotSetup]:
    """Every configuration, in the order measured (stock first, as the reference)."""
    builders = {"stock": stock_setup, "ours": ours_setup}
    return [build(ctx) for key, build in builders.items() if not only or key in only]
