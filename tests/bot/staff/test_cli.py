"""`python -m bot.staff`: users and API tokens from the command line; passwords never from argv."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import Engine, select

from bot.staff import cli, service
from bot.staff.models import ApiToken, StaffUser
from bot.staff.security import api_token_hash, verify_password


@pytest.fixture
def run(engine: Engine, db, monkeypatch: pytest.MonkeyPatch, capsys):
    monkeypatch.setattr(cli, "get_engine", lambda: engine)

    def invoke(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def test_create_a_user_from_stdin_and_log_in_with_it(run, db) -> None:
    code, out, _ = run("create", "--email", "Ann@Staff.example.org", "--role", "reviewer", "--password-stdin",
                       stdin="a long secret phrase\n")
    assert code == 0 and "created reviewer ann@staff.example.org" in out
    with db() as session:
        user = session.scalars(select(StaffUser)).one()
        assert user.email == "ann@staff.example.org" and user.role == "reviewer"
        assert verify_password(user.password_hash, "a long secret phrase") and "secret" not in user.password_hash
    code, _, err = run("create", "--email", "ann@staff.example.org", "--role", "admin", "--password-stdin", stdin="x" * 20)
    assert code == 1 and "already exists" in err


def test_refusals(run) -> None:
    code, _, err = run("create", "--email", "b@staff.example.org", "--role", "viewer", "--password-stdin", stdin="short\n")
    assert code == 1 and "at least 12" in err
    with pytest.raises(SystemExit):  # no --password option exists: argv would leak it to `ps` and shell history
        run("create", "--email", "b@staff.example.org", "--role", "viewer", "--password", "a long secret phrase")
    with pytest.raises(SystemExit):
        run("create", "--email", "b@staff.example.org", "--role", "owner", "--password-stdin")


def test_the_prompt_asks_twice(run, monkeypatch) -> None:
    answers = iter(["a long secret phrase", "a long secret phrasE"])
    monkeypatch.setattr(cli.getpass, "getpass", lambda prompt: next(answers))
    code, _, err = run("create", "--email", "c@staff.example.org", "--role", "viewer")
    assert code == 1 and "differ" in err
    answers = iter(["a long secret phrase"] * 2)
    assert run("create", "--email", "c@staff.example.org", "--role", "viewer")[0] == 0


def test_roles_activation_and_tokens(run, db) -> None:
    run("create", "--email", "d@staff.example.org", "--role", "viewer", "--password-stdin", stdin="a long secret phrase")
    assert run("set-role", "--email", "d@staff.example.org", "--role", "admin")[0] == 0
    assert run("deactivate", "--email", "d@staff.example.org")[0] == 0
    code, out, _ = run("list")
    assert "d@staff.example.org\tadmin\tdeactivated" in out
    run("activate", "--email", "d@staff.example.org")
    code, token, err = run("token", "create", "--email", "d@staff.example.org", "--name", "crm-sync")
    token = token.strip()
    assert code == 0 and token.startswith("gzcp_") and "shown only now" in err
    with db() as session:
        row = session.scalars(select(ApiToken)).one()
        assert row.token_hash == api_token_hash(token) and token not in row.token_hash
    code, out, _ = run("token", "list")
    assert "crm-sync\tactive" in out and token not in out
    assert run("token", "revoke", str(row.id))[0] == 0
    assert "revoked" in run("token", "list", "--email", "d@staff.example.org")[1]
    assert run("token", "revoke", "99999")[0] == 1
    with db() as session:
        actions = [e.action for e in service.audit_entries(session)[0]]
    assert {"user.create", "user.update", "token.create", "token.revoke"} <= set(actions)
