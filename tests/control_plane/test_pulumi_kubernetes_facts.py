"""Facts about the pulumi-kubernetes provider this tier builds, read from its source, that the stack's
Kubernetes objects rely on."""

from __future__ import annotations

from support.go_tools import module_dir


def test_pulumi_kubernetes_replaces_a_configmap_whose_data_changes():
    # pkg/provider/diff.go: a ConfigMap's .data and .binaryData force a new object unless the provider runs
    # with enableConfigMapMutable. So Prometheus' and Grafana's ConfigMaps are auto-named: a change makes a
    # new one and the Deployment rolls to it (a fixed name would be deleted first, and the Deployment
    # replaced with it: tests/control_plane/in_place/ shows the steps).
    diff = (module_dir("pulumi-resource-kubernetes") / "pkg" / "provider" / "diff.go").read_text()
    assert ('} else if clients.IsConfigMap(obj) && !(k.enableConfigMapMutable && !clients.IsImmutable(obj)) {\n'
            '\t\t\t\tprops = append(props, properties{".binaryData", ".data"}...)') in diff


def test_pulumi_kubernetes_replaces_a_secret_whose_data_changes():
    # pkg/provider/diff.go: a Secret's .type, .stringData and .data force a new object unless the provider runs
    # with enableSecretMutable. So Alertmanager's Secret is auto-named: a new configuration is a new Secret,
    # the Deployment's volume names it and the pod rolls, with no digest of the credentials on the template.
    diff = (module_dir("pulumi-resource-kubernetes") / "pkg" / "provider" / "diff.go").read_text()
    assert ('if clients.IsSecret(obj) && !(k.enableSecretMutable && !clients.IsImmutable(obj)) {\n'
            '\t\t\t\tprops = append(props, properties{".type", ".stringData", ".data"}...)') in diff
