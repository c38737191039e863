//! The manifest's checks, one behaviour each: the exact texts are in the
//! snapshots under `runner/tests/ui/`, and `typed_errors` below matches variants.

use super::*;

/// The manifest, or its error's message: these tests read the message an
/// author sees.
fn parse(text: &str) -> Result<ActionManifest, String> {
    ActionManifest::parse(text, &Ceilings::default()).map_err(|e| e.to_string())
}

#[test]
fn minimal_manifest_gets_default_limits_and_display_name() {
    let m = parse("name = \"archive\"\nmodule = \"a.wasm\"\n").unwrap();
    assert_eq!(m.display_name, "archive");
    assert_eq!(m.limits, Limits::default());
    assert!(m.config.is_empty());
}

#[test]
fn unknown_key_is_named_with_its_line() {
    let err = parse("name = \"a\"\n[limits]\ntimeout_ms = 5\n").unwrap_err();
    assert!(err.contains("unknown field `timeout_ms`"), "{err}");
    assert!(err.contains("line 3"), "{err}");
}

#[test]
fn config_scalars_become_strings_and_tables_are_refused() {
    let m = parse("name = \"a\"\n[config]\nfolder = \"X\"\ncount = 3\nflag = true\n").unwrap();
    assert_eq!(m.config["count"], "3");
    assert_eq!(m.config["flag"], "true");
    let err = parse("name = \"a\"\n[config]\nlist = [1]\n").unwrap_err();
    assert!(err.contains("config.list"), "{err}");
}

#[test]
fn limits_over_the_ceiling_are_refused() {
    let err = parse("name = \"a\"\n[limits]\ntimeout-ms = 999999\n").unwrap_err();
    assert!(err.contains("timeout-ms"), "{err}");
}

#[test]
fn bad_action_name_is_refused_while_parsing() {
    let err = parse("name = \"../x\"\n").unwrap_err();
    assert!(err.contains("invalid action name"), "{err}");
}

#[test]
fn unsupported_manifest_version_is_refused() {
    let err = parse("manifest-version = 2\nname = \"a\"\n").unwrap_err();
    assert!(err.contains("manifest-version = 2"), "{err}");
}

#[test]
fn tenant_ceilings_only_tighten_the_operator() {
    let operator = Ceilings::default();
    let s = TenantSettings::parse("[limits]\ntimeout-ms = 1000\n", operator).unwrap();
    assert_eq!(s.ceilings.timeout_ms, 1000);
    assert_eq!(s.ceilings.memory_mb, operator.memory_mb);
    assert!(TenantSettings::parse("[limits]\nmemory-mb = 100000\n", operator).is_err());
}

#[test]
fn manifest_over_the_size_cap_is_refused_before_parsing() {
    // Not even valid TOML: the size is checked first, so the error is the cap.
    let text = "x".repeat(MAX_MANIFEST_BYTES + 1);
    let err = parse(&text).unwrap_err();
    assert!(err.contains("65536 bytes"), "{err}");
}

#[test]
fn manifest_at_the_size_cap_is_parsed() {
    let head = "name = \"a\"\n";
    let text = format!("{head}{}", "#".repeat(MAX_MANIFEST_BYTES - head.len()));
    assert!(parse(&text).is_ok());
}

#[test]
fn display_name_over_the_limit_names_the_field_and_limit() {
    let text = format!("name = \"a\"\ndisplay-name = \"{}\"\n", "d".repeat(200));
    let err = parse(&text).unwrap_err();
    assert!(err.contains("display-name") && err.contains("128"), "{err}");
}

#[test]
fn display_name_limit_counts_characters_not_bytes() {
    let text = format!("name = \"a\"\ndisplay-name = \"{}\"\n", "é".repeat(128));
    assert_eq!(parse(&text).unwrap().display_name.chars().count(), 128);
}

#[test]
fn display_name_with_a_newline_is_refused() {
    let err = parse("name = \"a\"\ndisplay-name = \"two\\nlines\"\n").unwrap_err();
    assert!(err.contains("control characters"), "{err}");
}

#[test]
fn too_many_config_entries_are_refused() {
    let entries: String = (0..=MAX_CONFIG_ENTRIES)
        .map(|i| format!("k{i} = 1\n"))
        .collect();
    let err = parse(&format!("name = \"a\"\n[config]\n{entries}")).unwrap_err();
    assert!(
        err.contains("config has 65 entries") && err.contains("64"),
        "{err}"
    );
}

