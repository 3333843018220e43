"""Grafana over HTTPS on EC2 with the user's certificate: an nginx in front of Grafana (Grafana keeps
plain HTTP on the head, where Ray's dashboard checks it on 127.0.0.1 with certificate verification),
its configuration checked by a real nginx, the key only ever a Pulumi secret and an SSM SecureString."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from components.versions import NGINX_IMAGE
from stacks.settings import ConfigError
from support.certificates import self_signed
from support.pulumi_internals import is_secret
from support.stacks import Run, run_stack
from support.tools import compose_config, tool

HOST = "https://grafana.example.com:3443"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
BASE = "/opt/ray-monitoring"


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate and its key for grafana.example.com (openssl)."""
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls(pair) -> Run:
    certificate, key = pair
    result = run_stack("aws", allowedCidrs=["203.0.113.7/32"], grafanaIframeHost=HOST,
                       grafanaTlsCertificate=certificate, secrets={"grafanaTlsKey": key})
    assert result.error is None, result.error
    return result


def test_browsers_reach_grafana_only_over_https(tls):
    ports = {r.plain["fromPort"] for r in tls.of_type(INGRESS) if r.plain.get("cidrIpv4") == "203.0.113.7/32"}
    assert ports == {3443, 9090}, "Grafana's plain port stays closed (and 22 without keyName)"
    assert tls.outputs["grafanaUrl"] == HOST == tls.doctor["urls"]["grafana"]
    compose = yaml.safe_load(tls.config()[f"{BASE}/compose.yaml"])
    proxy = compose["services"]["grafana-tls"]
    assert proxy["image"] == NGINX_IMAGE and proxy["network_mode"] == "host" and proxy["read_only"] is True


def test_https_grafana_sends_its_cookie_over_https_only_and_asks_for_hsts(tls, aws):
    # Grafana's configuration, [security] cookie_secure: the session cookie gets the Secure attribute.
    # RFC 6797: a Strict-Transport-Security header makes the browser use HTTPS for the host from then on.
    ini = tls.config()[f"{BASE}/grafana/config/grafana.ini"]
    assert "cookie_secure = true" in ini
    assert "cookie_secure" not in aws.config()[f"{BASE}/grafana/config/grafana.ini"], "plain HTTP keeps it off"
    conf = tls.config()[f"{BASE}/grafana-tls/grafana-tls.conf"]
    assert 'add_header Strict-Transport-Security "max-age=31536000" always;' in conf


def test_the_key_stays_a_secret_and_reaches_only_nginx(tls, pair):
    _, key = pair
    parameter = tls.one("aws:ssm/parameter:Parameter", "grafana-tls-key-parameter")
    assert parameter.plain["type"] == "SecureString" and is_secret(parameter.inputs["value"])
    for resource in tls.resources:
        if resource is not parameter and not resource.type.startswith("random:"):
            assert "PRIVATE KEY" not in json.dumps(resource.plain), f"the key in {resource.name}"
    entries = {e["path"]: e for e in tls.manifest()["secrets"]}
    for file_name in ("tls.crt", "tls.key"):
        entry = entries[f"{BASE}/grafana-tls-secrets/{file_name}"]
        assert (entry["uid"], entry["mode"], entry["reload"]) == (0, "0400", "grafana-tls")


def nginx_check(conf: str, tls_dir, directory) -> subprocess.CompletedProcess:
    """`nginx -t` on the deployed conf.d file, included as the image's nginx.conf includes it; the
    certificate's directory moved to `tls_dir` (the one change on this machine)."""
    (directory / "grafana-tls.conf").write_text(conf.replace("/etc/nginx/tls", str(tls_dir)))
    (directory / "nginx.conf").write_text(f"events {{}}\nhttp {{ include {directory}/grafana-tls.conf; }}\n")
    return subprocess.run([tool("nginx"), "-t", "-e", "stderr", "-c", str(directory / "nginx.conf")],
                          capture_output=True, text=True, timeout=60)


def test_the_deployed_nginx_configuration_passes_nginx(tls, pair, tmp_path):
    certificate, key = pair
    conf = tls.config()[f"{BASE}/grafana-tls/grafana-tls.conf"]
    (tmp_path / "tls.crt").write_text(certificate)
    (tmp_path / "tls.key").write_text(key)
    checked = nginx_check(conf, tmp_path, tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "proxy_pass http://127.0.0.1:3000;" in conf and "listen 3443 ssl;" in conf
    (tmp_path / "tls.key").unlink()
    assert nginx_check(conf, tmp_path, tmp_path).returncode != 0, "nginx -t catches a missing key"


@pytest.mark.parametrize("overrides, secrets, problem", [
    ({"grafanaIframeHost": HOST}, {"grafanaTlsKey": "KEY"}, "grafanaTlsCertificate"),
    ({"grafanaIframeHost": HOST, "grafanaTlsCertificate": "CERT"}, {}, "grafanaTlsKey"),
    ({"grafanaIframeHost": "http://grafana.example.com:3000", "grafanaTlsCertificate": "CERT"},
     {"grafanaTlsKey": "KEY"}, "grafanaIframeHost"),
], ids=["no-certificate", "no-key", "plain-iframe-host"])
def test_an_incomplete_tls_setting_is_refused_with_nothing_created(pair, overrides, secrets, problem):
    certificate, key = pair
    fill = {"CERT": certificate, "KEY": key}
    result = run_stack("aws", secrets={k: fill[v] for k, v in secrets.items()},
                       **{k: fill.get(v, v) for k, v in overrides.items()})
    assert isinstance(result.error, ConfigError), result.error
    assert f"ray-monitoring:{problem}" in str(result.error) and result.resources == []
    assert "PRIVATE KEY" not in str(result.error), "the key is never repeated"


def test_a_key_not_set_as_a_secret_is_refused_without_showing_it(pair):
    certificate, key = pair
    result = run_stack("aws", grafanaIframeHost=HOST, grafanaTlsCertificate=certificate, grafanaTlsKey=key)
    assert isinstance(result.error, ConfigError) and "not a Pulumi secret" in str(result.error)
    assert "PRIVATE KEY" not in str(result.error)


def test_the_compose_file_with_the_proxy_passes_both_composes(tls, tmp_path):
    (tmp_path / "compose.yaml").write_text(tls.config()[f"{BASE}/compose.yaml"])
    (tmp_path / ".env").write_text(f"RAY_GRAFANA_IFRAME_HOST={HOST}\n")
    for (_, compose_tool), checked in compose_config([tmp_path]).items():
        assert checked.returncode == 0, f"{compose_tool}: {checked.stdout}{checked.stderr}"
        assert "grafana-tls" in checked.stdout
