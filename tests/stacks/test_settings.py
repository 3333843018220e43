"""Bad input: one clear error naming key, value and fix, and not a single resource registered."""

from __future__ import annotations

import pytest
import yaml

from stacks.settings import ConfigError, defaults, load
from support.paths import PROJECT_ROOT
from support.stacks import refused, run_stack

STORE = "https://mimir.example.com/api/v1/push"
QUERY = "https://mimir.example.com/prometheus"
CREDENTIAL = "hunter2-credential"

# (stack, overrides, key the error must name, value the error must quote)
INVALID = [
    ("minikube", {"namespace": "Monitoring"}, "namespace", "Monitoring"),
    ("minikube", {"namespace": "a" * 64}, "namespace", "a" * 64),
    ("minikube", {"rayClusterName": ""}, "rayClusterName", ""),
    ("minikube", {"rayClusterName": "ray_cluster"}, "rayClusterName", "ray_cluster"),
    ("minikube", {"rayClusterNamespace": "ray system"}, "rayClusterNamespace", "ray system"),
    ("minikube", {"rayHeadContainer": "Head"}, "rayHeadContainer", "Head"),
    ("minikube", {"grafanaNodePort": "80"}, "grafanaNodePort", "80"),
    ("minikube", {"grafanaNodePort": "32768"}, "grafanaNodePort", "32768"),
    ("minikube", {"rayDashboardNodePort": "29999"}, "rayDashboardNodePort", "29999"),
    ("minikube", {"grafanaServicePort": "70000"}, "grafanaServicePort", "70000"),
    ("minikube", {"scrapeInterval": "10 seconds"}, "scrapeInterval", "10 seconds"),
    ("aws", {"metricCardinalityLevel": "Low"}, "metricCardinalityLevel", "Low"),
    ("minikube", {"retentionTime": "15days"}, "retentionTime", "15days"),
    ("minikube", {"retentionSize": "8G"}, "retentionSize", "8G"),
    ("minikube", {"grafanaIframeHost": "localhost:3000"}, "grafanaIframeHost", "localhost:3000"),
    ("minikube", {"grafanaIframeHost": "ftp://grafana"}, "grafanaIframeHost", "ftp://grafana"),
    ("minikube", {"grafanaServiceType": "Ingress"}, "grafanaServiceType", "Ingress"),
    # A load balancer publishes Grafana: only to the networks named.
    ("minikube", {"grafanaServiceType": "LoadBalancer"}, "grafanaServiceType", "LoadBalancer"),
    ("minikube", {"grafanaServiceType": "LoadBalancer",
                  "grafanaLoadBalancerSourceRanges": ["0.0.0.0/1", "128.0.0.0/1"]},
     "grafanaLoadBalancerSourceRanges", ["0.0.0.0/1", "128.0.0.0/1"]),
    ("minikube", {"grafanaLoadBalancerSourceRanges": ["office"]}, "grafanaLoadBalancerSourceRanges", "office"),
    ("minikube", {"headRestart": "always"}, "headRestart", "always"),
    ("minikube", {"createNamespace": "yes"}, "createNamespace", "yes"),
    ("minikube", {"prometheusMemoryLimit": "512MB"}, "prometheusMemoryLimit", "512MB"),
    ("minikube", {"prometheusMemoryRequest": "2Gi"}, "prometheusMemoryRequest", "2Gi"),
    ("minikube", {"prometheusCpuRequest": "two"}, "prometheusCpuRequest", "two"),
    ("minikube", {"prometheusStorage": "hostPath"}, "prometheusStorage", "hostPath"),
    ("minikube", {"prometheusStorageSize": "ten"}, "prometheusStorageSize", "ten"),
    ("minikube", {"watchNamespaces": "ray-system"}, "watchNamespaces", "ray-system"),
    ("minikube", {"watchNamespaces": ["ok", "Not_OK"]}, "watchNamespaces", "Not_OK"),
    ("minikube", {"watchAllNamespaces": "true", "watchNamespaces": ["a"]}, "watchNamespaces", "['a']"),
    ("minikube", {"grafanaServiceType": "ClusterIP", "grafanaNodePort": "30300"}, "grafanaNodePort", "30300"),
    ("minikube", {"datasourceName": "Prom/etheus"}, "datasourceName", "Prom/etheus"),
    ("minikube", {"scrapeIntervall": "10s"}, "scrapeIntervall", "10s"),
    ("minikube", {"workerCount": "3"}, "workerCount", "3"),
    ("minikube", {"platform": "gke"}, "platform", "gke"),
    ("eks", {"platform": "kubernetes", "preset": "minikub"}, "preset", "minikub"),
    ("minikube", {"alertFailedTasks": "-1"}, "alertFailedTasks", "-1"),
    ("minikube", {"alertFor": "five minutes"}, "alertFor", "five minutes"),
    ("minikube", {"alertNodeMemoryPercent": "0"}, "alertNodeMemoryPercent", "0"),
    ("minikube", {"alertObjectStorePercent": "101"}, "alertObjectStorePercent", "101"),
    ("minikube", {"alertTargetDownFor": "2"}, "alertTargetDownFor", "2"),
    ("minikube", {"grafanaCpuLimit": "1 core"}, "grafanaCpuLimit", "1 core"),
    ("minikube", {"grafanaCpuRequest": "2", "grafanaCpuLimit": "1"}, "grafanaCpuRequest", "2"),
    ("minikube", {"grafanaMemoryLimit": "1G"}, "grafanaMemoryLimit", "1G"),
    ("minikube", {"grafanaMemoryRequest": "-1Mi"}, "grafanaMemoryRequest", "-1Mi"),
    ("minikube", {"grafanaStorage": "s3"}, "grafanaStorage", "s3"),
    ("minikube", {"grafanaStorageClass": "Fast_SSD"}, "grafanaStorageClass", "Fast_SSD"),
    ("minikube", {"grafanaStorageSize": "1TB"}, "grafanaStorageSize", "1TB"),
    ("minikube", {"prometheusCpuLimit": "-1"}, "prometheusCpuLimit", "-1"),
    ("minikube", {"prometheusStorageClass": "gp3 "}, "prometheusStorageClass", "gp3 "),
    ("minikube", {"rayNodes": "0"}, "rayNodes", "0"),
    ("minikube", {"watchAllNamespaces": "all"}, "watchAllNamespaces", "all"),
    ("aws", {"rayNodes": "1e3"}, "rayNodes", "1e3"),
    ("aws", {"workerInstanceType": "big"}, "workerInstanceType", "big"),
    ("aws", {"prometheusMemoryLimit": "2GB"}, "prometheusMemoryLimit", "2GB"),
    ("aws", {"alertFor": "-5m"}, "alertFor", "-5m"),
    ("aws", {"allowedCidrs": ["10.0.0.0/33"]}, "allowedCidrs", "10.0.0.0/33"),
    ("aws", {"allowedCidrs": ["my-laptop"]}, "allowedCidrs", "my-laptop"),
    ("aws", {"allowedCidrs": ["0.0.0.0/0"]}, "allowedCidrs", "0.0.0.0/0"),
    ("aws", {"allowedCidrs": ["::/0"]}, "allowedCidrs", "::/0"),
    ("aws", {"allowedCidrs": ["10.0.0.1/8"]}, "allowedCidrs", "10.0.0.1/8"),
    ("aws", {"workerCount": "-1"}, "workerCount", "-1"),
    ("aws", {"workerCount": "many"}, "workerCount", "many"),
    ("aws", {"workerMinCount": "-1"}, "workerMinCount", "-1"),
    ("aws", {"workerMaxCount": "lots"}, "workerMaxCount", "lots"),
    ("aws", {"workerCount": "4", "workerMaxCount": "2"}, "workerCount", "4"),
    ("aws", {"dataVolumeSize": "0"}, "dataVolumeSize", "0"),
    ("aws", {"retainData": "forever"}, "retainData", "forever"),
    ("aws", {"replaceDataVolume": "please"}, "replaceDataVolume", "please"),
    # Two halves are the whole internet, as 0.0.0.0/0 is; so are ::/1 and 8000::/1.
    ("aws", {"allowedCidrs": ["0.0.0.0/1", "128.0.0.0/1"]}, "allowedCidrs", ["0.0.0.0/1", "128.0.0.0/1"]),
    ("aws", {"allowedCidrs": ["::/1", "8000::/1"]}, "allowedCidrs", ["::/1", "8000::/1"]),
    # A newline would add a line to the head's .env (RAY_GRAFANA_IFRAME_HOST=...).
    ("aws", {"grafanaIframeHost": "http://grafana.example.com:3000\nRAY_ADDRESS=evil"}, "grafanaIframeHost",
     "RAY_ADDRESS=evil"),
    ("minikube", {"datasourceName": "Prometheus\tx"}, "datasourceName", "Prometheus"),
    ("aws", {"vpcId": "vpc-0123456789abcdef0"}, "vpcId", "vpc-0123456789abcdef0"),  # needs subnetId
    ("aws", {"amiHasNvidiaDriver": "yes"}, "amiHasNvidiaDriver", "yes"),
    ("aws", {"rayImage": "Ray Image"}, "rayImage", "Ray Image"),
    ("aws", {"keyName": ""}, "keyName", ""),
    ("aws", {"rootVolumeSize": "4"}, "rootVolumeSize", "4"),
    ("aws", {"aws:region": "us-west"}, "aws:region", "us-west"),
    ("aws", {"aws:region": "US-WEST-2"}, "aws:region", "US-WEST-2"),
    ("aws", {"headInstanceType": "xlarge"}, "headInstanceType", "xlarge"),
    ("aws", {"vpcId": "vpc-123"}, "vpcId", "vpc-123"),
    ("aws", {"subnetId": "sub-0123456789abcdef0"}, "subnetId", "sub-0123456789abcdef0"),
    ("aws", {"amiId": "ubuntu"}, "amiId", "ubuntu"),
    ("aws", {"clusterName": "Ray Cluster"}, "clusterName", "Ray Cluster"),
    ("aws", {"allowWorldAccess": "maybe"}, "allowWorldAccess", "maybe"),
    ("aws", {"openRayDashboard": "yes"}, "openRayDashboard", "yes"),
    ("aws", {"rayTokenAuth": "no"}, "rayTokenAuth", "no"),
    ("aws", {"grafanaTlsCertificate": "not a certificate"}, "grafanaTlsCertificate", "not a certificate"),
    ("aws", {"grafanaTlsKey": "not a key"}, "grafanaTlsKey", "<hidden>"),  # a key is never repeated
    ("aws", {"configWriterArns": ["arn:aws:sts::123456789012:assumed-role/deployer/me"]}, "configWriterArns",
     "arn:aws:sts::123456789012:assumed-role/deployer/me"),
    ("aws", {"headElasticIp": "on"}, "headElasticIp", "on"),
    ("aws", {"workerSubnetIds": ["subnet-nat"]}, "workerSubnetIds", "subnet-nat"),
    ("aws", {"workerSubnetIds": "subnet-0aaaaaaaaaaaaaaaa"}, "workerSubnetIds", "subnet-0aaaaaaaaaaaaaaaa"),
    ("aws", {"namespace": "obs"}, "namespace", "obs"),
    ("minikube", {"installKubeRay": "sure"}, "installKubeRay", "sure"),
    ("minikube", {"kuberayNamespace": "KubeRay"}, "kuberayNamespace", "KubeRay"),
    ("minikube", {"kuberayChartRepository": "ray-project/kuberay-helm"}, "kuberayChartRepository",
     "ray-project/kuberay-helm"),
    ("minikube", {"createRayCluster": "1"}, "createRayCluster", "1"),
    ("minikube", {"createRayNamespace": "no"}, "createRayNamespace", "no"),
    ("minikube", {"rayImage": "rayproject/ray:2.60.0 cpu"}, "rayImage", "rayproject/ray:2.60.0 cpu"),
    ("minikube", {"rayHeadCpu": "100m"}, "rayHeadCpu", "100m"),
    ("minikube", {"rayHeadMemory": "512Mi"}, "rayHeadMemory", "512Mi"),
    ("minikube", {"rayWorkerCpu": "lots"}, "rayWorkerCpu", "lots"),
    ("minikube", {"rayWorkerMemory": "1G"}, "rayWorkerMemory", "1G"),
    ("minikube", {"rayWorkerMinReplicas": "4"}, "rayWorkerMinReplicas", "4"),
    ("minikube", {"rayWorkerMaxReplicas": "0"}, "rayWorkerMaxReplicas", "0"),
    ("minikube", {"createRayCluster": "false", "rayImage": "my/ray:2.60.0"}, "rayImage", "my/ray:2.60.0"),
    ("aws", {"alertReceivers": [{"name": "hook", "type": "webhook", "url": "http://hook.example/credential"}]},
     "alertReceivers", "<1 receiver(s), hidden>"),
    ("minikube", {"externalAlertmanagerUrl": "alertmanager:9093"}, "externalAlertmanagerUrl", "alertmanager:9093"),
    ("minikube", {"alertGroupWait": "soon"}, "alertGroupWait", "soon"),
    ("aws", {"alertGroupInterval": "0s"}, "alertGroupInterval", "0s"),
    ("minikube", {"alertRepeatInterval": "10s"}, "alertRepeatInterval", "10s"),
    ("aws", {"alertSeverity": {"RayNodeMemoryHigh": "page"}}, "alertSeverity", "{'RayNodeMemoryHigh': 'page'}"),
    ("minikube", {"rayClusters": [{"name": "a", "namespace": "ml", "kind": "RayJob"}]}, "rayClusters", "RayJob"),
    ("minikube", {"rayClusters": [{"name": "A_B", "namespace": "ml"}]}, "rayClusters", "A_B"),
    ("minikube", {"rayClusters": []}, "rayClusters", "[]"),
    ("minikube", {"prometheusOperator": "yes"}, "prometheusOperator", "yes"),
    ("minikube", {"prometheusOperator": "true", "externalGrafanaUrl": "http://g:80"}, "externalPrometheusUrl",
     "None"),
    ("minikube", {"prometheusOperator": "true", "externalPrometheusUrl": "http://p:9090"}, "externalGrafanaUrl",
     "None"),
    ("minikube", {"externalPrometheusUrl": "http://p:9090"}, "externalPrometheusUrl", "http://p:9090"),
    ("minikube", {"podMonitorLabels": {"release": "not valid!"}}, "podMonitorLabels", "not valid!"),
    ("minikube", {"grafanaDashboardLabels": ["grafana_dashboard"]}, "grafanaDashboardLabels", "grafana_dashboard"),
    ("aws", {"alertGpuMemoryPercent": "101"}, "alertGpuMemoryPercent", "101"),
    ("minikube", {"rayVersion": "latest"}, "rayVersion", "latest"),
    ("aws", {"rayVersion": "2.40.0"}, "rayVersion", "2.40.0"),
    # Stores beyond one Prometheus.
    ("minikube", {"remoteWrite": [{"url": "ftp://store.example/write"}]}, "remoteWrite", "ftp://store.example/write"),
    ("aws", {"remoteWrite": [{"url": STORE, "auth": {"type": "sigv4"}}]}, "remoteWrite", "remoteWrite[0].auth (sigv4)"),
    ("aws", {"remoteWrite": [{"url": STORE, "auth": {"type": "sigv4", "region": "west"}}]}, "remoteWrite", "west"),
    ("minikube", {"remoteWrite": [{"url": STORE, "auth": {"type": "oauth2"}}]}, "remoteWrite", "oauth2"),
    ("minikube", {"remoteWrite": [{"url": STORE, "auth": {"type": "bearer", "token": CREDENTIAL}}]}, "remoteWrite",
     "<remoteWrite[0].auth.token, hidden>"),
    ("minikube", {"remoteWrite": [{"url": f"https://ray:{CREDENTIAL}@store.example/api/v1/push"}]}, "remoteWrite",
     "remoteWrite[0].url (hidden)"),
    ("aws", {"remoteWrite": [{"url": STORE}, {"url": STORE}]}, "remoteWrite", STORE),
    ("minikube", {"remoteWrite": {"url": STORE}}, "remoteWrite", "<hidden>"),
    ("minikube", {"prometheusAgent": "yes"}, "prometheusAgent", "yes"),
    ("aws", {"prometheusAgent": "true"}, "prometheusAgent", "True"),
    ("minikube", {"prometheusAgent": "true", "remoteWrite": [{"url": STORE}]}, "prometheusAgent", "True"),
    ("minikube", {"prometheusAgent": "true", "remoteWrite": [{"url": STORE}], "grafanaQueryUrl": QUERY,
                  "grafanaQueryAuth": {"type": "sigv4", "region": "us-west-2"}}, "grafanaQueryAuth", "type sigv4"),
    ("aws", {"prometheusAgent": "true", "remoteWrite": [{"url": STORE}], "grafanaQueryUrl": QUERY,
             "externalAlertmanagerUrl": "http://alertmanager.example:9093"}, "externalAlertmanagerUrl", "<hidden>"),
    ("minikube", {"grafanaQueryUrl": "mimir:8080"}, "grafanaQueryUrl", "mimir:8080"),
    ("minikube", {"grafanaQueryUrl": QUERY}, "grafanaQueryUrl", QUERY),
    ("aws", {"grafanaQueryAuth": {"type": "bearer"}}, "grafanaQueryAuth", "<hidden>"),
    ("minikube", {"grafanaQueryUrl": QUERY, "remoteWrite": [{"url": STORE}], "grafanaQueryAuth": {"type": "basic"}},
     "grafanaQueryAuth", "grafanaQueryAuth (basic)"),
    ("aws", {"managedPrometheus": "maybe"}, "managedPrometheus", "maybe"),
    ("aws", {"managedPrometheus": "true", "grafanaQueryUrl": QUERY}, "grafanaQueryUrl", QUERY),
    ("aws", {"managedPrometheus": "true", "prometheusAgent": "true"}, "prometheusAgent", "True"),
    ("minikube", {"prometheusOperator": "true", "externalPrometheusUrl": "http://p:9090",
                  "externalGrafanaUrl": "http://g:80", "remoteWrite": [{"url": STORE}]}, "remoteWrite", "<hidden>"),
    # Values that pass their pattern but would break later (arithmetic, Prometheus, the kubelet).
    ("minikube", {"scrapeInterval": "0s"}, "scrapeInterval", "0s"),
    ("aws", {"scrapeInterval": "500ms"}, "scrapeInterval", "500ms"),
    ("minikube", {"retentionTime": "0s"}, "retentionTime", "0s"),
    ("aws", {"retentionTime": "30m"}, "retentionTime", "30m"),
    ("minikube", {"retentionSize": "1B"}, "retentionSize", "1B"),
    ("aws", {"retentionSize": "100MB"}, "retentionSize", "100MB"),
    ("minikube", {"prometheusMemoryLimit": "1Ki"}, "prometheusMemoryLimit", "1Ki"),
    ("minikube", {"grafanaMemoryLimit": "64Mi", "grafanaMemoryRequest": "32Mi"}, "grafanaMemoryLimit", "64Mi"),
    ("aws", {"prometheusMemoryLimit": "100Mi"}, "prometheusMemoryLimit", "100Mi"),
    ("minikube", {"prometheusCpuLimit": "0", "prometheusCpuRequest": "0"}, "prometheusCpuLimit", "0"),
    ("minikube", {"grafanaCpuLimit": "1m", "grafanaCpuRequest": "1m"}, "grafanaCpuLimit", "1m"),
    ("minikube", {"grafanaStorageSize": "1Ki"}, "grafanaStorageSize", "1Ki"),
    ("minikube", {"prometheusStorageSize": "1Mi"}, "prometheusStorageSize", "1Mi"),
    # The user's own secrets, set without --secret: refused, never repeated.
    ("minikube", {"grafanaAdminPassword": CREDENTIAL}, "grafanaAdminPassword", "<hidden>"),
    ("aws", {"grafanaSecretKey": CREDENTIAL * 2}, "grafanaSecretKey", "<hidden>"),
    ("minikube", {"rayAuthToken": CREDENTIAL * 2}, "rayAuthToken", "<hidden>"),
    ("aws", {"logs": "maybe"}, "logs", "maybe"),
    ("aws", {"logsRetention": "12h"}, "logsRetention", "12h"),
    ("minikube", {"logs": "maybe"}, "logs", "maybe"),
    ("minikube", {"logsRetention": "12h"}, "logsRetention", "12h"),
    ("minikube", {"lokiStorage": "s3"}, "lokiStorage", "s3"),
    ("minikube", {"lokiStorageClass": "Fast_SSD"}, "lokiStorageClass", "Fast_SSD"),
    ("minikube", {"lokiStorageSize": "64Mi"}, "lokiStorageSize", "64Mi"),
    ("aws", {"logsUrl": "ftp://logs.example.com"}, "logsUrl", "ftp://logs.example.com"),
    ("minikube", {"logsUrl": "logs.example.com"}, "logsUrl", "logs.example.com"),
    ("aws", {"logsUrl": "https://logs.example.com", "logsAuth": {"type": "digest"}}, "logsAuth", "digest"),
    ("minikube", {"logsUrl": "https://logs.example.com", "logsQueryAuth": {"type": "oauth"}}, "logsQueryAuth",
     "oauth"),
]


