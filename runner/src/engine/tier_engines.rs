//! The wasmtime engine of each compile tier: its configuration (what
//! compiled code depends on, shared with the compile worker), its instance
//! allocator and its linkers.

use super::{Abi, EngineSettings, LoadError, Tier, command, component};
use wasmtime::{InstanceAllocationStrategy, PoolingAllocationConfig};

/// The wasmtime engine of one tier and its linkers.
pub(super) struct TierEngine {
    pub(super) wasmtime: wasmtime::Engine,
    pub(super) command_linker: wasmtime::Linker<command::CommandState>,
    pub(super) component_linker: wasmtime::component::Linker<component::ComponentState>,
}

impl TierEngine {
    /// The engine of `tier`, pooling `pooled` instances, or allocating each
    /// on demand without a pool.
    ///
    /// Only the tier that serves in the steady state gets a pool: a pool
    /// costs its full size at start, in address space (about 4 GiB per
    /// memory; two pools of 12,000 did not fit in a process's 128 TiB) and in
    /// memory mappings (two per fiber stack; a second pool pushed 10,000
    /// waiting invocations past Linux's default of 65,530). The other tier
    /// serves a version only until its background compile is done, and pays
    /// an mmap per instance meanwhile.
    pub(super) fn new(
        settings: &EngineSettings,
        tier: Tier,
        pooled: Option<u32>,
    ) -> Result<Self, LoadError> {
        let engine_err = |e: wasmtime::Error| LoadError::Engine(format!("{e:#}"));
        let mut config = compiler_config(settings, tier);
        if let Some(max_instances) = pooled {
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool(
                settings,
                max_instances,
            )));
        }
        let wasmtime = wasmtime::Engine::new(&config).map_err(engine_err)?;
        let command_linker = command::linker(&wasmtime).map_err(engine_err)?;
        let component_linker = component::linker(&wasmtime).map_err(engine_err)?;
        Ok(Self {
            wasmtime,
            command_linker,
            component_linker,
        })
    }
}

/// The pooling allocator of `max_instances` instances.
fn pool(settings: &EngineSettings, max_instances: u32) -> PoolingAllocationConfig {
    let memory_bytes = settings.max_memory_mb.saturating_mul(1024 * 1024);
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(max_instances)
        .total_core_instances(max_instances.saturating_mul(4))
        .total_memories(max_instances)
        .total_tables(max_instances.saturating_mul(4))
        .total_stacks(max_instances)
        .max_memory_size(usize::try_from(memory_bytes).unwrap_or(usize::MAX))
        .table_elements(settings.max_table_elements)
        .max_memories_per_component(4)
        .max_tables_per_component(16)
        .max_core_instances_per_component(32)
        // Resetting a slot by madvise/munmap makes the kernel shoot down TLBs on
        // every core, which profiling showed as the largest cost per request.
        // Keep small memories, tables and stacks resident and wipe them in
        // place, and batch the decommits that remain.
        .linear_memory_keep_resident(1024 * 1024)
        .table_keep_resident(64 * 1024)
        .async_stack_keep_resident(128 * 1024)
        .decommit_batch_size(1)
        .pagemap_scan(wasmtime::Enabled::Auto);
    pool
}

/// The engine configuration compiled code depends on, for the compiler of
/// `tier`. The serving engine adds its pooling allocator; the compile worker
/// uses exactly this, so what it compiles loads in the serving engine (the
/// artifact's compatibility hash checks that on every load). Public so the
/// differential fuzzer runs both tiers under exactly Docket's settings.
pub fn compiler_config(settings: &EngineSettings, tier: Tier) -> wasmtime::Config {
    let max_wasm_stack = settings.max_wasm_stack_of(tier);
    let mut config = wasmtime::Config::new();
    config.strategy(match tier {
        Tier::Baseline => wasmtime::Strategy::Winch,
        Tier::Optimized => wasmtime::Strategy::Cranelift,
    });
    config
        .epoch_interruption(true)
        .consume_fuel(true)
        .wasm_component_model(true)
        .max_wasm_stack(max_wasm_stack)
        // The host's own calls (WASI, capabilities) run on the same fiber
        // stack, below the guest's: 2 MiB of room for them.
        .async_stack_size(max_wasm_stack + 2 * 1024 * 1024)
        .memory_init_cow(true)
        // Proposals whose cost or attack surface Docket does not need; see SECURITY.md.
        .wasm_memory64(false)
        .wasm_multi_memory(false);
    config
}

/// Compiles bytes that passed [`Engine::check`] into an artifact for
/// [`Engine::load_artifact`], without a serving engine: what the compile worker
/// process runs. CPU- and memory-heavy by design; see [`worker`].
pub fn precompile(
    settings: &EngineSettings,
    bytes: &[u8],
    abi: Abi,
    tier: Tier,
) -> Result<Vec<u8>, LoadError> {
    let engine = wasmtime::Engine::new(&compiler_config(settings, tier))
        .map_err(|e| LoadError::Engine(format!("{e:#}")))?;
    let compiled = match abi {
        Abi::Command => engine.precompile_module(bytes),
        Abi::Component => engine.precompile_component(bytes),
    };
    compiled.map_err(|e| LoadError::Invalid(format!("{e:#}")))
}
