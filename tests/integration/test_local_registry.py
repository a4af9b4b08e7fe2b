"""The local schema registry (``streams dev registry``): started, recognised, stopped."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.localkafka import free_port, port_accepts
from streams.localregistry import LocalRegistry, LocalRegistryError

pytestmark = pytest.mark.integration


def test_registry_starts_once_with_confluents_default_compatibility_and_stops(
    tmp_path: Path,
) -> None:
    registry = LocalRegistry(tmp_path / "registry", port=free_port())
    try:
        assert registry.up() is True
        assert registry.running_pid() is not None
        assert registry.compatibility() == "BACKWARD"  # Apicurio's own default is NONE
        assert registry.up() is False  # already running: left as it is

        # another registry (another home) cannot take a port in use, and says which setting
        # chooses another
        with pytest.raises(LocalRegistryError, match="STREAMS_LOCAL_REGISTRY_PORT"):
            LocalRegistry(tmp_path / "other", port=registry.port).up()
    finally:
        stopped = registry.down()
    assert stopped is True
    assert registry.running_pid() is None
    assert not port_accepts(registry.port)
    assert registry.down() is False


def test_a_stale_pid_file_is_not_taken_for_a_running_registry(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "registry", port=free_port())
    registry.home.mkdir(parents=True)
    registry.pid_file.write_text("1")  # a process that is not our registry
    assert registry.running_pid() is None
    assert not registry.pid_file.exists()
