"""The action server as `make run` starts it (`python -m actions.server`): rasa-sdk's own app, bound to
ACTIONS_HOST (127.0.0.1 unless a private network needs otherwise) and refusing every call that does not
carry the shared secret Rasa sends (ACTION_SERVER_SECRET in the X-Action-Secret header, endpoints.yml).

Without the secret, anyone who could reach the port could run `action_request_data_deletion` for any
sender or queue invented leads; with it, only our Rasa servers can.
"""

from __future__ import annotations

import argparse
import hmac
import logging
from typing import List, Optional

from rasa_sdk import utils
from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME
from rasa_sdk.endpoint import create_app, create_argument_parser
from rasa_sdk.plugin import plugin_manager
from sanic import Sanic, response
from sanic.request import Request

from bot.shared.config import env_str
from bot.shared.secrets import refuse_development_secrets

HEADER = "X-Action-Secret"
OPEN_PATHS = ("/health",)  # liveness only: says nothing and runs nothing

logger = logging.getLogger(__name__)


def require_secret(app: Sanic, secret: str) -> None:
    """Every request but /health must carry `secret`; an empty secret refuses them all (fail closed)."""
    expected = secret.encode("utf-8")

    @app.on_request
    async def check(request: Request) -> Optional[response.HTTPResponse]:
        if request.path in OPEN_PATHS:
            return None
        given = request.headers.get(HEADER, "").encode("utf-8")
        if expected and hmac.compare_digest(given, expected):
            return None
        return response.json({"error": f"missing or wrong {HEADER}: only the assistant's Rasa servers may call"}, status=401)


def build(actions: str = "actions", secret: Optional[str] = None) -> Sanic:
    app = create_app(actions, cors_origins=None)  # no browser has business here: no CORS
    require_secret(app, env_str("ACTION_SERVER_SECRET") if secret is None else secret)
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    return app


def main(argv: Optional[List[str]] = None) -> None:
    parser = create_argument_parser()
    parser.add_argument("--host", default=env_str("ACTIONS_HOST", "127.0.0.1"), help="interface to listen on")
    # rasa-sdk spells it --logging-config_file; `rasa run` (and we) spell it with hyphens: take both.
    parser.add_argument("--logging-config-file", dest="logging_config_file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    refuse_development_secrets("action server")
    utils.configure_colored_logging(args.loglevel)
    utils.configure_file_logging(
        logging.getLogger(APPLICATION_ROOT_LOGGER_NAME), args.log_file, args.loglevel, args.logging_config_file
    )
    utils.update_sanic_log_level()
    if not env_str("ACTION_SERVER_SECRET"):
        logger.warning("ACTION_SERVER_SECRET is empty: every call to the action server will be refused")
    app = build(args.actions or "actions")
    logger.info("Action server listening on http://%s:%s (calls need %s)", args.host, args.port, HEADER)
    app.run(args.host, args.port, workers=1, access_log=False)


if __name__ == "__main__":
    main()
