#!/usr/bin/env bash
# After `pulumi up --stack kind` (from zero): proves the Ray Dashboard's charts will appear, through
# kubectl port-forwards, and prints the zero-to-charts figure. Every wait is bounded.
#
#   bash .github/kind/check.sh UP_STARTED_EPOCH_SECONDS
set -euo pipefail

up_started=${1:?the epoch second pulumi up started}
cluster=ray-training-cluster
ray_namespace=ray-system
monitoring=monitoring

forwards=()
cleanup() {
  for pid in "${forwards[@]}"; do kill "${pid}" 2>/dev/null || true; done
}
trap cleanup EXIT

# Bounded poll: `until_ok SECONDS WHAT COMMAND...` retries every 2 s, fails after SECONDS.
until_ok() {
  local limit=$1 what=$2 start=$SECONDS
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS - start >= limit)); then
      echo "FAILED after ${limit} s: ${what}" >&2
      return 1
    fi
    sleep 2
  done
  echo "ok: ${what} ($((SECONDS - start)) s)"
}

forward() {  # forward NAMESPACE SERVICE PORT
  kubectl port-forward -n "$1" "svc/$2" "$3:$3" >/dev/null 2>&1 &
  forwards+=("$!")
}

pods_exist() {  # pods_exist NAMESPACE SELECTOR: kubectl wait exits at once when nothing matches yet
  [[ -n "$(kubectl get pods -n "$1" -l "$2" -o name 2>/dev/null)" ]]
}

# KubeRay creates the pods after the RayCluster; the first pull of the Ray image takes minutes.
for node_type in head worker; do
  selector="ray.io/cluster=${cluster},ray.io/node-type=${node_type}"
  until_ok 300 "the ${node_type} pod exists" pods_exist "${ray_namespace}" "${selector}"
  kubectl wait --for=condition=Ready pod -n "${ray_namespace}" -l "${selector}" --timeout=900s
done

forward "${monitoring}" prometheus 9090
forward "${monitoring}" grafana 3000
forward "${ray_namespace}" "${cluster}-head-svc" 8265

json() {  # json URL PYTHON-EXPRESSION-ON-d [CURL-ARGS...]: exits 0 when the expression is true
  local url=$1 expression=$2
  shift 2
  curl -sf --max-time 5 "$@" "${url}" |
    python3 -c "import json, sys; d = json.load(sys.stdin); sys.exit(0 if (${expression}) else 1)"
}

# The created cluster runs Ray's token authentication: the dashboard's API wants the stack's token.
ray_token=$(pulumi stack output rayAuthToken --show-secrets --stack kind)
ray_auth=(-H "Authorization: Bearer ${ray_token}")

query="http://localhost:9090/api/v1/query?query=ray_node_cpu_utilization%7Bray_io_cluster%3D%22${cluster}%22%7D"
until_ok 600 "Prometheus has Ray series with ray_io_cluster=${cluster}" \
  json "${query}" 'd["data"]["result"]'
echo "zero-to-charts: $(($(date +%s) - up_started)) s from the start of pulumi up to the first Ray sample"

targets="http://localhost:9090/api/v1/targets?state=active"
for job in ray ray-autoscaler ray-dashboard; do
  until_ok 120 "Prometheus job ${job} has a target up" \
    json "${targets}" "any(t['labels']['job'] == '${job}' and t['health'] == 'up' for t in d['data']['activeTargets'])"
done
until_ok 120 "Prometheus scrapes the head and every worker" \
  json "${targets}" "sum(t['labels']['job'] == 'ray' and t['health'] == 'up' for t in d['data']['activeTargets']) >= 2"
until_ok 120 "Grafana is healthy" json "http://localhost:3000/api/health" 'd["database"] == "ok"'
until_ok 120 "Grafana serves Ray's default dashboard to anonymous viewers" \
  json "http://localhost:3000/api/dashboards/uid/rayDefaultDashboard" 'd["dashboard"]["uid"] == "rayDefaultDashboard"'
until_ok 300 "the Ray Dashboard reaches Prometheus" \
  json "http://localhost:8265/api/prometheus_health" 'd["result"] is True' "${ray_auth[@]}"
until_ok 300 "the Ray Dashboard reaches Grafana" \
  json "http://localhost:8265/api/grafana_health" 'd["result"] is True' "${ray_auth[@]}"
refused_without_token() {  # job submission's endpoint, asked without the token: 401
  [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://localhost:8265/api/jobs/)" == 401 ]]
}
until_ok 60 "the Ray Dashboard refuses a request without the token" refused_without_token
echo "all checks passed"
