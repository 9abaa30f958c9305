"""Lead intake: channels post leads (a profile the service assesses itself) and hand-offs to staff.

`routes` is the HTTP API, `service` the storage and idempotency rules, `schemas` the bodies, `models`
the `leads` table (migrations in bot/migrations). Importing the package itself pulls in nothing, so the
migrations can load the models without the eligibility rules.
"""
