"""A single-node Apache Kafka (KRaft, broker+controller) for development and tests, without Docker.

The broker's jars come from Maven Central through ``deploy/local/kafka/pom.xml``; the machine's
Java 17 runs it. Data and logs live under ``<local_dir>/kafka`` (git-ignored); it listens on
127.0.0.1 only. ``up`` is idempotent and copes with a stale pid file.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from streams.errors import UserError
from streams.local_process import maven_package, process_alive, running_pid, stop_by_pid_file

if TYPE_CHECKING:
    from streams.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]
POM_DIR = PROJECT_ROOT / "deploy" / "local" / "kafka"
LIBS_DIR = POM_DIR / "target" / "libs"
LOG_CONFIG = POM_DIR / "log4j2.properties"
MAIN_CLASS = "kafka.Kafka"


class LocalKafkaError(UserError):
    """The local broker could not be prepared, started or stopped."""


# Ports handed to servers started next are drawn below the range the system takes the local
# ports of outgoing connections from: a port from that range (what binding port 0 gives) can be
# taken by any client's connection before the server binds it.
SERVER_PORTS_LOW = 20_000


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing uses now, and no outgoing connection will be given, for a server started
    next (e.g. a test's)."""
    high = _ephemeral_low() - 1
    low = min(SERVER_PORTS_LOW, high - 1_000)
    for _ in range(1_000):
        port = random.randint(low, high)  # noqa: S311 (a port, not a secret)
        if port_is_free(port, host):
            return port
    raise UserError(f"no free port on {host} between {low} and {high}")


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Servers (the JVM, aiohttp) bind with SO_REUSEADDR: a port in TIME_WAIT is free to them.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_accepts(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


@dataclass(frozen=True)
class LocalKafka:
    home: Path
    port: int = 9092
    heap_mb: int = 512

    @property
    def controller_port(self) -> int:
        return self.port + 1

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.home / "broker.pid"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def config_file(self) -> Path:
        return self.home / "server.properties"

    # -- artifacts -------------------------------------------------------------------------

    def ensure_artifacts(self, say: Callable[[str], None] = print) -> None:
        """Resolve the broker jars from Maven Central once."""
        if any(LIBS_DIR.glob("kafka_2.13-*.jar")):
            return
        say("fetching Apache Kafka jars from Maven Central (once) ...")
        what = "fetching the Kafka broker jars"
        maven_package(["-f", str(POM_DIR / "pom.xml")], what, LocalKafkaError)
        if not any(LIBS_DIR.glob("kafka_2.13-*.jar")):
            raise LocalKafkaError(f"{what}: Maven put no broker jar in {LIBS_DIR}")

    # -- process ---------------------------------------------------------------------------

    def running_pid(self) -> int | None:
        """The broker's pid if our broker runs; a stale pid file is removed."""
        return running_pid(self.pid_file, MAIN_CLASS, str(self.config_file))

    def _java_command(self, main: str, *args: str) -> list[str]:
        return [
            "java",
            f"-Xms{min(256, self.heap_mb)}m",
            f"-Xmx{self.heap_mb}m",
            "-XX:+UseG1GC",
            "-XX:TieredStopAtLevel=1",  # a dev broker starts faster with C1 only
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self.log_dir}",
            f"-Dlog4j2.configurationFile={LOG_CONFIG}",
            "-cp",
            str(LIBS_DIR / "*"),
            main,
            *args,
        ]

    def write_config(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(exist_ok=True)
        self.config_file.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    f"log.dirs={self.data_dir}",
                    "num.partitions=4",
                    "num.network.threads=2",
                    "num.io.threads=4",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=4",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=false",
                    "log.retention.hours=72",
                    "log.segment.bytes=268435456",
                    "",
                ]
            )
        )

    def format_storage(self, cluster_id: str | None = None) -> None:
        """Format the KRaft storage once (a no-op when it is formatted)."""
        if (self.data_dir / "meta.properties").exists():
            return
        cluster_id = cluster_id or _kafka_cluster_id()
        result = subprocess.run(
            self._java_command(
                # "=": an id may start with "-", which the tool would take for an option
                "kafka.tools.StorageTool",
                "format",
                f"--cluster-id={cluster_id}",
                "--config",
                str(self.config_file),
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise LocalKafkaError(
                "formatting Kafka storage failed: " + (result.stdout + result.stderr).strip()[-500:]
            )

    def up(self, timeout: float = 90.0, say: Callable[[str], None] = print) -> bool:
        """Start the broker and wait until it accepts connections. False if it already ran."""
        if self.running_pid() is not None:
            if port_accepts(self.port):
                return False
            return self._wait_until_accepting(self.running_pid() or 0, timeout)
        for port in (self.port, self.controller_port):
            if not port_is_free(port):
                raise LocalKafkaError(
                    f"port {port} on 127.0.0.1 is in use by another process; "
                    "choose another with STREAMS_LOCAL_KAFKA_PORT"
                )
        self.ensure_artifacts(say)
        self.write_config()
        self.format_storage()
        out = (self.log_dir / "stdout.log").open("ab")
        process = subprocess.Popen(
            self._java_command(MAIN_CLASS, str(self.config_file)),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # the broker outlives the command that started it
        )
        out.close()
        self.pid_file.write_text(str(process.pid))
        return self._wait_until_accepting(process.pid, timeout)

    def _wait_until_accepting(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if port_accepts(self.port):
                return True
            if not process_alive(pid):
                self.pid_file.unlink(missing_ok=True)
                raise LocalKafkaError("the Kafka broker exited during start: " + self.log_tail())
            time.sleep(0.25)
        raise LocalKafkaError(
            f"the Kafka broker did not accept connections within {timeout:g}s: " + self.log_tail()
        )

    def down(self, timeout: float = 30.0) -> bool:
        """Stop the broker (SIGTERM, then SIGKILL). False if it was not running."""
        return stop_by_pid_file(self.pid_file, self.running_pid(), timeout)

    def log_tail(self, lines: int = 15) -> str:
        texts = []
        for name in ("stdout.log", "server.log"):
            path = self.log_dir / name
            if path.exists():
                texts.extend(path.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(texts[-lines:]) or "(no broker log yet)"

    def wipe(self) -> None:
        """Remove data and logs; the broker must be down."""
        if self.running_pid() is not None:
            raise LocalKafkaError("stop the broker before wiping its data")
        shutil.rmtree(self.home, ignore_errors=True)


def _kafka_cluster_id() -> str:
    """A random cluster id in Kafka's format: a UUID as unpadded url-safe base64."""
    import base64

    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def development_broker(settings: Settings) -> LocalKafka:
    """The local development broker the settings describe (``streams dev kafka``)."""
    return LocalKafka(
        settings.local_dir.resolve() / "kafka",
        port=settings.local_kafka_port,
        heap_mb=settings.local_kafka_heap_mb,
    )
