"""Docket actions in Python (component ABI, built with componentize-py).

An action is one function from a `Request` to an outcome::

    from docket import action, success, forbidden, not_found, failed

    @action
    def run(req):
        if not req.username:
            return forbidden("sign in to Workfront first")
        return success(f"Hello {req.username}, document {req.document_id}")

`req.username_verified` is True only when the username was proven by the
user's sign-in (Workfront's OAuth2 mode); in ApiKey mode anyone holding the
tenant's key can send any username.

`@action` exports the function as the world's `run` (it defines `WitWorld` in
the decorated function's module, which is what componentize-py looks for).

An exception that escapes `run` is not turned into a failure: it traps, the
traceback goes to Docket's log (its last line is kept) and the user sees a 500
"crashed: …". Return `failed(...)` for errors the user should read.

Import every module at the top of your file: componentize-py runs the imports
at build time and bundles no file system, so a module imported for the first
time inside `run` is not found.

The contract behind this: guest-sdk/CONTRACT.md in the Docket repository.
"""

import os
import sys
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import wit_world
from componentize_py_types import Err

try:  # componentize-py names the module after the interface, qualified when names clash
    from wit_world.imports import wasi_config_store as config_store
except ImportError:
    from wit_world.imports import store as config_store
try:
    from wit_world.imports import caller
except ImportError:
    from wit_world.imports import docket_action_caller as caller

__all__ = ["Request", "Outcome", "action", "success", "forbidden", "not_found", "failed"]


@dataclass(frozen=True)
class Request:
    """One invocation: what Workfront asked for and the action's configuration."""

    action: str
    """The action name Workfront sent (`customAction?name=`)."""
    document_id: str
    document_version_id: str
    username: str
    """The Workfront user; "" when Workfront sent none."""
    params: Dict[str, str]
    """Extra query parameters of the call (first value of a repeated one)."""
    config: Dict[str, str]
    """The manifest's [config] table."""
    secrets: Dict[str, str]
    """Tenant secrets the manifest grants ([capabilities] secrets) that are set; {} otherwise."""
    tenant: str
    request_id: str
    """Docket's id for this invocation; quote it in log lines (print to stderr)."""
    username_verified: bool = False
    """True when `username` was proven by the user's sign-in at the tenant's
    identity provider (Workfront's OAuth2 mode); False when it is only what the
    caller sent (ApiKey mode: anyone holding the tenant's key can send any
    username). An action that decides by user should require it."""


@dataclass(frozen=True)
class Outcome:
    """What `run` returns: build it with success / forbidden / not_found / failed."""

    kind: str
    """"success", "forbidden", "not-found" or "failed"."""
    message: Optional[str] = None


def success(message: Optional[str] = None) -> Outcome:
    """HTTP 200, with an optional message for the user."""
    return Outcome("success", message)


def forbidden(error: str) -> Outcome:
    """HTTP 403: the user may not do this."""
    return Outcome("forbidden", str(error))


def not_found(error: str) -> Outcome:
    """HTTP 404: the document, or something it needs, does not exist."""
    return Outcome("not-found", str(error))


def failed(error: str) -> Outcome:
    """HTTP 500: anything else; the message is shown to the user."""
    return Outcome("failed", str(error))


_FAILURES = {
    "forbidden": wit_world.Failure_Forbidden,
    "not-found": wit_world.Failure_NotFound,
    "failed": wit_world.Failure_Failed,
}


def _first_wins(pairs: List[Tuple[str, str]]) -> Dict[str, str]:
    table: Dict[str, str] = {}
    for key, value in pairs:
        table.setdefault(key, value)
    return table


def _request(req: "wit_world.Request") -> Request:
    config = _first_wins(req.config)
    # wasi:config/store holds the config and the granted secrets; the secrets
    # are the entries that are not config.
    try:
        stored = config_store.get_all()
    except Err:
        stored = []
    secrets = {k: v for k, v in _first_wins(stored).items() if k not in config}
    return Request(
        action=req.action,
        document_id=req.document_id,
        document_version_id=req.document_version_id,
        username=req.username,
        params=_first_wins(req.params),
        config=config,
        secrets=secrets,
        tenant=req.tenant,
        request_id=req.request_id,
        username_verified=bool(caller.username_verified()),
    )


def _crash(error: BaseException) -> None:
    """Logs the traceback (Docket's log keeps its last line) and traps."""
    # sys.__excepthook__ needs no import: a module not imported at build time
    # cannot be imported at run time (componentize-py bundles no file system).
    sys.__excepthook__(type(error), error, error.__traceback__)
    print(f"{type(error).__name__}: {error}", file=sys.stderr, flush=True)
    os.abort()  # wasi-libc's abort is the `unreachable` instruction: a trap


def action(run: Callable[[Request], Outcome]) -> Callable[[Request], Outcome]:
    """Exports `run` as the component's `run` function. Use it once per action."""

    class WitWorld(wit_world.WitWorld):
        def run(self, req: "wit_world.Request") -> Optional[str]:
            try:
                outcome = run(_request(req))
                if not isinstance(outcome, Outcome):
                    raise TypeError(
                        f"{run.__name__} returned {outcome!r}; "
                        "return success(), forbidden(), not_found() or failed()"
                    )
            except BaseException as error:
                _crash(error)
            if outcome.kind == "success":
                return outcome.message
            raise Err(_FAILURES[outcome.kind](outcome.message or "action failed"))

    sys.modules[run.__module__].WitWorld = WitWorld
    return run
