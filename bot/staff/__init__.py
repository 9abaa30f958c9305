"""The staff console: accounts, sessions and API tokens, the lead queues, export, audit log, dashboard and alerts."""
