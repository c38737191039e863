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
mod tests {
    use super::*;

    fn settings() -> EngineSettings {
        EngineSettings::default()
    }

    fn check_wat(wat: &str, settings: &EngineSettings) -> Result<(), LoadError> {
        let bytes = wat::parse_str(wat).unwrap();
        let abi = super::super::detect_abi(&bytes).unwrap();
        check(&bytes, abi, settings)
    }

    fn module_with(functions: usize) -> Vec<u8> {
        let mut wat = String::from("(module");
        for _ in 0..functions {
            wat.push_str(" (func)");
        }
        wat.push(')');
        wat::parse_str(wat).unwrap()
    }

    /// A module whose function 1 (after one imported function) opens `depth`
    /// blocks, written as bytes: WAT text of a deep bomb is slow to parse.
    fn nested_blocks(depth: usize) -> Vec<u8> {
        let mut body = vec![0x00]; // no locals
        body.extend(std::iter::repeat_n([0x02, 0x40], depth).flatten()); // block (empty type)
        body.extend(std::iter::repeat_n(0x0b, depth + 1)); // the ends, and the body's
        let mut code = vec![0x01]; // one body
        leb(&mut code, body.len());
        code.extend(body);
        let mut bytes = b"\0asm\x01\0\0\0".to_vec();
        bytes.extend([0x01, 0x04, 0x01, 0x60, 0x00, 0x00]); // type 0: [] -> []
        let import = b"\x01\x16wasi_snapshot_preview1\x0bsched_yield\x00\x00";
        bytes.push(0x02);
        leb(&mut bytes, import.len());
        bytes.extend(import);
        bytes.extend([0x03, 0x02, 0x01, 0x00]); // one function of type 0
        bytes.push(0x0a);
        leb(&mut bytes, code.len());
        bytes.extend(code);
        bytes
    }

    fn leb(out: &mut Vec<u8>, mut value: usize) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    #[test]
    fn counts_functions_against_the_cap() {
        let limited = EngineSettings {
            max_functions: 10,
            ..settings()
        };
        assert_eq!(check(&module_with(10), Abi::Command, &limited), Ok(()));
        assert_eq!(
            check(&module_with(11), Abi::Command, &limited),
            Err(LoadError::TooManyFunctions { limit: 10 })
        );
    }

    #[test]
    fn truncated_input_is_invalid() {
        let bytes = module_with(3);
        assert!(matches!(
            check(&bytes[..bytes.len() - 2], Abi::Command, &settings()),
            Err(LoadError::Invalid(_))
        ));
    }

    #[test]
    fn command_imports_outside_wasi_and_docket_are_refused_by_name() {
        let wat = r#"(module
            (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
            (import "docket" "host_call" (func (param i32 i32) (result i32)))
            (import "docket" "host_reply" (func (param i32 i32) (result i32)))
            (import "docket" "launch" (func))
            (import "env" "memory" (memory 1)))"#;
        assert_eq!(
            check_wat(wat, &settings()),
            Err(LoadError::UnknownImports(vec![
                "docket::launch".into(),
                "env::memory".into()
            ]))
        );
    }

