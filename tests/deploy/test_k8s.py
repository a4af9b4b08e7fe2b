"""deploy/k8s builds with kustomize and everything it makes is valid, offline: core objects
against the Kubernetes API schemas (kubernetes-validate, strict), Strimzi and KEDA resources
against their CRDs' openAPIV3Schema (fetched by `make install-checks`), Altinity resources against a
structural check. And the manifests agree with the code: settings, topics, ports, scaling.

kustomize and the CRDs come from `make install-checks`; when they are missing the tests fail."""

from __future__ import annotations

import copy
import functools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from streams import capacity, k8s_topics
from streams.agents import STAGE_NAMES
from streams.kafka_admin import topic_config
from streams.settings import Settings
from streams.topics import ALL_TOPICS, RAW, WATCHLIST

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUSTOMIZE = ROOT / ".venv" / "bin" / "kustomize"
CRDS = K8S / ".crds"
TOPICS_FILE = K8S / "base" / "kafka-topics.yaml"
BASE_PARTITIONS = 24  # the city plan (docs/capacity.md)
KUBERNETES_VERSION = "1.31.0"
TARGETS = ("base", "overlays/dev", "overlays/prod")
CORE_GROUPS = {"", "apps", "batch", "policy", "autoscaling"}
ALTINITY_GROUPS = {"clickhouse.altinity.com", "clickhouse-keeper.altinity.com"}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job"}
# The HTTP port setting of each long-running container.
PORT_SETTINGS = {"worker": "web_port", "gateway": "gateway_port", "api": "api_port"}

Obj = dict[str, Any]


@pytest.fixture(autouse=True)
def _no_streams_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read the environment: only the manifests' values may count here."""
    for name in list(os.environ):
        if name.startswith("STREAMS_"):
            monkeypatch.delenv(name)