#[test]
fn long_config_key_is_refused() {
    let key = "k".repeat(MAX_CONFIG_KEY_BYTES + 1);
    let err = parse(&format!("name = \"a\"\n[config]\n{key} = 1\n")).unwrap_err();
    assert!(err.contains("config key") && err.contains("128"), "{err}");
}

#[test]
fn long_config_value_is_refused() {
    let value = "v".repeat(MAX_CONFIG_VALUE_BYTES + 1);
    let err = parse(&format!("name = \"a\"\n[config]\nfolder = \"{value}\"\n")).unwrap_err();
    assert!(
        err.contains("config.folder") && err.contains("4096"),
        "{err}"
    );
}

#[test]
fn too_many_outbound_hosts_are_refused() {
    let hosts: Vec<String> = (0..=MAX_OUTBOUND_HOSTS)
        .map(|i| format!("\"https://h{i}.example.com\""))
        .collect();
    let text = format!(
        "name = \"a\"\n[capabilities]\nallowed-outbound-hosts = [{}]\n",
        hosts.join(",")
    );
    let err = parse(&text).unwrap_err();
    assert!(
        err.contains("capabilities.allowed-outbound-hosts") && err.contains("limit of 32"),
        "{err}"
    );
}

#[test]
fn too_many_granted_secrets_are_refused() {
    let names: Vec<String> = (0..=MAX_GRANTED_SECRETS)
        .map(|i| format!("\"s{i}\""))
        .collect();
    let text = format!(
        "name = \"a\"\n[capabilities]\nsecrets = [{}]\n",
        names.join(",")
    );
    let err = parse(&text).unwrap_err();
    assert!(err.contains("capabilities.secrets"), "{err}");
}

#[test]
fn tenant_display_name_is_bounded_too() {
    let text = format!("display-name = \"{}\"\n", "t".repeat(129));
    let err = TenantSettings::parse(&text, Ceilings::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("display-name"), "{err}");
}

#[test]
fn oversized_manifest_file_is_refused_without_reading_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.toml");
    std::fs::write(&path, "#".repeat(MAX_MANIFEST_BYTES * 4)).unwrap();
    let err = ActionManifest::load(&path, &Ceilings::default()).unwrap_err();
    assert!(err.to_string().contains("65536 bytes"), "{err}");
}

#[test]
fn failure_word_must_be_a_plain_word() {
    assert!(check_failure_word("error").is_ok());
    assert!(check_failure_word("").is_err());
    assert!(check_failure_word("success").is_err());
    assert!(check_failure_word("a b").is_err());
}

// Which error: these match variants, so a reworded message cannot hide a
// refusal for the wrong reason.

fn refusal(text: &str) -> ManifestError {
    ActionManifest::parse(text, &Ceilings::default()).unwrap_err()
}

#[test]
fn unknown_key_is_its_own_variant_with_the_key_and_line() {
    let err = refusal("name = \"a\"\n\n[limits]\ntimeout_ms = 5\n");
    assert!(
        matches!(&err, ManifestError::UnknownKey { key, line: 4, .. } if key == "timeout_ms"),
        "{err:?}"
    );
}

#[test]
fn unknown_top_level_key_is_found_on_its_line() {
    let err = refusal("name = \"a\"\nmodule = \"a.wasm\"\ndisplayname = \"A\"\n");
    assert!(
        matches!(&err, ManifestError::UnknownKey { key, line: 3, .. } if key == "displayname"),
        "{err:?}"
    );
}

#[test]
fn a_wrong_type_is_a_toml_error_not_an_unknown_key() {
    let err = refusal("name = \"a\"\n[limits]\ntimeout-ms = \"5\"\n");
    assert!(matches!(err, ManifestError::Toml(_)), "{err:?}");
}

#[test]
fn a_limit_over_the_ceiling_says_key_requested_and_ceiling() {
    let err = refusal("name = \"a\"\n[limits]\nmemory-mb = 300\n");
    let expected = crate::limits::CeilingExceeded {
        key: "memory-mb",
        requested: 300,
        ceiling: 256,
    };
    assert_eq!(err, ManifestError::OverCeiling(expected));
}

#[test]
fn a_bad_host_pattern_names_the_entry() {
    let err = refusal(
        "name = \"a\"\n[capabilities]\nallowed-outbound-hosts = [\"https://ok.example.com\", \"ftp://x\"]\n",
    );
    assert!(
        matches!(&err, ManifestError::BadHostPattern { entry, .. } if entry == "ftp://x"),
        "{err:?}"
    );
}

