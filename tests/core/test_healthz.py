"""`GET /healthz`: anonymous; 200 when the database and broker are up, 503 naming what is down."""

from __future__ import annotations

from django.test import Client

from tests.support.pypi import free_port


def test_it_answers_200_anonymously_when_everything_is_up(client: Client, db: None) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_it_answers_503_naming_the_broker_when_redis_is_down(client: Client, db: None, settings: object) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # type: ignore[attr-defined]
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "broker": "down"}


def test_it_answers_503_when_the_file_broker_folder_is_unwritable(
    client: Client, db: None, settings: object, tmp_path: object
) -> None:
    blocker = tmp_path / "not-a-folder"  # type: ignore[operator]
    blocker.write_text("x")
    settings.BROKER_DIR = blocker  # type: ignore[attr-defined]
    settings.REDIS_URL = ""  # type: ignore[attr-defined]  # the embedded broker, even where CI uses Redis
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["broker"] == "down"
