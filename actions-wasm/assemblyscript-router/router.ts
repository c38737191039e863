// assemblyscript-router: routes a Workfront document to the review queue of its
// stage (command ABI, AssemblyScript, using guest-sdk/assemblyscript/docket.ts).
//
// Params:  stage (e.g. "legal"), set as a request parameter of the integration.
// Config:  route.<stage> = queue name (e.g. route.legal = "Legal review"),
//          readonly-users = comma-separated usernames who may not route.
//          Optional: count-key = a key-value key counted up on each routing (grant
//          [capabilities] key-value), which adds " (#N)" to the message;
//          notify-url = where to POST {"text": <message>} as application/json
//          before answering (grant its host in [capabilities] allowed-outbound-hosts).
// Failures: no username or a read-only user is forbidden; a stage without a
// route is not found; a call without a stage fails, and so does a failed count
// ("could not count routings: …") or notification ("could not notify: …").
// `crash=1` traps on purpose, to show how a crash is reported.
import { Request, Outcome, run, success, forbidden, notFound, failed, http, kvIncrement, quote } from "../../guest-sdk/assemblyscript/docket";

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
  let message = "Routed document " + req.documentId + " to " + queue.trim() + " for " + user;
  const countKey = req.configValue("count-key");
  if (countKey !== null) {
    const count = kvIncrement(countKey);
    if (!count.ok) return failed("could not count routings: " + count.error);
    const n = count.value;
    message += " (#" + (n === null ? "?" : n) + ")";
  }
  const notifyUrl = req.configValue("notify-url");
  if (notifyUrl !== null) {
    const sent = http("POST", notifyUrl, "application/json", '{"text":' + quote(message) + "}");
    if (!sent.ok) return failed("could not notify: " + sent.error);
    if (sent.status < 200 || sent.status > 299) {
      return failed("could not notify: " + notifyUrl + " answered HTTP " + sent.status.toString());
    }
  }
  return success(message);
}

run(route);
