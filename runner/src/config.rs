//! Settings from the command line and the environment (`DOCKET_<FLAG>`).
//!
//! * `commands`: the subcommands and their arguments ([`Cli`], [`Command`]).
//! * `serve`: `docket serve`'s own flags ([`ServeArgs`], [`QuotaArgs`], [`ConnectionArgs`],
//!   [`LogFormat`]).
//! * `limits`: ceilings and engine sizing shared by `serve`, `invoke` and `check` ([`LimitArgs`]).

mod commands;
mod limits;
mod serve;

pub use commands::{
    CheckArgs, Cli, Command, DeployArgs, InvokeArgs, KeysCommand, LogsArgs, NewArgs, ReplayArgs,
    ServerArgs, TenantCommand,
};
pub use limits::LimitArgs;
pub use serve::{ConnectionArgs, LogFormat, QuotaArgs, ServeArgs};
