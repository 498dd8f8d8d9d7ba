"""deploy/k8s checked offline, with no cluster: every manifest against the Kubernetes schemas of
named versions (kubernetes_validate, strict), the KEDA ScaledObjects (a CRD it has no schema of)
against the consumer groups and the topics `payctl topics` creates, and every workload against
the code it runs: its command, the variables its settings read, the port it binds, its probes,
its disruption budget."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import kubernetes_validate
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import AliasChoices, AliasPath

from bff.settings import ProjectorSettings
from bff.settings import Settings as BffSettings
from billing.settings import Settings as BillingSettings
from capture.settings import Settings as CaptureSettings
from orders.settings import Settings as OrdersSettings
from payctl.cli import VERBS
from payctl.ops.groups import GROUPS
from payctl.services import SERVER_VARIABLES, SERVICE_BY_NAME, SERVICES
from paykit.settings import ConsumerServiceSettings, RuntimeSettings
from psp_sim.settings import Settings as PspSettings
from saas_demo.settings import Settings as SaasSettings

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pydantic_settings import BaseSettings

K8S = Path(__file__).resolve().parents[1] / "deploy" / "k8s"
# The oldest Kubernetes the manifests are for (the features they use are GA there: podFailurePolicy,
# unhealthyPodEvictionPolicy; the preStop sleep action is on by default) and the newest the
# kubernetes_validate package has schemas of.
KUBERNETES_VERSIONS = ("1.33.0", kubernetes_validate.latest_version() + ".0")
SIGNING_KEY_PEM = (
    Ed25519PrivateKey.generate()
    .private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    .decode()
)
IMAGE = "payments-platform"  # what the manifests name; each kustomization's `images:` sets it
SECRET = "payments-secrets"
# What each `python -m` module reads its settings with.
SETTINGS_OF: dict[str, type[BaseSettings]] = {
    "bff": BffSettings,
    "bff.projector": ProjectorSettings,
    "billing": BillingSettings,
    "orders": OrdersSettings,
    "capture": CaptureSettings,
    "psp_sim": PspSettings,
    "saas_demo": SaasSettings,
}
# `payctl migrate` and `payctl topics` log with RuntimeSettings and find their servers by the
# variables payctl's ops verbs read.
PAYCTL_READS = frozenset(SERVER_VARIABLES)


@dataclass(frozen=True)
class Manifest:
    path: Path
    doc: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.doc["kind"])

    @property
    def name(self) -> str:
        return str(self.doc["metadata"]["name"])

    def __str__(self) -> str:
        return f"{self.path.relative_to(K8S)}: {self.kind}/{self.name}"


def load_yaml(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def kustomizations() -> dict[Path, dict[str, Any]]:
    return {p.parent: load_yaml(p)[0] for p in sorted(K8S.rglob("kustomization.yaml"))}


def manifests() -> list[Manifest]:
    return [
        Manifest(path, doc)
        for path in sorted(K8S.rglob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in load_yaml(path)
    ]


def of_kind(kind: str) -> list[Manifest]:
    return [m for m in manifests() if m.kind == kind]


def pod_specs() -> Iterator[tuple[Manifest, dict[str, Any]]]:
    for m in manifests():
        if m.kind in ("Deployment", "Job"):
            yield m, m.doc["spec"]["template"]["spec"]


def containers() -> Iterator[tuple[Manifest, dict[str, Any]]]:
    for m, spec in pod_specs():
        for container in spec["containers"]:
            yield m, container


def config_maps() -> dict[str, dict[str, str]]:
    return {m.name: m.doc.get("data", {}) for m in of_kind("ConfigMap")}


def example_secret() -> dict[str, str]:
    """The keys and placeholder values of secrets.example.env."""
    lines = (K8S / "secrets.example.env").read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if line.strip() and not line.startswith("#")]
    return {key: value for key, value in pairs}


def environment(container: dict[str, Any]) -> dict[str, str | None]:
    """Every variable the container gets, with its value from the manifests and the example
    secret (None: the pod's own field, e.g. its name)."""
    maps, secret = config_maps(), example_secret()
    env: dict[str, str | None] = {}
    for source in container.get("envFrom", []):
        assert set(source) == {"configMapRef"}, f"only ConfigMaps are taken whole: {source}"
        env.update(maps[source["configMapRef"]["name"]])
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
            continue
        ref = var["valueFrom"]
        if "configMapKeyRef" in ref:
            env[var["name"]] = maps[ref["configMapKeyRef"]["name"]][ref["configMapKeyRef"]["key"]]
        elif "secretKeyRef" in ref:
            assert ref["secretKeyRef"]["name"] == SECRET, var
            env[var["name"]] = secret[ref["secretKeyRef"]["key"]]
        else:
            env[var["name"]] = None
    return env


def aliases(settings: type[BaseSettings]) -> set[str]:
    """The environment variables a settings class reads: its fields' validation aliases."""
    names: set[str] = set()
    for field in settings.model_fields.values():
        alias = field.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
        for choice in choices:
            if isinstance(choice, AliasPath):
                names.add(str(choice.path[0]))
            elif choice is not None:
                names.add(choice)
    return names


def module_of(container: dict[str, Any]) -> str | None:
    """The module a `python -m <module>` container runs; None for anything else."""
    command = container["command"]
    return command[2] if command[:2] == ["python", "-m"] else None


def settings_of(container: dict[str, Any]) -> type[BaseSettings]:
    module = module_of(container)
    assert module is not None, container["command"]
    return SETTINGS_OF[module]


def own_kustomization(path: Path) -> dict[str, Any]:
    return kustomizations()[path.parent]


# ---- schemas ----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_validates_against_the_kubernetes_schemas(version: str) -> None:
    errors = []
    for m in manifests():
        if m.doc["apiVersion"].startswith("keda.sh/"):
            continue  # a CRD: test_each_consumer_scales_on_its_lag...
        try:
            kubernetes_validate.validate(m.doc, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            errors.append(f"{m}: {'.'.join(map(str, e.path))}: {e.message}")
        except kubernetes_validate.SchemaNotFoundError as e:
            errors.append(f"{m}: {e.message}")
    assert errors == []


def test_the_only_resources_not_validated_by_schema_are_scaled_objects() -> None:
    keda = {
        (m.doc["apiVersion"], m.kind)
        for m in manifests()
        if m.doc["apiVersion"].startswith("keda.sh/")
    }
    assert keda == {("keda.sh/v1alpha1", "ScaledObject")}, "checked by hand, below, and only these"


# ---- kustomize --------------------------------------------------------------------------------


def test_every_file_is_in_its_kustomization_and_every_listed_file_exists() -> None:
    found = kustomizations()
    assert K8S in found
    for directory, kustomization in found.items():
        listed = kustomization.get("resources", [])
        for resource in listed:
            target = (directory / resource).resolve()
            assert target.is_file() or (target / "kustomization.yaml").is_file(), (
                f"{directory.relative_to(K8S.parent)}/kustomization.yaml lists {resource}, "
                "which is neither a file nor a kustomization"
            )
            # kustomize refuses a base that is the kustomization's own directory or above it.
            assert not directory.is_relative_to(target), f"{directory}: {resource} is a parent"
        for path in directory.glob("*.yaml"):
            if path.name != "kustomization.yaml":
                assert path.name in listed, f"{path.relative_to(K8S)} is not in its kustomization"
    for path in K8S.rglob("*.yaml"):
        assert path.parent in found, f"{path.relative_to(K8S)} has no kustomization beside it"


def test_every_kustomization_sets_the_namespace_and_the_same_image() -> None:
    images = set()
    for directory, kustomization in kustomizations().items():
        # Each is applied on its own: without a namespace its objects land in the context's.
        assert kustomization.get("namespace") == "payments", directory
        workloads = [m for m, _ in pod_specs() if m.path.parent == directory]
        if not workloads:
            continue
        [image] = [i for i in kustomization.get("images", []) if i["name"] == IMAGE]
        images.add((image["newName"], str(image["newTag"])))
    assert len(images) == 1, f"the kustomizations set different images: {images}"
    for m, container in containers():
        assert container["image"] == IMAGE, f"{m}: {container['image']}"


# ---- what the containers run ------------------------------------------------------------------


def test_every_container_runs_a_real_module_or_payctl_verb() -> None:
    for m, container in containers():
        command = container["command"]
        if command[0] == "payctl":
            assert command[1] in VERBS, f"{m}: no payctl verb {command[1]!r}"
            verb = payctl_verb(command[1])
            verb.make_context(command[1], list(command[2:]))  # its options parse
            continue
        module = module_of(container)
        assert module is not None, f"{m}: {command} is neither python -m nor payctl"
        assert len(command) == 3, f"{m}: {command}"
        spec = importlib.util.find_spec(module)
        assert spec is not None, f"{m}: no module {module}"
        if spec.submodule_search_locations is not None:  # a package: runs its __main__
            assert importlib.util.find_spec(f"{module}.__main__") is not None, f"{m}: {module}"


def payctl_verb(name: str) -> click.Command:
    module, _, attribute = VERBS[name].partition(":")
    command = getattr(importlib.import_module(module), attribute)
    assert isinstance(command, click.Command)
    return command


def test_each_service_deployment_runs_the_service_of_its_name() -> None:
    deployments = {m.name: m for m in of_kind("Deployment")}
    assert set(deployments) == set(SERVICE_BY_NAME), "a Deployment per service (payctl.services)"
    for name, m in deployments.items():
        [container] = m.doc["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["python", "-m", SERVICE_BY_NAME[name].module], m
    assert set(SETTINGS_OF) == {s.module for s in SERVICES}


def test_every_variable_a_container_sets_is_read_by_its_process() -> None:
    for m, container in containers():
        env = environment(container)
        if container["command"][0] == "payctl":
            reads = aliases(RuntimeSettings) | PAYCTL_READS
        else:
            reads = aliases(settings_of(container))
        assert set(env) - reads == set(), f"{m}: set but never read"


def test_every_service_gets_its_database_and_valid_settings() -> None:
    for m, container in containers():
        if container["command"][0] == "payctl":
            continue
        settings = settings_of(container)
        env = environment(container)
        database = settings.model_fields["database_url"].validation_alias
        assert isinstance(database, str)
        assert database in env, f"{m}: {database} unset (it would use the embedded default)"
        # The values as the pod gets them (the example secret's placeholders for the secrets):
        # a wrong type, a missing companion setting or a refused default fails here.
        given = {k: v for k, v in env.items() if v is not None}
        if "SSO_SIGNING_KEY" in given:
            # A key in PEM cannot have a placeholder that parses: a real one stands in for it.
            given["SSO_SIGNING_KEY"] = SIGNING_KEY_PEM
        settings.model_validate(given)


def test_every_secret_is_referenced_from_the_example_and_none_is_shipped() -> None:
    assert of_kind("Secret") == [], "the manifests reference payments-secrets, never ship it"
    example = example_secret()
    referenced = {
        var["valueFrom"]["secretKeyRef"]["key"]
        for _, container in containers()
        for var in container.get("env", [])
        if "secretKeyRef" in var.get("valueFrom", {})
    }
    assert referenced == set(example), "secrets.example.env has exactly the keys referenced"
    assert all("CHANGE-ME" in value for value in example.values()), "placeholders, marked"


def test_consumers_name_their_pod_as_the_instance_in_the_group() -> None:
    for m, container in containers():
        if module_of(container) is None:
            continue
        if not issubclass(settings_of(container), ConsumerServiceSettings):
            continue
        [var] = [v for v in container["env"] if v["name"] == "CONSUMER_INSTANCE_ID"]
        assert var["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}, m


# ---- probes and ports -------------------------------------------------------------------------


def bound_address(settings: type[BaseSettings]) -> tuple[str, str]:
    """The variables of the host and the port the process serves HTTP on."""
    fields = settings.model_fields
    host, port = ("host", "port") if "port" in fields else ("health_host", "health_port")
    return str(fields[host].validation_alias), str(fields[port].validation_alias)


def test_probes_ask_healthz_and_livez_on_the_port_the_process_binds() -> None:
    for m, container in containers():
        if container["command"][0] == "payctl":
            assert not {"startupProbe", "livenessProbe", "readinessProbe"} & set(container), m
            continue
        env = environment(container)
        host_var, port_var = bound_address(settings_of(container))
        assert env.get(host_var) == "0.0.0.0", f"{m}: {host_var} must let the kubelet in"
        port = int(env[port_var] or 0)
        named = {p["name"]: p["containerPort"] for p in container["ports"]}
        probes = {kind: container[kind] for kind in ("startupProbe", "livenessProbe")}
        probes["readinessProbe"] = container["readinessProbe"]
        for kind, probe in probes.items():
            path = "/healthz" if kind == "readinessProbe" else "/livez"
            assert probe["httpGet"]["path"] == path, f"{m}: {kind}"
            assert named[probe["httpGet"]["port"]] == port, f"{m}: {kind} is not on {port_var}"
        # A slow start is the startup probe's to wait for, and a restart takes a minute of
        # failed liveness probes (on top of the service's own 60 s window).
        for kind in ("startupProbe", "livenessProbe"):
            assert probes[kind]["periodSeconds"] * probes[kind]["failureThreshold"] >= 60, m
        annotations = m.doc["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", m
        assert int(annotations["prometheus.io/port"]) == port, f"{m}: metrics not on {port_var}"


def test_every_deployment_has_a_disruption_budget_selecting_its_pods() -> None:
    budgets = of_kind("PodDisruptionBudget")
    for m in of_kind("Deployment"):
        labels = m.doc["spec"]["template"]["metadata"]["labels"]
        selecting = [
            b
            for b in budgets
            if b.path.parent == m.path.parent
            and b.doc["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(selecting) == 1, f"{m}: {len(selecting)} budgets select its pods"
        [budget] = selecting
        assert budget.doc["spec"]["selector"] == m.doc["spec"]["selector"], f"{budget}"


# ---- pods -------------------------------------------------------------------------------------


def test_pods_run_as_non_root_on_a_read_only_root_filesystem_with_bounded_resources() -> None:
    for m, spec in pod_specs():
        assert spec["securityContext"]["runAsNonRoot"] is True, m
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, m
        # A Service `bff` would otherwise set BFF_PORT=tcp://... in every pod.
        assert spec["enableServiceLinks"] is False, m
        assert spec["automountServiceAccountToken"] is False, m
        empty_dirs = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, m
            assert security["allowPrivilegeEscalation"] is False, m
            assert security["capabilities"]["drop"] == ["ALL"], m
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) == {"cpu", "memory"}, f"{m}: {bound}"
            mounts = {v["mountPath"]: v["name"] for v in container.get("volumeMounts", [])}
            writable = environment(container).get("PROMETHEUS_MULTIPROC_DIR")
            if writable is not None:
                assert mounts.get(writable) in empty_dirs, f"{m}: {writable} is not writable"


# ---- scaling on lag ---------------------------------------------------------------------------


def partitions_created() -> int:
    """What `payctl topics` gives each topic: its --partitions in the topics Job, which must not
    exceed its default (docker-compose and an operator's plain run get the default)."""
    default = next(p for p in payctl_verb("topics").params if p.name == "partitions").default
    [job] = [c for _, c in containers() if c["command"][:2] == ["payctl", "topics"]]
    parsed = payctl_verb("topics").make_context("topics", list(job["command"][2:])).params
    assert isinstance(default, int)
    return min(default, int(parsed["partitions"]))


def test_each_consumer_scales_on_its_groups_lag_up_to_the_partitions() -> None:
    deployments = {m.name: m for m in of_kind("Deployment")}
    scaled = {m.doc["spec"]["scaleTargetRef"]["name"]: m for m in of_kind("ScaledObject")}
    assert set(scaled) == {g.service for g in GROUPS}, "a ScaledObject per consumer group"
    bootstrap = config_maps()["payments-config"]["KAFKA_BOOTSTRAP_SERVERS"]
    for group in GROUPS:
        m = scaled[group.service]
        spec = m.doc["spec"]
        assert m.doc["apiVersion"] == "keda.sh/v1alpha1", m
        target = deployments[group.service]
        assert target.path.parent == m.path.parent, f"{m}: its Deployment is not applied with it"
        assert "replicas" not in target.doc["spec"], f"{target}: the ScaledObject owns replicas"
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= partitions_created(), m
        triggers = spec["triggers"]
        assert {t["type"] for t in triggers} == {"kafka"}, m
        assert sorted(t["metadata"]["topic"] for t in triggers) == sorted(group.topics), m
        for trigger in triggers:
            meta = trigger["metadata"]
            assert meta["consumerGroup"] == group.group_id, m
            assert meta["bootstrapServers"] == bootstrap, f"{m}: not payments-config's broker"
            assert int(meta["lagThreshold"]) > 0, m
            assert meta.get("offsetResetPolicy") == "earliest", m  # as paykit.kafka's consumers
