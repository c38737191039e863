//! Planning one run, the step the server's pipeline and `docket invoke` /
//! `docket replay` share, so they cannot disagree: the action's limits are
//! clamped to the operator's current ceilings (here, and nowhere else), one
//! deadline is computed and given both to the engine and to the
//! capabilities (outbound calls never outlive the action), and the answer
//! is worded from the limits it really ran under (by
//! [`super::invocation_answer`], for all of them).

use crate::capabilities::{Capabilities, Grants, HostServices};
use crate::engine::{ActionRequest, CpuShare, Engine, Invocation, PreparedModule, ReuseKey};
use crate::limits::{Ceilings, Limits};
use crate::registry::{ActionVersion, Tenant};
use std::sync::Arc;
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
    /// Which idle instances it may run on, for an action that opted into
    /// instance reuse ([`Planned::reusing`]); `None`, a fresh instance.
    pub reuse: Option<ReuseKey>,
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
            reuse: None,
        }
    }

    /// Lets the run take an idle instance shelved under `key`, and shelve
    /// its own there, when `limits.instance_reuse` is above 1. Only the
    /// server's pipeline sets it: `docket invoke` and `docket replay` run
    /// once, on a fresh instance.
    pub fn reusing(self, key: ReuseKey) -> Self {
        Self {
            reuse: Some(key),
            ..self
        }
    }

    /// Runs the invocation on `engine`, taking CPU turns within `share` when
    /// one is given. Returns the limits it ran under, for wording the answer.
    pub async fn run(self, engine: &Engine, share: Option<&CpuShare>) -> (Limits, Invocation) {
        let invocation = engine
            .invoke_reusing(
                &self.module,
                &self.limits,
                &self.request,
                self.caps,
                share,
                self.deadline,
                self.reuse.as_ref(),
            )
            .await;
        (self.limits, invocation)
    }
}

/// Where an action's idle instances are shelved: the tenant's incarnation,
/// the action, its live version, and the snapshot the call was resolved
/// against, so a deploy, a rollback, a suspension or any other change of the
/// tenant leaves every instance from before it unused.
pub(super) fn reuse_key(tenant: &Arc<Tenant>, action: &ActionVersion) -> ReuseKey {
    ReuseKey::new(
        tenant.id.as_str(),
        tenant.name.as_str(),
        action.name.as_str(),
        action.version,
        tenant,
    )
}