    #[test]
    fn unknown_imports_are_refused_before_any_function_is_read() {
        // The body is far over the size limit, but the import comes first.
        let limited = EngineSettings {
            max_function_bytes: 8,
            ..settings()
        };
        let wat = r#"(module (import "env" "f" (func))
            (func (drop (i32.add (i32.const 1) (i32.const 2))) (nop) (nop) (nop)))"#;
        assert_eq!(
            check_wat(wat, &limited),
            Err(LoadError::UnknownImports(vec!["env::f".into()]))
        );
    }

    #[test]
    fn refused_import_names_are_bounded_in_number_and_length() {
        let long = "x".repeat(1000);
        let mut wat = String::from("(module");
        for i in 0..25 {
            wat.push_str(&format!(r#" (import "env" "{long}{i}" (func))"#));
        }
        wat.push(')');
        let Err(LoadError::UnknownImports(names)) = check_wat(&wat, &settings()) else {
            panic!("expected unknown imports");
        };
        assert_eq!(names.len(), MAX_NAMES_SHOWN + 1);
        assert_eq!(names.last().unwrap(), "and 5 more");
        assert!(
            names[0].chars().count() <= MAX_NAME_CHARS + 1,
            "{}",
            names[0]
        );
    }

    #[test]
    fn component_imports_outside_the_provided_packages_are_refused_by_name() {
        let wat = r#"(component
            (import "wasi:cli/environment@0.2.0" (instance))
            (import "acme:missiles/launch@1.0.0" (instance)))"#;
        assert_eq!(
            check_wat(wat, &settings()),
            Err(LoadError::UnknownImports(vec![
                "acme:missiles/launch@1.0.0".into()
            ]))
        );
    }

    #[test]
    fn type_imports_bounded_by_eq_need_nothing_from_the_host() {
        // What wit-bindgen emits for a world-level type used by an export.
        let wat = r#"(component
            (type $r (record (field "action" string)))
            (import "request" (type (eq $r))))"#;
        assert_eq!(check_wat(wat, &settings()), Ok(()));
    }

    #[test]
    fn resource_type_imports_are_checked_like_any_import() {
        let wat = r#"(component (import "acme:thing/handle" (type (sub resource))))"#;
        assert_eq!(
            check_wat(wat, &settings()),
            Err(LoadError::UnknownImports(vec!["acme:thing/handle".into()]))
        );
    }

    #[test]
    fn nested_core_module_imports_are_not_top_level_imports() {
        // A component's core module imports from the component's own
        // instances (here `env`), never from the host.
        let wat = r#"(component
            (import "wasi:cli/stdout@0.2.0" (instance))
            (core module (import "env" "anything" (func)) (import "__main_module__" "m" (memory 1)))
            (component (import "acme:nested/thing" (instance))))"#;
        assert_eq!(check_wat(wat, &settings()), Ok(()));
    }

    #[test]
    fn functions_of_nested_core_modules_are_checked() {
        let limited = EngineSettings {
            max_locals: 2,
            ..settings()
        };
        let wat = r#"(component (core module (func) (func (local i32 i64 f32))))"#;
        assert_eq!(
            check_wat(wat, &limited),
            Err(LoadError::TooManyLocals {
                function: 1,
                locals: 3,
                limit: 2
            })
        );
    }

    #[test]
    fn function_body_size_is_capped() {
        let limited = EngineSettings {
            max_function_bytes: 16,
            ..settings()
        };
        let small = "(module (func (nop)))";
        let large = "(module (func (nop)) (func (drop (i64.const 0x7fffffffffffffff)) (drop (i64.const 0x7fffffffffffffff))))";
        assert_eq!(check_wat(small, &limited), Ok(()));
        let Err(LoadError::FunctionTooLarge {
            function: 1,
            size,
            limit: 16,
        }) = check_wat(large, &limited)
        else {
            panic!("expected the second function to be too large");
        };
        assert!(size > 16);
    }

    #[test]
    fn locals_are_summed_over_their_declarations() {
        let limited = EngineSettings {
            max_locals: 5,
            ..settings()
        };
        let five = "(module (func (local i32 i32 i32) (local i64 f64)))";
        let six = "(module (func (local i32 i32 i32) (local i64 f64 v128)))";
        assert_eq!(check_wat(five, &limited), Ok(()));
        assert_eq!(
            check_wat(six, &limited),
            Err(LoadError::TooManyLocals {
                function: 0,
                locals: 6,
                limit: 5
            })
        );
    }

    #[test]
    fn nesting_depth_counts_every_kind_of_block() {
        let limited = EngineSettings {
            max_nesting_depth: 3,
            ..settings()
        };
        // Three deep, twice in sequence: `end` closes frames.
        let three = "(module (func (block (loop (if (i32.const 0) (then (nop)) (else (nop))))) \
                     (block (block (block)))))";
        let four = "(module (func (block (loop (if (i32.const 0) (then (try_table (nop))))))))";
        assert_eq!(check_wat(three, &limited), Ok(()));
        assert_eq!(
            check_wat(four, &limited),
            Err(LoadError::NestingTooDeep {
                function: 0,
                limit: 3
            })
        );
    }

    /// Blocks are counted whether nested or in sequence: many flat blocks
    /// are as slow to compile as deep ones.
    #[test]
    fn blocks_are_counted_nested_or_flat() {
        let limited = EngineSettings {
            max_blocks: 4,
            ..settings()
        };
        let four = "(module (func (block) (loop) (block (block))))";
        let five = "(module (func (block) (loop) (block) (block) (if (i32.const 0) (then))))";
        assert_eq!(check_wat(four, &limited), Ok(()));
        assert_eq!(
            check_wat(five, &limited),
            Err(LoadError::TooManyBlocks {
                function: 0,
                limit: 4
            })
        );
    }

    #[test]
    fn the_nested_block_bomb_is_refused_by_its_size_first() {
        // 7.5 MB in one body: the size check needs no parsing at all.
        let refused = check(&nested_blocks(2_500_000), Abi::Command, &settings());
        let Err(LoadError::FunctionTooLarge { function: 1, .. }) = refused else {
            panic!("expected the body to be too large, got {refused:?}");
        };
        assert!(
            refused
                .unwrap_err()
                .to_string()
                .contains("--max-function-kb")
        );
    }

    #[test]
    fn nesting_is_refused_at_the_first_frame_over_the_limit() {
        // With the size limit lifted, the nesting check stops the bomb after
        // reading only as many frames as the limit, whatever the body holds.
        let unbounded_size = EngineSettings {
            max_function_bytes: usize::MAX,
            ..settings()
        };
        let limit = unbounded_size.max_nesting_depth;
        let started = std::time::Instant::now();
        let refused = check(&nested_blocks(2_500_000), Abi::Command, &unbounded_size);
        assert!(
            started.elapsed().as_millis() < 1000,
            "{:?}",
            started.elapsed()
        );
        assert_eq!(
            refused,
            Err(LoadError::NestingTooDeep { function: 1, limit })
        );
        let message = refused.unwrap_err().to_string();
        assert!(message.contains("function 1") && message.contains("--max-nesting-depth"));
        let at_the_limit = nested_blocks(limit as usize);
        assert_eq!(check(&at_the_limit, Abi::Command, &unbounded_size), Ok(()));
    }

    #[test]
    fn br_table_targets_are_capped() {
        let limited = EngineSettings {
            max_br_table_targets: 2,
            ..settings()
        };
        let table = |targets: &str| {
            format!("(module (func (block (block (block (br_table {targets} (i32.const 0)))))))")
        };
        assert_eq!(check_wat(&table("0 1 2"), &limited), Ok(()));
        assert_eq!(
            check_wat(&table("0 1 2 0"), &limited),
            Err(LoadError::BrTableTooLarge {
                function: 0,
                targets: 3,
                limit: 2
            })
        );
    }

    #[test]
    fn components_nested_too_deep_are_refused() {
        let mut wat = String::new();
        for _ in 0..=MAX_COMPONENT_NESTING {
            wat.push_str("(component ");
        }
        wat.push_str(&")".repeat(MAX_COMPONENT_NESTING as usize + 1));
        assert_eq!(
            check_wat(&wat, &settings()),
            Err(LoadError::ComponentsNestedTooDeep {
                limit: MAX_COMPONENT_NESTING
            })
        );
    }
}
