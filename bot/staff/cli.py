"""`python -m bot.staff`: staff accounts and API tokens on the database at DATABASE_URL, and the copy of the
conversation funnel from Redis into it (`funnel-sync`).

Passwords come from a prompt (typed twice) or, for scripts, from standard input with --password-stdin;
never from the command line, where they would sit in the shell history and the process list.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
import time
from typing import List, Optional

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.db import get_engine
from bot.settings import settings
from bot.shared.redis_conn import client_from_url, mask_url
from bot.staff import funnel_store, service
from bot.staff.models import ROLES, ApiToken, StaffUser


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise service.StaffError("the passwords differ")
    return first


def _user(session: Session, email: str) -> StaffUser:
    user = service.find_user(session, email)
    if user is None:
        raise service.StaffError("no staff user with this email")
    return user


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot.staff", description="Staff console accounts and API tokens.")
    sub = parser.add_subparsers(dest="command", required=True)

    create = sub.add_parser("create", help="create a staff user")
    create.add_argument("--email", required=True)
    create.add_argument("--role", choices=ROLES, required=True, help="viewer < reviewer < editor < admin")
    create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")

    password = sub.add_parser("set-password", help="set a user's password (ends their console sessions)")
    password.add_argument("--email", required=True)
    password.add_argument("--password-stdin", action="store_true")

    role = sub.add_parser("set-role", help="change a user's role (ends their console sessions)")
    role.add_argument("--email", required=True)
    role.add_argument("--role", choices=ROLES, required=True)

    for name, text in (("deactivate", "block a user from logging in (their sessions and tokens stop working)"),
                       ("activate", "let a deactivated user log in again (old sessions stay ended)")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--email", required=True)

    sub.add_parser("list", help="list staff users")

    sync = sub.add_parser("funnel-sync", help="copy the conversation funnel's day sets from Redis into the database "
                                              "(so the dashboard's counts survive a Redis restart)")
    sync.add_argument("--days", type=int, default=2, help="how many days back, today included (default 2)")
    sync.add_argument("--every", type=float, default=0.0, help="repeat every this many seconds (default: once)")

    token = sub.add_parser("token", help="API tokens for the JSON API (/api/staff)")
    tsub = token.add_subparsers(dest="token_command", required=True)
    tcreate = tsub.add_parser("create", help="create a token for a user; it is printed once")
    tcreate.add_argument("--email", required=True)
    tcreate.add_argument("--name", required=True, help="what it is for, e.g. crm-sync")
    trevoke = tsub.add_parser("revoke", help="revoke a token by its id")
    trevoke.add_argument("id", type=int)
    tlist = tsub.add_parser("list", help="list tokens (never the tokens themselves)")
    tlist.add_argument("--email")
    return parser


def run(session: Session, args: argparse.Namespace) -> None:
    if args.command == "create":
        user = service.create_user(session, args.email, args.role, _password(args.password_stdin))
        print(f"created {user.role} {user.email} (id {user.id})")
    elif args.command == "set-password":
        user = service.update_user(session, _user(session, args.email), password=_password(args.password_stdin))
        print(f"password changed for {user.email}")
    elif args.command == "set-role":
        user = service.update_user(session, _user(session, args.email), role=args.role)
        print(f"{user.email} is now {user.role}")
    elif args.command in ("deactivate", "activate"):
        user = service.update_user(session, _user(session, args.email), active=args.command == "activate")
        print(f"{user.email} is {'active' if user.active else 'deactivated'}")
    elif args.command == "list":
        for user in session.scalars(select(StaffUser).order_by(StaffUser.id)):
            print(f"{user.id}\t{user.email}\t{user.role}\t{'active' if user.active else 'deactivated'}")
    elif args.token_command == "create":
        row, token = service.create_token(session, _user(session, args.email), args.name)
        print(f"token {row.id} ({row.name}) for {args.email}; shown only now, store it safely:", file=sys.stderr)
        print(token)
    elif args.token_command == "revoke":
        row = service.revoke_token(session, args.id)
        print(f"token {row.id} revoked")
    else:
        query = select(ApiToken, StaffUser.email).join(StaffUser, StaffUser.id == ApiToken.user_id).order_by(ApiToken.id)
        if args.email:
            query = query.where(StaffUser.email == args.email.strip().lower())
        for row, email in session.execute(query):
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            used = f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never"
            print(f"{row.id}\t{email}\t{row.name}\t{state}\tlast used {used}")


def funnel_sync(factory: sessionmaker[Session], days: int, every: float) -> int:
    """Copy the last `days` days once, or every `every` seconds until stopped (Redis outages are logged and
    retried: whatever Redis still holds when it is back is copied then)."""
    url = settings().redis_connection_url
    client = client_from_url(url)
    while True:
        try:
            with factory() as session:
                copied = funnel_store.sync_recent(session, client, days)
            logging.info("funnel-sync: %d new conversation stage(s) copied", copied)
        except redis.RedisError as error:
            logging.warning("funnel-sync: Redis at %s unreachable (%s)", mask_url(url), type(error).__name__)
            if every <= 0:
                return 1
        if every <= 0:
            return 0
        time.sleep(every)


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "funnel-sync":
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
        if args.days < 1 or args.days > 400:
            print("error: --days is between 1 and 400", file=sys.stderr)
            return 2
        try:
            return funnel_sync(sessionmaker(get_engine(), expire_on_commit=False), args.days, args.every)
        except KeyboardInterrupt:
            return 0
    with sessionmaker(get_engine(), expire_on_commit=False)() as session:
        try:
            run(session, args)
        except (service.StaffError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    return 0
