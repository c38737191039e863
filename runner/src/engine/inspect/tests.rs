//! Tests of the static checks, on WAT and on hand-written bytes.

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
