//! Settings from the command line and the environment (`DOCKET_<FLAG>`).
//!
//! * `commands`: the subcommands and their arguments ([`Cli`], [`Command`]).
//! * `serve`: `docket serve`'s own flags ([`ServeArgs`], [`QuotaArgs`], [`ConnectionArgs`],
//!   [`LogFormat`]).
//! * `limits`: ceilings and engine sizing shared by `serve`, `invoke` and `check` ([`LimitArgs`]).
//! * `credentials`: the shortest webhook key or admin token the operator may set
//!   ([`MIN_CREDENTIAL_CHARS`]).

mod commands;
mod credentials;
mod limit_flags;
mod serve;

pub use commands::{
    ArtifactCacheArgs, CheckArgs, Cli, Command, DEFAULT_SERVER, DeployArgs, InvokeArgs,
    KeysCommand, LogsArgs, NewArgs, OAuthCommand, ReplayArgs, ServerArgs, TenantCommand,
};
pub use credentials::{
    MIN_CREDENTIAL_CHARS, WeakCredential, check_credential, check_credentials,
    check_credentials_in_env,
};
pub use limit_flags::LimitArgs;
pub use serve::{ConnectionArgs, LogFormat, QuotaArgs, ServeArgs};