@functools.cache
def build(target: str) -> tuple[Obj, ...]:
    assert KUSTOMIZE.exists(), f"{KUSTOMIZE} is missing: run `make install-checks`"
    done = subprocess.run(
        [str(KUSTOMIZE), "build", str(K8S / target)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"kustomize build {target} failed:\n{done.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


@pytest.fixture(params=TARGETS)
def target(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def objects(target: str) -> tuple[Obj, ...]:
    return build(target)


# --- helpers -------------------------------------------------------------------------------


def group_of(obj: Obj) -> str:
    api_version: str = obj["apiVersion"]
    return api_version.rpartition("/")[0]


def of_kind(objects: tuple[Obj, ...], kind: str) -> list[Obj]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: tuple[Obj, ...], kind: str, name: str | None = None) -> Obj:
    found = [o for o in of_kind(objects, kind) if name is None or o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def config_map(objects: tuple[Obj, ...]) -> Obj:
    """The backbone's ConfigMap (configMapGenerator "streams", name with its hash)."""
    maps = [o for o in of_kind(objects, "ConfigMap") if o["metadata"]["name"].startswith("streams")]
    assert len(maps) == 1, [m["metadata"]["name"] for m in maps]
    return maps[0]


def settings_of(objects: tuple[Obj, ...]) -> Settings:
    data: dict[str, str] = config_map(objects).get("data", {})
    values = {k.removeprefix("STREAMS_").lower(): v for k, v in data.items()}
    return Settings.model_validate(values)


def workloads(objects: tuple[Obj, ...]) -> list[Obj]:
    return [o for o in objects if o["kind"] in WORKLOAD_KINDS]


def pod_spec(workload: Obj) -> Obj:
    spec: Obj = workload["spec"]["template"]["spec"]
    return spec


def all_containers(spec: Obj) -> list[Obj]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def container(objects: tuple[Obj, ...], name: str) -> tuple[Obj, Obj]:
    """The long-running container ``name`` and the workload it is in."""
    found = [
        (c, w) for w in workloads(objects) for c in pod_spec(w)["containers"] if c["name"] == name
    ]
    assert len(found) == 1, f"expected one container {name}, found {len(found)}"
    return found[0]


def environment_names(objects: tuple[Obj, ...], c: Obj) -> set[str]:
    """Variables the container gets: its own env and those of the ConfigMaps it loads."""
    names = {e["name"] for e in c.get("env", [])}
    maps = {m["metadata"]["name"]: m.get("data", {}) for m in of_kind(objects, "ConfigMap")}
    for source in c.get("envFrom", []):
        ref = source.get("configMapRef")
        if ref is not None:
            assert ref["name"] in maps, f"{c['name']} loads a ConfigMap not in the build"
            names |= set(maps[ref["name"]])
    return names


def port_number(c: Obj, port: int | str) -> int:
    if isinstance(port, int):
        return port
    numbers = [p["containerPort"] for p in c.get("ports", []) if p.get("name") == port]
    assert numbers, f"container {c['name']} has no port named {port}"
    number: int = numbers[0]
    return number


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def topics(objects: tuple[Obj, ...]) -> dict[str, Obj]:
    return {t["spec"]["topicName"]: t for t in of_kind(objects, "KafkaTopic")}


def broker_count(objects: tuple[Obj, ...]) -> int:
    return sum(
        p["spec"]["replicas"]
        for p in of_kind(objects, "KafkaNodePool")
        if "broker" in p["spec"]["roles"]
    )


# --- the build and the schemas --------------------------------------------------------------


def test_every_object_is_namespaced_in_streams(objects: tuple[Obj, ...]) -> None:
    assert objects
    for obj in objects:
        if obj["kind"] == "Namespace":
            assert obj["metadata"]["name"] == "streams"
        else:
            assert obj["metadata"].get("namespace") == "streams", obj["metadata"]["name"]


def test_core_objects_are_valid_kubernetes(objects: tuple[Obj, ...]) -> None:
    core = [o for o in objects if group_of(o) in CORE_GROUPS]
    assert {o["kind"] for o in core} >= {
        "Namespace",
        "ConfigMap",
        "Service",
        "StatefulSet",
        "Deployment",
        "Job",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    }
    errors = []
    for obj in core:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(
                f"{obj['kind']}/{obj['metadata']['name']}: {exc.message} at {list(exc.path)}"
            )
    assert not errors, "\n".join(errors)


def _structural(schema: Obj, *, closed: bool) -> Obj:
    """An openAPIV3Schema as JSON Schema (draft 4), as the API server reads it: `nullable`,
    int-or-string, and (when ``closed``) no fields the schema does not name, unless it keeps
    unknown fields. Branches of allOf/anyOf/oneOf/not stay open: they only add constraints."""
    out = {k: v for k, v in schema.items() if not k.startswith("x-kubernetes-") and k != "nullable"}
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if "properties" in schema:
        out["properties"] = {
            name: _structural(sub, closed=closed) for name, sub in schema["properties"].items()
        }
        keeps_unknown = schema.get("x-kubernetes-preserve-unknown-fields", False)
        if closed and "additionalProperties" not in schema and not keeps_unknown:
            out["additionalProperties"] = False
    if isinstance(schema.get("additionalProperties"), dict):
        out["additionalProperties"] = _structural(schema["additionalProperties"], closed=closed)
    if "items" in schema:
        out["items"] = _structural(schema["items"], closed=closed)
    for key in ("allOf", "anyOf", "oneOf"):
        if key in schema:
            out[key] = [_structural(sub, closed=False) for sub in schema[key]]
    if "not" in schema:
        out["not"] = _structural(schema["not"], closed=False)
    return out


@functools.cache
def crd_schemas() -> dict[tuple[str, str, str], Obj]:
    """(group, version, kind) -> JSON Schema, from every CRD `make install-checks` fetched."""
    files = sorted(CRDS.glob("*/*.yaml"))
    assert files, f"no CRDs under {CRDS}: run `make install-checks`"
    found: dict[tuple[str, str, str], Obj] = {}
    for path in files:
        for crd in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            for version in spec["versions"]:
                if version.get("served", True):
                    schema = version["schema"]["openAPIV3Schema"]
                    key = (spec["group"], version["name"], spec["names"]["kind"])
                    found[key] = _structural(schema, closed=True)
    return found


def test_operator_resources_match_their_crds(objects: tuple[Obj, ...]) -> None:
    schemas = crd_schemas()
    custom = [o for o in objects if group_of(o) not in CORE_GROUPS | ALTINITY_GROUPS]
    assert {o["kind"] for o in custom} == {"Kafka", "KafkaNodePool", "KafkaTopic", "ScaledObject"}
    errors = []
    for obj in custom:
        group, _, version = obj["apiVersion"].rpartition("/")
        key = (group, version, obj["kind"])
        assert key in schemas, f"no CRD serves {obj['apiVersion']} {obj['kind']}"
        validator = jsonschema.Draft4Validator(schemas[key])
        for error in validator.iter_errors(obj):
            errors.append(
                f"{obj['kind']}/{obj['metadata']['name']} at {list(error.absolute_path)}: "
                f"{error.message}"
            )
    assert not errors, "\n".join(errors)


def test_the_crd_check_refuses_an_unknown_field() -> None:
    schema = crd_schemas()[("kafka.strimzi.io", "v1beta2", "KafkaTopic")]
    topic = copy.deepcopy(topics(build("base"))["alerts"])
    assert not list(jsonschema.Draft4Validator(schema).iter_errors(topic))
    topic["spec"]["partition"] = 3
    topic["spec"]["replicas"] = "three"
    messages = [e.message for e in jsonschema.Draft4Validator(schema).iter_errors(topic)]
    assert any("partition" in m for m in messages), messages
    assert any("three" in m for m in messages), messages


# The Altinity operator's CRDs are not on a registry this project can reach (README): its two
# resources get this structural check, written from the operator's documentation, and the
# Kubernetes objects embedded in them (pod, volume claim and service templates) are validated
# as such.
_NAME = {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"}
_TEMPLATE_NAMES = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        key: {"type": "string", "minLength": 1}
        for key in (
            "podTemplate",
            "dataVolumeClaimTemplate",
            "logVolumeClaimTemplate",
            "volumeClaimTemplate",
            "serviceTemplate",
        )
    },
}
_NAMED_TEMPLATE = {
    "type": "object",
    "required": ["name", "spec"],
    "properties": {
        "name": _NAME,
        "generateName": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {"type": "object"},
    },
}
_POD_TEMPLATE = {
    "type": "object",
    "required": ["name", "spec"],
    "additionalProperties": False,
    "properties": {
        "name": _NAME,
        "metadata": {"type": "object"},
        "spec": {"type": "object"},
        "podDistribution": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["type"],
                "properties": {
                    "type": {
                        "enum": [
                            "ClickHouseAntiAffinity",
                            "ShardAntiAffinity",
                            "ReplicaAntiAffinity",
                            "MaxNumberPerNode",
                        ]
                    },
                    "topologyKey": {"type": "string"},
                    "scope": {"type": "string"},
                    "number": {"type": "integer"},
                },
            },
        },
    },
}
_SECRET_REF = {
    "type": "object",
    "additionalProperties": False,
    "required": ["valueFrom"],
    "properties": {
        "valueFrom": {
            "type": "object",
            "additionalProperties": False,
            "required": ["secretKeyRef"],
            "properties": {
                "secretKeyRef": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name", "key"],
                    "properties": {"name": _NAME, "key": {"type": "string"}},
                }
            },
        }
    },
}


