//! Resource limits for one invocation, their defaults, and the operator's ceilings.
//!
//! Every limit has a default: Docket never runs a guest unbounded. A manifest may
//! lower or raise a limit up to the ceiling the operator configured (see
//! [`Ceilings`]); asking for more than the ceiling is a manifest error, never a
//! silent clamp, so an author learns at deploy time rather than at run time.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Secrets one tenant may keep, and so the most one manifest may grant.
pub const MAX_SECRETS: usize = 100;

/// The limits one invocation of an action runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Limits {
    /// Wall-clock budget for one invocation, from instantiation to the last output byte.
    /// TOML: `timeout-ms = 5000`.
    pub timeout_ms: u64,
    /// Largest linear memory, per memory, in MiB. TOML: `memory-mb = 64`.
    pub memory_mb: u64,
    /// Instruction budget in wasmtime fuel units; `0` turns metering off for the action.
    /// TOML: `fuel = 0`.
    pub fuel: u64,
    /// Largest response the action may produce (stdout for command modules, the
    /// returned message for components), in KiB. TOML: `max-output-kb = 64`.
    pub max_output_kb: u64,
    /// How many requests one instance of a component may answer before it
    /// is dropped; `1`, the default, is a fresh instance per request. Above
    /// 1 an instance's globals and memory survive between requests of the
    /// same action version (see SECURITY.md). TOML: `instance-reuse = 1`.
    /// Absent from versions stored before the key existed: they get 1.
    #[serde(default = "fresh_instances")]
    pub instance_reuse: u32,
}

/// `instance-reuse = 1`: every request gets an instance of its own.
fn fresh_instances() -> u32 {
    1
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout_ms: 5_000,
            memory_mb: 64,
            fuel: 0,
            max_output_kb: 64,
            instance_reuse: fresh_instances(),
        }
    }
}

impl Limits {
    /// The wall-clock timeout as a [`Duration`].
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The memory limit in bytes.
    pub fn memory_bytes(&self) -> usize {
        usize::try_from(self.memory_mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
    }

    /// The output limit in bytes.
    pub fn max_output_bytes(&self) -> usize {
        usize::try_from(self.max_output_kb.saturating_mul(1024)).unwrap_or(usize::MAX)
    }
}

/// The most an operator lets any action ask for. Manifests above a ceiling are rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Ceilings {
    /// Highest `timeout-ms` a manifest may set.
    pub timeout_ms: u64,
    /// Highest `memory-mb` a manifest may set; also sizes the engine's memory pool slots.
    pub memory_mb: u64,
    /// Highest `fuel` a manifest may set (`0` is always allowed).
    pub fuel: u64,
    /// Highest `max-output-kb` a manifest may set.
    pub max_output_kb: u64,
    /// Highest `instance-reuse` a manifest may set; `1` turns reuse off
    /// (stored versions that ask for more are clamped to it at run time).
    pub instance_reuse: u32,
}

impl Default for Ceilings {
    fn default() -> Self {
        Self {
            timeout_ms: 30_000,
            memory_mb: 256,
            fuel: u64::MAX,
            max_output_kb: 1024,
            instance_reuse: 100,
        }
    }
}

/// A manifest asked for more than a ceiling allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("limits.{key} = {requested} exceeds the ceiling of {ceiling}")]
pub struct CeilingExceeded {
    /// The manifest key, e.g. `timeout-ms`.
    pub key: &'static str,
    /// What the manifest asked for.
    pub requested: u64,
    /// What the operator (or tenant) allows.
    pub ceiling: u64,
}

impl Ceilings {
    /// The tighter of two sets of ceilings, key by key (an operator's and a tenant's).
    pub fn min(self, other: Ceilings) -> Ceilings {
        Ceilings {
            timeout_ms: self.timeout_ms.min(other.timeout_ms),
            memory_mb: self.memory_mb.min(other.memory_mb),
            fuel: self.fuel.min(other.fuel),
            max_output_kb: self.max_output_kb.min(other.max_output_kb),
            instance_reuse: self.instance_reuse.min(other.instance_reuse),
        }
    }

    /// `limits` lowered to these ceilings: what a stored version runs under after
    /// the operator lowered a ceiling.
    pub fn clamp(&self, limits: &Limits) -> Limits {
        Limits {
            timeout_ms: limits.timeout_ms.min(self.timeout_ms),
            memory_mb: limits.memory_mb.min(self.memory_mb),
            fuel: limits.fuel.min(self.fuel),
            max_output_kb: limits.max_output_kb.min(self.max_output_kb),
            instance_reuse: limits.instance_reuse.min(self.instance_reuse),
        }
    }

    /// Checks `limits` against these ceilings, naming the first key that is over.
    pub fn check(&self, limits: &Limits) -> Result<(), CeilingExceeded> {
        let pairs = [
            ("timeout-ms", limits.timeout_ms, self.timeout_ms),
            ("memory-mb", limits.memory_mb, self.memory_mb),
            ("fuel", limits.fuel, self.fuel),
            ("max-output-kb", limits.max_output_kb, self.max_output_kb),
            (
                "instance-reuse",
                u64::from(limits.instance_reuse),
                u64::from(self.instance_reuse),
            ),
        ];
        for (key, requested, ceiling) in pairs {
            if requested > ceiling {
                return Err(CeilingExceeded {
                    key,
                    requested,
                    ceiling,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fit_under_default_ceilings() {
        assert_eq!(Ceilings::default().check(&Limits::default()), Ok(()));
    }

    #[test]
    fn check_names_the_key_over_its_ceiling() {
        let limits = Limits {
            memory_mb: 512,
            ..Limits::default()
        };
        let err = Ceilings::default().check(&limits).unwrap_err();
        assert_eq!(err.key, "memory-mb");
        assert_eq!(err.ceiling, 256);
    }

    #[test]
    fn min_takes_the_tighter_ceiling_per_key() {
        let tenant = Ceilings {
            timeout_ms: 1_000,
            memory_mb: 512,
            ..Ceilings::default()
        };
        let combined = Ceilings::default().min(tenant);
        assert_eq!(combined.timeout_ms, 1_000);
        assert_eq!(combined.memory_mb, 256);
    }
}
