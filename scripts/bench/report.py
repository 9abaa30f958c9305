"""results/bench.md: Markdown tables from results/bench.json's content (pure; unit-tested)."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from scripts.bench.targets import Verdict

LEVEL_ORDER = ["sequential", "c10", "c20", "c50"]


def fmt(value: Any, digits: int = 1) -> str:
    """A number with `digits` decimals; '—' for nothing."""
    if value is None or isinstance(value, bool):
        return "—" if value is None else str(value)
    if isinstance(value, (int, float)):
        return f"{value:,.{digits}f}"
    return str(value)


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict_cell(passed: Optional[bool]) -> str:
    return {True: "pass", False: "**FAIL**", None: "n/a"}[passed]


def _figure(value: Optional[float], unit: str) -> str:
    if value is None:
        return "—"
    digits = 0 if unit in ("msg/s", "req/s", "MiB") or value >= 100 else (2 if value < 10 else 1)
    return f"{fmt(value, digits)} {unit}"


def targets_table(verdicts: Sequence[Verdict]) -> str:
    rows = []
    for v in verdicts:
        ratio = "—" if v.ratio is None else f"{v.ratio:.2f}×"
        ours = _figure(v.ours, v.unit) + (f" ({v.note})" if v.note and v.note != "not measured" else "")
        rows.append([v.name, v.goal, ours, _figure(v.reference, v.unit), ratio, verdict_cell(v.passed)])
    return table(["target", "goal", "ours", "reference", "ratio", "verdict"], rows)


def _level_name(level: str, summary: Mapping[str, Any]) -> str:
    return "sequential" if level == "sequential" else f"{summary.get('concurrency')} concurrent"


def load_table(bots: Mapping[str, Mapping[str, Any]]) -> str:
    rows = []
    for key, bot in bots.items():
        for level in LEVEL_ORDER + sorted(set(bot.get("load", {})) - set(LEVEL_ORDER)):
            s = bot.get("load", {}).get(level)
            if not s:
                continue
            rows.append(
                [
                    bot.get("title", key),
                    _level_name(level, s),
                    fmt(s.get("requests"), 0),
                    fmt(s.get("p50_ms")),
                    fmt(s.get("p95_ms")),
                    fmt(s.get("mean_ms")),
                    fmt(s.get("rate_per_s")),
                    fmt(s.get("server_cpu_ms_per_msg")),
                    f"{fmt(s.get('errors'), 0)} / {fmt(s.get('empty', 0), 0)}",
                ]
            )
    header = ["bot", "load", "messages", "p50 ms", "p95 ms", "mean ms", "msg/s", "server CPU ms/msg", "errors / empty"]
    return table(header, rows)


def bot_rows(bots: Mapping[str, Mapping[str, Any]], columns: Sequence[tuple]) -> List[List[str]]:
    """One row per bot that has any of the columns; columns are (path within the bot's results, decimals)."""
    rows = []
    for key, bot in bots.items():
        values = []
        for path, digits in columns:
            value: Any = bot
            for part in path:
                value = value.get(part) if isinstance(value, Mapping) else None
            values.append((value, digits))
        if any(value is not None for value, _ in values):
            rows.append([bot.get("title", key), *(fmt(value, digits) for value, digits in values)])
    return rows


def breakdown_table(bots: Mapping[str, Mapping[str, Any]]) -> str:
    rows = []
    for key, bot in bots.items():
        b = bot.get("breakdown")
        if not b:
            continue
        t = b.get("timeline") or {}
        check = b.get("action_response_check") or {}
        action = f"{fmt(b.get('action_ms'))} ({b['action']})" if b.get("action") else "— (no custom action)"
        rows.append(
            [
                bot.get("title", key),
                fmt(t.get("total_ms")),
                fmt(t.get("receive_parse_ms")),
                fmt(t.get("actions_ms")),
                fmt(t.get("last_prediction_ms")),
                fmt(t.get("save_reply_ms")),
                fmt(b.get("parse_ms")),
                fmt(b.get("tracker_ms")),
                action,
                (f"{fmt(check.get('as_rasa_does_ms'))} / {fmt(check.get('validator_built_once_ms'), 2)} / "
                 f"{fmt(check.get('by_event_type_ms'), 2)}") if check else "—",
            ]
        )
    header = [
        "bot",
        "turn",
        "receive, lock, read tracker, NLU",
        "predict + run the actions",
        "last prediction",
        "save tracker, reply",
        "/model/parse alone",
        "GET tracker alone",
        "action server alone",
        "check of one action answer: as Rasa 3.6 ships / validator built once / by event type (ours)",
    ]
    return table(header, rows)


def _intake_generator(intake: Mapping[str, Any]) -> str:
    if intake.get("load_generator"):
        return str(intake["load_generator"])
    return (f"{fmt(intake.get('concurrency'), 0)} concurrent clients in {fmt(intake.get('client_processes', 1), 0)} "
            "Python processes (asyncio + httpx)")  # results written before the bench used wrk


def intake_table(intake: Mapping[str, Any]) -> str:
    rows = []
    for key, title in (("intake", "our intake (bot.main:app, SQLite)"), ("intake_postgres", "our intake (PostgreSQL)"),
                       ("bare", "bare FastAPI endpoint")):
        s = intake.get(key)
        if s:
            statuses = ", ".join(f"{code}: {n}" for code, n in sorted(s.get("statuses", {}).items()))
            rows.append(
                [
                    title,
                    fmt(s.get("requests"), 0),
                    fmt(s.get("rate_per_s")),
                    fmt(s.get("p50_ms")),
                    fmt(s.get("p95_ms")),
                    fmt(s.get("server_cpu_ms_per_request"), 2),
                    fmt(s.get("client_cpu_ms_per_request"), 2),
                    statuses,
                ]
            )
    header = ["server", "answered", "req/s", "p50 ms", "p95 ms", "server CPU ms/request", "client CPU ms/request", "status codes"]
    return table(header, rows)


def intake_parts(intake: Mapping[str, Any]) -> str:
    parts, bare = intake.get("parts"), (intake.get("bare") or {}).get("server_cpu_ms_per_request")
    if not parts:
        return ""
    return (
        "What a lead costs beyond a bare endpoint, each part timed alone in one quiet process (no HTTP, CPU per lead, "
        f"a lower bound: under load each costs more): parse and validate the body {fmt(parts.get('validate_ms'), 3)} ms, "
        f"prepare the row (assessment, fingerprint) {fmt(parts.get('prepare_ms'), 3)} ms, the answer "
        f"{fmt(parts.get('answer_ms'), 3)} ms, the insert in a group of {intake.get('parts_group', 10)} with its share "
        "of the commit (SQLite) "
        f"{fmt(parts.get('insert_ms'), 3)} ms: **{fmt(parts.get('total_ms'), 3)} ms**, against "
        f"{fmt(bare, 2)} ms of server CPU for the bare endpoint's whole request. A rate of half the bare endpoint's "
        "leaves a lead the bare request's cost once more for all of this."
    )


def long_table(bots: Mapping[str, Mapping[str, Any]]) -> str:
    rows = []
    for key, bot in bots.items():
        for label in ("single", "concurrent"):
            long = (bot.get("long") or {}).get(label)
            if not long:
                continue
            rows.append([bot.get("title", key), f"{long['senders']} x {long['turns']}", fmt(long.get("first20_p50_ms"), 1),
                         fmt(long.get("last20_p50_ms"), 1), fmt(long.get("growth"), 2), fmt(long.get("errors"), 0)])
        memory = (bot.get("long") or {}).get("redis_bytes_per_conversation")
        if memory:
            rows.append([bot.get("title", key), "Redis memory of the single conversation",
                         f"{memory / 1024:.0f} KiB", f"{(bot['long'].get('redis_bytes_per_turn') or 0):.0f} B/turn", "", ""])
    if not rows:
        return "(not measured)"
    return table(["bot", "senders x turns", "first 20 p50 ms", "last 20 p50 ms", "last / first", "errors"], rows)


def render(results: Mapping[str, Any], verdicts: Sequence[Verdict]) -> str:
    meta: Mapping[str, Any] = results.get("meta", {})
    bots: Dict[str, Mapping[str, Any]] = dict(results.get("bots", {}))
    out = [
        "# Benchmark: this assistant vs a stock `rasa init` bot",
        "",
        f"Run {meta.get('started', '?')} on {meta.get('cpus', '?')} CPUs ({meta.get('cpu_model', '?')}), "
        f"git {meta.get('git', '?')}, Rasa {meta.get('rasa_version', '?')}; load average before/after "
        f"{meta.get('loadavg_before', '?')} / {meta.get('loadavg_after', '?')}; whole run {fmt(meta.get('duration_s'), 0)} s. "
        "Client and servers share the machine; each bot was measured alone, one after the other.",
        "",
        "## Targets",
        "",
        targets_table(verdicts),
        "",
        "## Conversations",
        "",
        f"Each conversation has its own sender id and sends {meta.get('conversation_length', '?')} messages one after "
        "another, each after the previous reply; latency per message, measured by the client. *N concurrent*: N "
        "conversations at a time. *Server CPU*: CPU time of the bot's processes (Rasa, action server, gateway) per "
        "message — less sensitive than latency to whatever else the machine runs. *Empty*: answered with nothing "
        "to show (counted in the latencies).",
        "",
        load_table(bots),
        "",
        "## Long conversations",
        "",
        "One sender holding one conversation of many messages (each after the previous reply), then several such "
        "senders at once: the median latency of the first 20 turns against the last 20. A turn that reads and "
        "writes the whole conversation gets slower as it grows; ours reads a bounded window and appends.",
        "",
        long_table(bots),
        "",
        "## Start-up, NLU only, memory",
        "",
        table(
            [
                "bot",
                "spawn → Rasa answers HTTP (s)",
                "spawn → first answer (s)",
                "/model/parse p50 ms",
                "p95 ms",
                "Rasa RSS MiB",
                "of it anonymous MiB",
                "other processes RSS MiB",
            ],
            bot_rows(
                bots,
                [
                    (("startup", "http_up_s"), 1),
                    (("startup", "first_answer_s"), 1),
                    (("parse", "p50_ms"), 1),
                    (("parse", "p95_ms"), 1),
                    (("memory", "rasa_rss_mb"), 0),
                    (("memory", "rasa_rss_anon_mb"), 0),
                    (("memory", "others_rss_mb"), 0),
                ],
            ),
        ),
        "",
        "## Where a message's time goes (sequential, p50 ms)",
        "",
        "A turn's own timeline: a few conversations sent one message at a time; Rasa stamps every event it logs "
        "(user message after NLU, each action, action_listen) on the same clock as the client, so each turn splits "
        "into the four middle columns (medians; scripts/bench/breakdown.py). Then parts timed alone through Rasa's "
        "HTTP API, each with one local round trip. *Check of one action answer*: Rasa 3.6's "
        "`RemoteAction._validate_action_result` calls `jsonschema.validate()`, which re-checks the whole events schema "
        "against its meta-schema on every custom action before checking the answer; timed in Rasa's Python as shipped, "
        "with a validator built once, and as our Rasa checks it (rasa_addons/speedups.py): each event against the "
        "schema of its own type instead of trying all 23 (`oneOf`), the full check only for an answer that fails.",
        "",
        breakdown_table(bots),
        "",
        "## Training",
        "",
        table(
            ["bot", "full (rasa train --force) s", "unchanged: rasa train (cache) s", "unchanged: make model s"],
            bot_rows(
                bots,
                [
                    (("training", "full_s"), 1),
                    (("training", "retrain_rasa_cache_s"), 1),
                    (("training", "retrain_make_model_s"), 2),
                ],
            ),
        ),
        "",
        "## Lead intake",
        "",
        f"POST /api/leads from {_intake_generator(results.get('intake', {}))}, a new lead each (its own conversation "
        "and Idempotency-Key); the servers one after the other, same uvicorn settings. When the client's CPU per "
        "request approaches the server's, the rate is the client's limit, not the server's.",
        "",
        intake_table(results.get("intake", {})),
        "",
        intake_parts(results.get("intake", {})),
        "",
    ]
    if results.get("errors"):
        out += ["## Errors", ""] + [f"- {error}" for error in results["errors"]] + [""]
    return "\n".join(out)
