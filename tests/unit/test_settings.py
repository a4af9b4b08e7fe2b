from __future__ import annotations

import pytest

from streams.errors import ConfigError
from streams.settings import Settings, load_settings


def test_defaults_point_at_local_broker_and_embedded_warehouse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("STREAMS_"):
            monkeypatch.delenv(name)
    settings = load_settings()
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert settings.warehouse_url.startswith("chdb://")


def test_environment_overrides_with_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMS_TOPIC_PREFIX", "city1.")
    monkeypatch.setenv("STREAMS_SINK_BATCH_SIZE", "500")
    settings = load_settings()
    assert settings.topic("raw.gat1400") == "city1.raw.gat1400"
    assert settings.sink_batch_size == 500


def test_bad_warehouse_url_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMS_WAREHOUSE_URL", "mysql://nope")
    with pytest.raises(ConfigError, match="STREAMS_WAREHOUSE_URL"):
        load_settings()


def test_bad_number_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMS_WEB_PORT", "http")
    with pytest.raises(ConfigError, match="STREAMS_WEB_PORT"):
        load_settings()


def test_password_is_masked() -> None:
    settings = Settings(warehouse_password="s3cret")  # type: ignore[arg-type]
    assert "s3cret" not in repr(settings)
    assert "s3cret" not in str(settings.model_dump())


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.topic_prefix = "x"  # type: ignore[misc]


def test_environment_carries_the_settings_to_a_child() -> None:
    env = Settings(topic_prefix="c1.", web_port=7000).environment(
        {"PATH": "/bin", "STREAMS_TOPIC_PREFIX": "stale."}
    )
    assert env["PATH"] == "/bin"
    assert env["STREAMS_TOPIC_PREFIX"] == "c1."
    assert env["STREAMS_WEB_PORT"] == "7000"
    assert "STREAMS_WAREHOUSE_PASSWORD" not in env  # unset stays unset