@pytest.mark.parametrize("stack,overrides,key,value", INVALID,
                         ids=[f"{s}-{k}-{v!s:.20}" for s, _, k, v in INVALID])
def test_invalid_config_is_refused_before_any_resource(stack, overrides, key, value):
    result = run_stack(stack, **overrides)
    assert isinstance(result.error, ConfigError), f"expected a ConfigError, got {result.error!r}"
    message = str(result.error)
    full_key = key if ":" in key else f"ray-monitoring:{key}"
    assert any(p.startswith(f"{full_key} = ") and str(value) in p and "Fix:" in p
               for p in result.error.problems) or (key == "platform" and value in message), message
    assert result.resources == [], f"registered {[r.name for r in result.resources]} despite bad config"
    assert CREDENTIAL not in message, "a credential was repeated in an error"


# Bad values inside keys set with --secret: the error names the key and never repeats the value.
SECRET_INVALID = [
    ("minikube", {"remoteWrite": [{"url": STORE}], "grafanaQueryUrl": QUERY},
     {"grafanaQueryAuth": {"type": "bearer", "token": f"{CREDENTIAL}$x"}}, "grafanaQueryAuth", "contains '$'"),
    ("aws", {}, {"remoteWrite": [{"url": STORE, "auth": {"type": "basic", "password": CREDENTIAL}}]}, "remoteWrite",
     "missing fields ['username']"),
    ("minikube", {"prometheusAgent": "true", "grafanaQueryUrl": QUERY},
     {"remoteWrite": [{"url": STORE, "auth": {"type": "bearer", "token": CREDENTIAL}}],
      "grafanaQueryAuth": {"type": "sigv4", "region": "us-west-2"}}, "grafanaQueryAuth", "cannot sign SigV4"),
    ("aws", {}, {"grafanaAdminPassword": CREDENTIAL[:15]}, "grafanaAdminPassword", "at least 16 characters"),
    ("minikube", {}, {"grafanaSecretKey": CREDENTIAL[:31]}, "grafanaSecretKey", "at least 32 characters"),
    ("minikube", {}, {"rayAuthToken": f"{CREDENTIAL} {CREDENTIAL}"}, "rayAuthToken", "without spaces"),
    ("aws", {"rayTokenAuth": "false"}, {"rayAuthToken": CREDENTIAL * 2}, "rayAuthToken", "rayTokenAuth is false"),
]


