//! A stored version written back as the manifest it runs under: what
//! `docket replay` runs a recorded invocation with, and what an author reads
//! to see how an older version was set up.

use super::ActionVersion;
use crate::capabilities::kv::KvScope;
use toml::{Table, Value};

impl ActionVersion {
    /// The manifest (`docs/architecture.md#manifests`) this version runs under, without `module`:
    /// the same name, limits, capabilities, run-log switch and config.
    /// `[config]` values are the strings the action receives.
    pub fn manifest_toml(&self) -> String {
        let mut manifest = Table::new();
        manifest.insert("name".into(), self.name.to_string().into());
        manifest.insert("display-name".into(), self.display_name.clone().into());
        let limit = |n: u64| Value::Integer(i64::try_from(n).unwrap_or(i64::MAX));
        let mut limits = Table::new();
        limits.insert("timeout-ms".into(), limit(self.limits.timeout_ms));
        limits.insert("memory-mb".into(), limit(self.limits.memory_mb));
        limits.insert("fuel".into(), limit(self.limits.fuel));
        limits.insert("max-output-kb".into(), limit(self.limits.max_output_kb));
        limits.insert(
            "instance-reuse".into(),
            limit(u64::from(self.limits.instance_reuse)),
        );
        manifest.insert("limits".into(), limits.into());
        let grants = &self.grants;
        let mut capabilities = Table::new();
        let hosts = grants.allowed_outbound_hosts.iter();
        capabilities.insert(
            "allowed-outbound-hosts".into(),
            hosts
                .map(|h| Value::from(h.to_string()))
                .collect::<Vec<_>>()
                .into(),
        );
        capabilities.insert("secrets".into(), self.secrets.clone().into());
        if let Some(scope) = grants.key_value {
            let scope = match scope {
                KvScope::Tenant => "tenant",
                KvScope::Action => "action",
            };
            capabilities.insert("key-value".into(), scope.into());
        }
        capabilities.insert("propagate-trace".into(), grants.propagate_trace.into());
        manifest.insert("capabilities".into(), capabilities.into());
        let mut run_log = Table::new();
        run_log.insert(
            "record-inputs".into(),
            (!grants.skip_input_recording).into(),
        );
        manifest.insert("run-log".into(), run_log.into());
        let config: Table = self
            .config
            .iter()
            .map(|(key, value)| (key.clone(), Value::from(value.clone())))
            .collect();
        manifest.insert("config".into(), config.into());
        toml::to_string(&manifest).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use crate::limits::Ceilings;
    use crate::manifest::ActionManifest;
    use crate::registry::{ActionVersion, ModuleDigest};

    /// A manifest setting every key reads back, through its rendering,
    /// as the same manifest.
    #[test]
    fn a_rendered_version_parses_to_the_manifest_it_came_from() {
        let text = r#"
            name = "archive"
            display-name = "Archive \"it\""
            [limits]
            timeout-ms = 1200
            memory-mb = 32
            fuel = 5000
            max-output-kb = 8
            instance-reuse = 7
            [capabilities]
            allowed-outbound-hosts = ["https://api.example.com", "http://*.example.org:8080"]
            secrets = ["token"]
            key-value = "tenant"
            propagate-trace = true
            [run-log]
            record-inputs = false
            [config]
            folder = "Archive"
            retries = 3
        "#;
        let ceilings = Ceilings::default();
        let manifest = ActionManifest::parse(text, &ceilings).unwrap();
        let version = ActionVersion {
            name: manifest.name.clone(),
            display_name: manifest.display_name.clone(),
            version: 4,
            module: ModuleDigest::of(b"\0asm"),
            limits: manifest.limits,
            config: manifest.config.clone(),
            secrets: manifest.secrets.iter().map(|s| s.to_string()).collect(),
            grants: manifest.grants.clone(),
        };
        let again = ActionManifest::parse(&version.manifest_toml(), &ceilings).unwrap();
        assert_eq!(again.name, manifest.name);
        assert_eq!(again.display_name, manifest.display_name);
        assert_eq!(again.limits, manifest.limits);
        assert_eq!(again.config, manifest.config);
        assert_eq!(again.secrets, manifest.secrets);
        assert_eq!(again.grants, manifest.grants);
        assert!(again.grants.skip_input_recording && again.grants.propagate_trace);
    }
}
