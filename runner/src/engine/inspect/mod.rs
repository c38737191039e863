//! Static checks on untrusted bytes before they reach the compiler.
//!
//! wasmtime does not treat compile-time resource use as its problem: one
//! function of 2.5 million nested blocks (7.5 MB) took Cranelift 8 s and 2.1 GB.
//! So before any compile, one linear pass over the bytes refuses:
//!
//! * imports Docket does not provide (the same lists the linkers are checked
//!   against after compiling: [`command::is_provided`], [`component::is_provided`]);
//! * more function bodies than allowed (in every nested core module of a component);
//! * per function: a body larger than allowed, more locals, control flow nested
//!   deeper, or a `br_table` with more targets;
//! * components nested deeper than [`MAX_COMPONENT_NESTING`].
//!
//! The pass allocates little: operators are read one at a time with an
//! [`OperatorsReader`] whose control stack is reused across functions and never
//! grows past the nesting limit (reading stops at the first frame over it), and
//! import names are copied only when they are refused.

use super::{Abi, EngineSettings, LoadError, command, component};
use wasmparser::{
    BinaryReaderError, ComponentTypeRef, Encoding, FunctionBody, Operator, OperatorsReader,
    OperatorsReaderAllocations, Parser, Payload, TypeBounds, TypeRef,
};

/// How deep modules and components may nest inside a component. The parser
/// keeps a frame per level, so without a bound a chain of tiny nested
/// components would cost memory in proportion to the upload; toolchains nest
/// one or two levels.
pub const MAX_COMPONENT_NESTING: u32 = 16;

/// Refused import names listed in an error, and the longest name shown: the
/// message goes back to the tenant and into the log, so a module of a million
/// long import names must not make it large.
const MAX_NAMES_SHOWN: usize = 20;
const MAX_NAME_CHARS: usize = 128;

fn invalid(e: BinaryReaderError) -> LoadError {
    LoadError::Invalid(e.to_string())
}

