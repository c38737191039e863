// The tenant's document provider: what it is and answers, and a file
// browser that calls it exactly as Workfront would (through POST …/try, so
// each call runs the live version and lands in the run log).
import { api, seg } from '../api';
import { h, replace, uid } from '../dom';
import type { Action, TryResult } from '../model';
import { tenantHref } from '../route';
import type { Ctx, Mount } from '../types';
import { code, dataTable, describe, emptyState, errorParagraph, field, formatBytes, loading, pageHeading, scrollingTable, timeElement } from '../ui';

/** Workfront's document object (docs/providers.md, "The document object"). */
interface DocumentObject {
  id: string;
  title: string;
  kind: 'file' | 'folder';
  mimeType?: string;
  size?: number;
  dateModified?: string;
  viewLink?: string;
  downloadLink?: string;
  readOnly?: boolean;
}

interface Folder {
  id: string;
  title: string;
}

/** One call's outcome: the answer when there was one, and the words to show. */
interface Call {
  result: TryResult | null;
  /** "files → HTTP 200 · request id …" */
  summary: string;
  /** The server's error text, when the call failed. */
  error: string | null;
}

/** Items per page, as Workfront's `max`. */
const PAGE_SIZE = 100;
/** The root folder's id, as Workfront sends it (docs/providers.md). */
const ROOT_ID = '/';
const THUMBNAIL_SIZE = 200;
const IMAGE_TYPES = /^image\/(png|jpeg|gif|webp)$/;

export const mount: Mount = (root, ctx) => {
  let stopped = false;
  replace(root, pageHeading('Document provider'), loading('the provider'));
  api<{ actions: Action[] }>('GET', `/tenants/${seg(ctx.tenant)}/actions`)
    .then(({ actions }) => {
      if (stopped) return;
      const provider = actions.find((a) => a.kind === 'provider');
      if (provider) new ProviderBrowser(root, ctx, provider).render();
      else replace(root, pageHeading('Document provider'), noProvider(ctx));
    })
    .catch((err) => {
      if (!stopped) replace(root, pageHeading('Document provider'), errorParagraph(err));
    });
  return () => {
    stopped = true;
  };
};

/** What a provider is and how to get one. */
function noProvider(ctx: Ctx): HTMLElement {
  return h(
    'section',
    { class: 'panel' },
    emptyState('This tenant has no document provider yet.'),
    h(
      'p',
      {},
      'A provider is a WebAssembly module that answers Workfront’s document endpoints (',
      code('metadata'),
      ', ',
      code('files'),
      ', ',
      code('search'),
      ', ',
      code('download'),
      ', ',
      code('thumbnail'),
      ', uploads, folders…), so Workfront’s users browse, search, link, upload to and download from your store through the same integration as your actions. It is deployed, versioned, rolled back, limited and recorded like an action. A tenant has at most one.',
    ),
    h('p', {}, 'To add one, ', h('a', { href: tenantHref(ctx.tenant, 'deploy') }, 'deploy a module'), ' whose manifest says ', code('kind = "provider"'), ', for example:'),
    h(
      'pre',
      { class: 'code-block', tabindex: '0', 'aria-label': 'Example provider manifest' },
      'name = "docket-drive"\nkind = "provider"\ndisplay-name = "Docket Drive"\nmodule = "docket-drive.wasm"\n\n[capabilities]\nkey-value = "action"\nblob = true          # the tenant\'s object storage',
    ),
    h('p', {}, 'docs/providers.md in the Docket repository has the whole contract: the endpoints, their parameters and answers, and the limits. ', code('docket new --provider --lang rust my-drive'), ' starts one.'),
  );
}

class ProviderBrowser {
  private readonly endpoints: Set<string>;
  private path: Folder[];
  private offset = 0;
  /** Counts listing requests, so only the latest one's answer is shown (folder clicks may overtake). */
  private listingSeq = 0;
  private readonly username = h('input', { type: 'text', name: 'username', value: 'console', autocomplete: 'off', spellcheck: 'false' });
  private readonly listingHeading = h('h3', { tabindex: '-1' }, 'Folder');
  private readonly crumbs = h('nav', { 'aria-label': 'Folder path', class: 'breadcrumbs' });
  private readonly listingStatus = h('p', { role: 'status', class: 'status call-status' });
  private readonly listingError = h('div', { role: 'alert', class: 'form-error' });
  private readonly listing = h('div', { class: 'listing' });
  private readonly pager = h('div', { class: 'actions pager' });
  private readonly panelHeading = h('h3', { tabindex: '-1' }, 'Details');
  private readonly panelBody = h('div', {}, h('p', { class: 'muted' }, 'Choose a file to see its metadata.'));

