"""Liveness and readiness of the web app and of what it depends on."""