/// Runs every static check on `bytes`, whose preamble said `abi`, in one pass.
pub fn check(bytes: &[u8], abi: Abi, settings: &EngineSettings) -> Result<(), LoadError> {
    // 1 = the top-level module or component; nested ones are deeper.
    let mut nesting: u32 = 0;
    let mut functions: u64 = 0;
    // Function indices of the current core module: imported functions come first.
    let mut next_function: u32 = 0;
    let mut allocations = OperatorsReaderAllocations::default();
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(invalid)? {
            Payload::Version { encoding, .. } => {
                nesting += 1;
                if nesting > MAX_COMPONENT_NESTING {
                    return Err(LoadError::ComponentsNestedTooDeep {
                        limit: MAX_COMPONENT_NESTING,
                    });
                }
                if encoding == Encoding::Module {
                    next_function = 0;
                }
            }
            Payload::End(_) => nesting = nesting.saturating_sub(1),
            Payload::ImportSection(reader) => {
                // Only a top-level core module's imports reach the host; a
                // component's core modules import from the component's own
                // instances, which the component validates itself.
                let top_level = nesting == 1 && abi == Abi::Command;
                let mut unknown = Unknown::default();
                for import in reader.into_imports() {
                    let import = import.map_err(invalid)?;
                    if matches!(import.ty, TypeRef::Func(_) | TypeRef::FuncExact(_)) {
                        next_function = next_function.saturating_add(1);
                    }
                    if top_level && !command::is_provided(import.module, import.name) {
                        unknown.push(|| format!("{}::{}", import.module, import.name));
                    }
                }
                unknown.refuse()?;
            }
            Payload::ComponentImportSection(reader) if nesting == 1 => {
                let mut unknown = Unknown::default();
                for import in reader {
                    let import = import.map_err(invalid)?;
                    // A type import bounded by `eq` only names a type the
                    // component defines itself (wit-bindgen emits one for each
                    // world-level type, here `request` and `failure`); the
                    // host provides nothing for it.
                    if matches!(import.ty, ComponentTypeRef::Type(TypeBounds::Eq(_))) {
                        continue;
                    }
                    let name = import.name.name;
                    if !component::is_provided(name) {
                        unknown.push(|| name.to_owned());
                    }
                }
                unknown.refuse()?;
            }
            Payload::CodeSectionStart { count, .. } => {
                functions += u64::from(count);
                if functions > u64::from(settings.max_functions) {
                    return Err(LoadError::TooManyFunctions {
                        limit: settings.max_functions,
                    });
                }
            }
            Payload::CodeSectionEntry(body) => {
                allocations = check_function(&body, next_function, settings, allocations)?;
                next_function = next_function.saturating_add(1);
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks one function body's size, locals, nesting and `br_table`s, handing
/// back the reader's control stack for the next function.
fn check_function(
    body: &FunctionBody<'_>,
    function: u32,
    settings: &EngineSettings,
    allocations: OperatorsReaderAllocations,
) -> Result<OperatorsReaderAllocations, LoadError> {
    // Cheapest first: the size needs no parsing at all.
    let size = body.range().len();
    if size > settings.max_function_bytes {
        return Err(LoadError::FunctionTooLarge {
            function,
            size,
            limit: settings.max_function_bytes,
        });
    }
    let mut locals_reader = body.get_locals_reader().map_err(invalid)?;
    let mut locals: u64 = 0;
    for _ in 0..locals_reader.get_count() {
        let (count, _) = locals_reader.read().map_err(invalid)?;
        locals += u64::from(count);
    }
    if locals > u64::from(settings.max_locals) {
        return Err(LoadError::TooManyLocals {
            function,
            locals,
            limit: settings.max_locals,
        });
    }
    let operators = body.get_binary_reader_for_operators().map_err(invalid)?;
    let mut operators = OperatorsReader::new_with_allocs(operators, allocations);
    // Frames opened inside the body; the body's own frame is not counted.
    let mut depth: u32 = 0;
    // Blocks in the whole body, nested or not: Cranelift's time grows faster
    // than linearly with them (100,000 flat blocks took 24 s to compile).
    let mut blocks: u32 = 0;
    while !operators.eof() {
        match operators.read().map_err(invalid)? {
            Operator::Block { .. }
            | Operator::Loop { .. }
            | Operator::If { .. }
            | Operator::Try { .. }
            | Operator::TryTable { .. } => {
                depth += 1;
                blocks += 1;
                if blocks > settings.max_blocks {
                    return Err(LoadError::TooManyBlocks {
                        function,
                        limit: settings.max_blocks,
                    });
                }
                // Stop at the first frame over the limit: reading on would grow
                // the reader's control stack with the attacker's nesting.
                if depth > settings.max_nesting_depth {
                    return Err(LoadError::NestingTooDeep {
                        function,
                        limit: settings.max_nesting_depth,
                    });
                }
            }
            Operator::End | Operator::Delegate { .. } => depth = depth.saturating_sub(1),
            Operator::BrTable { targets } if targets.len() > settings.max_br_table_targets => {
                return Err(LoadError::BrTableTooLarge {
                    function,
                    targets: targets.len(),
                    limit: settings.max_br_table_targets,
                });
            }
            _ => {}
        }
    }
    Ok(operators.into_allocations())
}

/// Refused import names, bounded in number and length.
#[derive(Default)]
struct Unknown {
    names: Vec<String>,
    more: usize,
}

impl Unknown {
    fn push(&mut self, name: impl FnOnce() -> String) {
        if self.names.len() == MAX_NAMES_SHOWN {
            self.more += 1;
            return;
        }
        let mut name = name();
        if let Some((cut, _)) = name.char_indices().nth(MAX_NAME_CHARS) {
            name.truncate(cut);
            name.push('…');
        }
        self.names.push(name);
    }

    fn refuse(mut self) -> Result<(), LoadError> {
        if self.names.is_empty() {
            return Ok(());
        }
        if self.more > 0 {
            self.names.push(format!("and {} more", self.more));
        }
        Err(LoadError::UnknownImports(self.names))
    }
}

#[cfg(test)]
mod tests;
