"""The shipped stacks' presets (stacks/settings/presets.py) lie beneath each stack's own settings: a stack
named after one gets it, any stack may name one, its own values win, an empty value drops the preset's."""

from __future__ import annotations

import pytest

from stacks.settings import PLATFORMS, ConfigError, load
from stacks.settings.presets import MINIKUBE, PRESETS
from stacks.settings.table import BY_KEY
from support.stacks import project_values, run, run_stack

SERVICE = "kubernetes:core/v1:Service"


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_each_preset_is_valid_for_its_platform(name):
    preset = PRESETS[name]
    assert preset.platform in PLATFORMS
    for key in preset.values:
        assert preset.platform in BY_KEY[key].platforms, f"{name} sets {key}, which {preset.platform} ignores"
        assert preset.values[key] != BY_KEY[key].default, f"{name} sets {key} to its default"
    load(name, project_values())  # raises on a value its row refuses


def test_a_stack_named_after_a_preset_gets_it():
    result = run_stack("minikube")
    assert result.error is None, result.error
    grafana = result.one(SERVICE, "grafana-service").plain["spec"]
    assert grafana["type"] == "NodePort" and grafana["ports"][0]["nodePort"] == MINIKUBE.values["grafanaNodePort"]
    assert result.of_type("kubernetes:helm.sh/v3:Release"), "installKubeRay"


def test_the_stacks_own_value_wins_over_its_presets():
    result = run_stack("minikube", grafanaNodePort="30400", installKubeRay="false")
    assert result.error is None, result.error
    assert result.one(SERVICE, "grafana-service").plain["spec"]["ports"][0]["nodePort"] == 30400
    assert not result.of_type("kubernetes:helm.sh/v3:Release")


def test_an_empty_value_drops_the_presets():
    # As the users' CI previews the minikube stack on kind: `pulumi config set rayDashboardNodePort ''`.
    result = run_stack("minikube", rayDashboardNodePort="", grafanaNodePort="")
    assert result.error is None, result.error
    assert not [r for r in result.of_type(SERVICE) if "dashboard-nodeport" in r.name]
    grafana = result.one(SERVICE, "grafana-service").plain["spec"]
    assert grafana["type"] == "NodePort" and "nodePort" not in grafana["ports"][0], "Kubernetes chooses it"


def test_an_empty_value_of_a_key_no_preset_sets_is_still_refused():
    with pytest.raises(ConfigError, match=r"ray-monitoring:rayClusterNamespace = '': .* Fix: "):
        load("minikube", {**project_values(), "ray-monitoring:rayClusterNamespace": ""})


def test_any_stack_can_name_a_preset_and_gets_what_its_namesake_gets():
    named = run("dev", {**project_values(), "ray-monitoring:preset": "minikube"})
    namesake = run_stack("minikube")
    assert named.error is None and namesake.error is None, (named.error, namesake.error)
    assert sorted((r.type, r.name) for r in named.resources) == sorted((r.type, r.name) for r in namesake.resources)


def test_a_stack_of_another_name_starts_from_the_code_defaults():
    result = run("dev", {**project_values(), "ray-monitoring:platform": "kubernetes",
                         "ray-monitoring:rayClusterName": "raycluster-kuberay"})
    assert result.error is None, result.error
    assert result.one(SERVICE, "grafana-service").plain["spec"]["type"] == "ClusterIP"
    assert not result.of_type("kubernetes:helm.sh/v3:Release")


def test_a_presets_values_that_the_stacks_own_choice_makes_moot_are_not_held_against_it():
    # The kind stack patching a cluster of the team's: the preset's Ray pod sizes shape no cluster then.
    patched = run_stack("kind", createRayCluster="false", installKubeRay="false")
    assert patched.error is None, patched.error
    # Grafana on ClusterIP: the preset's NodePort number goes with the preset's service type.
    cluster_ip = run_stack("minikube", grafanaServiceType="ClusterIP")
    assert cluster_ip.error is None, cluster_ip.error
    assert cluster_ip.one(SERVICE, "grafana-service").plain["spec"]["type"] == "ClusterIP"


def test_a_value_the_stack_chose_is_still_held_against_it():
    refused = run_stack("kind", createRayCluster="false", installKubeRay="false", rayHeadCpu="2")
    assert isinstance(refused.error, ConfigError) and "ray-monitoring:rayHeadCpu = '2'" in str(refused.error)
    node_port = run_stack("minikube", grafanaServiceType="ClusterIP", grafanaNodePort="30301")
    assert isinstance(node_port.error, ConfigError) and "ray-monitoring:grafanaNodePort" in str(node_port.error)


def test_the_empty_value_the_errors_suggest_works_on_a_stack_without_that_preset():
    result = run("dev", {**project_values(), "ray-monitoring:platform": "kubernetes",
                         "ray-monitoring:rayClusterName": "raycluster-kuberay",
                         "ray-monitoring:rayDashboardNodePort": ""})
    assert result.error is None, result.error
