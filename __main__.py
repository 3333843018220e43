"""ray-monitoring: Prometheus and Grafana for a Ray cluster, on Kubernetes (KubeRay) or EC2."""

import pulumi
from pulumi.runtime import config as runtime_config

from stacks import build

# Every config value of the stack, so unknown or misspelt keys are reported, not ignored.
build(pulumi.get_stack(), {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()})
