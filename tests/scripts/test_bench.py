"""The pure parts of `make bench` (scripts/bench): percentiles, summaries, target verdicts, table rendering."""

from __future__ import annotations

import json
from typing import Any, Dict

import pytest

from scripts.bench import report
from scripts.bench.breakdown import last_custom_action, split_turns, turn_segments
from scripts.bench.stats import percentile, summarize
from scripts.bench.targets import absolute, both, evaluate, relative


def test_percentile_interpolates_between_closest_ranks_like_numpy() -> None:
    values = [15.0, 20.0, 35.0, 40.0, 50.0]
    assert percentile(values, 50) == 35.0
    assert percentile(values, 0) == 15.0 and percentile(values, 100) == 50.0
    assert percentile(values, 40) == pytest.approx(29.0)  # numpy.percentile(values, 40)
    assert percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    assert percentile([7.0], 95) == 7.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0  # order does not matter


@pytest.mark.parametrize("values, q", [([], 50), ([1.0], -1), ([1.0], 101)])
def test_percentile_refuses_what_has_none(values: list, q: float) -> None:
    with pytest.raises(ValueError):
        percentile(values, q)


def test_summary_is_in_milliseconds_and_counts_only_answered_messages() -> None:
    summary = summarize("c20", 20, [0.010, 0.020, 0.030, 0.040], errors=1, elapsed_s=2.0)
    assert (summary.p50_ms, summary.mean_ms, summary.max_ms) == (25.0, 25.0, 40.0)
    assert summary.requests == 4 and summary.errors == 1 and summary.rate_per_s == 2.0
    empty = summarize("c50", 50, [], errors=3, elapsed_s=1.0)
    assert empty.p50_ms is None and empty.rate_per_s == 0.0
    json.dumps(empty.to_dict(), allow_nan=False)  # valid JSON even when nothing answered


def test_relative_targets_pass_on_the_boundary_and_fail_beyond_it() -> None:
    assert relative("p50", 10.0, 30.0, "ms", at_most=1 / 3, goal="").passed is True
    assert relative("p50", 10.5, 30.0, "ms", at_most=1 / 3, goal="").passed is False
    rate = relative("rate", 90.0, 30.0, "msg/s", at_least=3.0, goal="")
    assert rate.passed is True and rate.ratio == 3.0
    assert relative("rate", 89.0, 30.0, "msg/s", at_least=3.0, goal="").passed is False


def test_missing_figures_are_not_measured_rather_than_failed() -> None:
    for verdict in (
        relative("p50", None, 30.0, "ms", at_most=1 / 3, goal=""),
        relative("p50", 10.0, 0.0, "ms", at_most=1 / 3, goal=""),
        absolute("memory", float("nan"), 1024, "MiB", goal=""),
    ):
        assert verdict.passed is None and verdict.note == "not measured"


def test_absolute_limits_are_strict_and_a_combined_target_needs_every_part() -> None:
    assert absolute("retrain", 14.9, 15.0, "s", goal="").passed is True
    assert absolute("retrain", 15.0, 15.0, "s", goal="").passed is False
    fast = relative("rate", 100.0, 10.0, "msg/s", at_least=3.0, goal="")
    assert both("c20", "", [fast, absolute("p95", 499.0, 500.0, "ms", goal="")]).passed is True
    assert both("c20", "", [fast, absolute("p95", 501.0, 500.0, "ms", goal="")]).passed is False
    assert both("c20", "", [fast, absolute("p95", None, 500.0, "ms", goal="")]).passed is None


def _results() -> Dict[str, Any]:
    def level(p50: float, p95: float, rate: float, concurrency: int = 20) -> Dict[str, Any]:
        return {
            "concurrency": concurrency,
            "requests": 300,
            "p50_ms": p50,
            "p95_ms": p95,
            "mean_ms": p50,
            "rate_per_s": rate,
            "errors": 0,
        }

    return {
        "meta": {"started": "2026-01-01T00:00:00+00:00", "cpus": 2, "conversation_length": 6},
        "bots": {
            "stock": {
                "title": "stock",
                "load": {"sequential": level(60.0, 90.0, 15.0, 1), "c20": level(900.0, 1500.0, 20.0)},
                "startup": {"http_up_s": 20.0, "first_answer_s": 21.0},
                "memory": {"rasa_rss_mb": 900.0, "others_rss_mb": None},
                "training": {"full_s": 120.0, "retrain_rasa_cache_s": 18.0},
            },
            "ours": {
                "title": "ours | REST",
                "load": {"sequential": level(15.0, 30.0, 60.0, 1), "c20": level(200.0, 450.0, 70.0)},
                "startup": {"http_up_s": 9.0, "first_answer_s": 12.0},
                "memory": {"rasa_rss_mb": 700.0, "others_rss_mb": 90.0},
                "training": {"full_s": 180.0, "retrain_rasa_cache_s": 17.0, "retrain_make_model_s": 1.2},
            },
        },
        "intake": {
            "concurrency": 20,
            "requests": 2000,
            "intake": {"requests": 2000, "rate_per_s": 400.0, "statuses": {"201": 2000}},
            "bare": {"requests": 2000, "rate_per_s": 1000.0, "statuses": {"201": 2000}},
        },
    }