def _installation_schema(api_version: str, kind: str, cluster: Obj, extra: Obj) -> Obj:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"enum": [api_version]},
            "kind": {"enum": [kind]},
            "metadata": {"type": "object", "required": ["name"], "properties": {"name": _NAME}},
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "required": ["configuration", "templates"],
                "properties": {
                    "defaults": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {"templates": _TEMPLATE_NAMES},
                    },
                    "configuration": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["clusters"],
                        "properties": {
                            "settings": {"type": "object"},
                            "files": {"type": "object"},
                            "clusters": {"type": "array", "minItems": 1, "items": cluster},
                            **extra,
                        },
                    },
                    "templates": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "podTemplates": {"type": "array", "items": _POD_TEMPLATE},
                            "volumeClaimTemplates": {"type": "array", "items": _NAMED_TEMPLATE},
                            "serviceTemplates": {"type": "array", "items": _NAMED_TEMPLATE},
                        },
                    },
                },
            },
        },
    }


def _cluster(layout: Obj) -> Obj:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "layout"],
        "properties": {
            # The operator's limit: cluster names are part of generated object names.
            "name": {"type": "string", "pattern": "^[a-zA-Z0-9-]{1,15}$"},
            "secret": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"auto": {"enum": ["true", "false"]}},
            },
            "layout": {
                "type": "object",
                "additionalProperties": False,
                "required": list(layout),
                "properties": layout,
            },
            "templates": _TEMPLATE_NAMES,
        },
    }


