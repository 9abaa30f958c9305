"""`make bench`: this assistant side by side with a stock `rasa init` bot, in one run on one machine.

Run it with `python -m scripts.bench` (see `--help`); results go to results/bench.{md,json,png}.
Modules: `stats` (percentiles), `procs` (spawning and stopping processes, memory), `load` (HTTP load
over asyncio + httpx), `bots` (the configurations measured), `training`, `intake`, `targets`,
`report` (Markdown), `chart` (PNG), `main` (the run).
"""