def test_evaluate_gives_one_verdict_per_target() -> None:
    verdicts = {v.name: v for v in evaluate(_results())}
    assert len(verdicts) == 7  # the six, and the intake on PostgreSQL (not measured in these results)
    assert verdicts["intake rate on PostgreSQL"].passed is None
    assert verdicts["per-message p50, sequential"].passed is True  # 15 ms ≤ 60/3
    combined = verdicts["20 concurrent: throughput, and our p95"]
    assert combined.passed is True and combined.ratio == 3.5 and "450" in combined.note
    assert verdicts["start to first answer"].passed is False  # 12 s > 21/2
    assert verdicts["Rasa resident memory after load"].passed is True
    assert verdicts["unchanged retrain (make model)"].passed is True
    assert verdicts["intake rate (POST /api/leads)"].passed is False  # 0.4× the bare endpoint


def test_cpu_time_per_message_is_shown_next_to_the_latency_verdict() -> None:
    results = _results()
    results["bots"]["ours"]["load"]["sequential"]["server_cpu_ms_per_msg"] = 64.7
    results["bots"]["stock"]["load"]["sequential"]["server_cpu_ms_per_msg"] = 35.7
    verdict = evaluate(results)[0]
    assert verdict.passed is True and verdict.note == "server CPU 64.7 vs 35.7 ms/msg"
    assert "15.0 ms (server CPU 64.7 vs 35.7 ms/msg)" in report.targets_table([verdict])


def test_evaluate_without_measurements_marks_everything_not_measured() -> None:
    assert {v.passed for v in evaluate({})} == {None}


def test_markdown_tables_show_figures_ratios_and_verdicts() -> None:
    results = _results()
    text = report.render(results, evaluate(results))
    rows = [line for line in text.splitlines() if line.startswith("| per-message p50, sequential")]
    assert rows == ["| per-message p50, sequential | ≤ 1/3 of stock | 15.0 ms | 60.0 ms | 0.25× | pass |"]
    assert "| start to first answer | ≤ 1/2 of stock | 12.0 s | 21.0 s | 0.57× | **FAIL** |" in text
    # A pipe inside a cell is escaped; a figure that was not measured shows as a dash.
    assert "| ours \\| REST | 20 concurrent | 300 | 200.0 | 450.0 | 200.0 | 70.0 | — | 0 / 0 |" in text
    assert "| our intake (bot.main:app, SQLite) | 2,000 | 400.0 |" in text
    for line in text.splitlines():
        if line.startswith("|"):
            assert line.endswith("|")
    assert report.fmt(None) == "—" and report.fmt(1234.5, 0) == "1,234"


def test_markdown_table_rows_have_as_many_cells_as_the_header() -> None:
    text = report.table(["a", "b"], [["1", "x|y"], ["2", "3"]])
    header, rule, *rows = text.splitlines()
    assert rule == "|---|---|"
    assert all(row.replace("\\|", "").count("|") == header.count("|") for row in rows)


