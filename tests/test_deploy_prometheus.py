"""deploy/prometheus and deploy/grafana, checked by the programs that will run them: promtool
checks the Prometheus configs and the alert rules and runs the rules' unit tests; a real
Prometheus server relabels the pods Kubernetes would discover, and scrapes a stack of its own:
every service is up, and a provider outage raises the provider-error alert, which resolves after
it. Every alert and dashboard query uses only metrics the stack's services really export."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from e2e_support import new_payment, pay, payments_client, wait_status
from prometheus_support import api, exported_names, metric_names, prometheus_server, promtool

from payctl.embedded import wait_for
from payctl.services import DEFAULT_HEALTH_PORTS, SERVICE_NAMES
from payctl.stack import StackConfig
from psp_sim.admin_client import reset, set_behaviour
from psp_sim.behaviour import Failure

if TYPE_CHECKING:
    from collections.abc import Iterator

    from payctl.stack import Stack

ROOT = Path(__file__).resolve().parents[1]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
COMPOSE_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
KUBERNETES_CONFIG = PROMETHEUS_DIR / "prometheus-kubernetes.yml"
RULES = PROMETHEUS_DIR / "alerts.yml"
RULE_TESTS = PROMETHEUS_DIR / "alerts_test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "payments-dashboard.json"
# Prometheus makes `up` for every target itself; no service exports it.
PROMETHEUS_OWN = {"up"}


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def dashboard_queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [t["expr"] for p in panels for t in p.get("targets", [])]


# -- the rules and the compose config, as promtool reads them ----------------------------------


def test_the_compose_config_is_valid() -> None:
    promtool("check", "config", COMPOSE_CONFIG.name, cwd=PROMETHEUS_DIR)  # and its rules


def test_the_alert_rules_are_valid() -> None:
    promtool("check", "rules", RULES.name, cwd=PROMETHEUS_DIR)


def test_the_alert_rules_pass_their_unit_tests() -> None:
    promtool("test", "rules", RULE_TESTS.name, cwd=PROMETHEUS_DIR)


def test_every_alert_is_tested_firing_and_staying_quiet() -> None:
    cases = [
        case
        for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in test["alert_rule_test"]
    ]
    for name in (rule["alert"] for rule in alert_rules()):
        outcomes = [bool(case["exp_alerts"]) for case in cases if case["alertname"] == name]
        assert True in outcomes, f"{name} is never tested firing"
        assert False in outcomes, f"{name} is never tested staying quiet"


def markdown_anchors(page: Path) -> set[str]:
    """The anchors GitHub gives the headings of `page`."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_every_alert_says_how_bad_what_happened_and_where_the_runbook_is() -> None:
    for rule in alert_rules():
        name = rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        annotations = rule["annotations"]
        assert annotations["summary"], name
        assert annotations["description"], name
        page, _, anchor = annotations["runbook_url"].partition("#")
        assert anchor in markdown_anchors(ROOT / page), f"{name}: no section {anchor} in {page}"


def scrape_targets(config: dict[str, Any]) -> dict[str, str]:
    """Each job's `host:port`, named in a static target or looked up by DNS."""
    targets: dict[str, str] = {}
    for job in config["scrape_configs"]:
        static = [t for group in job.get("static_configs", []) for t in group["targets"]]
        dns = job.get("dns_sd_configs", [])
        looked_up = [f"{name}:{sd['port']}" for sd in dns for name in sd["names"]]
        [targets[job["job_name"]]] = static + looked_up
    return targets


def test_the_compose_config_scrapes_every_service_where_it_serves_metrics() -> None:
    targets = scrape_targets(yaml.safe_load(COMPOSE_CONFIG.read_text()))
    defaults = StackConfig(data_dir=Path())
    ports = {**defaults.api_ports, **DEFAULT_HEALTH_PORTS}
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    port_variables = ("HEALTH_PORT", "BFF_PORT", "PSP_PORT", "SAAS_PORT")

    assert targets == {name: f"{name}:{ports[name]}" for name in SERVICE_NAMES}
    for name, target in targets.items():
        env = compose[name]["environment"]
        assert target == f"{name}:{next(env[v] for v in port_variables if v in env)}"


# -- the Kubernetes config ----------------------------------------------------------------------

# Debian's Prometheus is built without Kubernetes discovery (to its promtool and server
# `kubernetes_sd_configs` is an unknown field). So the pods that discovery would find stand in as
# static targets carrying the labels it gives them: one target per declared container port,
# labelled with the pod's namespace, name, labels and annotations.
NAMESPACE = "payments"
ANNOTATION = "__meta_kubernetes_pod_annotation_prometheus_io_"  # prometheus.io/<key>


