//! The deployment files are what docs/deploying.md says: the Kubernetes
//! manifest parses and wires probes, secrets and scratch space.

mod common;

use common::repo_root;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// `deploy/kubernetes.yaml` as JSON, one value per YAML document, by PyYAML.
fn kubernetes_documents(path: &Path) -> Vec<Value> {
    let script = "import json, sys, yaml\n\
                  docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]\n\
                  print(json.dumps(docs))\n";
    let output = Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("checking {} needs python3 with PyYAML: {e}", path.display()));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("No module named 'yaml'"),
        "checking {} needs PyYAML for python3 (Debian: python3-yaml, or pip install pyyaml): {stderr}",
        path.display()
    );
    assert!(
        output.status.success(),
        "{} is not valid YAML: {stderr}",
        path.display()
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn the_kubernetes_manifest_parses_and_wires_probes_secrets_and_scratch() {
    let path = repo_root().join("deploy/kubernetes.yaml");
    let documents = kubernetes_documents(&path);
    let kind = |kind: &str| -> &Value {
        documents
            .iter()
            .find(|d| d["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in {}", path.display()))
    };
    for document in &documents {
        assert!(document["apiVersion"].is_string(), "{document}");
        assert!(document["metadata"]["name"].is_string(), "{document}");
    }

    let deployment = kind("Deployment");
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], 3);
    let labels = &spec["template"]["metadata"]["labels"];
    for (label, value) in spec["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(&labels[label], value, "the selector matches the pods");
    }
    let pod = &spec["template"]["spec"];
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let docket = &containers[0];
    let args: Vec<&str> = docket["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(args.contains(&"serve"), "{args:?}");
    assert!(args.contains(&"--data-dir"), "{args:?}");
    let port = docket["ports"][0]["containerPort"].as_u64().unwrap();
    let listen = args
        .iter()
        .skip_while(|a| **a != "--listen")
        .nth(1)
        .unwrap_or_else(|| panic!("--listen in {args:?}"));
    assert!(
        listen.ends_with(&format!(":{port}")) && listen.starts_with("0.0.0.0"),
        "listens on all interfaces, on the container port: {listen}"
    );

    for variable in [
        "DOCKET_DATABASE_URL",
        "DOCKET_SECRETS_KEY",
        "DOCKET_ADMIN_TOKEN",
    ] {
        let env = docket["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == variable)
            .unwrap_or_else(|| panic!("{variable} is not set in the container"));
        assert!(
            env["valueFrom"]["secretKeyRef"]["name"].is_string()
                && env["valueFrom"]["secretKeyRef"]["key"].is_string(),
            "{variable} comes from a Secret: {env}"
        );
    }

    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        let get = &docket[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe}");
        assert!(
            get["port"] == port || get["port"].is_string(),
            "{probe}: {get}"
        );
    }

    let data_dir = args
        .iter()
        .skip_while(|a| **a != "--data-dir")
        .nth(1)
        .unwrap();
    let mount = docket["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"] == *data_dir)
        .unwrap_or_else(|| panic!("--data-dir {data_dir} is not a mounted volume"));
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    assert!(
        volume["emptyDir"].is_object(),
        "scratch is an emptyDir: {volume}"
    );

    for side in ["requests", "limits"] {
        let resources = &docket["resources"][side];
        assert!(
            resources["cpu"].is_string() && resources["memory"].is_string(),
            "resources.{side}: {resources}"
        );
    }
    let security = &docket["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert!(
        security["runAsNonRoot"] == true || pod["securityContext"]["runAsNonRoot"] == true,
        "runs as non-root"
    );

    let service = kind("Service");
    for (label, value) in service["spec"]["selector"].as_object().unwrap() {
        assert_eq!(&labels[label], value, "the Service selects the pods");
    }
    let target = &service["spec"]["ports"][0]["targetPort"];
    assert!(
        *target == port || target == &docket["ports"][0]["name"],
        "the Service targets the container port: {target}"
    );
}
