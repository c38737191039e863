//! The invocation pipeline: the one typed path from a Workfront call to its
//! answer (docs/architecture.md#the-request-path).
//!
//! ```text
//! Call ──authenticate──▶ Caller ──resolve──▶ Target ──admit──▶ Admission
//!      ──load──▶ module ──plan (clamp once, one deadline)──▶ Planned
//!      ──run on the guest pool──▶ Invocation ──word──▶ Answer ──record──▶ log, metrics, span
//! ```
//!
//! [`invoke`] takes a [`Call`] (who is calling, which tenant, which
//! [`Endpoint`]) and returns what Workfront gets: an [`Answer`] or a
//! [`Refused`]. The HTTP layer only builds the `Call` from the request and
//! turns the result into a response; `docket invoke` and `docket replay`
//! share the planning, running and wording steps ([`plan`],
//! [`invocation_answer`]) without a server. A new endpoint is a new
//! [`Endpoint`] variant with its own resolution and answer; a new way to
//! authenticate is a new [`Credential`].
//!
//! Control only flows down from here: this module calls `app`, `engine`,
//! `capabilities` and `registry`, and nothing below calls back up.

mod answer;
mod authenticate;
pub mod console_trial;
pub mod document_params;
pub mod links;
mod plan;
mod provider;
mod record;

pub use answer::{Answer, RawBody, Refusal, Refused, invocation_answer};
pub use plan::{Planned, plan};
pub use provider::{available_endpoints, document_json, provider_answer, with_links};

use crate::app::{Admission, App};
use crate::engine::{ActionRequest, LimitHit, PreparedModule};
use crate::metrics::{Refused as RefusedMetric, Series};
use crate::registry::{
    ActionVersion, InvocationDetail, RecordedAnswer, RecordedInput, Tenant, Timing,
};
use authenticate::authenticate;
use record::{CancelledRecord, Finished, limit_kind, log_invocation, outcome_words};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

/// The query parameters of `customAction` Docket reads itself; every other
/// one reaches the action as `params`.
pub const REQUIRED_PARAMS: [&str; 3] = ["name", "documentId", "documentVersionId"];

/// How the caller proves who it is.
#[derive(Debug, Clone, Copy)]
pub enum Credential<'a> {
    /// ApiKey mode: the `apiKey` header as presented; the user is whoever
    /// the `username` header names, unverified.
    ApiKey(Presented<'a>),
    /// OAuth2 mode: the access token of `Authorization: Bearer`, which names
    /// the user it was issued to (verified at the tenant's identity provider).
    Bearer(Presented<'a>),
    /// A signed document link (`links`): a browser downloading one
    /// document of the tenant, without a user.
    Link(links::SignedLink<'a>),
    /// A console "Try it" call (`console_trial`): the tenant's admin,
    /// already authenticated by the admin API, calling as the user the
    /// `username` header names, unverified.
    Console(Presented<'a>),
}

/// A credential header as it arrived.
#[derive(Debug, Clone, Copy)]
pub enum Presented<'a> {
    /// No such header.
    Missing,
    /// A header that is not text.
    Unreadable,
    /// The header's value.
    Value(&'a str),
}

/// Which Workfront endpoint is called, with what it was given.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// `customAction`: every query parameter as sent (the first of repeated
    /// ones); `name`, `documentId` and `documentVersionId` are required.
    CustomAction {
        /// The query parameters.
        params: BTreeMap<String, String>,
    },
    /// A document endpoint (`metadata`, `files`, `download`, …), answered by
    /// the tenant's live provider.
    Document {
        /// The endpoint and the parameters Docket reads itself.
        call: crate::engine::provider::call::ProviderCall,
        /// The other query parameters, passed on to the provider.
        params: BTreeMap<String, String>,
        /// The streamed body of a `download` or `upload`.
        body: crate::engine::provider::body::BodyChannel,
    },
}

/// One call from Workfront, as the transport parsed it.
#[derive(Debug)]
pub struct Call<'a> {
    /// The tenant named in the URL.
    pub tenant: &'a str,
    /// How the caller authenticates.
    pub credential: Credential<'a>,
    /// The user Workfront says it acts for (the `username` header): used in
    /// ApiKey mode, unverified; in OAuth2 mode the token's user wins.
    pub username: Option<&'a str>,
    /// The endpoint and its inputs.
    pub endpoint: Endpoint,
    /// Docket's id for this call.
    pub request_id: &'a str,
    /// W3C trace context headers, adopted as the span's parent once the
    /// caller is authenticated (never before).
    pub trace_context: Option<&'a http::HeaderMap>,
}

/// An authenticated caller of a tenant.
struct Caller {
    tenant: Arc<Tenant>,
    username: String,
    username_verified: bool,
}

/// What a resolved call runs.
struct Target {
    action: Arc<ActionVersion>,
    request: ActionRequest,
    series: Series,
    /// The document endpoint, when the tenant's provider answers the call.
    endpoint: Option<crate::names::DocEndpoint>,
}

/// Runs one call through the pipeline; see the module docs. The span
/// carries tenant, request id, action and version, so every line logged
/// below it (the engine's, the capabilities') has them.
#[tracing::instrument(
    name = "custom_action",
    skip_all,
    fields(tenant = call.tenant, request_id, action, version, outcome)
)]
pub async fn invoke(app: &App, call: Call<'_>) -> Result<Answer, Refused> {
    let caller = authenticate(app, &call).await?;
    if let Some(headers) = call.trace_context {
        // Only an authenticated caller's trace becomes this span's parent,
        // and before any child span starts.
        crate::telemetry::adopt_remote_parent(&tracing::Span::current(), headers);
    }
    let word = caller.tenant.failure_word.as_str();
    let refused = |refusal| Refused::in_word(word, refusal);
    if caller.tenant.suspended {
        return Err(refused(Refusal::Suspended));
    }
    let target = match call.endpoint {
        Endpoint::CustomAction { params } => {
            resolve_custom_action(app, &caller, params, call.request_id)?
        }
        Endpoint::Document {
            call: provider_call,
            params,
            body,
        } => provider::resolve(app, &caller, provider_call, params, body, call.request_id)?,
    };
    run(app, &caller, target, call.request_id).await
}

