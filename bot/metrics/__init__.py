"""Prometheus metrics, all named `gzcp_…`, served by the web app at GET /metrics (text format).

Where each one is counted:

- `gzcp_chat_messages_total{channel, outcome}` and `gzcp_chat_rasa_latency_seconds{channel}`: the web
  gateway (bot/chat/routes.py, through bot.metrics.chat.observed and rasa_timer) and the Telegram bridge
  (bot/telegram/bridge.py, through bot.metrics.chat.observe_turn). The bridge is another process, so
  both channels add to the shared Redis hash (bot.shared.metrics) rather than to in-process counters.
- `gzcp_chat_fallbacks_total{reason, language}`: the actions, where they record an unanswered question
  (bot.shared.funnel.Funnel.record_unanswered, on the action server), into the same hash.
- `gzcp_delivery_results_total{kind, result}`, `gzcp_delivery_retries_total{kind, reason}`: the
  delivery worker (bot/leads/delivery.py, through bot.metrics.delivery), into the same hash.
- `gzcp_outbox_pending_jobs`, `gzcp_outbox_retrying_jobs`, `gzcp_outbox_dead_jobs`,
  `gzcp_outbox_oldest_pending_seconds`: read from the outbox (Outbox.stats) at each scrape.
- `gzcp_leads_intake_total{kind, outcome}`: POST /api/leads in the web app itself (bot.metrics.intake),
  an ordinary in-process prometheus_client counter; the web app's process metrics come with it.
- `gzcp_metrics_redis_up`: 0 when the scrape could not read Redis (the shared metrics are then missing).

No label ever carries an email, a phone number, an id or a message text: label values come from fixed
lists. The shared counters live in bot.shared.metrics, which the action server (Python 3.10, no
prometheus_client) also imports.
"""
