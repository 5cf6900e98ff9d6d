# The Helm chart (helm/tracking): rendered by the real Helm engine (helm-python-sdk, Helm v4)
# for the default values and the production example, every object validated against the
# Kubernetes API schema (kubernetes-validate), the chart linted, and the operational
# invariants checked: drain fits in the grace period, probes, hooks, secrets stay out of
# ConfigMaps, env names are ones the binaries read, dashboards are the repository's.
import base64
import re

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from conftest import ROOT
from promql import uncatalogued

CHART = ROOT / "helm" / "tracking"
KUBE = "1.30.0"
SECRET_KEYS = {"LINK_KEYS", "ADMIN_TOKEN", "CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD"}
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule"}  # CRDs: no schema in kubernetes-validate


def render(values=None, name="tracking"):
    with helm.Chart.load(CHART) as chart:
        out = chart.render(values=values, name=name, namespace="analytics", is_install=True)
    docs = []
    for path, text in out.items():
        if path.endswith(".yaml"):
            docs += [d for d in yaml.safe_load_all(text) if d]
    return docs


def production_values():
    return yaml.safe_load((CHART / "values-production.yaml").read_text())


CASES = {
    "default": lambda: None,
    "production": production_values,
    # Everything optional switched on, with secrets given in values.
    "everything": lambda: {
        "secrets": {"linkKeys": "k2:abcdefghijklmnopqrstuvwx,k1:0123456789abcdef0123",
                    "adminToken": "admin-token-for-tests-0001"},
        "clickhouse": {"password": "ch-password-for-tests"},
        "serviceMonitor": {"enabled": True},
        "prometheusRule": {"enabled": True},
        "ingress": {"collector": {"enabled": True}, "aggregator": {"enabled": True}},
        "geoip": {"enabled": True, "volume": {"configMap": {"name": "geoip"}}},
        "grafanaDatasources": {"enabled": True,
                               "clickhouse": {"password": "grafana-readonly-password"}},
        "collector": {"autoscaling": {"enabled": False}, "trustedProxies": "10.0.0.0/8"}},
}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    values = CASES[request.param]()
    return request.param, values, render(values)


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def one(docs, kind, component=None):
    found = [d for d in by_kind(docs, kind)
             if component is None
             or d["metadata"]["labels"].get("app.kubernetes.io/component") == component]
    assert len(found) == 1, f"{kind}/{component}: {len(found)}"
    return found[0]


def collector(docs):
    found = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")
             and d["metadata"]["name"].endswith("-collector")]
    assert len(found) == 1
    return found[0]


def config(docs):
    [cm] = [d for d in by_kind(docs, "ConfigMap") if "-dashboard-" not in d["metadata"]["name"]]
    return cm["data"]


def test_every_object_validates_against_the_kubernetes_schema(case):
    name, _, docs = case
    assert len(docs) >= 10
    for d in docs:
        if d["kind"] in CUSTOM_KINDS:
            assert d["apiVersion"] == "monitoring.coreos.com/v1"
            assert d["spec"].get("endpoints") or d["spec"].get("groups")
            continue
        try:
            kubernetes_validate.validate(d, KUBE, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{name}: {d['kind']}/{d['metadata']['name']}: "
                        f"{'.'.join(map(str, e.path))}: {e.message}")


def test_lint_is_clean():
    for values in (None, production_values()):
        report = helm.lint(CHART, values, strict=True, kube_version=f"v{KUBE}")
        assert not report["errors"], report
        bad = [m for m in report["messages"] if m["severity"] >= 2]
        assert not bad, bad