def test_the_breakdown_names_the_last_custom_action_and_splits_a_turn_by_its_events() -> None:
    tracker = {
        "events": [
            {"event": "action", "name": "action_session_start", "timestamp": 99.0},
            {"event": "user", "timestamp": 100.020},
            {"event": "action", "name": "action_benefits", "timestamp": 100.060},
            {"event": "bot", "timestamp": 100.061},
            {"event": "action", "name": "action_listen", "timestamp": 100.065},
            {"event": "user", "timestamp": 101.0},
            {"event": "action", "name": "utter_greet", "timestamp": 101.01},
        ]
    }
    assert last_custom_action(tracker) == "action_benefits"
    assert last_custom_action({"events": [{"event": "action", "name": "action_listen"}]}) is None
    first, second = split_turns(tracker["events"])
    assert turn_segments(100.0, 100.070, first) == pytest.approx(
        {"receive_parse": 20.0, "actions": 40.0, "last_prediction": 5.0, "save_reply": 5.0}
    )
    assert turn_segments(100.9, 101.1, second) is None  # no action_listen: the turn is not complete
    bots = {
        "ours": {
            "title": "ours",
            "breakdown": {
                "timeline": {
                    "total_ms": 70.0,
                    "receive_parse_ms": 20.0,
                    "actions_ms": 40.0,
                    "last_prediction_ms": 5.0,
                    "save_reply_ms": 5.0,
                },
                "parse_ms": 12.0,
                "tracker_ms": 5.0,
                "action": "action_benefits",
                "action_ms": 2.0,
                "action_response_check": {"as_rasa_does_ms": 30.0, "validator_built_once_ms": 0.8,
                                          "by_event_type_ms": 0.1},
            },
        },
        "stock": {"title": "stock", "breakdown": {"parse_ms": 11.0}},
    }
    ours, stock = report.breakdown_table(bots).splitlines()[-2:]
    assert ours == "| ours | 70.0 | 20.0 | 40.0 | 5.0 | 5.0 | 12.0 | 5.0 | 2.0 (action_benefits) | 30.0 / 0.80 / 0.10 |"
    assert stock == "| stock | — | — | — | — | — | 11.0 | — | — (no custom action) | — |"


def test_a_long_conversation_is_judged_on_its_last_turns_against_its_first() -> None:
    results = _results()
    results["bots"]["ours"]["long"] = {"single": {"first20_p50_ms": 30.0, "last20_p50_ms": 33.0}}
    verdicts = {v.name: v for v in evaluate(results)}
    flat = verdicts["long conversation (ours, REST): last 20 turns vs first 20, p50"]
    assert flat.passed is True and flat.ratio == 1.1
    results["bots"]["ours"]["long"]["single"]["last20_p50_ms"] = 300.0
    grown = {v.name: v for v in evaluate(results)}["long conversation (ours, REST): last 20 turns vs first 20, p50"]
    assert grown.passed is False
    assert "last / first" in report.long_table({"ours": {"title": "ours", "long": {"single": {
        "senders": 1, "turns": 500, "first20_p50_ms": 30.0, "last20_p50_ms": 33.0, "growth": 1.1, "errors": 0}}}})


def test_the_users_path_is_judged_on_p50_and_cpu_against_stock_and_on_what_the_gateway_adds() -> None:
    results = _results()
    sequential = {"p50_ms": 25.0, "server_cpu_ms_per_msg": 26.0}
    results["bots"]["stock"]["load"]["sequential"].update({"p50_ms": 60.0, "server_cpu_ms_per_msg": 50.0})
    results["bots"]["ours"]["load"]["sequential"]["server_cpu_ms_per_msg"] = 22.0
    results["bots"]["ours_gateway"] = {"title": "gateway", "load": {"sequential": sequential}}
    verdicts = {v.name: v for v in evaluate(results)}
    path = verdicts["gateway path: per-message p50, sequential"]
    added = verdicts["gateway's own CPU per message (gateway path − REST path)"]
    assert path.passed is False and path.ratio == round(25 / 60, 3)  # p50 fits, CPU 26 > 50/2 does not
    assert "26.0 vs 50.0" in path.note
    assert added.ours == 4.0 and added.passed is False
    sequential["server_cpu_ms_per_msg"] = 24.0
    verdicts = {v.name: v for v in evaluate(results)}
    assert verdicts["gateway path: per-message p50, sequential"].passed is True
    assert verdicts["gateway's own CPU per message (gateway path − REST path)"].passed is True  # 2 ms


def test_what_the_gateway_adds_is_judged_on_the_interleaved_figure_when_the_run_has_one() -> None:
    results = _results()
    results["bots"]["stock"]["load"]["sequential"].update({"p50_ms": 60.0, "server_cpu_ms_per_msg": 50.0})
    results["bots"]["ours"]["load"]["sequential"]["server_cpu_ms_per_msg"] = 18.0  # a slow minute: 6 ms apart
    results["bots"]["ours_gateway"] = {
        "title": "gateway", "load": {"sequential": {"p50_ms": 25.0, "server_cpu_ms_per_msg": 24.0}},
        "front": {"front_cpu_ms_per_msg": 12.4, "direct_cpu_ms_per_msg": 10.0, "added_cpu_ms_per_msg": 2.4},
    }
    added = {v.name: v for v in evaluate(results)}["gateway's own CPU per message (gateway path − REST path)"]
    assert added.ours == 2.4 and added.passed is True and "interleaved: 12.4 vs 10.0" in added.note
    assert "2.40 ms (interleaved: 12.4 vs 10.0 ms/msg)" in report.targets_table([added])
