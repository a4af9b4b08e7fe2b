"""The one settings object. Every value can be set by an environment variable ``STREAMS_<NAME>``.

Defaults work on a laptop: the local broker from ``streams dev kafka up`` and the embedded
(chDB) warehouse under ``.local/``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.correlate.config import RuleConfig
from streams.errors import ConfigError

WAREHOUSE_SCHEMES = ("chdb", "clickhouse")
# A cluster name goes into DDL text: a plain name, or a {macro} the servers define.
CLUSTER_NAME = re.compile(r"^(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z0-9_][A-Za-z0-9_.-]*)$")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STREAMS_", frozen=True, extra="ignore")

    # Kafka
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma separated host:port."
    )
    topic_prefix: str = Field("", description="Prefix for every topic name, e.g. 'city1.'.")
    topic_partitions: int = Field(4, ge=1, description="Partitions of topics the project creates.")
    topic_replication_factor: int = Field(1, ge=1, description="Replication of created topics.")
    kafka_timeout_seconds: float = Field(10.0, gt=0, description="Broker reachability timeout.")
    schema_registry_url: str | None = Field(
        None,
        description="Confluent-compatible schema registry: canonical topics then use "
        "Confluent framing (default: Avro single-object encoding, no registry needed).",
    )

    # faust worker
    app_id: str = Field("streams", description="faust app id; also the consumer group id.")
    data_dir: Path = Field(Path(".local/faust"), description="faust table state (RocksDB).")
    web_host: str = Field("127.0.0.1", description="Worker HTTP bind address.")
    web_port: int = Field(6066, ge=1, le=65535, description="Worker HTTP port.")

    # Warehouse
    warehouse_url: str = Field(
        "chdb://.local/warehouse",
        description="chdb://PATH (embedded, one process per path) or "
        "clickhouse://user[:pass]@host:9000/db (server, native protocol).",
    )
    warehouse_password: SecretStr | None = Field(
        None, description="ClickHouse password, if not in the URL."
    )
    warehouse_database: str = Field("streams", description="Database for the embedded warehouse.")
    warehouse_cluster: str | None = Field(
        None,
        description="ClickHouse cluster name for the clustered schema (server mode only; "
        "None = single node). See docs/clickhouse-cluster.md.",
    )

    # Sink
    stage_batch_size: int = Field(
        5000, ge=1, description="Messages per batch at most, on the path to alerts."
    )
    stage_batch_wait_seconds: float = Field(
        0.05, gt=0, description="Longest wait gathering a batch, on the path to alerts."
    )
    stage_checkpoint_seconds: float = Field(
        1.0, ge=0, description="How often stages on the path to alerts commit (and save state)."
    )
    stage_session_timeout_seconds: float = Field(
        10.0,
        ge=6,
        le=1800,
        description="How long the partitions of a worker that vanished wait before the other "
        "workers take them over (the stages' consumer-group session timeout).",
    )
    worker_instance_id: str | None = Field(
        None,
        max_length=200,
        description="A stable name for this worker, e.g. its pod name (static group "
        "membership): restarted under the same name within the session timeout, it gets its "
        "partitions back and the other workers go on undisturbed. None or empty: a restart "
        "rebalances the group. Two running workers must never share a name.",
    )
    sink_batch_size: int = Field(20_000, ge=1, description="Rows per warehouse insert at most.")
    sink_flush_seconds: float = Field(1.0, gt=0, description="Longest wait before an insert.")
    sink_retry_initial_seconds: float = Field(0.2, gt=0, description="First retry backoff.")
    sink_retry_max_seconds: float = Field(10.0, gt=0, description="Longest retry backoff.")

    # Retention, enforced by the warehouse (TTL on each table, applied at every start).
    retention_raw_days: int = Field(3, ge=1, description="Days raw payloads are kept.")
    retention_plates_days: int = Field(90, ge=1, description="Days plate passes are kept.")
    retention_faces_days: int = Field(
        30, ge=1, description="Days face captures and embeddings (biometric data) are kept."
    )
    retention_alarms_days: int = Field(90, ge=1, description="Days alarms are kept.")
    retention_alerts_days: int = Field(
        365, ge=1, description="Days alerts and correlations are kept."
    )
    retention_dead_letters_days: int = Field(30, ge=1, description="Days dead letters are kept.")
    retention_audit_days: int = Field(1825, ge=1, description="Days the search audit is kept.")

    # Search API
    api_host: str = Field("127.0.0.1", description="Search API bind address.")
    api_port: int = Field(8088, ge=1, le=65535, description="Search API port.")
    api_url: str | None = Field(
        None,
        description="Where the CLI finds a running search API (default: http://API_HOST:API_PORT).",
    )
    api_token: SecretStr | None = Field(
        None, description="The CLI's API key for search, audit and user commands (or --token)."
    )

    archive_raw: bool = Field(
        True, description="Keep every raw payload in the warehouse table raw_captures."
    )
    worker_stages: str = Field(
        "all",
        description="Stages the worker runs: 'all', or a comma-separated list of normalize, "
        "dedup, plates, area, warehouse_sink, raw_archive (benchmarks of one part).",
    )

    # Normalization
    devices_csv: Path | None = Field(
        None,
        description="Device registry CSV (device_id,name,vendor,lat,lon,coord_system,timezone).",
    )
    default_timezone: str = Field(
        "Asia/Shanghai", description="Zone of offset-less device times when the registry has none."
    )
    clock_ahead_limit_seconds: float = Field(
        60.0,
        gt=0,
        description="A capture stamped more than this after its receipt comes from a device "
        "clock set ahead: its time is corrected (the device's time is kept).",
    )
    dead_letter_max_ratio: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Stop when more of a feed's recent payloads are dead letters, or more of a "
        "table's recent rows were refused by the warehouse.",
    )
    dead_letter_window: int = Field(
        1000, ge=10, description="Recent payloads (or a table's rows) the ratio counts."
    )

    # Deduplication and correlation (docs/correlation.md).
    lateness_seconds: float = Field(
        10.0, ge=0, description="Events received later than this after capture are late."
    )
    plate_window_seconds: float = Field(
        5.0, gt=0, description="Reads of one plate at one device this close are one pass."
    )
    face_window_seconds: float = Field(
        10.0, gt=0, description="Captures of one face track this close are one track."
    )
    dedup_memory_minutes: float = Field(
        2.0, gt=0, description="How long passed-on event ids are remembered."
    )
    max_speed_kmh: float = Field(
        250.0, gt=0, description="Cloned plate: sightings farther apart than this speed allows."
    )
    cloned_min_distance_m: float = Field(
        1000.0, ge=0, description="Cloned plate: devices closer than this never count."
    )
    person_vehicle_gap_seconds: float = Field(
        5.0, gt=0, description="Person-vehicle: face and plate at one device within this gap."
    )
    convoy_gap_seconds: float = Field(
        30.0, gt=0, description="Convoy: two plates passing one device within this gap."
    )
    convoy_min_devices: int = Field(
        3, ge=2, description="Convoy: distinct devices shared before an alert."
    )
    convoy_window_minutes: float = Field(
        30.0, gt=0, description="Convoy: the span the shared devices must fall in."
    )
    convoy_watchlisted_only: bool = Field(
        True, description="Convoy: only pairs with a watchlisted plate (false: every pair)."
    )
    alarm_radius_m: float = Field(
        500.0, ge=0, description="Alarm context: captures from devices this close."
    )
    alarm_context_seconds: float = Field(
        60.0, gt=0, description="Alarm context: captures this long before and after."
    )
    # Ingest gateway
    gateway_host: str = Field("127.0.0.1", description="Gateway bind address.")
    gateway_port: int = Field(8080, ge=1, le=65535, description="Gateway HTTP port.")
    gateway_max_body_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="Largest accepted push body (413 above)."
    )
    gateway_queue_messages: int = Field(
        100_000, ge=10, description="Producer queue; when full the gateway answers 503."
    )
    gateway_viid_server_id: str = Field(
        "33010000005030000001", description="VIID server id the gateway answers GA/T 1400 with."
    )
    gateway_replay_clock: bool = Field(
        False,
        description="Take the received time from the X-Replay-Received-At header (replays and "
        "load tests of recorded traffic; never on a gateway cameras reach).",
    )

    # Local development broker (deploy/local/kafka)
    local_dir: Path = Field(Path(".local"), description="Where local services keep data and logs.")
    local_kafka_port: int = Field(9092, ge=1, le=65534, description="Local broker client port.")
    local_kafka_heap_mb: int = Field(512, ge=128, description="Local broker JVM heap.")
    local_registry_port: int = Field(
        8081, ge=1, le=65535, description="Local schema registry port (deploy/local/registry)."
    )

    @field_validator("warehouse_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if scheme not in WAREHOUSE_SCHEMES:
            raise ValueError(f"warehouse URL {value!r} must start with chdb:// or clickhouse://")
        return value

    @field_validator("warehouse_cluster")
    @classmethod
    def _cluster_on_a_server(cls, value: str | None, info: ValidationInfo) -> str | None:
        if not value:
            return None
        if not CLUSTER_NAME.match(value):
            raise ValueError(
                f"{value!r} is not a cluster name (letters, digits, _ . -) or a {{macro}}"
            )
        url = info.data.get("warehouse_url")  # absent when the URL itself was refused
        if url is not None and urlsplit(url).scheme == "chdb":
            raise ValueError(
                "a cluster needs ClickHouse servers, but STREAMS_WAREHOUSE_URL is chdb:// (the "
                "embedded engine is one node): set a clickhouse:// URL or unset the cluster"
            )
        return value

    def environment(self, base: dict[str, str]) -> dict[str, str]:
        """``base`` with its STREAMS_* variables replaced by these settings, for a child process."""
        env = {k: v for k, v in base.items() if not k.startswith("STREAMS_")}
        for name, value in self.model_dump(mode="json").items():
            if value is not None:
                env[f"STREAMS_{name.upper()}"] = str(value)
        return env

    def topic(self, name: str) -> str:
        """The full topic name for a topology name (prefix applied)."""
        return f"{self.topic_prefix}{name}"

    def rule_config(self) -> RuleConfig:
        """The deduplication and correlation figures of these settings."""
        return RuleConfig(
            lateness=timedelta(seconds=self.lateness_seconds),
            dedup_memory=timedelta(minutes=self.dedup_memory_minutes),
            plate_window=timedelta(seconds=self.plate_window_seconds),
            face_window=timedelta(seconds=self.face_window_seconds),
            max_speed_kmh=self.max_speed_kmh,
            cloned_min_distance_m=self.cloned_min_distance_m,
            person_vehicle_gap=timedelta(seconds=self.person_vehicle_gap_seconds),
            convoy_gap=timedelta(seconds=self.convoy_gap_seconds),
            convoy_min_devices=self.convoy_min_devices,
            convoy_window=timedelta(minutes=self.convoy_window_minutes),
            convoy_watchlisted_only=self.convoy_watchlisted_only,
            alarm_radius_m=self.alarm_radius_m,
            alarm_context=timedelta(seconds=self.alarm_context_seconds),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, validated once; bad values become a ConfigError."""
    return load_settings()


def load_settings() -> Settings:
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"bad setting STREAMS_{field.upper()}: {first['msg']}") from None
