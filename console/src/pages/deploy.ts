// Deploy: a .wasm module and a manifest (a file, or TOML written here) go to
// POST …/actions as multipart parts `module` and `manifest`. The server
// checks, compiles and makes the version live in one step; its refusal is
// shown word for word.
import { apiUpload, seg, type UploadProgress } from '../api';
import { append, h, replace, uid } from '../dom';
import type { Deployed } from '../model';
import { tenantHref } from '../route';
import type { Ctx } from '../types';
import { alertRegion, field, pageHeading, showError, statusRegion } from '../ui';

/** A minimal manifest from README's Manifest reference; `module` is not needed on upload. */
const EXAMPLE_MANIFEST = `name = "archive"                  # the \`name\` Workfront sends (A-Z a-z 0-9 - _ ., max 64)
display-name = "Archive document" # shown under Document Actions
kind = "action"                   # or "provider"

[limits]                          # each key optional; the defaults are shown
timeout-ms = 5000
memory-mb = 64

[capabilities]                    # everything here is denied unless granted
# allowed-outbound-hosts = ["https://acme.my.workfront.com"]
# secrets = ["workfront-api-key"]

[config]
folder = "Archive"
`;

export function mount(root: HTMLElement, ctx: Ctx): void {
  const moduleInput = h('input', { type: 'file', name: 'module', accept: '.wasm,application/wasm', required: true });
  const manifestFile = h('input', { type: 'file', name: 'manifest-file', accept: '.toml,text/plain' });
  const manifestText = h('textarea', { name: 'manifest', rows: 16, spellcheck: 'false', wrap: 'off', class: 'code' }, EXAMPLE_MANIFEST);
  manifestText.value = EXAMPLE_MANIFEST;

  // The manifest comes from one of two places; a radio pair says which, and
  // only the chosen control is shown.
  const sourceName = uid('manifest-source');
  const writeRadio = h('input', { type: 'radio', name: sourceName, value: 'write', checked: true, id: uid('radio') });
  const fileRadio = h('input', { type: 'radio', name: sourceName, value: 'file', id: uid('radio') });
  const writeField = field('Manifest (TOML)', manifestText, 'Unknown keys and limits over the ceilings are refused with the key and line named.');
  const fileField = field('Manifest file (.toml)', manifestFile);
  fileField.hidden = true;
  const syncSource = () => {
    writeField.hidden = !writeRadio.checked;
    fileField.hidden = !fileRadio.checked;
  };
  writeRadio.addEventListener('change', syncSource);
  fileRadio.addEventListener('change', syncSource);

  const progress = h('progress', { max: 1, id: uid('progress') });
  progress.hidden = true;
  const said = statusRegion();
  const error = alertRegion();
  const result = h('div', {});
  const submit = h('button', { type: 'submit' }, 'Deploy');

  const dropZone = h(
    'div',
    { class: 'drop-zone' },
    field('WebAssembly module (.wasm)', moduleInput, 'Choose a file, or drop a .wasm file here.'),
  );
  dropZone.addEventListener('dragover', (event) => {
    event.preventDefault();
    dropZone.classList.add('dragging');
  });
  dropZone.addEventListener('dragleave', () => dropZone.classList.remove('dragging'));
  dropZone.addEventListener('drop', (event) => {
    event.preventDefault();
    dropZone.classList.remove('dragging');
    if (event.dataTransfer?.files.length) moduleInput.files = event.dataTransfer.files;
  });

  const form = h(
    'form',
    { class: 'panel', novalidate: true },
    dropZone,
    h(
      'fieldset',
      {},
      h('legend', {}, 'Manifest'),
      h('div', { class: 'radio' }, writeRadio, h('label', { for: writeRadio.id }, 'Write it here')),
      h('div', { class: 'radio' }, fileRadio, h('label', { for: fileRadio.id }, 'Upload a file')),
      writeField,
      fileField,
    ),
    h('div', { class: 'actions' }, submit),
    h('label', { for: progress.id, class: 'sr-only' }, 'Deploy progress'),
    progress,
    said,
    error,
  );

  const onProgress = (step: UploadProgress) => {
    progress.hidden = false;
    if (step.phase === 'sending') {
      if (step.fraction === null) progress.removeAttribute('value');
      else progress.value = step.fraction;
      const percent = step.fraction === null ? '' : ` ${Math.round(step.fraction * 100)}%`;
      replace(said, `Uploading…${percent}`);
    } else {
      progress.removeAttribute('value');
      replace(said, 'Compiling… (checking the manifest and module, compiling ahead of time)');
    }
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showError(error, null);
    replace(result);
    const module = moduleInput.files?.[0];
    if (!module) {
      showError(error, new Error('Choose a .wasm module.'));
      moduleInput.focus();
      return;
    }
    const body = new FormData();
    if (fileRadio.checked) {
      const file = manifestFile.files?.[0];
      if (!file) {
        showError(error, new Error('Choose a manifest file, or write the manifest here.'));
        manifestFile.focus();
        return;
      }
      body.append('manifest', file);
    } else {
      if (!manifestText.value.trim()) {
        showError(error, new Error('Write a manifest: at least name = "…".'));
        manifestText.focus();
        return;
      }
      body.append('manifest', manifestText.value);
    }
    body.append('module', module);
    submit.disabled = true;
    replace(said, 'Uploading…');
    try {
      const deployed = await apiUpload<Deployed>(`/tenants/${seg(ctx.tenant)}/actions`, body, onProgress);
      replace(said, `Deployed ${deployed.name} version ${deployed.version}.`);
      replace(result, deployedView(ctx.tenant, deployed));
    } catch (failure) {
      replace(said, 'Not deployed.');
      showError(error, failure);
    } finally {
      progress.hidden = true;
      submit.disabled = false;
    }
  });

  append(
    root,
    pageHeading('Deploy'),
    h(
      'p',
      { class: 'lede' },
      'A new version goes live at once when the module compiles; if anything is refused, the live version keeps serving and nothing is stored.',
    ),
    form,
    result,
  );
}

function deployedView(tenant: string, deployed: Deployed): HTMLElement {
  return h(
    'section',
    { class: 'panel success', 'aria-labelledby': 'deployed-heading' },
    h('h2', { id: 'deployed-heading' }, `${deployed.name} v${deployed.version} is live`),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'ABI'),
      h('dd', {}, deployed.abi),
      h('dt', {}, 'Compiled code'),
      h('dd', {}, deployed.tier === 'baseline' ? 'baseline (optimized code replaces it in the background)' : 'optimized'),
      h('dt', {}, 'Module hash'),
      h('dd', {}, h('code', { class: 'break' }, deployed.hash)),
      deployed.baselineUnavailable ? h('dt', {}, 'Baseline compiler') : null,
      deployed.baselineUnavailable ? h('dd', {}, deployed.baselineUnavailable) : null,
    ),
    h(
      'p',
      { class: 'actions' },
      h('a', { href: tenantHref(tenant, 'actions', deployed.name) }, `Versions of ${deployed.name}`),
      h('a', { href: tenantHref(tenant, 'try', deployed.name) }, `Try ${deployed.name}`),
    ),
  );
}