  constructor(
    private readonly root: HTMLElement,
    private readonly ctx: Ctx,
    private readonly provider: Action,
  ) {
    this.endpoints = new Set(provider.endpoints ?? []);
    this.path = [{ id: ROOT_ID, title: provider.displayName || provider.name }];
  }

  render(): void {
    replace(this.root, pageHeading('Document provider'), this.about(), this.browserSection());
    if (this.endpoints.has('files')) void this.openFolder(this.path, 0);
  }

  private about(): HTMLElement {
    const p = this.provider;
    const headingId = uid('about');
    const endpoints = p.endpoints ?? [];
    return h(
      'section',
      { class: 'panel', 'aria-labelledby': headingId },
      h('h2', { id: headingId }, p.displayName || p.name),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Name'),
        h('dd', {}, code(p.name)),
        h('dt', {}, 'Live version'),
        h('dd', {}, `${p.liveVersion} (of ${p.versions})`, ' · ', h('a', { href: tenantHref(this.ctx.tenant, 'actions', p.name) }, 'versions and rollback')),
        h('dt', {}, 'Endpoints it answers'),
        h('dd', {}, endpoints.length === 0 ? 'none' : h('ul', { class: 'inline-list' }, ...endpoints.map((e) => h('li', {}, code(e))))),
      ),
    );
  }

  private browserSection(): HTMLElement {
    const headingId = uid('browse');
    const can = (e: string) => this.endpoints.has(e);
    this.panelHeading.id = uid('panel');
    return h(
      'section',
      { class: 'panel', 'aria-labelledby': headingId },
      h('h2', { id: headingId }, 'Browse as Workfront would'),
      h('p', {}, 'Each call runs the live version through the same path as Workfront’s, and is recorded in the run log.'),
      field('Workfront user for these calls', this.username, 'Sent as the user Workfront names (not verified).'),
      can('search') ? this.searchForm() : null,
      can('files') ? null : h('p', {}, 'This provider does not answer ', code('files'), ', so Workfront cannot list its folders.'),
      !can('files') && can('metadata') ? this.lookupForm() : null,
      h(
        'div',
        { class: 'browser' },
        h(
          'div',
          { class: 'browser-main' },
          this.crumbs,
          this.listingHeading,
          this.listingStatus,
          this.listingError,
          this.listing,
          this.pager,
        ),
        h('aside', { class: 'browser-panel', 'aria-labelledby': this.panelHeading.id }, this.panelHeading, this.panelBody),
      ),
    );
  }

  private searchForm(): HTMLElement {
    const query = h('input', { type: 'search', name: 'query', autocomplete: 'off' });
    const here = h('input', { type: 'checkbox', id: uid('here') });
    const form = h(
      'form',
      { class: 'search', role: 'search', 'aria-label': 'Search the provider' },
      field('Search files by name', query),
      h('div', { class: 'check' }, here, h('label', { for: here.id }, 'Only in the current folder')),
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Search')),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.search(query.value, here.checked ? this.current().id : undefined);
    });
    return form;
  }

  private lookupForm(): HTMLElement {
    const id = h('input', { type: 'text', name: 'id', autocomplete: 'off', value: ROOT_ID });
    const form = h(
      'form',
      { class: 'lookup' },
      field('Document id', id, 'The root folder is /'),
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Show metadata')),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.showDetails({ id: id.value, title: id.value, kind: 'file' });
    });
    return form;
  }

  private current(): Folder {
    return this.path[this.path.length - 1];
  }

  // ----- calling the provider -----

  /** Calls one endpoint through the admin API's try route, as Workfront would. */
  private async call(endpoint: string, params: Record<string, string>): Promise<Call> {
    // Readable, not URL-encoded: it is shown, never requested.
    const label = `${endpoint}?${Object.entries(params)
      .map(([k, v]) => `${k}=${v}`)
      .join('&')}`;
    let result: TryResult;
    try {
      result = await api<TryResult>('POST', `/tenants/${seg(this.ctx.tenant)}/try`, {
        endpoint,
        params,
        username: this.username.value.trim() || 'console',
      });
    } catch (err) {
      // Docket refused to make the call at all (the route's own error).
      return { result: null, summary: `${label}: not called`, error: describe(err) };
    }
    const summary = `${label} → HTTP ${result.status} · request id ${result.requestId}`;
    if (result.status >= 200 && result.status < 300) return { result, summary, error: null };
    return { result, summary, error: errorText(result) };
  }

  // ----- the listing -----

  private async openFolder(path: Folder[], offset: number): Promise<void> {
    this.path = path;
    this.offset = offset;
    this.renderCrumbs();
    this.listingHeading.textContent = `Folder: ${this.current().title}`;
    this.listingStatus.textContent = 'Loading…';
    const seq = ++this.listingSeq;
    const call = await this.call('files', {
      parentId: this.current().id,
      max: String(PAGE_SIZE),
      offset: String(offset),
    });
    if (seq !== this.listingSeq) return;
    this.showListing(call, (docs) => this.renderPager(docs.length));
  }

  private async search(query: string, parentId: string | undefined): Promise<void> {
    const params: Record<string, string> = { query, max: String(PAGE_SIZE), offset: '0' };
    if (parentId !== undefined) params.parentId = parentId;
    this.listingHeading.textContent = `Search results for “${query}”${parentId !== undefined ? ` in ${this.current().title}` : ''}`;
    this.listingStatus.textContent = 'Searching…';
    const seq = ++this.listingSeq;
    const call = await this.call('search', params);
    if (seq !== this.listingSeq) return;
    this.showListing(call, () => replace(this.pager));
    this.listingHeading.focus();
  }

  private showListing(call: Call, after: (docs: DocumentObject[]) => void): void {
    this.listingStatus.textContent = call.summary;
    replace(this.listingError, call.error ? h('p', {}, call.error) : null);
    if (call.error) {
      replace(this.listing);
      replace(this.pager);
      return;
    }
    const docs = Array.isArray(call.result?.body) ? (call.result?.body as DocumentObject[]) : [];
    replace(this.listing, docs.length === 0 ? emptyState('Nothing here.') : this.table(docs));
    after(docs);
  }

  private table(docs: DocumentObject[]): HTMLElement {
    const rows = docs.map((doc) => {
      const open = h('button', { type: 'button', class: 'link-button' }, doc.title || doc.id);
      if (doc.kind === 'folder') {
        open.setAttribute('aria-label', `Open folder ${doc.title || doc.id}`);
        open.addEventListener('click', () => {
          void this.openFolder([...this.path, { id: doc.id, title: doc.title || doc.id }], 0).then(() => this.listingHeading.focus());
        });
      } else {
        open.addEventListener('click', () => void this.showDetails(doc));
      }
      return [
        open,
        document.createTextNode(doc.kind === 'folder' ? 'Folder' : doc.mimeType ?? 'File'),
        document.createTextNode(doc.size === undefined ? '—' : formatBytes(doc.size)),
        doc.dateModified ? timeElement(doc.dateModified) : document.createTextNode('—'),
      ];
    });
    return scrollingTable('Folder contents', dataTable('Folder contents', ['Name', 'Kind', 'Size', 'Modified'], rows, { hiddenCaption: true }));
  }

  private renderCrumbs(): void {
    const items = this.path.map((folder, i) => {
      const last = i === this.path.length - 1;
      if (last) return h('li', {}, h('span', { 'aria-current': 'location' }, folder.title));
      const button = h('button', { type: 'button', class: 'link-button' }, folder.title);
      button.addEventListener('click', () => {
        void this.openFolder(this.path.slice(0, i + 1), 0).then(() => this.listingHeading.focus());
      });
      return h('li', {}, button);
    });
    replace(this.crumbs, h('ol', {}, ...items));
  }

  private renderPager(count: number): void {
    // One page holds the whole folder: nothing to page through.
    if (count < PAGE_SIZE && this.offset === 0) {
      replace(this.pager);
      return;
    }
    const previous = h('button', { type: 'button', class: 'secondary', disabled: this.offset === 0 }, 'Previous page');
    const next = h('button', { type: 'button', class: 'secondary', disabled: count < PAGE_SIZE }, 'Next page');
    previous.addEventListener('click', () => void this.openFolder(this.path, Math.max(0, this.offset - PAGE_SIZE)).then(() => this.listingHeading.focus()));
    next.addEventListener('click', () => void this.openFolder(this.path, this.offset + PAGE_SIZE).then(() => this.listingHeading.focus()));
    const shown = count === 0 ? 'no items' : `items ${this.offset + 1}–${this.offset + count}`;
    replace(this.pager, h('span', { class: 'muted' }, shown), previous, next);
  }

  // ----- the side panel -----

  private async showDetails(doc: DocumentObject): Promise<void> {
    this.panelHeading.textContent = doc.title || doc.id;
    const status = h('p', { role: 'status', class: 'status call-status' }, 'Loading…');
    const error = h('div', { role: 'alert', class: 'form-error' });
    const body = h('div');
    replace(this.panelBody, status, error, body);
    this.panelHeading.focus();
    let described = doc;
    if (this.endpoints.has('metadata')) {
      const call = await this.call('metadata', { id: doc.id });
      status.textContent = call.summary;
      if (call.error) replace(error, h('p', {}, call.error));
      else if (call.result?.body && typeof call.result.body === 'object') described = call.result.body as DocumentObject;
    } else {
      status.textContent = 'This provider does not answer metadata: what the listing said.';
    }
    // Another file was chosen meanwhile: its panel replaced this one.
    if (!body.isConnected) return;
    this.panelHeading.textContent = described.title || described.id;
    replace(body, metadataList(described));
    if (described.kind === 'file' && this.endpoints.has('thumbnail')) body.append(await this.thumbnail(described));
  }

  private async thumbnail(doc: DocumentObject): Promise<HTMLElement> {
    const call = await this.call('thumbnail', { id: doc.id, size: String(THUMBNAIL_SIZE) });
    const type = call.result?.contentType?.split(';')[0].trim() ?? '';
    const caption = h('figcaption', { class: 'muted' }, call.summary);
    if (call.error || !call.result?.base64 || !IMAGE_TYPES.test(type)) {
      const why = call.error ?? (call.result?.base64 ? `not an image this page shows (${type || 'no Content-Type'})` : 'no image in the answer');
      // Not an alert: most files have no thumbnail, and the user asked for the metadata.
      return h('figure', { class: 'thumbnail' }, h('p', {}, `No thumbnail: ${why}`), caption);
    }
    const img = h('img', { alt: `Thumbnail of ${doc.title || doc.id}`, src: `data:${type};base64,${call.result.base64}` });
    return h('figure', { class: 'thumbnail' }, img, caption);
  }
}