_COUNT = {"type": "integer", "minimum": 1}
ALTINITY_SCHEMAS: dict[str, Obj] = {
    "ClickHouseInstallation": _installation_schema(
        "clickhouse.altinity.com/v1",
        "ClickHouseInstallation",
        _cluster({"shardsCount": _COUNT, "replicasCount": _COUNT}),
        {
            "zookeeper": {
                "type": "object",
                "additionalProperties": False,
                "required": ["nodes"],
                "properties": {
                    "nodes": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["host", "port"],
                            "properties": {
                                "host": {"type": "string", "minLength": 1},
                                "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                            },
                        },
                    }
                },
            },
            # user/setting: a value, a list of values, or a reference to a Secret.
            "users": {
                "type": "object",
                "patternProperties": {"^[a-zA-Z0-9_]+/[a-z_/]+$": {}},
                "additionalProperties": False,
                "properties": {},
            },
        },
    ),
    "ClickHouseKeeperInstallation": _installation_schema(
        "clickhouse-keeper.altinity.com/v1",
        "ClickHouseKeeperInstallation",
        _cluster({"replicasCount": _COUNT}),
        {},
    ),
}


def _as_core(kind: str, spec: Obj) -> Obj:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": "template"}, "spec": spec}


def test_altinity_resources_are_well_formed(objects: tuple[Obj, ...]) -> None:
    installations = [o for o in objects if group_of(o) in ALTINITY_GROUPS]
    assert {o["kind"] for o in installations} == set(ALTINITY_SCHEMAS)
    for obj in installations:
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        errors = [
            f"{name} at {list(e.absolute_path)}: {e.message}"
            for e in jsonschema.Draft4Validator(ALTINITY_SCHEMAS[obj["kind"]]).iter_errors(obj)
        ]
        assert not errors, "\n".join(errors)
        spec = obj["spec"]
        templates = spec["templates"]
        # Every template named in defaults and clusters exists.
        defined = {
            "podTemplate": {t["name"] for t in templates.get("podTemplates", [])},
            "serviceTemplate": {t["name"] for t in templates.get("serviceTemplates", [])},
        }
        claims = {t["name"] for t in templates.get("volumeClaimTemplates", [])}
        for ref in ("dataVolumeClaimTemplate", "logVolumeClaimTemplate", "volumeClaimTemplate"):
            defined[ref] = claims
        uses = [spec.get("defaults", {}).get("templates", {})]
        uses += [c.get("templates", {}) for c in spec["configuration"]["clusters"]]
        for use in uses:
            for ref, template in use.items():
                assert template in defined[ref], f"{name}: no {ref} named {template}"
        # The Kubernetes objects inside, as the API server will see them.
        for kind, key in (
            ("Pod", "podTemplates"),
            ("PersistentVolumeClaim", "volumeClaimTemplates"),
            ("Service", "serviceTemplates"),
        ):
            for template in templates.get(key, []):
                try:
                    kubernetes_validate.validate(
                        _as_core(kind, template["spec"]), KUBERNETES_VERSION, strict=True
                    )
                except kubernetes_validate.ValidationError as exc:
                    pytest.fail(f"{name} {key} {template['name']}: {exc.message}")


def test_the_structural_check_refuses_a_misspelt_layout() -> None:
    chi = copy.deepcopy(one(build("base"), "ClickHouseInstallation"))
    chi["spec"]["configuration"]["clusters"][0]["layout"]["shardCount"] = 2
    validator = jsonschema.Draft4Validator(ALTINITY_SCHEMAS["ClickHouseInstallation"])
    assert any("shardCount" in e.message for e in validator.iter_errors(chi))


# --- agreement with the code ----------------------------------------------------------------


