//! Checks what can be checked of `deploy/` without a Docker engine or a cluster: Prometheus'
//! scrape config and alert rules pass `promtool`, the compose and Kubernetes files parse as YAML
//! and reference only files that exist, the broker config they ship loads without unknown keys,
//! the Grafana dashboard is valid JSON, and the systemd unit passes `systemd-analyze verify`.
//! Building and running the image is not checked here (see deploy/README.md).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{require_tool, weft_bin};
use yaml_rust2::{Yaml, YamlLoader};

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn yaml_docs(path: &Path) -> Vec<Yaml> {
    YamlLoader::load_from_str(&read(path))
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("run tool");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn prometheus_config_and_alert_rules_pass_promtool() {
    let promtool = require_tool("promtool");
    let dir = deploy().join("prometheus");
    let (ok, out) = run(Command::new(&promtool)
        .args(["check", "config"])
        .arg(dir.join("prometheus.yml")));
    assert!(ok, "promtool check config:\n{out}");
    // check config also checks the rule files it names; check them on their own as well.
    assert!(
        out.contains("alerts.yml"),
        "the config loads alerts.yml:\n{out}"
    );
    let (ok, out) = run(Command::new(&promtool)
        .args(["check", "rules"])
        .arg(dir.join("alerts.yml")));
    assert!(ok, "promtool check rules:\n{out}");
    let rules = read(&dir.join("alerts.yml"));
    for alert in [
        "WeftBrokerDown",
        "WeftStorageOffline",
        "WeftConsumerGroupLagGrowing",
        "WeftConnectTaskFailed",
    ] {
        assert!(
            rules.contains(&format!("alert: {alert}")),
            "{alert} missing"
        );
    }
}

/// Host paths a compose service mounts (`./x:/y[:ro]`), relative to deploy/.
fn compose_host_paths(service: &Yaml) -> Vec<String> {
    service["volumes"]
        .as_vec()
        .map(|v| {
            v.iter()
                .filter_map(Yaml::as_str)
                .filter_map(|m| m.split(':').next())
                .filter(|src| src.starts_with('.') || src.starts_with('/'))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn compose_file_parses_and_references_only_files_that_exist() {
    let dir = deploy();
    let docs = yaml_docs(&dir.join("compose.yaml"));
    assert_eq!(docs.len(), 1);
    let services = docs[0]["services"]
        .as_hash()
        .expect("compose.yaml has services");
    let names: Vec<&str> = services.keys().filter_map(Yaml::as_str).collect();
    for want in ["weft", "mosquitto", "prometheus", "grafana"] {
        assert!(names.contains(&want), "compose.yaml has no {want} service");
    }
    let mut checked = 0;
    for (name, service) in services {
        for src in compose_host_paths(service) {
            let p = dir.join(&src);
            assert!(
                p.exists(),
                "service {name:?} mounts {src}, which does not exist"
            );
            checked += 1;
        }
        if let Some(ctx) = service["build"]["context"].as_str() {
            let ctx = dir.join(ctx);
            assert!(ctx.is_dir(), "build context {} missing", ctx.display());
            let df = service["build"]["dockerfile"]
                .as_str()
                .expect("a dockerfile");
            assert!(ctx.join(df).is_file(), "dockerfile {df} missing");
        }
    }
    assert!(checked >= 7, "only {checked} mounted files were checked");
    // Grafana's provisioning names the directory the dashboard is mounted into.
    let provider = yaml_docs(&dir.join("grafana/provisioning/dashboards/weft.yaml"));
    let path = provider[0]["providers"][0]["options"]["path"]
        .as_str()
        .expect("provider path");
    let grafana = compose_volumes(&services[&Yaml::String("grafana".into())]);
    assert!(
        grafana
            .iter()
            .any(|m| m.contains(&format!("{path}/weft.json"))),
        "the dashboard is not mounted into {path}: {grafana:?}"
    );
}

fn compose_volumes(service: &Yaml) -> Vec<String> {
    service["volumes"]
        .as_vec()
        .map(|v| {
            v.iter()
                .filter_map(Yaml::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn dockerfile_copies_files_that_exist_and_checks_health() {
    let text = read(&deploy().join("Dockerfile"));
    let root = deploy().join("..");
    for line in text
        .lines()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from"))
    {
        let parts: Vec<&str> = line.split_whitespace().collect();
        for src in &parts[1..parts.len() - 1] {
            assert!(
                root.join(src).exists(),
                "Dockerfile copies {src}, which does not exist"
            );
        }
    }
    assert!(text.contains("HEALTHCHECK") && text.contains("/health"));
    assert!(
        text.contains("\nUSER weft"),
        "the runtime image runs as a non-root user"
    );
    assert!(text.contains("VOLUME"), "the data directory is a volume");
    assert_eq!(
        text.matches("\nFROM ").count() + text.starts_with("FROM ") as usize,
        2,
        "two stages"
    );
}

#[test]
fn kubernetes_manifests_parse_and_probe_health() {
    let dir = deploy().join("k8s");
    let mut kinds = Vec::new();
    for f in ["statefulset.yaml", "service.yaml", "configmap.yaml"] {
        for doc in yaml_docs(&dir.join(f)) {
            let kind = doc["kind"]
                .as_str()
                .unwrap_or_else(|| panic!("{f}: no kind"))
                .to_string();
            assert!(doc["apiVersion"].as_str().is_some(), "{f}: no apiVersion");
            kinds.push((kind, doc));
        }
    }
    let get = |k: &str| {
        kinds
            .iter()
            .find(|(kind, _)| kind == k)
            .map(|(_, d)| d.clone())
            .unwrap_or_else(|| panic!("no {k}"))
    };
    let sts = get("StatefulSet");
    let claims = sts["spec"]["volumeClaimTemplates"]
        .as_vec()
        .expect("volume claims");
    let claim = claims[0]["metadata"]["name"].as_str().expect("claim name");
    let pod = &sts["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let mounts: Vec<&str> = container["volumeMounts"]
        .as_vec()
        .expect("mounts")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert!(mounts.contains(&claim), "the claim {claim} is mounted");
    for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
        assert_eq!(
            container[probe]["httpGet"]["path"].as_str(),
            Some("/health"),
            "{probe}"
        );
    }
    // The ConfigMap the pod mounts exists and carries the same server.properties as the repo.
    let cm = get("ConfigMap");
    let cm_name = cm["metadata"]["name"].as_str().expect("name");
    let volumes = pod["volumes"].as_vec().expect("volumes");
    assert!(volumes
        .iter()
        .any(|v| v["configMap"]["name"].as_str() == Some(cm_name)));
    let props = cm["data"]["server.properties"]
        .as_str()
        .expect("server.properties");
    assert_eq!(props, read(&dir.join("server.properties")));
    let svc = get("Service");
    assert_eq!(
        sts["spec"]["serviceName"].as_str(),
        svc["metadata"]["name"].as_str()
    );
}

#[test]
fn shipped_server_properties_load_without_unknown_keys() {
    let path = deploy().join("k8s/server.properties");
    let config = weft_broker::BrokerConfig::load(Some(&path), &[]).expect("config loads");
    assert!(config.unknown_keys.is_empty(), "{:?}", config.unknown_keys);
    assert_eq!(config.log_dirs, vec![PathBuf::from("/var/lib/weft/data")]);
}

#[test]
fn grafana_dashboard_is_importable_json() {
    let text = read(&deploy().join("grafana/weft.json"));
    let dash: serde_json::Value = serde_json::from_str(&text).expect("dashboard JSON");
    assert!(dash["uid"].is_string() && dash["title"].is_string());
    assert!(
        dash["id"].is_null(),
        "an importable dashboard carries no database id"
    );
    let panels = dash["panels"].as_array().expect("panels");
    let titles: Vec<&str> = panels.iter().filter_map(|p| p["title"].as_str()).collect();
    for want in [
        "latency",
        "Lag per group",
        "task states",
        "throughput",
        "Plugin cost",
    ] {
        assert!(
            titles.iter().any(|t| t.contains(want)),
            "no panel about {want}: {titles:?}"
        );
    }
    // Every query names the data source variable, so the import asks for one.
    for p in panels.iter().filter(|p| p["type"] != "row") {
        for t in p["targets"].as_array().expect("targets") {
            assert_eq!(t["datasource"]["uid"], "${datasource}", "{}", p["title"]);
            assert!(t["expr"].as_str().is_some_and(|e| !e.is_empty()));
        }
    }
}

#[test]
fn systemd_unit_passes_systemd_analyze_verify() {
    let analyze = require_tool("systemd-analyze");
    let unit = read(&deploy().join("systemd/weft.service"));
    assert!(unit.contains("LimitNOFILE="));
    assert!(unit.contains("NoNewPrivileges=yes") && unit.contains("ProtectSystem=strict"));
    // verify checks that ExecStart's binary exists; point it at the binary these tests built.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("weft.service");
    std::fs::write(&copy, unit.replace("/usr/local/bin/weft", weft_bin())).unwrap();
    let (ok, out) = run(Command::new(analyze).arg("verify").arg(&copy));
    assert!(
        ok && !out.contains("weft.service:"),
        "systemd-analyze verify:\n{out}"
    );
}