/** A document's fields, with its links only when they are web addresses. */
function metadataList(doc: DocumentObject): HTMLElement {
  const rows: [string, Node | string][] = [
    ['Id', code(doc.id)],
    ['Kind', doc.kind],
  ];
  if (doc.mimeType) rows.push(['MIME type', doc.mimeType]);
  if (doc.size !== undefined) {
    const exact = `${doc.size.toLocaleString()} bytes`;
    rows.push(['Size', doc.size < 1024 ? exact : `${formatBytes(doc.size)} (${exact})`]);
  }
  if (doc.dateModified) rows.push(['Modified', timeElement(doc.dateModified)]);
  if (doc.readOnly !== undefined) rows.push(['Read-only', doc.readOnly ? 'yes' : 'no']);
  const view = safeLink(doc.viewLink, `View ${doc.title}`, 'View');
  const download = safeLink(doc.downloadLink, `Download ${doc.title}`, 'Download');
  if (view) rows.push(['View link', view]);
  if (download) rows.push(['Download link', download]);
  return h('dl', { class: 'facts' }, ...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

/** A link only for http(s) addresses: a provider's text must not become a javascript: URL. */
function safeLink(url: string | undefined, label: string, text: string): HTMLElement | null {
  if (!url) return null;
  let parsed: URL;
  try {
    parsed = new URL(url, location.href);
  } catch {
    return code(url);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return code(url);
  return h('a', { href: parsed.href, target: '_blank', rel: 'noopener noreferrer', 'aria-label': `${label} (opens a new tab)` }, text);
}

/** The failure's own words: the JSON error field, else the text, else the status. */
function errorText(result: TryResult): string {
  const body = result.body;
  if (body && typeof body === 'object' && 'error' in body && typeof (body as { error: unknown }).error === 'string') {
    return `HTTP ${result.status}: ${(body as { error: string }).error}`;
  }
  if (result.text) return `HTTP ${result.status}: ${result.text}`;
  return `HTTP ${result.status}`;
}
