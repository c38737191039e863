// {{name}}: a Docket action in JavaScript (component ABI).
// Greets the Workfront user who ran it; nobody signed in is forbidden.
import { action, success, forbidden } from './docket/docket.js';

export const run = action((req) => {
  if (!req.username) return forbidden('sign in to Workfront first');
  const greeting = req.config.greeting ?? 'Hello';
  return success(`${greeting}, ${req.username}: document ${req.documentId} v${req.documentVersionId}`);
});
