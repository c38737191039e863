//! The guest ABIs, and why bytes could not become a runnable action.

/// The guest ABI a module was written against, detected from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Abi {
    /// A WASI preview 1 command: JSON on stdin and stdout.
    Command,
    /// A component of world `docket:action/action`.
    Component,
}

impl std::fmt::Display for Abi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Abi::Command => "command",
            Abi::Component => "component",
        })
    }
}

/// Why bytes could not become a runnable action. Serializable because the
/// compile worker process reports it to the server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum LoadError {
    /// Over the operator's module size cap.
    #[error("module is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// The module's size.
        size: usize,
        /// The cap.
        limit: usize,
    },
    /// Not WebAssembly at all (wrong magic number).
    #[error("not a WebAssembly module or component (bad magic number)")]
    NotWasm,
    /// WebAssembly that does not validate or compile.
    #[error("invalid WebAssembly: {0}")]
    Invalid(String),
    /// Valid WebAssembly that fits neither guest ABI.
    #[error("fits neither Docket ABI: {0}")]
    NoAbi(String),
    /// More function bodies than the operator allows (compile-time DoS bound).
    #[error("module has more than {limit} functions, the limit (--max-functions)")]
    TooManyFunctions {
        /// The cap.
        limit: u32,
    },
    /// A function body larger than the operator allows (compile-time DoS bound).
    #[error(
        "function {function} is {size} bytes, over the limit of {limit} bytes (--max-function-kb)"
    )]
    FunctionTooLarge {
        /// The function's index in its core module's function index space.
        function: u32,
        /// The body's size in bytes.
        size: usize,
        /// The cap, in bytes.
        limit: usize,
    },
    /// A function declaring more locals than the operator allows.
    #[error(
        "function {function} declares {locals} locals, over the limit of {limit} (--max-locals)"
    )]
    TooManyLocals {
        /// The function's index in its core module's function index space.
        function: u32,
        /// How many locals it declares.
        locals: u64,
        /// The cap.
        limit: u32,
    },
    /// Control flow nested deeper than the operator allows. Reading stops at
    /// the first frame over the limit, so the full depth is not known.
    #[error(
        "function {function} nests blocks more than {limit} deep, the limit (--max-nesting-depth)"
    )]
    NestingTooDeep {
        /// The function's index in its core module's function index space.
        function: u32,
        /// The cap.
        limit: u32,
    },
    /// More blocks in one function than the operator allows, nested or not.
    #[error("function {function} has more than {limit} blocks, the limit (--max-blocks)")]
    TooManyBlocks {
        /// The function's index in its core module's function index space.
        function: u32,
        /// The cap.
        limit: u32,
    },
    /// A `br_table` with more targets than the operator allows.
    #[error(
        "function {function} has a br_table of {targets} targets, over the limit of {limit} (--max-br-table-targets)"
    )]
    BrTableTooLarge {
        /// The function's index in its core module's function index space.
        function: u32,
        /// The table's targets, the default not counted.
        targets: u32,
        /// The cap.
        limit: u32,
    },
    /// Modules and components nested deeper inside a component than Docket allows.
    #[error("components nest more than {limit} deep, the limit")]
    ComponentsNestedTooDeep {
        /// The fixed cap.
        limit: u32,
    },
    /// Compiling took longer than the operator allows.
    #[error("compiling took longer than {limit_ms} ms, the limit (--max-compile-ms)")]
    CompileTimeout {
        /// The cap.
        limit_ms: u64,
    },
    /// Compiling needed more memory than the operator allows.
    #[error("compiling needed more than {limit_mb} MiB of memory, the limit (--compile-memory-mb)")]
    CompileMemory {
        /// The cap.
        limit_mb: u64,
    },
    /// Imports that Docket does not provide.
    #[error("imports that Docket does not provide: {}", .0.join(", "))]
    UnknownImports(Vec<String>),
    /// The engine itself failed.
    #[error("engine error: {0}")]
    Engine(String),
}

/// Sorts a wasmtime error from running a guest into what the user is told.
pub(crate) fn classify(err: wasmtime::Error) -> super::InvokeError {
    use super::{InvokeError, LimitHit};
    use wasmtime::Trap;
    if let Some(hit) = err.downcast_ref::<LimitHit>() {
        return InvokeError::Limit(*hit);
    }
    for cause in err.chain() {
        if let Some(hit) = cause.downcast_ref::<LimitHit>() {
            return InvokeError::Limit(*hit);
        }
    }
    if err
        .downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
        .is_some()
    {
        return InvokeError::Busy;
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => InvokeError::Limit(LimitHit::Fuel),
        Some(Trap::StackOverflow) => InvokeError::Limit(LimitHit::Stack),
        Some(Trap::Interrupt) => InvokeError::Limit(LimitHit::Timeout),
        Some(trap) => InvokeError::Trap(trap.to_string()),
        None => InvokeError::Trap(format!("{:#}", err.root_cause())),
    }
}
