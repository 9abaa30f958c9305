"""Rendezvous choice of a Rasa replica per sender, and its cool-down."""

from bot.chat.replicas import Replicas
from bot.settings import settings

URLS = ["http://a:5005", "http://b:5006", "http://c:5007"]


def test_each_sender_has_a_stable_first_choice_and_senders_spread() -> None:
    replicas = Replicas(URLS)
    firsts = [replicas.order(f"web-{i}")[0] for i in range(300)]
    assert all(replicas.order(f"web-{i}")[0] == firsts[i] for i in range(300))
    counts = {url: firsts.count(url) for url in URLS}
    assert min(counts.values()) > 60, counts  # about a third each


def test_a_replica_marked_down_goes_last_until_its_cool_down_ends() -> None:
    now = [0.0]
    replicas = Replicas(URLS, clock=lambda: now[0])
    first = replicas.order("web-x")[0]
    replicas.mark_down(first)
    assert replicas.order("web-x")[-1] == first and replicas.order("web-x")[0] != first
    now[0] += 10
    assert replicas.order("web-x")[0] == first


def test_urls_from_env(monkeypatch) -> None:
    monkeypatch.setenv("RASA_URLS", "http://a:1/, http://b:2,http://a:1")
    assert settings().rasa_replicas == ["http://a:1", "http://b:2"]
    monkeypatch.delenv("RASA_URLS")
    monkeypatch.setenv("RASA_URL", "http://only:5005")
    assert settings().rasa_replicas == ["http://only:5005"]