def pod(name: str, app: str, ports: list[str], **annotations: str) -> list[dict[str, Any]]:
    meta = {
        "__meta_kubernetes_namespace": NAMESPACE,
        "__meta_kubernetes_pod_name": name,
        "__meta_kubernetes_pod_label_app_kubernetes_io_name": app,
        **{f"{ANNOTATION}{key}": value for key, value in annotations.items()},
    }
    return [{"targets": [port], "labels": meta} for port in ports]


# Addresses of TEST-NET-1 (RFC 5737): nothing answers there, and nothing needs to.
STAND_IN_PODS = [
    *pod(
        "billing-consumer-7d9f",
        "billing-consumer",
        ["192.0.2.5:9100"],
        scrape="true",
        port="9100",
        path="/metrics",
    ),
    # A second declared port (a sidecar's) makes no second target.
    *pod("bff-5c4b", "bff", ["192.0.2.6:8000", "192.0.2.6:9901"], scrape="true", port="8000"),
    *pod("postgres-0", "postgres", ["192.0.2.7:5432"]),  # not annotated: not scraped
]


def kubernetes_stand_in(home: Path) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(KUBERNETES_CONFIG.read_text())
    [job] = config["scrape_configs"]
    assert job.pop("kubernetes_sd_configs") == [{"role": "pod"}]
    job["static_configs"] = STAND_IN_PODS
    config["rule_files"] = [str(RULES)]
    (home / "prometheus.yml").write_text(yaml.safe_dump(config))
    return config


def test_the_kubernetes_config_is_valid(tmp_path: Path) -> None:
    kubernetes_stand_in(tmp_path)
    promtool("check", "config", "prometheus.yml", cwd=tmp_path)


def test_the_kubernetes_config_scrapes_each_annotated_pod_once_as_its_service(
    tmp_path: Path,
) -> None:
    seen: list[dict[str, str]] = []
    dropped: set[str] = set()
    with prometheus_server(kubernetes_stand_in(tmp_path), tmp_path) as prometheus:

        def discovered() -> bool:
            targets = api(prometheus, "targets")
            # One static config: its targets all arrive in one update.
            seen[:] = [{**t["labels"], "url": t["scrapeUrl"]} for t in targets["activeTargets"]]
            dropped.update(
                t["discoveredLabels"]["__meta_kubernetes_pod_name"]
                for t in targets["droppedTargets"]
            )
            return bool(seen)

        wait_for(discovered, 20, "the stand-in pods discovered", interval=0.2)

    assert dropped == {"postgres-0"}
    common = {"namespace": NAMESPACE}
    assert sorted(seen, key=lambda t: t["job"]) == [
        {
            "job": "bff",
            "instance": "192.0.2.6:8000",
            "pod": "bff-5c4b",
            **common,
            "url": "http://192.0.2.6:8000/metrics",
        },
        {
            "job": "billing-consumer",
            "instance": "192.0.2.5:9100",
            "pod": "billing-consumer-7d9f",
            **common,
            "url": "http://192.0.2.5:9100/metrics",
        },
    ]


# -- the dashboard ------------------------------------------------------------------------------


