// {{name}}: a Docket action in AssemblyScript (command ABI).
// Build: npm install && npm run build   (writes {{name}}.wasm)
import { Request, Outcome, run, success, forbidden } from "./docket/docket";

function greet(req: Request): Outcome {
  if (req.username == "") return forbidden("sign in to Workfront first");
  let greeting = req.configValue("greeting"); // the manifest's [config]
  if (greeting === null) greeting = "Hello";
  return success(greeting + " " + req.username + ", document " + req.documentId + " is ready");
}

run(greet);
