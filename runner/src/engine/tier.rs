//! Compile tiers: Winch (baseline) serves a new version within a second of
//! its upload, Cranelift (optimized) replaces it once compiled in the
//! background. The operator picks the policy with `--compile-tiers`.

use serde::{Deserialize, Serialize};

/// Which compiler produced a module's native code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Winch, wasmtime's baseline compiler: compiles about ten times faster,
    /// runs slower code.
    Baseline,
    /// Cranelift, wasmtime's optimizing compiler.
    Optimized,
}

impl Tier {
    /// The tier's name in answers, metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Baseline => "baseline",
            Tier::Optimized => "optimized",
        }
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which tiers a new version goes through (`--compile-tiers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CompileTiers {
    /// `baseline,optimized`: serve on Winch code at once, then switch to
    /// Cranelift code compiled in the background.
    #[default]
    BaselineThenOptimized,
    /// `optimized`: compile with Cranelift only, before the version goes live.
    OptimizedOnly,
    /// `baseline`: compile with Winch only (Cranelift only where Winch cannot):
    /// the least compiling, for development machines and for testing what
    /// Winch's code does.
    BaselineOnly,
}

impl CompileTiers {
    /// The tier a new version is compiled with first.
    pub fn first(self) -> Tier {
        match self {
            CompileTiers::BaselineThenOptimized | CompileTiers::BaselineOnly => Tier::Baseline,
            CompileTiers::OptimizedOnly => Tier::Optimized,
        }
    }

    /// Whether a baseline engine is needed at all.
    pub fn has_baseline(self) -> bool {
        self.first() == Tier::Baseline
    }

    /// Whether baseline code is replaced by optimized code compiled in the background.
    pub fn optimizes_later(self) -> bool {
        self == CompileTiers::BaselineThenOptimized
    }
}

impl std::fmt::Display for CompileTiers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CompileTiers::BaselineThenOptimized => "baseline,optimized",
            CompileTiers::OptimizedOnly => "optimized",
            CompileTiers::BaselineOnly => "baseline",
        })
    }
}

impl std::str::FromStr for CompileTiers {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let tiers: Vec<&str> = text.split(',').map(str::trim).collect();
        match tiers.as_slice() {
            ["baseline", "optimized"] => Ok(CompileTiers::BaselineThenOptimized),
            ["optimized"] => Ok(CompileTiers::OptimizedOnly),
            ["baseline"] => Ok(CompileTiers::BaselineOnly),
            _ => Err(format!(
                "`{text}` is not a compile policy: use `baseline,optimized` (Winch first, \
                 Cranelift in the background), `optimized` (Cranelift only) or `baseline` \
                 (Winch only)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_and_print_back() {
        for text in ["baseline,optimized", "optimized", "baseline"] {
            let tiers: CompileTiers = text.parse().unwrap();
            assert_eq!(tiers.to_string(), text);
        }
        assert_eq!(
            " baseline , optimized".parse::<CompileTiers>(),
            Ok(CompileTiers::BaselineThenOptimized)
        );
        for bad in ["optimized,baseline", "baseline,baseline", "", "winch"] {
            let err = bad.parse::<CompileTiers>().unwrap_err();
            assert!(err.contains("baseline,optimized"), "{err}");
        }
    }
}