def test_metric_names_are_read_from_promql() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (job, le) (rate(a_bucket{job="bff", x=~"y|z"}'
        "[$__rate_interval]))) / on (job) sum(b_total offset 5m) by (job) > 1e3 and up == 0"
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "up"}


def test_the_dashboard_is_valid_and_shows_what_ops_watch() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = dashboard["panels"]

    assert dashboard["uid"]
    assert dashboard["title"]
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        box = panel["gridPos"]
        assert box["x"] + box["w"] <= 24, panel["title"]
        assert box["h"] > 0, panel["title"]
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert all(t["expr"] for t in panel["targets"]), panel["title"]
    shown = set().union(*map(metric_names, dashboard_queries()))
    watched = {
        "http_requests_total",  # accept rate
        "http_request_duration_seconds_bucket",  # accept latency
        "payments_consumer_lag",
        "payments_outbox_backlog",
        "payments_retry_schedule_size",
        "payments_dead_letters_total",
        "payments_provider_requests_total",
        "payments_handler_seconds_bucket",
    }
    assert watched <= shown, watched - shown


# -- a real Prometheus against a stack of its own -----------------------------------------------

# The shipped rules wait minutes (`for:`) over windows of 5 to 10 minutes. Here every `for:` is
# FOR and every range and offset WINDOW, so that a provider outage of seconds goes pending,
# fires and resolves within the test; expressions and thresholds stay as shipped, and
# alerts_test.yml tests the real durations.
FOR = "3s"
WINDOW = "15s"


def rules_in_seconds(text: str) -> dict[str, Any]:
    rules: dict[str, Any] = yaml.safe_load(text)
    for rule in (rule for group in rules["groups"] for rule in group["rules"]):
        if "for" in rule:
            rule["for"] = FOR
        expr = re.sub(r"\[\d+[smh]\]", f"[{WINDOW}]", rule["expr"])
        rule["expr"] = re.sub(r"offset \d+[smh]", f"offset {WINDOW}", expr)
    return rules


def config_for(stack: Stack, rules: Path) -> dict[str, Any]:
    """The shipped compose config, on the stack's ports, scraping and evaluating every second."""
    config: dict[str, Any] = yaml.safe_load(COMPOSE_CONFIG.read_text())
    every_second = ("scrape_interval", "scrape_timeout", "evaluation_interval")
    config["global"] = dict.fromkeys(every_second, "1s")
    config["rule_files"] = [str(rules)]
    for job in config["scrape_configs"]:
        job.pop("dns_sd_configs", None)
        job["static_configs"] = [{"targets": [urlsplit(stack.urls[job["job_name"]]).netloc]}]
    return config


@pytest.fixture(scope="module")
def prometheus(own_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a Prometheus server scraping `own_stack` with the shipped rules."""
    home = tmp_path_factory.mktemp("prometheus")
    rules = home / "alerts.yml"
    rules.write_text(yaml.safe_dump(rules_in_seconds(RULES.read_text())))
    with prometheus_server(config_for(own_stack, rules), home) as url:
        yield url


@pytest.mark.e2e
@pytest.mark.chaos
def test_prometheus_scrapes_every_service_of_the_stack(prometheus: str) -> None:
    health: dict[str, str] = {}

    def all_up() -> bool:
        targets = api(prometheus, "targets", state="active")["activeTargets"]
        health.update({t["labels"]["job"]: t["health"] for t in targets})
        return health == dict.fromkeys(SERVICE_NAMES, "up")

    try:
        wait_for(all_up, 30, "every service scraped", interval=0.5)
    except TimeoutError as e:
        raise AssertionError(f"{e}; targets: {health}") from e
    up = api(prometheus, "query", query="up")["result"]
    assert {r["metric"]["job"]: r["value"][1] for r in up} == dict.fromkeys(SERVICE_NAMES, "1")


@pytest.fixture(scope="module")
def exported(own_stack: Stack) -> set[str]:
    """Every metric name the stack's services export on their /metrics pages, once a payment
    has gone all the way through (the BFF's request metrics appear with its first request)."""
    with payments_client(own_stack) as client:
        wait_status(client, pay(client, new_payment()), {"CAPTURED"})
    names: set[str] = set()
    for url in own_stack.urls.values():
        page = httpx.get(f"{url}/metrics", timeout=10, trust_env=False)
        page.raise_for_status()
        names |= exported_names(page.text)
    return names


@pytest.mark.e2e
@pytest.mark.chaos
def test_every_alert_uses_only_metrics_the_services_export(exported: set[str]) -> None:
    for rule in alert_rules():
        unknown = metric_names(rule["expr"]) - exported - PROMETHEUS_OWN
        assert not unknown, f"{rule['alert']} uses {unknown}: no service exports them"


@pytest.mark.e2e
@pytest.mark.chaos
def test_every_dashboard_query_uses_only_metrics_the_services_export(exported: set[str]) -> None:
    for expr in dashboard_queries():
        unknown = metric_names(expr) - exported - PROMETHEUS_OWN
        assert not unknown, f"{expr} uses {unknown}: no service exports them"


def provider_alert(prometheus: str) -> str | None:
    """The state of billing-consumer's PaymentProviderErrors (pending, firing); None when it is
    not active."""
    for alert in api(prometheus, "alerts")["alerts"]:
        labels = alert["labels"]
        if labels["alertname"] == "PaymentProviderErrors" and labels["job"] == "billing-consumer":
            return str(alert["state"])
    return None


@pytest.mark.e2e
@pytest.mark.chaos
def test_a_provider_outage_raises_the_provider_error_alert_which_resolves_after_it(
    own_stack: Stack, prometheus: str
) -> None:
    assert provider_alert(prometheus) is None
    states: list[str] = []
    set_behaviour(own_stack.psp_url, failure=Failure(kind="error_5xx", for_seconds=60))
    try:
        with payments_client(own_stack) as client:

            def firing() -> bool:
                pay(client, new_payment())  # each one's authorization fails, and is retried
                states.append(provider_alert(prometheus) or "inactive")
                return states[-1] == "firing"

            try:
                wait_for(firing, 45, "PaymentProviderErrors firing", interval=0.5)
            except TimeoutError as e:
                raise AssertionError(f"{e}; states seen: {states}") from e
    finally:
        reset(own_stack.psp_url)
    assert "pending" in states[: states.index("firing")], states

    wait_for(lambda: provider_alert(prometheus) is None, 45, "PaymentProviderErrors resolved")
