"""Remote write against two real Prometheus processes: the aws stack's deployed prometheus.yml with a
`remoteWrite` store (real Ray, 5 s scrapes) writing to a receiver (`--web.enable-remote-write-receiver`).
The receiver is stopped for 60 s while Ray runs (support/store_outage.py, beside the tier's other tests);
afterwards the samples of one Ray series it lacks for that window are counted (the figure is in
docs/remote-storage.md, with the queue settings below). The doctor's remote write check follows the store away
and back. In agent mode the same configuration forwards without local storage."""

from __future__ import annotations

import urllib.request

from doctor.checks import Expectations, Findings, prometheus
from doctor.http import Http
from support.live import Processes, Prometheus, wait_until
from support.loopback import free_port
from support.store_outage import OUTAGE_SECONDS, SERIES, deployed_config

QUERY = "https://mimir.example.com/prometheus"  # never called: Grafana's and Ray's side of agent mode


def test_a_store_away_for_60_s_loses_no_sample(live):
    seen = live.store_outage.result(timeout=OUTAGE_SECONDS + 300)  # it ran beside the tier's other tests
    assert seen.cluster_label == "ray-cluster"
    assert seen.health_before[0], seen.health_before[1]
    assert not seen.health_during[0] and "behind" in seen.health_during[1], seen.health_during
    missing = seen.sent - seen.received
    queue = live.store_outage_config["remote_write"][0]["queue_config"]
    print(f"remote write: {len(seen.sent)} samples of {SERIES} in the {seen.end - seen.stopped_at + 15:.0f} s around "
          f"a {OUTAGE_SECONDS} s outage; the receiver lacks {len(missing)}; queue {queue}")
    assert len(seen.sent) >= (OUTAGE_SECONDS + 20) / 5 - 3, "the sender itself scraped too little"
    assert not missing, (f"{len(missing)} samples lost across the outage, at "
                         f"{[round(m - seen.stopped_at, 1) for m in sorted(missing)]} s from the stop "
                         f"(restarted at {seen.restarted_at - seen.stopped_at:.1f} s)")
    assert seen.health_after[0], seen.health_after[1]


def test_agent_mode_forwards_ray_series_and_the_doctor_checks_what_an_agent_answers(live, tmp_path):
    processes = Processes()
    receiver = Prometheus(processes, tmp_path / "receiver", {"global": {"scrape_interval": "1h"}}, port=free_port())
    config = deployed_config(live.ray.sd_file, receiver, prometheusAgent="true", grafanaQueryUrl=QUERY)
    assert "rule_files" not in config
    agent = Prometheus(processes, tmp_path / "agent", config, port=free_port())
    try:
        receiver.start(30, "--web.enable-remote-write-receiver")
        agent.start(30, agent=True)
        wait_until(lambda: receiver.query(SERIES), 60, "Ray series at the receiver")
        (sample,) = receiver.query(SERIES)
        assert sample["metric"]["ray_io_cluster"] == "ray-cluster"
        # Nothing to query on an agent: what the dashboards need is at the store.
        assert urllib.request.urlopen(f"{agent.url}/-/ready", timeout=5).status == 200  # noqa: S310
        results = prometheus(Http(timeout=5), agent.url, Expectations(prometheus_agent=True, remote_writes=1,
                                                                    ray_nodes=10), Findings())
        by_check = {r.check: r for r in results}
        assert [r.check for r in results if r.ok] == ["Prometheus ready", "Prometheus configuration loaded",
                                                       "remote write keeps up"], [vars(r) for r in results]
        assert not [r for r in results if r.ok is False]
        assert "agent mode" in by_check["every live Ray node scraped"].detail
    finally:
        processes.stop_all()
