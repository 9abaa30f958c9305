"""The bench run: train both bots, measure each bot alone, then the intake; write results/bench.{json,md,png}.

Exit status: 0 when the run completed (missed targets included), 1 when the harness itself broke
(a server did not start, a training failed), 130 on Ctrl-C. Every process it starts is stopped on the way out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import redis

from bot.shared.config import ConfigError
from bot.shared.redis_conn import client_from_url, redis_url, with_db
from scripts.bench import breakdown, chart, load, report
from scripts.bench.bots import BUILDERS, ROOT, TOKEN, BotSetup, Context, Ports, setups
from scripts.bench.intake import measure_intake
from scripts.bench.load import conversations, parse_calls, time_to_first_answer
from scripts.bench.procs import (
    HarnessError,
    Proc,
    Processes,
    install_signal_handlers,
    stop_all,
    tree_cpu_seconds,
    tree_rss_mb,
)
from scripts.bench.targets import evaluate
from scripts.bench.training import ensure_stock_project, train_ours, train_stock

T0 = time.monotonic()


def say(message: str) -> None:
    print(f"[bench {time.monotonic() - T0:6.1f}s] {message}", flush=True)


@dataclass(frozen=True)
class Settings:
    sequential: int = 150  # messages, one conversation at a time
    messages: int = 300  # messages per concurrent level
    levels: Sequence[int] = (10, 20, 50)
    parse_calls: int = 200
    breakdown_calls: int = 50
    intake_requests: int = 2000  # with the Python clients (no wrk)
    intake_seconds: float = 10.0  # with wrk, per server
    intake_concurrency: int = 20
    startup_timeout: float = 300.0
    train: bool = True
    intake: bool = True
    long_turns: int = 500  # one sender, one conversation of this many messages
    long_senders: int = 20  # then this many such senders at once...
    long_concurrent_turns: int = 150  # ...each with a conversation of this many messages
    front_pairs: int = 4  # blocks through the gateway and straight to Rasa, alternately (ABBA)
    front_block: int = 30  # messages a block, one conversation at a time


def measure_bot(ctx: Context, setup: BotSetup, settings: Settings, run_id: str) -> Dict[str, Any]:
    """Start the setup's processes, time the first answer, load it at each level; then memory, /model/parse
    and the latency breakdown. Everything started here is stopped before it returns (or raises)."""
    result: Dict[str, Any] = {"title": setup.title, "load": {}}
    length = len(setup.conversations[0])
    prefix = f"bench-{run_id}-{setup.key}"
    with Processes() as procs:
        spawned = time.monotonic()
        started = [
            procs.start(f"{setup.key}: {s.name}", s.argv, s.cwd, s.env, ctx.logs / f"{setup.key}-{s.name.replace(' ', '-')}.log")
            for s in setup.services
        ]
        pids = [p.pid for p in started]
        say(f"{setup.key}: started {', '.join(f'{p.name} (pid {p.pid})' for p in started)}; waiting for the first answer")
        startup = time_to_first_answer(setup.transport, setup.probe, setup.rasa_urls, started, spawned, settings.startup_timeout)
        result["startup"] = {"http_up_s": startup.http_up_s, "first_answer_s": startup.first_answer_s}
        say(f"{setup.key}: Rasa answered HTTP after {startup.http_up_s:.1f}s, first answer after {startup.first_answer_s:.1f}s")

        async def level(concurrency: int, messages: int, label: str) -> Dict[str, Any]:
            summary = await conversations(
                setup.transport,
                setup.conversations,
                concurrency=concurrency,
                messages=messages,
                sender_prefix=prefix,
                label=label,
            )
            return summary.to_dict()

        asyncio.run(level(2, 4 * length, "warmup"))  # first predictions, connection pools: not measured
        plan = [("sequential", 1, settings.sequential)] + [(f"c{c}", c, settings.messages) for c in settings.levels]
        for label, concurrency, messages in plan:
            server_cpu, client_cpu = tree_cpu_seconds(pids), time.process_time()
            summary = asyncio.run(level(concurrency, messages, label))
            sent = max(summary["requests"] + summary["errors"], 1)
            summary["server_cpu_ms_per_msg"] = round((tree_cpu_seconds(pids) - server_cpu) * 1000 / sent, 2)
            summary["client_cpu_ms_per_msg"] = round((time.process_time() - client_cpu) * 1000 / sent, 2)
            result["load"][label] = summary
            say(
                f"{setup.key}: {label:>10}: {summary['requests']} messages, p50 {summary['p50_ms']} ms, "
                f"p95 {summary['p95_ms']} ms, {summary['rate_per_s']} msg/s, {summary['errors']} errors, "
                f"{summary['empty']} empty; server CPU {summary['server_cpu_ms_per_msg']} ms/msg"
            )
        if setup.direct is not None:
            result["front"] = asyncio.run(_front_cost(setup, pids, prefix, settings.front_pairs, settings.front_block))
            say(f"{setup.key}: what the front adds, interleaved: {result['front']}")
        if settings.long_turns:
            result["long"] = _long(ctx, setup, settings, prefix)
        for proc in started:
            proc.check_alive()
        result["memory"] = _memory(setup, started)
        say(
            f"{setup.key}: resident memory after load: Rasa {result['memory']['rasa_rss_mb']} MiB, "
            f"others {result['memory']['by_process']}"
        )
        if setup.parse_url:
            parse = parse_calls(setup.parse_url, TOKEN, setup.parse_texts, settings.parse_calls)
            result["parse"] = parse.to_dict()
            say(f"{setup.key}: /model/parse x{parse.requests}: p50 {parse.p50_ms} ms, p95 {parse.p95_ms} ms")
            sender = f"{prefix}-sequential-0"  # a finished conversation of the sequential level
            result["breakdown"] = breakdown.measure(setup.parse_url, TOKEN, sender, setup.action_url, settings.breakdown_calls)
            if setup.action_url:
                result["breakdown"]["action_response_check"] = breakdown.action_response_check(ctx.rasa_python)
            result["breakdown"]["timeline"] = breakdown.timeline(setup.parse_url, TOKEN, setup.conversations, prefix)
            say(f"{setup.key}: breakdown (p50 ms): {result['breakdown']}")
    return result


async def _front_cost(setup: BotSetup, pids: Sequence[int], prefix: str, pairs: int, block: int) -> Dict[str, Any]:
    """Server CPU per message through the setup's front (the gateway) and straight to Rasa's REST webhook, in
    alternating blocks of sequential conversations (gateway, REST, REST, gateway, ...), so that the machine's
    drift over minutes, which a difference of two separate runs carries whole, falls on both alike."""
    assert setup.direct is not None
    cpu = {"front": 0.0, "direct": 0.0}
    sent = {"front": 0, "direct": 0}
    for pair in range(pairs):
        order = ("front", "direct") if pair % 2 == 0 else ("direct", "front")
        for way in order:
            transport = setup.transport if way == "front" else setup.direct
            started = tree_cpu_seconds(pids)
            summary = await conversations(transport, setup.conversations, concurrency=1, messages=block,
                                          sender_prefix=f"{prefix}-{way}-{pair}", label="front")
            cpu[way] += tree_cpu_seconds(pids) - started
            sent[way] += summary.requests + summary.errors
    front, direct = (round(cpu[way] * 1000 / max(sent[way], 1), 2) for way in ("front", "direct"))
    return {"pairs": pairs, "messages_each": sent["front"], "front_cpu_ms_per_msg": front,
            "direct_cpu_ms_per_msg": direct, "added_cpu_ms_per_msg": round(front - direct, 2)}


def _long(ctx: Context, setup: BotSetup, settings: Settings, prefix: str) -> Dict[str, Any]:
    """Long conversations: one sender with `long_turns` messages, then `long_senders` at once; the latency of
    each turn number, and (for our REST setup, whose sender ids are the Redis keys) Redis memory per one."""
    texts = [text for conversation in setup.conversations for text in conversation]
    out: Dict[str, Any] = {}
    for label, turns, senders in (("single", settings.long_turns, 1),
                                  ("concurrent", settings.long_concurrent_turns, settings.long_senders)):
        summary = asyncio.run(load.long_conversations(setup.transport, texts, turns=turns, senders=senders,
                                                      sender_prefix=f"{prefix}-{label}"))
        out[label] = summary
        say(f"{setup.key}: long {label}: {senders} x {turns} turns: first 20 p50 {summary['first20_p50_ms']} ms, "
            f"last 20 p50 {summary['last20_p50_ms']} ms (x{summary['growth']}), {summary['errors']} errors")
    if setup.key == "ours":
        try:
            client = client_from_url(with_db(redis_url(), ctx.redis_db), socket_timeout=5)
            sender = f"{prefix}-single-long-0"
            keys = [f"gzcp:tracker:{sender}", f"gzcp:session:{sender}", f"gzcp:turns:{sender}"]
            usage = sum(int(client.memory_usage(key) or 0) for key in keys)
            out["redis_bytes_per_conversation"] = usage
            out["redis_bytes_per_turn"] = round(usage / max(settings.long_turns, 1), 1)
            say(f"{setup.key}: Redis memory of a {settings.long_turns}-turn conversation: {usage / 1024:.0f} KiB")
        except (redis.RedisError, ConfigError) as error:
            say(f"{setup.key}: Redis memory not measured ({error})")
    return out


def _memory(setup: BotSetup, started: Sequence[Proc]) -> Dict[str, Any]:
    """Resident memory of the Rasa servers (with their children), and of every other process by name."""
    by_service = dict(zip((s.name for s in setup.services), started, strict=True))
    rasa = [proc for name, proc in by_service.items() if name in setup.rasa_services]
    others = {name: tree_rss_mb(proc.pid) for name, proc in by_service.items() if name not in setup.rasa_services}
    return {
        "rasa_rss_mb": round(sum(tree_rss_mb(p.pid) for p in rasa), 1),
        "rasa_rss_anon_mb": round(sum(tree_rss_mb(p.pid, "RssAnon") for p in rasa), 1),
        "others_rss_mb": round(sum(others.values()), 1) if others else None,
        "by_process": others,
    }


def _meta(ctx: Context, settings: Settings, conversation_length: int) -> Dict[str, Any]:
    cpu_model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    git = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ctx.root, capture_output=True, text=True).stdout.strip()
    rasa_version = subprocess.run(
        [str(ctx.rasa_python), "-c", "import importlib.metadata as m; print(m.version('rasa'))"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "git": git,
        "rasa_version": rasa_version,
        "python_app": platform.python_version(),
        "loadavg_before": _loadavg(),
        "conversation_length": conversation_length,
        "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in settings.__dict__.items()},
        "ports": Ports().__dict__,
        "redis_db": ctx.redis_db,
    }


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _forget_conversations(ctx: Context, run_id: str) -> None:
    """Delete this run's conversations from Redis DB 12 (they would expire within an hour anyway)."""
    try:
        client = client_from_url(with_db(redis_url(), ctx.redis_db), socket_timeout=5)
        keys = list(client.scan_iter(match="*bench-*", count=1000))
        if keys:
            client.delete(*keys)
        say(f"redis db {ctx.redis_db}: removed {len(keys)} keys of bench conversations")
    except (redis.RedisError, ConfigError) as error:  # neither names the password
        say(f"redis db {ctx.redis_db}: could not clean up ({error})")