/// The failure word a refusal to this caller is said in: the tenant's once
/// the caller authenticated, the default one before.
pub async fn failure_word_for(app: &App, tenant: &str, credential: Credential<'_>) -> String {
    let call = Call {
        tenant,
        credential,
        username: None,
        endpoint: Endpoint::CustomAction {
            params: BTreeMap::new(),
        },
        request_id: "",
        trace_context: None,
    };
    match authenticate(app, &call).await {
        Ok(caller) => caller.tenant.failure_word.clone(),
        Err(refused) => refused.word,
    }
}

/// The live version a `customAction` call names, and the request it gets.
fn resolve_custom_action(
    app: &App,
    caller: &Caller,
    mut params: BTreeMap<String, String>,
    request_id: &str,
) -> Result<Target, Refused> {
    let tenant = &caller.tenant;
    let refused = |refusal| Refused::in_word(&tenant.failure_word, refusal);
    let mut required = Vec::with_capacity(REQUIRED_PARAMS.len());
    for key in REQUIRED_PARAMS {
        match params.remove(key).filter(|v| !v.is_empty()) {
            Some(value) => required.push(value),
            None => return Err(refused(Refusal::MissingParameter(key))),
        }
    }
    let [name, document_id, document_version_id]: [String; 3] =
        required.try_into().expect("three required parameters");
    let action = tenant.actions.get(name.as_str()).cloned();
    // The document provider is not a custom action.
    let Some(action) = action.filter(|a| a.grants.provider.is_none()) else {
        return Err(refused(Refusal::UnknownAction(name)));
    };
    let span = tracing::Span::current();
    span.record("request_id", request_id);
    span.record("action", name.as_str());
    span.record("version", action.version);
    let series = app.metrics.series(tenant.name.as_str(), &name);
    let request = ActionRequest {
        action: name,
        document_id,
        document_version_id,
        username: caller.username.clone(),
        username_verified: caller.username_verified,
        params,
        config: action.config.clone(),
        secrets: tenant.secrets.granted(&action.secrets),
        tenant: tenant.name.to_string(),
        request_id: request_id.to_owned(),
        provider: None,
        body: Default::default(),
    };
    Ok(Target {
        action,
        request,
        series,
        endpoint: None,
    })
}

