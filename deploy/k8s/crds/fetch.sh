#!/usr/bin/env bash
# The CRDs of the operators the manifests use, at pinned versions, into deploy/k8s/.crds/ for
# offline validation (tests/deploy/test_k8s.py). Run by `make install-checks`; needs Go and Maven.
#
# - KEDA: its Go module (Go module proxy, checked by the Go checksum database) carries the CRDs.
# - Strimzi: no registry carries its CRD YAML; Maven Central carries the model classes and the
#   generator its release build makes the CRDs with (strimzi/pom.xml runs it).
# - Altinity clickhouse-operator: not reachable from a package registry here (see
#   deploy/k8s/README.md); its resources get a structural check in the test instead.
set -euo pipefail

KEDA_VERSION=v2.16.1

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out="$(dirname "$here")/.crds"
GO=${GO:-go}
MVN=${MVN:-mvn}

rm -rf "$out/keda" "$out/strimzi"
mkdir -p "$out/keda" "$out/strimzi"

"$GO" mod download "github.com/kedacore/keda/v2@${KEDA_VERSION}"
keda="$("$GO" env GOMODCACHE)/github.com/kedacore/keda/v2@${KEDA_VERSION}"
install -m 644 "$keda/config/crd/bases/keda.sh_scaledobjects.yaml" "$out/keda/"

"$MVN" -q -B -Dstyle.color=never --strict-checksums -f "$here/strimzi/pom.xml" package

# The inputs are pinned by content: the KEDA CRD and the two Strimzi jars.
(cd "$out" && sha256sum --check --quiet "$here/SHA256SUMS")
echo "CRDs in $out: KEDA ${KEDA_VERSION}, Strimzi $(sed -n 's:.*<strimzi.version>\(.*\)</strimzi.version>.*:\1:p' "$here/strimzi/pom.xml")"
