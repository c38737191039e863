//! Planning one run, the step the server's pipeline and `docket invoke` /
//! `docket replay` share, so they cannot disagree: the action's limits are
//! clamped to the operator's current ceilings (here, and nowhere else), one
//! deadline is computed and given both to the engine and to the
//! capabilities (outbound calls never outlive the action), and the answer
//! is worded from the limits it really ran under (by
//! [`super::invocation_answer`], for all of them).

use crate::capabilities::{Capabilities, Grants, HostServices};
use crate::engine::{ActionRequest, CpuShare, Engine, Invocation, PreparedModule};
use crate::limits::{Ceilings, Limits};
use std::time::Instant;

/// An invocation ready to run. See the module docs.
pub struct Planned {
    /// The compiled action.
    pub module: PreparedModule,
    /// The action's limits, clamped to the operator's ceilings.
    pub limits: Limits,
    /// What the action is asked.
    pub request: ActionRequest,
    /// What the manifest grants, bound to `deadline`.
    pub caps: Capabilities,
    /// When the invocation must have answered.
    pub deadline: Instant,
}

/// Plans one invocation of `module` under its manifest's `limits` (clamped
/// to `ceilings` here) and `grants`; the clock starts now.
pub fn plan(
    services: &HostServices,
    ceilings: &Ceilings,
    module: PreparedModule,
    limits: &Limits,
    grants: &Grants,
    request: ActionRequest,
) -> Planned {
    Planned::new(services, module, ceilings.clamp(limits), grants, request)
}

impl Planned {
    /// Plans one invocation under `limits` already clamped to the operator's
    /// ceilings (the pipeline clamps before it reserves memory, so the wait
    /// for memory does not count against the action's time); the clock
    /// starts now.
    pub fn new(
        services: &HostServices,
        module: PreparedModule,
        limits: Limits,
        grants: &Grants,
        request: ActionRequest,
    ) -> Self {
        let deadline = Instant::now() + limits.timeout();
        let caps = services.for_invocation(grants, &request.tenant, &request.action, deadline);
        Planned {
            module,
            limits,
            request,
            caps,
            deadline,
        }
    }

    /// Runs the invocation on `engine`, taking CPU turns within `share` when
    /// one is given. Returns the limits it ran under, for wording the answer.
    pub async fn run(self, engine: &Engine, share: Option<&CpuShare>) -> (Limits, Invocation) {
        let invocation = engine
            .invoke(
                &self.module,
                &self.limits,
                &self.request,
                self.caps,
                share,
                self.deadline,
            )
            .await;
        (self.limits, invocation)
    }
}
