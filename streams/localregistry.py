"""A Confluent-compatible schema registry for development and tests, without Docker.

Apicurio Registry, whose ``/apis/ccompat/v7`` API speaks the Confluent protocol, is built from
Maven Central by ``deploy/local/registry/pom.xml`` and run with the machine's Java 17, bound to
127.0.0.1. It keeps its schemas in memory: a restart forgets them. Unlike Confluent's registry,
it starts with no compatibility rule, so ``up`` sets BACKWARD, Confluent's default.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from streams.errors import UserError
from streams.local_process import maven_package, process_alive, running_pid, stop_by_pid_file
from streams.localkafka import PROJECT_ROOT, port_is_free

if TYPE_CHECKING:
    from streams.settings import Settings

POM_DIR = PROJECT_ROOT / "deploy" / "local" / "registry"
RUNNER = POM_DIR / "target" / "quarkus-app" / "quarkus-run.jar"
API_PATH = "/apis/ccompat/v7"
COMPATIBILITY = "BACKWARD"
_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class LocalRegistryError(UserError):
    """The local schema registry could not be built, started or stopped."""


@dataclass(frozen=True)
class LocalRegistry:
    home: Path
    port: int = 8081
    heap_mb: int = 256

    @property
    def url(self) -> str:
        """What ``STREAMS_SCHEMA_REGISTRY_URL`` is set to, to use this registry."""
        return f"http://127.0.0.1:{self.port}{API_PATH}"

    @property
    def pid_file(self) -> Path:
        return self.home / "registry.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "registry.log"

    def ensure_artifacts(self, say: Callable[[str], None] = print) -> None:
        """Build the registry from Maven Central once."""
        if RUNNER.exists():
            return
        say("building the schema registry from Maven Central (once, about a minute) ...")
        what = "building the schema registry"
        pom = ["-s", str(POM_DIR / "settings.xml"), "-f", str(POM_DIR / "pom.xml")]
        maven_package(pom, what, LocalRegistryError)
        if not RUNNER.exists():
            raise LocalRegistryError(f"{what}: Maven made no {RUNNER}")

    def running_pid(self) -> int | None:
        """The registry's pid if ours runs; a stale pid file is removed."""
        return running_pid(self.pid_file, str(RUNNER), f"-Dquarkus.http.port={self.port}")

    def up(self, timeout: float = 120.0, say: Callable[[str], None] = print) -> bool:
        """Start the registry and wait until it answers, with BACKWARD compatibility set.
        False if it already ran."""
        if self.running_pid() is not None:
            self._wait_until_answering(self.running_pid() or 0, timeout)
            return False
        if not port_is_free(self.port):
            raise LocalRegistryError(
                f"port {self.port} on 127.0.0.1 is in use by another process; "
                "choose another with STREAMS_LOCAL_REGISTRY_PORT"
            )
        self.ensure_artifacts(say)
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as out:
            process = subprocess.Popen(
                [
                    "java",
                    f"-Xmx{self.heap_mb}m",
                    "-XX:TieredStopAtLevel=1",  # starts faster; a test registry does little
                    "-Dquarkus.http.host=127.0.0.1",
                    f"-Dquarkus.http.port={self.port}",
                    "-jar",
                    str(RUNNER),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # the registry outlives the command that started it
            )
        self.pid_file.write_text(str(process.pid))
        self._wait_until_answering(process.pid, timeout)
        self._request("PUT", "/config", {"compatibility": COMPATIBILITY})
        return True

    def _wait_until_answering(self, pid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self._request("GET", "/subjects")
                return
            except OSError:
                pass
            if not process_alive(pid):
                self.pid_file.unlink(missing_ok=True)
                raise LocalRegistryError(
                    "the schema registry exited during start: " + self.log_tail()
                )
            time.sleep(0.25)
        raise LocalRegistryError(
            f"the schema registry did not answer within {timeout:g}s: " + self.log_tail()
        )

    def _request(self, method: str, path: str, body: object | None = None) -> object:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 (our own loopback URL)
            self.url + path, data=data, method=method, headers={"Content-Type": _CONTENT_TYPE}
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return json.loads(response.read() or b"null")

    def compatibility(self) -> str:
        """The registry's global compatibility level."""
        answer = self._request("GET", "/config")
        return str(answer.get("compatibilityLevel") if isinstance(answer, dict) else answer)

    def down(self, timeout: float = 30.0) -> bool:
        """Stop the registry (SIGTERM, then SIGKILL). False if it was not running."""
        return stop_by_pid_file(self.pid_file, self.running_pid(), timeout)

    def log_tail(self, lines: int = 15) -> str:
        if not self.log_file.exists():
            return "(no registry log yet)"
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])


def development_registry(settings: Settings) -> LocalRegistry:
    """The local development registry the settings describe (``streams dev registry``)."""
    return LocalRegistry(
        settings.local_dir.resolve() / "registry", port=settings.local_registry_port
    )
