"""Strimzi ``KafkaTopic`` resources for every topic of ``streams.topics``, so the Kubernetes
manifests never declare a topic of their own.

``python -m streams.k8s_topics --partitions 24 --out deploy/k8s/base/kafka-topics.yaml`` writes
the file the kustomize base uses; a test keeps that file equal to this module's output. Each
topic gets the configuration ``streams topics create`` would give it (``topic_config``), plus
``min.insync.replicas``.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from streams.kafka_admin import topic_config
from streams.topics import ALL_TOPICS, TopicSpec

API_VERSION = "kafka.strimzi.io/v1beta2"
# Topics whose partition count follows the plan (and an overlay may change) carry this label
# with value "plan"; topics with a count of their own in TopicSpec carry "fixed".
PARTITIONS_LABEL = "streams.topics/partitions"
_NOT_IN_NAME = re.compile(r"[^a-z0-9.-]+")


def resource_name(topic: str) -> str:
    """A Kubernetes object name for a topic name (lower case; other characters become '-')."""
    name = _NOT_IN_NAME.sub("-", topic.lower()).strip(".-")
    if not name or len(name) > 253:
        raise ValueError(f"topic {topic!r} has no usable Kubernetes name")
    return name


def kafka_topic(
    spec: TopicSpec,
    *,
    prefix: str,
    partitions: int,
    replicas: int,
    min_insync_replicas: int,
    cluster: str,
) -> dict[str, Any]:
    """One ``KafkaTopic`` resource for ``spec``."""
    name = f"{prefix}{spec.name}"
    config = {"min.insync.replicas": str(min_insync_replicas), **topic_config(spec)}
    return {
        "apiVersion": API_VERSION,
        "kind": "KafkaTopic",
        "metadata": {
            "name": resource_name(name),
            "labels": {
                "strimzi.io/cluster": cluster,
                PARTITIONS_LABEL: "plan" if spec.partitions is None else "fixed",
            },
        },
        "spec": {
            "topicName": name,
            "partitions": spec.partitions or partitions,
            "replicas": replicas,
            "config": config,
        },
    }


def render(
    *,
    partitions: int,
    replicas: int = 3,
    min_insync_replicas: int = 2,
    prefix: str = "",
    cluster: str = "streams",
) -> str:
    """The YAML stream of every declared topic, with a header saying how it was made."""
    import yaml

    if partitions < 1 or replicas < 1:
        raise ValueError("partitions and replicas must be at least 1")
    if not 1 <= min_insync_replicas <= replicas:
        raise ValueError("min.insync.replicas must be between 1 and the replicas")
    command = ["python -m streams.k8s_topics", f"--partitions {partitions}"]
    if replicas != 3:
        command.append(f"--replicas {replicas}")
    if min_insync_replicas != 2:
        command.append(f"--min-insync-replicas {min_insync_replicas}")
    if prefix:
        command.append(f"--prefix {prefix}")
    if cluster != "streams":
        command.append(f"--cluster {cluster}")
    header = (
        "# Generated from streams/topics.py; do not edit. Refresh with:\n"
        f"#   {' '.join(command)} --out FILE\n"
    )
    documents = [
        kafka_topic(
            spec,
            prefix=prefix,
            partitions=partitions,
            replicas=replicas,
            min_insync_replicas=min_insync_replicas,
            cluster=cluster,
        )
        for spec in ALL_TOPICS
    ]
    body = yaml.safe_dump_all(documents, sort_keys=False, explicit_start=True, width=100)
    return header + body


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m streams.k8s_topics",
        description="Write a Strimzi KafkaTopic resource for every topic declared in "
        "streams/topics.py: the topic prefix in front of each name, the partitions given here "
        "(topics with a partition count of their own keep it), the replicas and "
        "min.insync.replicas given here, and each topic's retention, compaction and other "
        "configuration as `streams topics create` sets them. The kustomize base keeps the "
        "output in deploy/k8s/base/kafka-topics.yaml; overlays patch replicas and partitions.",
    )
    parser.add_argument(
        "--partitions",
        type=int,
        required=True,
        help="partitions of every topic without a count of its own (the capacity plan's figure)",
    )
    parser.add_argument("--replicas", type=int, default=3, help="replication factor (default 3)")
    parser.add_argument(
        "--min-insync-replicas",
        type=int,
        default=2,
        help="min.insync.replicas of every topic (default 2)",
    )
    parser.add_argument(
        "--prefix", default="", help="STREAMS_TOPIC_PREFIX of the deployment (default: none)"
    )
    parser.add_argument(
        "--cluster",
        default="streams",
        help="name of the Strimzi Kafka resource the topics belong to (default: streams)",
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="file to write ('-' prints to standard output)"
    )
    args = parser.parse_args(argv)
    try:
        text = render(
            partitions=args.partitions,
            replicas=args.replicas,
            min_insync_replicas=args.min_insync_replicas,
            prefix=args.prefix,
            cluster=args.cluster,
        )
    except ValueError as exc:
        parser.error(str(exc))
    if str(args.out) == "-":
        print(text, end="")
    else:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {len(ALL_TOPICS)} KafkaTopic resources to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