def test_every_streams_variable_is_a_setting(objects: tuple[Obj, ...]) -> None:
    known = {f"STREAMS_{name.upper()}" for name in Settings.model_fields}
    used = set(config_map(objects).get("data", {}))
    for workload in workloads(objects):
        for c in all_containers(pod_spec(workload)):
            used |= {e["name"] for e in c.get("env", [])}
    used = {name for name in used if name.startswith("STREAMS_")}
    assert used, "no settings at all"
    assert used <= known, f"not settings: {sorted(used - known)}"
    settings_of(objects)  # and the values are valid settings (types, URL scheme)


def test_every_backbone_container_gets_the_settings(objects: tuple[Obj, ...]) -> None:
    name = config_map(objects)["metadata"]["name"]
    for workload in workloads(objects):
        for c in all_containers(pod_spec(workload)):
            if c["image"].startswith("ghcr.io/streams-backbone/streams:"):
                assert {"configMapRef": {"name": name}} in c.get("envFrom", []), c["name"]


def test_topics_are_the_declared_topics(objects: tuple[Obj, ...]) -> None:
    settings = settings_of(objects)
    built = topics(objects)
    declared = {settings.topic(spec.name): spec for spec in ALL_TOPICS}
    assert set(built) == set(declared)
    kafka = one(objects, "Kafka")
    replication = settings.topic_replication_factor
    min_isr = int(kafka["spec"]["kafka"]["config"]["min.insync.replicas"])
    assert kafka["spec"]["kafka"]["config"]["default.replication.factor"] == replication
    assert 1 <= min_isr <= replication <= broker_count(objects)
    for name, topic in built.items():
        spec = declared[name]
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
        # A worker that creates a missing topic itself makes the same one.
        assert topic["spec"]["partitions"] == (spec.partitions or settings.topic_partitions), name
        assert topic["spec"]["replicas"] == replication, name
        config = dict(topic["spec"]["config"])
        assert int(config.pop("min.insync.replicas")) == min_isr, name
        assert config == topic_config(spec), name


def test_the_topics_file_is_the_generators_output() -> None:
    assert TOPICS_FILE.read_text(encoding="utf-8") == k8s_topics.render(
        partitions=BASE_PARTITIONS
    ), f"run: python -m streams.k8s_topics --partitions {BASE_PARTITIONS} --out {TOPICS_FILE}"


def test_prod_keeps_three_copies_and_survives_a_broker() -> None:
    objects = build("overlays/prod")
    city = _city_plan()
    config = one(objects, "Kafka")["spec"]["kafka"]["config"]
    assert config["default.replication.factor"] == 3
    assert config["min.insync.replicas"] == 2
    assert config["offsets.topic.replication.factor"] == 3
    assert broker_count(objects) >= 3
    controllers = [
        p for p in of_kind(objects, "KafkaNodePool") if "controller" in p["spec"]["roles"]
    ]
    assert sum(p["spec"]["replicas"] for p in controllers) % 2 == 1
    for name, topic in topics(objects).items():
        assert topic["spec"]["replicas"] == 3, name
        assert topic["spec"]["config"]["min.insync.replicas"] == "2", name
    watchlist = topics(objects)[settings_of(objects).topic(WATCHLIST.name)]
    assert watchlist["spec"]["config"]["cleanup.policy"] == "compact"
    assert "retention.ms" not in watchlist["spec"]["config"]
    chi = one(objects, "ClickHouseInstallation")["spec"]["configuration"]["clusters"][0]
    layout = chi["layout"]
    assert (layout["shardsCount"], layout["replicasCount"]) == (city.shards, capacity.REPLICAS)
    keeper = one(objects, "ClickHouseKeeperInstallation")["spec"]["configuration"]["clusters"][0]
    assert keeper["layout"]["replicasCount"] == 3


