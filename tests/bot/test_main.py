"""The web app over real HTTP semantics (FastAPI's TestClient drives the ASGI app)."""

from fastapi.testclient import TestClient

from bot.main import create_app

client = TestClient(create_app())


def test_health() -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readiness_reports_an_unreachable_rasa(monkeypatch) -> None:
    monkeypatch.setenv("RASA_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("RASA_URLS", raising=False)
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503 and body["status"] == "degraded"
    assert body["rasa"]["status"] == "down"
    assert body["rasa"]["replicas"]["http://127.0.0.1:9"]["status"] == "unreachable"


def test_program_api_serves_the_same_facts_in_both_languages() -> None:
    en = client.get("/api/program").json()
    zh = client.get("/api/program", params={"lang": "zh"}).json()
    assert [c["key"] for c in en["categories"]] == ["strategic_partner", "super_partner", "city_dreamer", "city_ambassador"]
    assert zh["categories"][2]["name"] == "城市梦想家"
    assert any("Canton Fair" in b["text"] for b in en["benefits"])


def test_program_api_rejects_bad_input_clearly() -> None:
    assert client.get("/api/program", params={"lang": "fr"}).status_code == 422
    response = client.get("/api/program/categories/nope")
    assert response.status_code == 404 and "one of" in response.json()["detail"]
