//! The one path from "run this action on this request" to Workfront's answer,
//! taken by the webhook ([`crate::http`]) and by `docket invoke` alike, so the
//! two cannot disagree: the action's limits are clamped to the operator's
//! current ceilings, one deadline is computed and given both to the engine and
//! to the capabilities (outbound calls never outlive the action), and the
//! answer is worded from the limits it really ran under (by
//! [`crate::http::reply::invocation_answer`], for both).

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

/// Plans one invocation of `module` under its manifest's `limits` and
/// `grants`; the clock starts now.
pub fn plan(
    services: &HostServices,
    ceilings: &Ceilings,
    module: PreparedModule,
    limits: &Limits,
    grants: &Grants,
    request: ActionRequest,
) -> Planned {
    let limits = ceilings.clamp(limits);
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

impl Planned {
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
