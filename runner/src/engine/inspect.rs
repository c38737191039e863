//! Static checks on untrusted bytes before they reach the compiler.
//!
//! wasmtime does not treat compile-time resource use as its problem, so Docket
//! bounds it: the module size is capped by the engine, and this pass counts
//! function bodies (in every nested core module of a component) against a cap,
//! with a parse that is linear in the input and allocates little.

use super::LoadError;
use wasmparser::{Parser, Payload};

/// Counts function bodies and refuses more than `max_functions`.
pub fn check_function_count(bytes: &[u8], max_functions: u32) -> Result<(), LoadError> {
    let mut functions: u64 = 0;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| LoadError::Invalid(e.to_string()))?;
        if let Payload::CodeSectionStart { count, .. } = payload {
            functions += u64::from(count);
            if functions > u64::from(max_functions) {
                return Err(LoadError::TooManyFunctions {
                    limit: max_functions,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module_with(functions: usize) -> Vec<u8> {
        let mut wat = String::from("(module");
        for _ in 0..functions {
            wat.push_str(" (func)");
        }
        wat.push(')');
        wat::parse_str(wat).unwrap()
    }

    #[test]
    fn counts_functions_against_the_cap() {
        assert_eq!(check_function_count(&module_with(10), 10), Ok(()));
        assert_eq!(
            check_function_count(&module_with(11), 10),
            Err(LoadError::TooManyFunctions { limit: 10 })
        );
    }

    #[test]
    fn truncated_input_is_invalid() {
        let bytes = module_with(3);
        assert!(matches!(
            check_function_count(&bytes[..bytes.len() - 2], 10),
            Err(LoadError::Invalid(_))
        ));
    }
}