def write_outputs(results: Dict[str, Any], out: Path) -> None:
    verdicts = evaluate(results)
    results["targets"] = [verdict.to_dict() for verdict in verdicts]
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    (out / "bench.md").write_text(report.render(results, verdicts))
    chart.render(results, out / "bench.png")
    say(f"wrote {out / 'bench.md'}, {out / 'bench.json'}, {out / 'bench.png'}")


def run(settings: Settings, only: Optional[Sequence[str]], out: Path, stock_dir: Path) -> int:
    work = Path(tempfile.mkdtemp(prefix="gzcp-bench-"))
    ctx = Context(root=ROOT, stock_dir=stock_dir, work=work, logs=out / "bench-logs")
    shutil.rmtree(ctx.logs, ignore_errors=True)
    ctx.logs.mkdir(parents=True)
    run_id = datetime.now().strftime("%H%M%S")
    results: Dict[str, Any] = {"meta": {}, "bots": {}, "intake": {}, "errors": []}
    status = 0
    try:
        if not ctx.ours_model.exists():
            raise HarnessError(f"no model at {ctx.ours_model}: run `make model` first")
        stock_init = ensure_stock_project(ctx, say) if not only or "stock" in only else {}
        bot_setups = setups(ctx, only)
        results["meta"] = _meta(ctx, settings, len(bot_setups[0].conversations[0]) if bot_setups else 0)
        results["meta"]["stock_project"] = {
            "dir": str(stock_dir.relative_to(ROOT) if stock_dir.is_relative_to(ROOT) else stock_dir),
            **stock_init,
        }
        say(f"logs in {ctx.logs}; scratch in {work}")
        for setup in bot_setups:
            results["bots"][setup.key] = {"title": setup.title}
        if settings.train:
            trainers = {"stock": train_stock, "ours": train_ours}
            for setup in bot_setups:
                if setup.key in trainers:
                    results["bots"][setup.key]["training"] = trainers[setup.key](ctx, say)
        for setup in bot_setups:
            say(f"== {setup.key}: {setup.title}")
            results["bots"][setup.key].update(measure_bot(ctx, setup, settings, run_id))
        if settings.intake:
            say("== intake: POST /api/leads, ours and a bare endpoint")
            results["intake"] = measure_intake(ctx, say, concurrency=settings.intake_concurrency, total=settings.intake_requests,
                                               seconds=settings.intake_seconds)
    except KeyboardInterrupt:
        say("interrupted: stopping everything the bench started")
        results["errors"].append("interrupted")
        status = 130
    except Exception as error:  # the harness broke: report it, still write what was measured
        traceback.print_exc()
        results["errors"].append(f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
        status = 1
    finally:
        stop_all()
        _forget_conversations(ctx, run_id)
        shutil.rmtree(work, ignore_errors=True)
    results["meta"]["loadavg_after"] = _loadavg()
    results["meta"]["duration_s"] = round(time.monotonic() - T0, 1)
    if status != 130:
        write_outputs(results, out)
        print(out.joinpath("bench.md").read_text())
    say(f"done in {time.monotonic() - T0:.0f}s" + (f" ({status=})" if status else ""))
    return status


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "results", help="where bench.{md,json,png} go (default results/)")
    parser.add_argument("--stock-dir", type=Path, default=ROOT / "build/bench/stock", help="the `rasa init` project")
    parser.add_argument("--only", nargs="+", choices=[*BUILDERS, "intake"],
                        help="measure only these configurations (`intake` alone: only the intake, a minute or two)")
    parser.add_argument("--skip-training", action="store_true", help="no training measurements")
    parser.add_argument("--skip-intake", action="store_true", help="no intake measurement")
    parser.add_argument("--quick", action="store_true", help="a smoke test: few messages and requests")
    parser.add_argument("--long-turns", type=int, default=500, help="turns of the single long conversation (0: none)")
    parser.add_argument("--long-senders", type=int, default=20, help="long conversations held at once")
    parser.add_argument("--long-concurrent-turns", type=int, default=150, help="turns of each of those")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    install_signal_handlers()
    settings = Settings(train=not args.skip_training, intake=not args.skip_intake, long_turns=args.long_turns,
                        long_senders=args.long_senders, long_concurrent_turns=args.long_concurrent_turns)
    if args.quick:
        settings = Settings(
            sequential=24,
            messages=60,
            parse_calls=20,
            breakdown_calls=10,
            intake_requests=200,
            intake_seconds=2.0,
            train=settings.train,
            intake=settings.intake,
            long_turns=min(args.long_turns, 60),
            long_senders=min(args.long_senders, 4),
            long_concurrent_turns=min(args.long_concurrent_turns, 30),
        )
    return run(settings, args.only, args.out.resolve(), args.stock_dir.resolve())


if __name__ == "__main__":
    sys.exit(main())
