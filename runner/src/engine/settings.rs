//! The operator's engine-wide settings and their defaults.

/// Engine-wide settings chosen by the operator. Serializable because the
/// compile worker process builds its engine from the same settings.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct EngineSettings {
    /// How many instances may be live at once; sizes the pooling allocator.
    pub max_instances: u32,
    /// The largest memory any action may ask for, in MiB (the `memory-mb` ceiling).
    pub max_memory_mb: u64,
    /// Largest table any instance may grow to, in elements.
    pub max_table_elements: usize,
    /// Largest module or component accepted, in bytes (compile-time DoS bound).
    pub max_module_bytes: usize,
    /// Wasm stack limit, well under the async fiber stack so overflow traps cleanly.
    pub max_wasm_stack: usize,
    /// Largest stderr kept per invocation, in bytes.
    pub max_stderr_bytes: usize,
    /// Most function bodies a module (or all modules of a component) may have.
    pub max_functions: u32,
    /// Largest function body, in bytes. Default 2 MiB (`--max-function-kb` 2048): the
    /// compiler's time and memory grow with a function's size, and the largest
    /// body of any example or test module is 426,843 bytes (CPython in the
    /// Python action), 4.9 times less.
    pub max_function_bytes: usize,
    /// Most locals one function may declare. Default 10,000 (`--max-locals`): each local
    /// is a variable of the compiler's SSA construction, and the most any
    /// example declares is 271 (CPython); kept well above 4× for unoptimised
    /// builds, and under wasmparser's own cap of 50,000.
    pub max_locals: u32,
    /// Deepest nesting of `block`/`loop`/`if`/`try`/`try_table` in one function. Default
    /// 5,000 (`--max-nesting-depth`): 2.5 million nested blocks took 2.1 GB to
    /// compile, and the deepest nesting of any example is 781 (CPython), 6.4
    /// times less.
    pub max_nesting_depth: u32,
    /// Most `block`/`loop`/`if`/`try`/`try_table` in one function, nested or
    /// not. Default 20,000 (`--max-blocks`): compile time grows faster than
    /// linearly with them (100,000 flat blocks took 24 s, 700,000 over 8
    /// minutes), and the most any example has is 4,216 (CPython).
    pub max_blocks: u32,
    /// Most targets one `br_table` may list. Default 50,000 (`--max-br-table-targets`):
    /// each target is an edge the compiler builds, and the most any example
    /// lists is 3,202 (CPython's interpreter loop), 15 times less.
    pub max_br_table_targets: u32,
    /// Which compilers a new version goes through (`--compile-tiers`).
    #[serde(default)]
    pub compile_tiers: super::CompileTiers,
    /// Idle instances kept for reuse (`instance-reuse` > 1), all actions
    /// together. Each holds a pool slot and a permit of `max_instances`, so
    /// a request that finds every slot taken evicts the oldest idle one.
    #[serde(default = "default_max_idle_instances")]
    pub max_idle_instances: u32,
    /// Idle instances kept for reuse per action version.
    #[serde(default = "default_max_idle_per_version")]
    pub max_idle_per_version: u32,
    /// Linear memory all idle instances may hold together, in MiB: an idle
    /// instance keeps the memory its requests grew resident.
    #[serde(default = "default_max_idle_memory_mb")]
    pub max_idle_memory_mb: u64,
}

fn default_max_idle_instances() -> u32 {
    64
}

fn default_max_idle_per_version() -> u32 {
    8
}

fn default_max_idle_memory_mb() -> u64 {
    1024
}

/// How many times the optimized tier's stack limit the baseline tier gets.
/// Winch gives every local and temporary a stack slot of its own where
/// Cranelift keeps them in registers or drops them, so the same recursion
/// takes several times more stack on baseline code; without the headroom a
/// guest that fits on optimized code would hit the stack limit while its
/// version waits for the optimized compile (measured in
/// `tests/tiers.rs::deep_frames_answer_the_same_on_both_tiers`).
pub const BASELINE_STACK_FACTOR: usize = 4;

impl EngineSettings {
    /// The wasm stack limit of code compiled by `tier`: `max_wasm_stack` for
    /// optimized code, [`BASELINE_STACK_FACTOR`] times it for baseline code.
    pub fn max_wasm_stack_of(&self, tier: super::Tier) -> usize {
        match tier {
            super::Tier::Optimized => self.max_wasm_stack,
            super::Tier::Baseline => self.max_wasm_stack.saturating_mul(BASELINE_STACK_FACTOR),
        }
    }
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            max_instances: 1_000,
            max_memory_mb: 256,
            max_table_elements: 100_000,
            max_module_bytes: 32 * 1024 * 1024,
            max_wasm_stack: 512 * 1024,
            max_stderr_bytes: 16 * 1024,
            max_functions: 100_000,
            max_function_bytes: 2 * 1024 * 1024,
            max_locals: 10_000,
            max_nesting_depth: 5_000,
            max_blocks: 20_000,
            max_br_table_targets: 50_000,
            compile_tiers: super::CompileTiers::default(),
            max_idle_instances: default_max_idle_instances(),
            max_idle_per_version: default_max_idle_per_version(),
            max_idle_memory_mb: default_max_idle_memory_mb(),
        }
    }
}
