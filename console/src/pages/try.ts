// "Try it": calls an action's live version as Workfront would (POST …/try:
// same pipeline, limits and run log), then shows the exact status and body
// Workfront would get and the run log record of that very call.
import { api, seg } from '../api';
import { append, h, replace } from '../dom';
import type { Action, Invocation, TryResult } from '../model';
import { tenantHref } from '../route';
import type { Ctx } from '../types';
import { alertRegion, code, describe, field, pageHeading, showError, statusRegion, timeElement } from '../ui';

// README's walkthrough ids, so a first try needs no typing.
const EXAMPLE_DOCUMENT = '5f0c8e2a9b1d4c3e8f7a6b5c4d3e2f10';
const EXAMPLE_VERSION = '7a6b5c4d3e2f10fedcba98765432100a';

export function mount(root: HTMLElement, ctx: Ctx): () => void {
  let disposed = false;
  const actionSelect = h('select', { name: 'action', required: true }, h('option', { value: '' }, 'Loading actions…'));
  const documentId = h('input', { type: 'text', name: 'documentId', value: EXAMPLE_DOCUMENT, required: true, spellcheck: 'false' });
  const versionId = h('input', { type: 'text', name: 'documentVersionId', value: EXAMPLE_VERSION, required: true, spellcheck: 'false' });
  const username = h('input', { type: 'text', name: 'username', value: 'jane.doe', autocomplete: 'off', spellcheck: 'false' });
  const params = h('div', { class: 'param-rows' });
  const addParam = h('button', { type: 'button', class: 'secondary' }, 'Add parameter');
  addParam.addEventListener('click', () => params.append(paramRow(addParam)));
  const submit = h('button', { type: 'submit' }, 'Run');
  const said = statusRegion();
  const error = alertRegion();
  const result = h('div', { class: 'try-result' });

  const form = h(
    'form',
    { class: 'panel', novalidate: true },
    field('Action', actionSelect),
    field('Document ID', documentId, 'documentId, as Workfront sends it.'),
    field('Document version ID', versionId, 'documentVersionId.'),
    field('User', username, 'The username header: who clicked (not verified here).'),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Extra parameters'),
      h('p', { class: 'help' }, "Reach the action as params, like the integration's request parameters (e.g. stage = legal)."),
      params,
      addParam,
    ),
    h('div', { class: 'actions' }, submit),
    said,
    error,
  );

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showError(error, null);
    replace(result);
    const name = actionSelect.value;
    if (!name) {
      showError(error, new Error('Choose an action.'));
      actionSelect.focus();
      return;
    }
    const extra: Record<string, string> = {};
    for (const row of params.querySelectorAll<HTMLElement>('.param-row')) {
      const [key, value] = row.querySelectorAll('input');
      if (key.value.trim()) extra[key.value.trim()] = value.value;
    }
    const body: Record<string, unknown> = {
      endpoint: 'customAction',
      params: { ...extra, name, documentId: documentId.value, documentVersionId: versionId.value },
    };
    if (username.value.trim()) body.username = username.value.trim();
    submit.disabled = true;
    replace(said, `Running ${name}…`);
    try {
      const answer = await api<TryResult>('POST', `/tenants/${seg(ctx.tenant)}/try`, body);
      if (disposed) return;
      replace(said, `${name} answered HTTP ${answer.status}.`);
      const record = h('div', {}, h('p', { class: 'muted' }, 'Loading the run log record…'));
      replace(result, answerView(answer), record);
      replace(record, await runLogView(ctx.tenant, answer.requestId, () => disposed));
    } catch (failure) {
      replace(said, '');
      showError(error, failure);
    } finally {
      submit.disabled = false;
    }
  });

  append(
    root,
    pageHeading('Try it'),
    h('p', { class: 'lede' }, "Runs the live version exactly as Workfront's button would, and records it in the run log."),
    form,
    result,
  );

  api<{ actions: Action[] }>('GET', `/tenants/${seg(ctx.tenant)}/actions`).then(
    ({ actions }) => {
      const runnable = actions.filter((a) => a.kind === 'action');
      if (runnable.length === 0) {
        replace(actionSelect, h('option', { value: '' }, 'No actions yet'));
        showError(error, null);
        result.append(h('p', { class: 'empty-state' }, 'No actions yet — ', h('a', { href: tenantHref(ctx.tenant, 'deploy') }, 'deploy one'), ' first.'));
        return;
      }
      replace(
        actionSelect,
        ...runnable.map((a) => h('option', { value: a.name }, `${a.displayName} (${a.name}, v${a.liveVersion})`)),
      );
      const wanted = ctx.subpath?.[0];
      if (wanted && runnable.some((a) => a.name === wanted)) actionSelect.value = wanted;
    },
    (failure) => {
      replace(actionSelect, h('option', { value: '' }, 'Actions could not be loaded'));
      showError(error, failure);
    },
  );

  return () => {
    disposed = true;
  };
}

