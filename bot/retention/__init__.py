"""Retention: the consent notice's period, enforced (`python -m bot.retention`; `make run` runs it at start and
then every RETENTION_INTERVAL_SECONDS). See purge.py for what goes and when."""