def test_dev_is_one_of_everything() -> None:
    objects = build("overlays/dev")
    assert broker_count(objects) == 1
    assert {t["spec"]["replicas"] for t in topics(objects).values()} == {1}
    chi = one(objects, "ClickHouseInstallation")["spec"]["configuration"]["clusters"][0]
    assert (chi["layout"]["shardsCount"], chi["layout"]["replicasCount"]) == (1, 1)
    chk = one(objects, "ClickHouseKeeperInstallation")["spec"]["configuration"]["clusters"][0]
    assert chk["layout"]["replicasCount"] == 1
    assert one(objects, "ScaledObject")["spec"]["minReplicaCount"] == 1
    assert one(objects, "Deployment", "streams-api")["spec"]["replicas"] == 1


def test_the_backbone_reaches_kafka_and_clickhouse_by_their_services(
    objects: tuple[Obj, ...],
) -> None:
    settings = settings_of(objects)
    kafka = one(objects, "Kafka")
    listeners = {lst["port"] for lst in kafka["spec"]["kafka"]["listeners"] if not lst["tls"]}
    for server in settings.kafka_bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        assert host.split(".")[0] == f"{kafka['metadata']['name']}-kafka-bootstrap"
        assert host.split(".")[1:2] in ([], ["streams"])  # its namespace, when named
        assert int(port) in listeners
    for pool in of_kind(objects, "KafkaNodePool"):
        assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]

    chi = one(objects, "ClickHouseInstallation")
    url = urlsplit(settings.warehouse_url)
    assert url.scheme == "clickhouse"
    assert url.password is None, "the password belongs in the Secret"
    service = next(
        t
        for t in chi["spec"]["templates"]["serviceTemplates"]
        if t["name"] == chi["spec"]["defaults"]["templates"]["serviceTemplate"]
    )
    assert service["generateName"].replace("{chi}", chi["metadata"]["name"]) == url.hostname
    assert url.port in {p["port"] for p in service["spec"]["ports"]}
    users = chi["spec"]["configuration"]["users"]
    assert f"{url.username}/password" in users
    clusters = [c["name"] for c in chi["spec"]["configuration"]["clusters"]]
    cluster = config_map(objects)["data"].get("STREAMS_WAREHOUSE_CLUSTER")
    assert cluster in clusters
    chk = one(objects, "ClickHouseKeeperInstallation")
    nodes = chi["spec"]["configuration"]["zookeeper"]["nodes"]
    assert {n["host"] for n in nodes} == {f"keeper-{chk['metadata']['name']}"}
    # The Job creates the database of the URL on that cluster.
    job = one(objects, "Job", "streams-migrate")
    create = next(c for c in pod_spec(job)["initContainers"] if c["name"] == "create-database")
    args = " ".join(create["args"])
    assert f"--host={url.hostname}" in args
    assert f"--user={url.username}" in args
    assert f"CREATE DATABASE IF NOT EXISTS {url.path.strip('/')} ON CLUSTER" in args
    assert "STREAMS_WAREHOUSE_CLUSTER" in environment_names(objects, create)


def test_no_secret_is_in_the_manifests(objects: tuple[Obj, ...]) -> None:
    for secret in of_kind(objects, "Secret"):
        assert not secret.get("data"), secret["metadata"]["name"]
        assert not secret.get("stringData"), secret["metadata"]["name"]
    secretive = ("PASSWORD", "TOKEN", "SECRET")
    assert not [k for k in config_map(objects).get("data", {}) if any(s in k for s in secretive)]
    references = set()
    for workload in workloads(objects):
        for c in all_containers(pod_spec(workload)):
            for env in c.get("env", []):
                if any(s in env["name"] for s in secretive):
                    assert "value" not in env, f"{c['name']}: {env['name']} has a literal value"
                    ref = env["valueFrom"]["secretKeyRef"]
                    references.add((ref["name"], ref["key"]))
    chi = one(objects, "ClickHouseInstallation")
    for key, value in chi["spec"]["configuration"]["users"].items():
        if "password" in key:
            ref = value["valueFrom"]["secretKeyRef"]
            references.add((ref["name"], ref["key"]))
    # One Secret, one key, created by the operator of the cluster (README).
    assert references == {("streams-clickhouse", "password")}


