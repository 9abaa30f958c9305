"""Training times: a full `rasa train --force`, and retraining when nothing changed.

Each bot trains into a temporary --out directory with its own temporary Rasa cache (RASA_CACHE_DIRECTORY),
so the full training starts cold, the unchanged retrain finds exactly what the full one cached, and
neither the project's models/ nor its .rasa/cache is touched. `make model` (our hash check, the path
users take) runs as users run it, on the real models/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List

from scripts.bench.bots import Context, ours_env, stock_env
from scripts.bench.procs import run_timed

Progress = Callable[[str], None]
TRAIN_TIMEOUT = 900.0


def ensure_stock_project(ctx: Context, say: Progress) -> Dict[str, Any]:
    """`rasa init --no-prompt` into ctx.stock_dir unless it already holds a trained project."""
    if (ctx.stock_dir / "config.yml").exists() and list((ctx.stock_dir / "models").glob("*.tar.gz")):
        return {"created": False}
    ctx.stock_dir.mkdir(parents=True, exist_ok=True)
    say(f"stock: `rasa init --no-prompt --init-dir {ctx.stock_dir}` (creates and trains the stock bot, a few minutes)")
    seconds = run_timed(
        "rasa init",
        [str(ctx.rasa), "init", "--no-prompt", "--init-dir", str(ctx.stock_dir)],
        ctx.root,
        stock_env(ctx),
        ctx.logs / "stock-init.log",
        TRAIN_TIMEOUT,
    )
    return {"created": True, "init_s": round(seconds, 1)}


def _train(ctx: Context, name: str, argv: List[str], cwd: Path, env: Dict[str, str], say: Progress) -> float:
    seconds = run_timed(name, argv, cwd, env, ctx.logs / f"{name.replace(' ', '-')}.log", TRAIN_TIMEOUT)
    say(f"  {name}: {seconds:.1f}s")
    return round(seconds, 2)


def train_stock(ctx: Context, say: Progress) -> Dict[str, Any]:
    env = {**stock_env(ctx), "RASA_CACHE_DIRECTORY": str(ctx.work / "stock-cache")}
    argv = [str(ctx.rasa), "train", "--out", str(ctx.work / "stock-models")]
    say("stock: full training (rasa train --force)")
    full = _train(ctx, "stock train full", [*argv, "--force"], ctx.stock_dir, env, say)
    say("stock: retraining with nothing changed (rasa train, Rasa's cache)")
    again = _train(ctx, "stock train unchanged", argv, ctx.stock_dir, env, say)
    return {"full_s": full, "retrain_rasa_cache_s": again}


def train_ours(ctx: Context, say: Progress) -> Dict[str, Any]:
    env = {**ours_env(ctx), "RASA_CACHE_DIRECTORY": str(ctx.work / "ours-cache")}
    # As the Makefile trains (scripts/train_if_changed.sh), into a temporary directory.
    argv = [
        str(ctx.rasa),
        "train",
        "--data",
        "nlu",
        "stories",
        "--domain",
        "domain.yml",
        "--config",
        "config.yml",
        "--out",
        str(ctx.work / "ours-models"),
        "--num-threads",
        "2",
    ]
    say("ours: full training (rasa train --force)")
    full = _train(ctx, "ours train full", [*argv, "--force"], ctx.root, env, say)
    say("ours: retraining with nothing changed (rasa train, Rasa's cache)")
    again = _train(ctx, "ours train unchanged", argv, ctx.root, env, say)
    say("ours: retraining with nothing changed (make model, our hash check)")
    make_log = ctx.logs / "make-model.log"
    make = round(run_timed("make model", ["make", "model"], ctx.root, ours_env(ctx), make_log, TRAIN_TIMEOUT), 2)
    up_to_date = "up to date" in make_log.read_text(errors="replace")
    say(f"  make model: {make:.2f}s ({'model up to date' if up_to_date else 'it TRAINED: the data changed meanwhile'})")
    script = _train(ctx, "hash check alone", ["bash", "scripts/train_if_changed.sh"], ctx.root, ours_env(ctx), say)
    return {
        "full_s": full,
        "retrain_rasa_cache_s": again,
        "retrain_make_model_s": make,
        "make_model_was_up_to_date": up_to_date,
        "retrain_hash_check_s": script,
    }