def test_grace_period_outlasts_prestop_and_drain(case):
    _, _, docs = case
    pod = collector(docs)["spec"]["template"]["spec"]
    [c] = pod["containers"]
    drain = int(config(docs)["COLLECTOR_DRAIN_GRACE_S"])
    pre_stop = c["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["terminationGracePeriodSeconds"] > pre_stop + drain


def test_chart_refuses_a_grace_period_shorter_than_the_drain():
    with pytest.raises(helm.HelmError, match="terminationGracePeriodSeconds"):
        render({"collector": {"terminationGracePeriodSeconds": 20, "drainGraceSeconds": 20}})


def test_collector_probes_ports_and_spool(case):
    name, _, docs = case
    wl = collector(docs)
    [c] = wl["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    cfg = config(docs)
    assert cfg["COLLECTOR_LISTEN"] == f"0.0.0.0:{ports['http']}"
    assert cfg["COLLECTOR_OPS_LISTEN"] == f"0.0.0.0:{ports['ops']}"
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "ops"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "ops"}
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mounts["spool"] == cfg["COLLECTOR_SPOOL_DIR"]
    if wl["kind"] == "StatefulSet":
        assert [t["metadata"]["name"] for t in wl["spec"]["volumeClaimTemplates"]] == ["spool"]
        assert name == "production"
    else:
        vols = {v["name"]: v for v in wl["spec"]["template"]["spec"]["volumes"]}
        assert "emptyDir" in vols["spool"]


def test_scaling_targets_the_collector(case):
    _, values, docs = case
    wl = collector(docs)
    labels = wl["spec"]["template"]["metadata"]["labels"]
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    if (values or {}).get("collector", {}).get("autoscaling", {}).get("enabled", True):
        [hpa] = hpas
        ref = hpa["spec"]["scaleTargetRef"]
        assert (ref["kind"], ref["name"]) == (wl["kind"], wl["metadata"]["name"])
        assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
        assert "replicas" not in wl["spec"], "the HPA owns the replica count"
    else:
        assert not hpas and wl["spec"]["replicas"] >= 1
    pdb = one(docs, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_services_select_their_pods(case):
    _, _, docs = case
    pods = {d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
            for d in docs if d["kind"] in ("Deployment", "StatefulSet")}
    for svc in by_kind(docs, "Service"):
        sel = svc["spec"]["selector"]
        assert any(sel.items() <= labels.items() for labels in pods.values()), svc["metadata"]
    for ing in by_kind(docs, "Ingress"):
        names = {s["metadata"]["name"] for s in by_kind(docs, "Service")}
        for rule in ing["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                assert p["backend"]["service"]["name"] in names


def test_pods_run_locked_down(case):
    _, _, docs = case
    for d in docs:
        pod = d.get("spec", {}).get("template", {}).get("spec")
        if not pod:
            continue
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
            assert c["resources"]["limits"]["memory"]


def test_one_aggregator_one_scheduler(case):
    _, _, docs = case
    agg = [d for d in by_kind(docs, "Deployment") if d["metadata"]["name"].endswith("-aggregator")]
    [agg] = agg
    assert agg["spec"]["replicas"] == 1
    assert agg["spec"]["strategy"]["type"] == "Recreate", "never two schedulers during a rollout"
    [c] = agg["spec"]["template"]["spec"]["containers"]
    assert c["command"] == ["aggregator", "serve"]


def test_migration_is_a_pre_install_and_pre_upgrade_hook(case):
    name, values, docs = case
    job = one(docs, "Job")
    ann = job["metadata"]["annotations"]
    assert set(ann["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    containers = job["spec"]["template"]["spec"]["containers"]
    assert all(c["command"] == ["aggregator", "migrate"] for c in containers)
    nodes = ((values or {}).get("clickhouse", {}).get("cluster", {}).get("nodes")) or [None]
    assert len(containers) == len(nodes), "one migration per ClickHouse node"
    # The Job runs before the release's own objects exist: whatever it references must be a
    # hook created earlier, or a Secret the operator made beforehand.
    [ref] = {e["secretRef"]["name"] for c in containers for e in c["envFrom"]}
    existing = (values or {}).get("secrets", {}).get("existingSecret")
    if existing:
        assert ref == existing
    else:
        [s] = [d for d in by_kind(docs, "Secret") if d["metadata"]["name"] == ref]
        sann = s["metadata"]["annotations"]
        assert sann["helm.sh/hook"] == ann["helm.sh/hook"]
        assert int(sann["helm.sh/hook-weight"]) < int(ann["helm.sh/hook-weight"])
    assert not any("configMapRef" in e for c in containers for e in c["envFrom"])


def test_the_aggregator_knows_every_clickhouse_node(case):
    """In cluster mode GDPR erasure mutates every node itself: the aggregator gets the same
    node list the migration Job migrates."""
    name, values, docs = case
    nodes = (values or {}).get("clickhouse", {}).get("cluster", {}).get("nodes") or []
    data = config(docs)
    if nodes:
        assert data["AGGREGATOR_CLICKHOUSE_NODES"].split(",") == nodes
    else:
        assert "AGGREGATOR_CLICKHOUSE_NODES" not in data


def test_secrets_stay_out_of_configmaps(case):
    name, values, docs = case
    secrets = {}
    for s in by_kind(docs, "Secret"):
        if "stringData" in s:  # Grafana data sources
            assert "grafana_datasource" in s["metadata"]["labels"]
            continue
        for k, v in s["data"].items():
            secrets[k] = base64.b64decode(v).decode()
    existing = (values or {}).get("secrets", {}).get("existingSecret")
    if existing:
        assert not secrets, "with existingSecret the chart makes no Secret"
    else:
        assert set(secrets) == SECRET_KEYS
        assert len(secrets["ADMIN_TOKEN"]) >= 16 and re.match(r"^\w+:.{16,}", secrets["LINK_KEYS"])
    given = (values or {}).get("secrets", {})
    if given.get("adminToken"):
        assert secrets["ADMIN_TOKEN"] == given["adminToken"]
    for cm in by_kind(docs, "ConfigMap"):
        data = cm.get("data", {})
        assert not SECRET_KEYS & set(data), cm["metadata"]["name"]
        text = yaml.safe_dump(data)
        for k, v in secrets.items():
            if len(v) >= 8:
                assert v not in text, f"{k} appears in ConfigMap {cm['metadata']['name']}"
    for d in docs:
        for c in d.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            for e in c.get("env", []):
                assert e["name"] not in SECRET_KEYS, f"{e['name']} given inline in {c['name']}"
            refs = [e["secretRef"]["name"] for e in c.get("envFrom", []) if "secretRef" in e]
            assert refs, f"container {c['name']} gets no Secret"
            if existing:
                assert refs == [existing]


def env_names_read_by(*paths):
    names = set()
    for p in paths:
        for f in (ROOT / p).rglob("*.rs"):
            names |= set(re.findall(r'"([A-Z][A-Z0-9]*_[A-Z0-9_]+)"', f.read_text()))
    return names


def test_env_names_are_read_by_the_binaries(case):
    _, _, docs = case
    common = env_names_read_by("common/src")
    readers = {"COLLECTOR_": env_names_read_by("collector/src") | common,
               "AGGREGATOR_": env_names_read_by("aggregator/src") | common}
    everyone = readers["COLLECTOR_"] | readers["AGGREGATOR_"]
    keys = set(config(docs))
    for d in docs:
        for c in d.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            keys |= {e["name"] for e in c.get("env", [])}
    for k in keys:
        allowed = next((names for prefix, names in readers.items() if k.startswith(prefix)),
                       everyone)
        assert k in allowed, f"{k} is set by the chart but no binary reads it"


def test_dashboards_ship_as_sidecar_configmaps_identical_to_the_repository(case):
    name, values, docs = case
    repo = {p.name: p.read_text() for p in (ROOT / "dashboards").glob("*.json")}
    chart = {p.name: p.read_text() for p in (CHART / "dashboards").glob("*.json")}
    assert repo and chart == repo, "run python3 dashboards/build.py"
    shipped = {}
    for cm in by_kind(docs, "ConfigMap"):
        if "-dashboard-" in cm["metadata"]["name"]:
            assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
            shipped.update(cm["data"])
    assert set(shipped) == set(repo)
    for f, text in shipped.items():
        assert text == repo[f].rstrip("\n"), f


def test_values_are_documented_in_the_readme():
    readme = (CHART / "README.md").read_text()

    def keys(d, prefix=""):
        for k, v in d.items():
            path = f"{prefix}{k}"
            if isinstance(v, dict) and v and k != "resources":
                yield from keys(v, path + ".")
            else:
                yield path

    missing = [k for k in keys(yaml.safe_load((CHART / "values.yaml").read_text()))
               if f"`{k}`" not in readme]
    assert not missing, f"values not in helm/tracking/README.md: {missing}"


def test_grafana_datasources_secret_for_the_sidecar():
    docs = render(CASES["everything"]())
    [s] = [d for d in by_kind(docs, "Secret") if "stringData" in d]
    assert s["metadata"]["labels"]["grafana_datasource"] == "1"
    ds = yaml.safe_load(s["stringData"]["tracking-datasources.yaml"])["datasources"]
    assert {d["type"] for d in ds} == {"grafana-clickhouse-datasource", "prometheus"}
    ch = next(d for d in ds if d["type"] == "grafana-clickhouse-datasource")
    assert ch["secureJsonData"]["password"] == "grafana-readonly-password"
    assert "password" not in ch["jsonData"]
    assert not [d for d in by_kind(render(), "Secret") if "stringData" in d], "off by default"


def test_values_schema_accepts_the_examples_and_names_bad_keys():
    with helm.Chart.load(CHART) as chart:
        for name in sorted(CASES):
            chart.validate_schema(CASES[name]())
        bad = {
            "collector/terminationGracePeriodSeconds": {
                "collector": {"terminationGracePeriodSeconds": "60"}},
            "drainGrace": {"collector": {"drainGrace": 5}},
            "secrets/adminToken": {"secrets": {"adminToken": "short"}},
            "secrets/linkKeys": {"secrets": {"linkKeys": "k1:tooshort"}},
            "aggregator/publicUrl": {"aggregator": {"publicUrl": "javascript:alert(1)"}},
            "clickhouse/database": {"clickhouse": {"database": "drop table"}},
        }
        for key, values in bad.items():
            with pytest.raises(helm.HelmValuesError, match=key):
                chart.validate_schema(values)


def test_alerts_name_only_catalogued_metrics():
    docs = render(production_values())
    [rule] = by_kind(docs, "PrometheusRule")
    exprs = [(r["alert"], str(r["expr"])) for g in rule["spec"]["groups"] for r in g["rules"]]
    assert len(exprs) >= 5 and all(r.startswith("Tracking") for r, _ in exprs)
    unknown = uncatalogued([(a, re.sub(r"\btime\(\)", "", e)) for a, e in exprs])
    assert not unknown, f"alerts name metrics no catalogue exports: {unknown}"
    assert not by_kind(render(), "PrometheusRule"), "off by default"