def test_probes_ask_the_health_endpoints_on_the_settings_ports(objects: tuple[Obj, ...]) -> None:
    settings = settings_of(objects)
    for name, setting in PORT_SETTINGS.items():
        c, workload = container(objects, name)
        port = getattr(settings, setting)
        assert [p["containerPort"] for p in c["ports"]] == [port], name
        liveness, readiness = c["livenessProbe"]["httpGet"], c["readinessProbe"]["httpGet"]
        assert liveness["path"] == "/healthz", name
        assert readiness["path"] == "/readyz", name
        assert port_number(c, liveness["port"]) == port_number(c, readiness["port"]) == port
        if "startupProbe" in c:
            assert port_number(c, c["startupProbe"]["httpGet"]["port"]) == port
        annotations = workload["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert int(annotations["prometheus.io/port"]) == port
        assert annotations["prometheus.io/path"] == "/metrics"
        # The Service in front of it forwards to that port.
        labels = workload["spec"]["template"]["metadata"]["labels"]
        services = [
            s for s in of_kind(objects, "Service") if selects(s["spec"]["selector"], labels)
        ]
        assert services, name
        for service in services:
            for p in service["spec"]["ports"]:
                assert port_number(c, p["targetPort"]) == port


def test_pods_listen_beyond_loopback(objects: tuple[Obj, ...]) -> None:
    settings = settings_of(objects)
    assert settings.web_host == settings.gateway_host == settings.api_host == "0.0.0.0"


def test_every_container_has_requests_and_limits(objects: tuple[Obj, ...]) -> None:
    specs = [pod_spec(w) for w in workloads(objects)]
    for obj in objects:
        if group_of(obj) in ALTINITY_GROUPS:
            specs += [t["spec"] for t in obj["spec"]["templates"]["podTemplates"]]
    for spec in specs:
        for c in all_containers(spec):
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][bound]), (c["name"], bound)
    for pool in of_kind(objects, "KafkaNodePool"):
        assert {"requests", "limits"} <= set(pool["spec"]["resources"])


def test_every_workload_is_covered_by_a_disruption_budget(objects: tuple[Obj, ...]) -> None:
    budgets = of_kind(objects, "PodDisruptionBudget")
    for name in PORT_SETTINGS:
        _, workload = container(objects, name)
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert selects(workload["spec"]["selector"]["matchLabels"], labels)
        covering = [b for b in budgets if selects(b["spec"]["selector"]["matchLabels"], labels)]
        assert len(covering) == 1, name
        # Never a budget that forbids every eviction (dev runs one replica of each).
        assert covering[0]["spec"].get("maxUnavailable", 0) >= 1, name


def test_the_worker_stops_within_its_grace_period(objects: tuple[Obj, ...]) -> None:
    settings = settings_of(objects)
    _, worker = container(objects, "worker")
    grace = pod_spec(worker)["terminationGracePeriodSeconds"]
    # The last flush, one more insert retry at the longest backoff, and the last checkpoint.
    needed = (
        settings.sink_flush_seconds
        + settings.sink_retry_max_seconds
        + settings.stage_checkpoint_seconds
    )
    assert grace > needed


def test_the_worker_keeps_fausts_data_dir_on_its_volume(objects: tuple[Obj, ...]) -> None:
    settings = settings_of(objects)
    c, worker = container(objects, "worker")
    assert worker["kind"] == "StatefulSet"
    assert worker["spec"]["serviceName"] in {
        s["metadata"]["name"]
        for s in of_kind(objects, "Service")
        if s["spec"].get("clusterIP") == "None"
    }
    claims = {t["metadata"]["name"] for t in worker["spec"]["volumeClaimTemplates"]}
    mounts = [m for m in c["volumeMounts"] if m["name"] in claims]
    assert any(settings.data_dir.is_relative_to(m["mountPath"]) for m in mounts)
    assert "replicas" not in worker["spec"], "KEDA owns the worker count"


