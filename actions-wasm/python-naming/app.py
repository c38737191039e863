"""python-naming: checks a document's file name against the tenant's naming
rules (component ABI, Python, using guest-sdk/python).

Params:   filename (the document's file name, e.g. "ACM-2026-budget.pdf").
Config:   allowed-extensions (comma list, e.g. "pdf,docx"; empty = any),
          prefix-pattern (a Python regular expression the name must start with,
          e.g. "^[A-Z]{3}-\\d{4}-"; empty = any), blocked-users (comma list).
Failures: no username or a blocked one is forbidden; no filename is not found;
          a disallowed extension, a name not matching the pattern or an invalid
          pattern fails. `crash=1` raises an exception nothing catches, which
          traps the component, to show how a crash is reported.
"""

import re

from docket import action, failed, forbidden, not_found, success


def listed(text):
    return [item.strip() for item in text.split(",") if item.strip()]


@action
def run(req):
    if req.params.get("crash") == "1":
        raise RuntimeError("crash=1 asked for a crash")

    user = req.username
    if not user or user in listed(req.config.get("blocked-users", "")):
        return forbidden(f"{user or 'an anonymous user'} may not check file names")

    filename = req.params.get("filename", "")
    if not filename:
        return not_found("no file name to check: add filename=… to the request parameters")

    allowed = [ext.lower().lstrip(".") for ext in listed(req.config.get("allowed-extensions", ""))]
    _, dot, extension = filename.rpartition(".")
    extension = extension.lower() if dot else ""
    if allowed and extension not in allowed:
        return failed(
            f'"{filename}" has {f"extension .{extension}" if extension else "no extension"}; '
            f"allowed: {', '.join(allowed)}"
        )

    pattern = req.config.get("prefix-pattern", "")
    if pattern:
        try:
            prefix = re.compile(pattern)
        except re.error as err:
            return failed(f"prefix-pattern {pattern} is not a valid regular expression: {err}")
        if not prefix.match(filename):
            return failed(f'"{filename}" does not start with the pattern {pattern}')

    return success(f"{filename} follows the naming rules for {req.tenant}")
