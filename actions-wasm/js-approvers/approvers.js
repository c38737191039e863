// js-approvers: records that a user approved a Workfront document version at one
// step of an approval chain (component ABI, JavaScript, guest-sdk/js/docket.js).
//
// Config:  approvers = comma-separated usernames who may approve;
//          steps     = comma-separated approval steps, in order.
// Params:  approval-step = the step being approved (default: the first step).
// Failures: a user not in approvers is forbidden; an approval step that is not
// in steps is not found; no steps configured fails. `crash=1` throws an
// exception on purpose, to show that its message reaches the Workfront user.
import { action, success, forbidden, notFound, failed } from '../../guest-sdk/js/docket.js';

const list = (text) =>
  (text ?? '').split(',').map((item) => item.trim()).filter((item) => item !== '');

export const run = action((req) => {
  if (req.params.crash === '1') throw new Error('crash requested with crash=1');

  const user = req.username;
  const approvers = list(req.config.approvers);
  if (!approvers.some((name) => name.toLowerCase() === user.toLowerCase())) {
    return forbidden(`${user || 'an anonymous user'} is not an approver for this document`);
  }
  const steps = list(req.config.steps);
  if (steps.length === 0) {
    return failed('no approval steps: configure steps in the manifest ([config] steps = "legal, brand")');
  }
  const wanted = (req.params['approval-step'] ?? steps[0]).trim();
  const step = steps.find((name) => name.toLowerCase() === wanted.toLowerCase());
  if (step === undefined) {
    return notFound(`approval step "${wanted}" does not exist; steps are ${steps.join(', ')}`);
  }
  return success(`${user} approved ${req.documentId} v${req.documentVersionId} at step ${step}`);
});
