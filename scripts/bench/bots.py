"""The bot configurations the bench measures, one function each.

A configuration is a `BotSetup`: the processes to start together (Rasa servers and whatever they need),
the transport messages go through, and realistic conversations. The bench measures every setup the same
way, one after the other, never two at once (main.py: `measure_bot`). Adding a configuration is one
function returning a `BotSetup`, listed in `BUILDERS`; the report, chart and JSON pick it up by its key.

- `stock`: `rasa init`'s bot, Rasa's defaults (in-memory tracker store, no action server), REST webhook.
- `ours`: this assistant as one Rasa server with the action server and Redis, over the REST webhook.
- `ours_gateway`: what users reach with `make run`: two Rasa replicas behind the web app's chat gateway
  (`POST /api/chat`, RASA_URLS), the gateway's rate limits lifted (every bench client is 127.0.0.1).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from bot.shared.redis_conn import env_for_db
from scripts.bench.load import Conversation, Transport, chat_gateway, rest_webhook

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "bench-token"


@dataclass(frozen=True)
class Ports:
    stock: int = 25005
    ours: int = 25006
    actions: int = 25055
    intake: int = 28000
    bare: int = 28001
    replica_b: int = 25007  # the gateway's second Rasa replica (the first is `ours`)
    gateway: int = 28002


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
    rasa_urls: Tuple[str, ...]  # the Rasa servers (start-up: when all of them answer HTTP)
    transport: Transport
    parse_url: Optional[str]  # a Rasa server's HTTP API for /model/parse (None: not measured)
    conversations: Sequence[Conversation]
    probe: str  # the message sent until the first answer comes back
    parse_texts: Sequence[str]
    action_url: Optional[str] = None  # the action server's webhook, for the latency breakdown
    # The same Rasa reached without the setup's front (the gateway): messages sent both ways, interleaved, give
    # what the front adds (scripts/bench/main.py `_front_cost`). None: the setup has no front.
    direct: Optional[Transport] = None


# --- conversations ---------------------------------------------------------------------------------
# Six messages each, sent in order; every conversation gets its own sender id.

# What `rasa init`'s nlu.yml covers: greet, moods, affirm/deny, bot_challenge, goodbye.
STOCK_CONVERSATIONS: List[Conversation] = [
    ["hello", "I am feeling great", "are you a bot?", "perfect", "great thanks", "bye"],
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
            **env_for_db(env, ctx.redis_db),  # REDIS_DB, and REDIS_URL pointed at the same database when set
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
        rasa_urls=(base_url,),
        transport=rest_webhook(base_url),
        parse_url=base_url,
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
            "actions.server",  # as make run starts it: loopback, the shared secret from the environment
            "--actions",
            "actions",
            "--port",
            str(ctx.ports.actions),
            "--logging-config-file",
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
        rasa_urls=(base_url,),
        transport=rest_webhook(base_url),
        parse_url=base_url,
        conversations=OURS_CONVERSATIONS,
        probe="hello",
        parse_texts=[text for conversation in OURS_CONVERSATIONS for text in conversation],
        action_url=f"http://127.0.0.1:{ctx.ports.actions}/webhook",
    )


def ours_gateway_setup(ctx: Context) -> BotSetup:
    ports = (ctx.ports.ours, ctx.ports.replica_b)
    urls = tuple(f"http://127.0.0.1:{port}" for port in ports)
    names = tuple(f"rasa {port}" for port in ports)
    env = {
        **ours_env(ctx),
        "RASA_URLS": ",".join(urls),
        "CHAT_RATE_PER_MINUTE": "1000000",
        "CHAT_RATE_PER_MINUTE_IP": "1000000",
        "DATABASE_URL": f"sqlite:///{ctx.work / 'gateway.db'}",
    }
    gateway = Service(
        "web app",
        [str(ctx.app_python), "-m", "uvicorn", "bot.main:app", "--host", "127.0.0.1", "--port", str(ctx.ports.gateway)],
        ctx.root,
        env,
    )
    return BotSetup(
        key="ours_gateway",
        title="this assistant via the gateway, 2 replicas",
        services=[actions_service(ctx), *(ours_rasa_service(ctx, p, n) for p, n in zip(ports, names, strict=True)), gateway],
        rasa_services=names,
        rasa_urls=urls,
        transport=chat_gateway(f"http://127.0.0.1:{ctx.ports.gateway}"),
        parse_url=None,  # the same model as `ours`
        conversations=OURS_CONVERSATIONS,
        probe="hello",
        parse_texts=[],
        direct=rest_webhook(urls[0]),
    )


BUILDERS: Dict[str, Callable[[Context], BotSetup]] = {
    "stock": stock_setup,
    "ours": ours_setup,
    "ours_gateway": ours_gateway_setup,
}


def setups(ctx: Context, only: Optional[Sequence[str]] = None) -> List[BotSetup]:
    """The configurations to measure, in the order measured (stock first, as the reference)."""
    return [build(ctx) for key, build in BUILDERS.items() if not only or key in only]