def test_keda_scales_the_worker_on_lag_within_the_partitions(objects: tuple[Obj, ...]) -> None:
    settings = settings_of(objects)
    scaled = one(objects, "ScaledObject")
    target = scaled["spec"]["scaleTargetRef"]
    c, worker = container(objects, "worker")
    assert (target["kind"], target["name"]) == (worker["kind"], worker["metadata"]["name"])
    assert target["envSourceContainerName"] == c["name"]
    built = topics(objects)
    raw_partitions = min(
        built[settings.topic(spec.name)]["spec"]["partitions"] for spec in RAW.values()
    )
    low, high = scaled["spec"]["minReplicaCount"], scaled["spec"]["maxReplicaCount"]
    assert 1 <= low <= high <= raw_partitions
    groups = set()
    for trigger in scaled["spec"]["triggers"]:
        assert trigger["type"] == "kafka"
        meta = trigger["metadata"]
        assert meta["bootstrapServersFromEnv"] in environment_names(objects, c)
        assert int(meta["lagThreshold"]) > 0
        groups.add(meta["consumerGroup"])
    assert groups == {f"{settings.app_id}.normalize", f"{settings.app_id}.dedup"}
    assert {g.removeprefix(f"{settings.app_id}.") for g in groups} <= set(STAGE_NAMES)
    assert settings.worker_stages == "all"


def test_the_gateway_scales_on_cpu(objects: tuple[Obj, ...]) -> None:
    hpa = one(objects, "HorizontalPodAutoscaler")
    _, gateway = container(objects, "gateway")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", gateway["metadata"]["name"])
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert "replicas" not in gateway["spec"], "the HPA owns the gateway count"


# --- the generator --------------------------------------------------------------------------


def test_the_generator_explains_itself() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "streams.k8s_topics", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0
    assert "KafkaTopic" in done.stdout
    assert "--partitions" in done.stdout


def test_the_generator_writes_every_topic(tmp_path: Path) -> None:
    out = tmp_path / "topics.yaml"
    assert k8s_topics.main(["--partitions", "6", "--prefix", "city1.", "--out", str(out)]) == 0
    written = {t["spec"]["topicName"]: t for t in yaml.safe_load_all(out.read_text()) if t}
    assert set(written) == {f"city1.{spec.name}" for spec in ALL_TOPICS}
    for spec in ALL_TOPICS:
        topic = written[f"city1.{spec.name}"]
        assert topic["spec"]["partitions"] == (spec.partitions or 6)
        assert topic["metadata"]["labels"][k8s_topics.PARTITIONS_LABEL] == (
            "plan" if spec.partitions is None else "fixed"
        )
    assert out.read_text().splitlines()[1].strip() == (
        "#   python -m streams.k8s_topics --partitions 6 --prefix city1. --out FILE"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["--partitions", "0"],
        ["--partitions", "4", "--replicas", "1"],  # min.insync.replicas 2 > 1 copy
    ],
)
def test_the_generator_refuses_impossible_topics(argv: list[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as stop:
        k8s_topics.main([*argv, "--out", str(tmp_path / "x.yaml")])
    assert stop.value.code == 2


@pytest.mark.parametrize(
    ("topic", "name"),
    [("raw.gat1400", "raw.gat1400"), ("City_1.alerts", "city-1.alerts"), ("-x-", "x")],
)
def test_resource_names_are_kubernetes_names(topic: str, name: str) -> None:
    assert k8s_topics.resource_name(topic) == name


def test_no_object_is_declared_twice(objects: tuple[Obj, ...]) -> None:
    names = [f"{o['kind']}/{o['metadata']['name']}" for o in objects]
    assert len(names) == len(set(names))


def _city_plan() -> capacity.Plan:
    return next(capacity.plan(s) for s in capacity.SIZES if s.name == "city")


def test_prod_is_sized_by_the_capacity_plan() -> None:
    """The prod overlay carries the city column of docs/capacity.md."""
    objects = build("overlays/prod")
    city = _city_plan()
    scaled = one(objects, "ScaledObject")["spec"]
    assert scaled["maxReplicaCount"] == city.workers_max
    assert scaled["minReplicaCount"] <= city.workers <= scaled["maxReplicaCount"]
    hpa = one(objects, "HorizontalPodAutoscaler")["spec"]
    assert hpa["minReplicas"] <= city.gateway_replicas <= hpa["maxReplicas"]
    planned = [
        t
        for t in topics(objects).values()
        if t["metadata"]["labels"][k8s_topics.PARTITIONS_LABEL] == "plan"
    ]
    assert planned
    assert {t["spec"]["partitions"] for t in planned} == {city.partitions}