/** One extra parameter: name, value and a Remove button. */
function paramRow(addButton: HTMLButtonElement): HTMLElement {
  const key = h('input', { type: 'text', spellcheck: 'false', autocomplete: 'off' });
  const value = h('input', { type: 'text', spellcheck: 'false', autocomplete: 'off' });
  const remove = h('button', { type: 'button', class: 'secondary' }, 'Remove');
  const row = h(
    'div',
    { class: 'param-row' },
    h('label', {}, h('span', {}, 'Name'), key),
    h('label', {}, h('span', {}, 'Value'), value),
    remove,
  );
  remove.addEventListener('click', () => {
    // Keep focus in the list: on the next row's name, else on "Add parameter".
    const next = (row.nextElementSibling ?? row.previousElementSibling)?.querySelector('input');
    row.remove();
    (next ?? addButton).focus();
  });
  remove.setAttribute('aria-label', 'Remove this parameter');
  setTimeout(() => key.focus(), 0);
  return row;
}

/** The answer Workfront would get: status, content type and body. */
function answerView(answer: TryResult): HTMLElement {
  let shown: string;
  if (answer.body !== undefined && answer.body !== null) shown = JSON.stringify(answer.body, null, 2);
  else if (answer.text) shown = answer.text;
  else if (answer.base64) shown = `(binary body, ${Math.floor((answer.base64.length * 3) / 4)} bytes)`;
  else shown = '(empty body)';
  const ok = answer.status >= 200 && answer.status < 300;
  return h(
    'section',
    { class: `panel ${ok ? 'success' : 'failure'}`, 'aria-labelledby': 'answer-heading' },
    h('h2', { id: 'answer-heading' }, 'What Workfront would get'),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'HTTP status'),
      h('dd', {}, h('strong', { class: 'http-status' }, String(answer.status))),
      answer.contentType ? h('dt', {}, 'Content type') : null,
      answer.contentType ? h('dd', {}, code(answer.contentType)) : null,
      h('dt', {}, 'Request ID'),
      h('dd', {}, h('code', { class: 'request-id' }, answer.requestId)),
    ),
    h('pre', { class: 'code-block', tabindex: 0, 'aria-label': 'Response body' }, shown),
  );
}

/**
 * The run log record of the call. The record is written as the call ends,
 * so it may lag the answer by a moment: ask a few times.
 */
async function runLogView(tenant: string, requestId: string, disposed: () => boolean): Promise<Node> {
  const path = `/tenants/${seg(tenant)}/invocations?requestId=${encodeURIComponent(requestId)}&limit=1`;
  let record: Invocation | undefined;
  try {
    for (let attempt = 0; attempt < 6 && !record && !disposed(); attempt += 1) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 300 * attempt));
      record = (await api<{ invocations: Invocation[] }>('GET', path)).invocations[0];
    }
  } catch (error) {
    return h('p', { role: 'alert', class: 'form-error' }, `The run log could not be read: ${describe(error)}`);
  }
  if (!record) return h('p', { class: 'empty-state' }, `No run log record for request ${requestId} yet.`);
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'record-heading' },
    h('h2', { id: 'record-heading' }, 'Run log of this call'),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Outcome'),
      h('dd', {}, h('strong', {}, record.outcome), record.limitHit ? ` (limit hit: ${record.limitHit})` : ''),
      h('dt', {}, 'Time'),
      h('dd', {}, `${record.ms} ms`, ` (queue ${record.timing.queueMs} ms, instantiate ${record.timing.instantiateMs} ms, run ${record.timing.runMs} ms)`),
      h('dt', {}, 'Version'),
      h('dd', {}, `${record.action} v${record.version}`, record.tier ? `, ${record.tier} code` : ''),
      h('dt', {}, 'When'),
      h('dd', {}, timeElement(record.time)),
      record.outbound.length ? h('dt', {}, 'Outbound requests') : null,
      record.outbound.length
        ? h('dd', {}, h('ul', {}, ...record.outbound.map((o) => h('li', {}, `${o.method} ${o.host}: ${o.outcome}${o.status ? ` ${o.status}` : ''}, ${o.ms} ms`))))
        : null,
    ),
    record.stderr
      ? h('div', {}, h('h3', {}, 'stderr'), h('pre', { class: 'code-block', tabindex: 0, 'aria-label': 'stderr of the action' }, record.stderr))
      : h('p', { class: 'muted' }, 'No stderr.'),
    record.answer?.body !== undefined
      ? h('details', {}, h('summary', {}, 'Answer as recorded'), h('pre', { class: 'code-block', tabindex: 0 }, JSON.stringify(record.answer.body, null, 2)))
      : null,
    h('p', {}, h('a', { href: tenantHref(tenant, 'runs') }, 'All run logs')),
  );
}