#[test]
fn a_bad_secret_name_is_refused_with_the_name() {
    let err = refusal("name = \"a\"\n[capabilities]\nsecrets = [\"ok\", \"not ok\"]\n");
    assert!(
        matches!(&err, ManifestError::BadSecretName(e) if e.value == "not ok"),
        "{err:?}"
    );
}

#[test]
fn granted_secrets_are_checked_names() {
    let m = ActionManifest::parse(
        "name = \"a\"\n[capabilities]\nsecrets = [\"_token\", \"api.key\"]\n",
        &Ceilings::default(),
    )
    .unwrap();
    let names: Vec<&str> = m.secrets.iter().map(SecretName::as_str).collect();
    assert_eq!(names, ["_token", "api.key"]);
}

/// The manifest and the admin API (`PUT …/secrets/{name}`) accept the same
/// secret names and say the same thing about the others.
#[test]
fn secret_names_agree_with_the_admin_api() {
    use crate::registry::secrets::check_secret_name;
    let long = "s".repeat(65);
    for name in ["a", "_a", "-a", ".a", "a b", "", "a/b", "ü", long.as_str()] {
        let ours = SecretName::new(name).map(drop).map_err(|e| e.to_string());
        assert_eq!(ours, check_secret_name(name), "{name:?}");
    }
}

#[test]
fn size_and_length_limits_are_their_own_variants() {
    let big = "#".repeat(MAX_MANIFEST_BYTES + 1);
    assert_eq!(
        refusal(&big),
        ManifestError::TooLarge {
            bytes: MAX_MANIFEST_BYTES + 1
        }
    );
    let long_name = format!("name = \"a\"\ndisplay-name = \"{}\"\n", "d".repeat(129));
    assert_eq!(
        refusal(&long_name),
        ManifestError::DisplayNameTooLong { chars: 129 }
    );
    let long_value = format!("name = \"a\"\n[config]\nk = \"{}\"\n", "v".repeat(4097));
    assert!(matches!(
        refusal(&long_value),
        ManifestError::ConfigValueTooLong { bytes: 4097, .. }
    ));
    let secrets: Vec<String> = (0..=MAX_GRANTED_SECRETS)
        .map(|i| format!("\"s{i}\""))
        .collect();
    let many = format!(
        "name = \"a\"\n[capabilities]\nsecrets = [{}]\n",
        secrets.join(",")
    );
    assert!(matches!(
        refusal(&many),
        ManifestError::TooManyEntries {
            field: "capabilities.secrets",
            ..
        }
    ));
}

#[test]
fn unsupported_version_is_its_own_variant() {
    assert_eq!(
        refusal("manifest-version = 7\nname = \"a\"\n"),
        ManifestError::UnsupportedVersion { version: 7 }
    );
}

#[test]
fn tenant_ceiling_over_the_operator_is_its_own_variant() {
    let err = TenantSettings::parse(
        "[limits]\nfuel = 1\n",
        Ceilings {
            fuel: 0,
            ..Ceilings::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, ManifestError::OverOperatorCeiling(_)),
        "{err:?}"
    );
}

#[test]
fn a_file_without_module_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.toml");
    std::fs::write(&path, "name = \"a\"\n").unwrap();
    let err = ActionManifest::load(&path, &Ceilings::default()).unwrap_err();
    assert!(
        matches!(&err, ManifestFileError::Invalid { path: p, error: ManifestError::MissingModule } if *p == path),
        "{err:?}"
    );
}

#[test]
fn two_manifests_declaring_one_action_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = dir.path().join("acme");
    std::fs::create_dir(&tenant).unwrap();
    for file in ["a.toml", "b.toml"] {
        std::fs::write(tenant.join(file), "name = \"x\"\nmodule = \"x.wasm\"\n").unwrap();
    }
    let err = load_dir(dir.path(), Ceilings::default()).unwrap_err();
    assert!(
        matches!(&err, ManifestFileError::DuplicateAction { name, .. } if name.as_str() == "x"),
        "{err:?}"
    );
}

#[test]
fn a_tenant_directory_must_be_a_tenant_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("Acme")).unwrap();
    let err = load_dir(dir.path(), Ceilings::default()).unwrap_err();
    assert!(
        matches!(&err, ManifestFileError::BadTenantDir { error, .. } if error.value == "Acme"),
        "{err:?}"
    );
}
