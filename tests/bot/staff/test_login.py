"""The login form under attack: attempts counted before the password check, so parallel guesses cannot
outrun the count; the guessing address is slowed down (429 with Retry-After), the owner elsewhere is not."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Tuple

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.staff import routes
from bot.staff.security import COOKIE_NAME
from tests.bot.staff.conftest import PASSWORD, csrf_of

ATTACKER = ("198.51.100.66", 40000)
OWNER = ("192.0.2.10", 50000)


def _form(app: FastAPI, address: Tuple[str, int]) -> Tuple[TestClient, str]:
    """A client from `address` holding the login form's CSRF cookie, and the form's token."""
    client = TestClient(app, client=address, headers={"Accept-Language": "en"})
    return client, csrf_of(client.get("/staff/login").text)


def _post(client: TestClient, token: str, email: str, password: str):
    return client.post("/staff/login", data={"email": email, "password": password, "csrf_token": token},
                       follow_redirects=False)


def _attempt(client: TestClient, email: str, password: str):
    """A fresh form, then a login: each answer sets a new form cookie."""
    return _post(client, csrf_of(client.get("/staff/login").text), email, password)


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> List[str]:
    """Each password check the login route makes (slowed down, to widen any race between count and check)."""
    calls: List[str] = []
    lock = threading.Lock()
    real = routes.verify_password

    def verify(password_hash: Optional[str], password: str) -> bool:
        with lock:
            calls.append(password)
        threading.Event().wait(0.3)
        return real(password_hash, password)

    monkeypatch.setattr(routes, "verify_password", verify)
    return calls


def test_parallel_wrong_passwords_reach_the_check_only_as_often_as_allowed(client: TestClient, make_user, monkeypatch,
                                                                           checked: List[str]) -> None:
    monkeypatch.setenv("STAFF_LOGIN_FREE_FAILURES", "3")
    monkeypatch.setenv("STAFF_LOGIN_BACKOFF_SECONDS", "60")
    user = make_user("reviewer")
    forms = [_form(client.app, ATTACKER) for _ in range(14)]  # one client each: every answer sets a new form cookie
    barrier = threading.Barrier(len(forms))

    def guess(n: int):
        browser, token = forms[n]
        barrier.wait()
        return _post(browser, token, user.email, f"wrong guess {n:02d}")

    with ThreadPoolExecutor(len(forms)) as pool:
        responses = list(pool.map(guess, range(len(forms))))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [401] * 3 + [429] * 11, statuses
    assert len(checked) == 3  # the other 11 were refused before their password was looked at
    for response in responses:
        if response.status_code == 429:
            assert 55 <= int(response.headers["Retry-After"]) <= 60 and "Too many failed attempts" in response.text
            assert COOKIE_NAME not in response.cookies

    # The guessing address is slowed even with the right password; the owner, from elsewhere, logs in at once.
    browser, token = _form(client.app, ATTACKER)
    assert _post(browser, token, user.email, PASSWORD).status_code == 429
    owner, token = _form(client.app, OWNER)
    response = _post(owner, token, user.email, PASSWORD)
    assert response.status_code == 303 and COOKIE_NAME in response.cookies
    assert owner.get("/staff", follow_redirects=False).status_code == 200


def test_many_addresses_cannot_lock_the_owner_out(client: TestClient, make_user, monkeypatch, checked) -> None:
    monkeypatch.setenv("STAFF_LOGIN_FREE_FAILURES", "2")
    monkeypatch.setenv("STAFF_LOGIN_MAX_PER_ACCOUNT", "4")
    monkeypatch.setenv("STAFF_LOGIN_BACKOFF_SECONDS", "60")
    user = make_user("viewer")
    results: Dict[str, List[int]] = {}
    for n in range(5):  # a small botnet: 10 failures for the account, far beyond its allowance of 4
        bot = TestClient(client.app, client=(f"203.0.113.{n}", 40000))
        results[f"203.0.113.{n}"] = [_attempt(bot, user.email, "wrong guess").status_code for _ in range(3)]
    # Within the account's allowance each address has its two free failures; beyond it, one, then a wait.
    assert results["203.0.113.0"] == results["203.0.113.1"] == [401, 401, 429], results
    assert all(codes[0] == 401 and codes[-1] == 429 for codes in results.values()), results
    assert len(checked) == sum(codes.count(401) for codes in results.values())
    owner, token = _form(client.app, OWNER)
    assert _post(owner, token, user.email, PASSWORD).status_code == 303


def test_spraying_one_address_across_accounts_is_refused(client: TestClient, make_user, monkeypatch) -> None:
    monkeypatch.setenv("STAFF_LOGIN_MAX_PER_IP", "4")
    user = make_user("viewer")
    browser = TestClient(client.app, client=ATTACKER)
    codes = [_attempt(browser, f"guess{n}@staff.example.org", "Password123456").status_code for n in range(4)]
    assert codes == [401] * 4
    response = _attempt(browser, user.email, PASSWORD)  # this address is done for the window, whoever it tries
    assert response.status_code == 429 and 0 < int(response.headers["Retry-After"]) <= 900
    owner, token = _form(client.app, OWNER)
    assert _post(owner, token, user.email, PASSWORD).status_code == 303