/// Admits, loads, plans, runs, words and records one invocation.
async fn run(
    app: &App,
    caller: &Caller,
    target: Target,
    request_id: &str,
) -> Result<Answer, Refused> {
    let Target {
        action,
        request,
        series,
        endpoint,
    } = target;
    let tenant = &caller.tenant;
    let word = tenant.failure_word.as_str();
    let refused = |refusal| Refused::in_word(word, refusal);
    let Some(admitted) = app.try_enter(tenant) else {
        app.metrics.refused(&series, RefusedMetric::Concurrency);
        return Err(refused(Refusal::TooManyRunning(
            tenant.quotas.max_concurrency,
        )));
    };
    let _in_flight = app.metrics.enter(&series);
    let admitted_at = Instant::now();
    let module = load(app, tenant, &action, request_id).await?;
    let tier = module.tier().to_string();
    // Clamped once, here: the memory reserved is the memory the run gets.
    let limits = app.ceilings.clamp(&action.limits);
    let _memory = admitted
        .reserve_memory(limits.memory_mb)
        .await
        .map_err(|budget| {
            app.metrics.refused(&series, RefusedMetric::Memory);
            refused(Refusal::MemoryBudget(budget))
        })?;
    let started_ms = crate::registry::store::now_ms();
    let input = if action.grants.skip_input_recording {
        None
    } else {
        RecordedInput::bounded(
            &request.document_id,
            &request.document_version_id,
            (&request.username, request.username_verified),
            &request.params,
        )
    };
    let cancelled = CancelledRecord {
        app,
        tenant,
        action: &action,
        request_id,
        started_ms,
        started: Instant::now(),
        queued: admitted_at.elapsed(),
        series,
        input,
        armed: true,
    };
    let mut planned = Planned::new(&app.services, module, limits, &action.grants, request);
    // A document provider always gets a fresh instance (its manifest may not
    // ask for reuse); a custom action that opted in may run on an idle
    // instance of this very tenant snapshot, action and version.
    if endpoint.is_none() && limits.instance_reuse > 1 {
        planned = planned.reusing(plan::reuse_key(tenant, &action));
    }
    let handed_over = Instant::now();
    let invocation = run_planned(app, &admitted, planned).await;
    let (series, admitted_wait, input) = cancelled.finished();
    // Waiting for a WebAssembly thread is queueing too: the engine's clock
    // starts once the guest's task runs.
    let queued = admitted_wait + handed_over.elapsed().saturating_sub(invocation.duration);
    let crate::engine::Invocation {
        result,
        duration,
        instantiate,
        stderr_tail,
        stderr,
        outbound,
    } = invocation;
    let (outcome, limit) = outcome_words(&result);
    let kind = limit.map(limit_kind);
    let limit = limit.map(LimitHit::to_string);
    tracing::Span::current().record("outcome", outcome);
    app.metrics
        .invoked(&series, outcome, kind, duration, Some(queued));
    app.metrics.instantiated(&series, instantiate);
    if let Err(crate::engine::InvokeError::Host(why)) = &result {
        tracing::error!(request_id, error = %why, "host error while running an action");
    }
    let name = action.name.as_str();
    let answer = match endpoint {
        Some(endpoint) => {
            let answer = provider_answer(word, endpoint, name, &limits, Some(request_id), result);
            match document_links(app, tenant) {
                Some(links) => with_links(answer, &links),
                None => answer,
            }
        }
        None => invocation_answer(word, name, &limits, Some(request_id), result),
    };
    let finished = Finished {
        outcome,
        limit,
        ms: duration.as_millis() as u64,
        stderr_tail,
        stderr,
        detail: InvocationDetail {
            timing: Timing::of(queued, instantiate, duration.saturating_sub(instantiate)),
            tier: Some(tier),
            outbound,
            answer: Some(RecordedAnswer::new(answer.status.as_u16(), &answer.body)),
            input,
        },
    };
    log_invocation(app, tenant, &action, request_id, started_ms, finished);
    Ok(answer)
}

/// The signed links of this answer's documents, when the tenant's provider
/// answers `download` (a browser can then follow them).
fn document_links(app: &App, tenant: &Tenant) -> Option<links::LinkMaker> {
    if !available_endpoints(tenant).contains(&crate::names::DocEndpoint::Download) {
        return None;
    }
    let now = crate::registry::store::now_ms().max(0) as u64 / 1000;
    Some(links::LinkMaker {
        base: format!("{}/t/{}", app.public_url, tenant.name),
        tenant: tenant.name.to_string(),
        key: app.store.link_key(),
        expires: now + links::LINK_LIFETIME_SECS,
    })
}

/// The live version's prepared module: from memory, else loaded now (never
/// called since the start, evicted past `--max-loaded-modules-mb`, or a load
/// that failed before), from its compiled artifact or by a compile, once
/// however many calls wait for it.
async fn load(
    app: &App,
    tenant: &Tenant,
    action: &ActionVersion,
    request_id: &str,
) -> Result<PreparedModule, Refused> {
    let loading = tracing::debug_span!("module_load", source = tracing::field::Empty);
    if let Some(module) = app.module(&tenant.name, &action.module) {
        loading.record("source", "memory");
        return Ok(module);
    }
    loading.record("source", "load");
    app.load_on_call(&tenant.name, &action.module)
        .instrument(loading)
        .await
        .map_err(|err| {
            tracing::error!(tenant = %tenant.name, action = %action.name, error = %err, "live version cannot be loaded");
            Refused::in_word(
                &tenant.failure_word,
                Refusal::Unavailable {
                    name: action.name.to_string(),
                    request_id: request_id.to_owned(),
                },
            )
        })
}

/// Runs a planned invocation on the guest pool, within the tenant's CPU share.
async fn run_planned(
    app: &App,
    admitted: &Admission,
    planned: Planned,
) -> crate::engine::Invocation {
    app.run_guest(admitted, move |engine, cpu| async move {
        planned.run(&engine, Some(&cpu)).await.1
    })
    .await
}
