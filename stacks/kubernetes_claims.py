"""The claims of Prometheus', Grafana's and Loki's volumes on a later `pulumi up`: never a size the API server refuses.

pulumi-kubernetes updates a PersistentVolumeClaim's `resources.requests.storage` in place. The API server
refuses any shrink ("field can not be less than previous value") and any growth where the claim's
StorageClass lacks `allowVolumeExpansion` (minikube's `standard`, kind's `standard`). A size the sizing
model recomputes (rayNodes, retentionTime, scrapeInterval, cardinality) therefore stays as the claim has it
unless the class lets it grow; a size the user set that cannot be applied is refused with the fix.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import pulumi

from components.builders.sizing import VOLUME_FILL, bytes_of
from components.kubernetes.common import Storage
from stacks.preflight import ClaimState, ClusterAccess, claim_state
from stacks.settings import ConfigError, KubernetesSettings, describe_problem
from stacks.settings.kubernetes import OwnMonitoring

CLAIMS = {"prometheus": "prometheus-data", "grafana": "grafana-data", "loki": "loki-data"}  # `{name}-data`


def fit_claims(s: KubernetesSettings, access: ClusterAccess) -> KubernetesSettings:
    """`s` with each persistent claim's size one the API server accepts for the claim as it is."""
    own = s.backend
    if not isinstance(own, OwnMonitoring):
        return s
    prometheus = _fit("prometheus", own.prometheus_storage, access, s.namespace)
    grafana = _fit("grafana", own.grafana_storage, access, s.namespace)
    loki = _fit("loki", own.loki_storage, access, s.namespace) if s.logs.enabled else own.loki_storage
    s = dataclasses.replace(s, backend=dataclasses.replace(own, prometheus_storage=prometheus, grafana_storage=grafana,
                                                           loki_storage=loki))
    kept_smaller = bytes_of(prometheus.size) < bytes_of(own.prometheus_storage.size)
    if kept_smaller and s.monitoring.retention_size == s.monitoring.sizing.retention_size:
        # The sized retention cap was for the larger volume: cap at what the kept one holds, as the sizing fills it.
        cap = f"{max(1, math.floor(bytes_of(prometheus.size) * VOLUME_FILL / 1e9))}GB"
        s = dataclasses.replace(s, monitoring=dataclasses.replace(s.monitoring, retention_size=cap))
    return s


def _fit(prefix: str, storage: Storage, access: ClusterAccess, namespace: str) -> Storage:
    if not storage.persistent:
        return storage
    claim = claim_state(access, namespace, CLAIMS[prefix])
    if claim is None or bytes_of(storage.size) == bytes_of(claim.size):
        return storage
    if bytes_of(storage.size) < bytes_of(claim.size):
        return _keep(prefix, storage, claim, "the API server refuses to shrink a claim", pulumi.log.info)
    if claim.expandable:
        pulumi.log.info(f"{prefix}StorageSize: the claim {CLAIMS[prefix]} grows from {claim.size} to {storage.size} "
                        f"(StorageClass {claim.storage_class} allows expansion)")
        return storage
    return _keep(prefix, storage, claim, f"its StorageClass {claim.storage_class or '(none)'} does not allow "
                 "expansion (allowVolumeExpansion), so the API server refuses to grow it", pulumi.log.warn)


def _keep(prefix: str, storage: Storage, claim: ClaimState, why: str, say: Callable[[str], None]) -> Storage:
    key = f"{prefix}StorageSize"
    if storage.size_configured:
        raise ConfigError([describe_problem(
            key, storage.size, f"the claim {CLAIMS[prefix]} holds {claim.size} and {why}",
            f"pulumi config set {key} {claim.size} (docs/kubernetes.md: moving to a larger volume)")])
    say(f"{key}: the claim {CLAIMS[prefix]} keeps its {claim.size} (the sizing model now asks for "
        f"{storage.size}, but {why}); set {key} to choose, or see docs/kubernetes.md for a larger volume")
    return dataclasses.replace(storage, size=claim.size)