@pytest.mark.parametrize("stack,overrides,secrets,key,reason", SECRET_INVALID,
                         ids=[f"{s}-{k}-{r:.20}" for s, _, _, k, r in SECRET_INVALID])
def test_bad_secret_settings_are_refused_without_repeating_them(stack, overrides, secrets, key, reason):
    result = run_stack(stack, secrets=secrets, **overrides)
    assert isinstance(result.error, ConfigError), f"expected a ConfigError, got {result.error!r}"
    assert any(p.startswith(f"ray-monitoring:{key} = ") and reason in p and "Fix:" in p
               for p in result.error.problems), str(result.error)
    assert CREDENTIAL not in str(result.error)
    assert result.resources == []


@pytest.mark.parametrize("platform", ["kubernetes", "aws"])
def test_the_table_covers_every_key(platform):
    """Keys both platforms share are read by the same code: one row for them covers both."""
    covered = {key for _, _, key, _ in INVALID}
    missing = sorted(set(defaults(platform)) - covered)
    assert not missing, f"no invalid value is tried for {missing}"
    assert len(INVALID) >= 25


def test_every_problem_is_reported_at_once():
    result = run_stack("minikube", namespace="Bad", scrapeInterval="soon", grafanaNodePort="1")
    assert isinstance(result.error, ConfigError)
    keys = sorted(p.split(" = ")[0] for p in result.error.problems)
    assert keys == ["ray-monitoring:grafanaNodePort", "ray-monitoring:namespace", "ray-monitoring:scrapeInterval"]


