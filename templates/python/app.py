"""{{name}}: a Docket action in Python. Edit run(); build with ./build.sh."""

from docket import action, forbidden, success


@action
def run(req):
    if not req.username:
        return forbidden("sign in to Workfront first")
    greeting = req.config.get("greeting", "Hello")
    return success(
        f"{greeting} {req.username}: document {req.document_id}, version {req.document_version_id}"
    )
