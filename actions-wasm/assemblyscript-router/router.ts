// assemblyscript-router: routes a Workfront document to the review queue of its
// stage (command ABI, AssemblyScript, using guest-sdk/assemblyscript/docket.ts).
//
// Params:  stage (e.g. "legal"), set as a request parameter of the integration.
// Config:  route.<stage> = queue name (e.g. route.legal = "Legal review"),
//          readonly-users = comma-separated usernames who may not route.
// Failures: no username or a read-only user is forbidden; a stage without a
// route is not found; a call without a stage fails. `crash=1` traps on
// purpose, to show how a crash is reported.
import { Request, Outcome, run, success, forbidden, notFound, failed } from "../../guest-sdk/assemblyscript/docket";

function listed(list: string | null, name: string): bool {
  if (list === null) return false;
  const names = list.split(",");
  for (let i = 0; i < names.length; i++) {
    if (names[i].trim() == name) return true;
  }
  return false;
}

function route(req: Request): Outcome {
  const crash = req.param("crash");
  if (crash !== null && crash == "1") unreachable();

  const user = req.username;
  if (user == "") return forbidden("sign in to Workfront to route documents");
  if (listed(req.configValue("readonly-users"), user)) {
    return forbidden(user + " has read-only access and may not route documents");
  }
  const stage = req.param("stage");
  if (stage === null || stage.trim() == "") {
    return failed("no stage given: ask your Workfront admin to add stage=<stage> to the integration's request parameters");
  }
  const key = stage.trim();
  let queue = req.configValue("route." + key);
  if (queue === null) queue = req.configValue("route." + key.toLowerCase());
  if (queue === null || queue.trim() == "") {
    return notFound('no route for stage "' + stage + '"');
  }
  return success("Routed document " + req.documentId + " to " + queue.trim() + " for " + user);
}

run(route);
