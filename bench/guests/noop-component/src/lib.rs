//! Benchmark guest: the least a component-ABI action can do.

docket_sdk::component_action!(run);

/// Succeeds without a message.
pub fn run(_req: docket_sdk::Request) -> docket_sdk::Outcome {
    Ok(None)
}
