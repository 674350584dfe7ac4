"""What a `ratify serve` worker does once it has built its app."""

import gc
from collections.abc import Iterator

import pytest

from api.main import app_from_env


@pytest.fixture
def thawed() -> Iterator[None]:
    """What the test freezes is thawed again (the test process lives on)."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_worker_freezes_what_start_up_built(
    database_url: str, monkeypatch: pytest.MonkeyPatch, thawed: None
) -> None:
    monkeypatch.setenv("RATIFY_DATABASE_URL", database_url)
    app = app_from_env()
    frozen = gc.get_freeze_count()
    assert frozen > 10_000  # modules, routes and models are out of the collector's sight
    assert app.state.settings.database_url == database_url
    assert not any(obj is app for obj in gc.get_objects())  # the app is among the frozen
    gc.collect()  # a full collection leaves them where they are
    assert gc.get_freeze_count() == frozen