def test_misspelt_key_gets_a_suggestion():
    result = run_stack("minikube", retentionTme="6h")
    assert isinstance(result.error, ConfigError)
    assert "did you mean retentionTime?" in str(result.error)


def test_stack_without_platform_must_say_which():
    with pytest.raises(ConfigError, match="platform = None: is not set, and stack 'eks' names no preset"):
        load("eks", {})
    settings = load("eks", {"ray-monitoring:platform": "kubernetes",
                            "ray-monitoring:grafanaServiceType": "LoadBalancer",
                            "ray-monitoring:grafanaLoadBalancerSourceRanges": '["203.0.113.0/24"]'})
    assert settings.backend.grafana_service.type == "LoadBalancer"


def test_pulumi_yaml_defaults_are_accepted_by_both_platforms():
    """The CLI passes every default Pulumi.yaml declares as a value: both platforms accept them."""
    project = yaml.safe_load((PROJECT_ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "ray-monitoring" and project["stackConfigDir"] == "stacks"
    assert project["runtime"]["options"]["virtualenv"] == "venv"
    cli_values = {key if ":" in key else f"ray-monitoring:{key}": declared.get("default", declared.get("value"))
                  for key, declared in project["config"].items()}
    assert cli_values["aws:region"] == "us-west-2", "the AWS provider's own key, project-wide"
    for stack in ("minikube", "kind", "aws"):
        load(stack, cli_values)


@pytest.mark.parametrize("stack", ["minikube", "aws"])
def test_a_grafana_iframe_host_with_a_sub_path_is_refused_with_the_fix(stack):
    # Grafana serves a sub-path only with [server] root_url and serve_from_sub_path, which the stack does not
    # set: the Ray Dashboard's embedded panels would load from the host's root and fail.
    message = refused(run_stack(stack, grafanaIframeHost="https://ingress.example.com/grafana"), "grafanaIframeHost")
    assert "'https://ingress.example.com/grafana'" in message and "give it a host of its own" in message
