// js-webdav end to end under node: the provider's exports, as componentize-js calls
// them (raw context records, stream stand-ins), with node's fetch against a real
// WebDAV server (`rclone serve webdav` on a temporary directory). Run with the WASI
// stubs: node --import ./actions-wasm/js-webdav/test/wasi-stub.mjs --test actions-wasm/js-webdav/test/
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { haveRclone, startWebdav } from './rclone.mjs';
import { FakeOutputStream, FakeInputStream } from './streams.mjs';

const skip = haveRclone() ? false : 'rclone is not installed (apt-get install rclone)';
let dav;
let p;

const ctx = (config = {}) => ({
  tenant: 'acme',
  username: 'jane.doe',
  usernameVerified: true,
  params: [],
  config: Object.entries({ 'base-url': dav.url, ...config }),
  requestId: 'req-1',
});
const ok = (r) => {
  assert.equal(r.tag, 'ok', `expected ok, got ${JSON.stringify(r, (k, v) => (typeof v === 'bigint' ? `${v}n` : v))}`);
  return r.val;
};
const fails = (r, kind, pattern) => {
  assert.equal(r.tag, 'err', `expected ${kind}, got ok`);
  assert.equal(r.val.tag, kind, r.val.val);
  if (pattern) assert.match(r.val.val, pattern);
};

before(async () => {
  if (skip) return;
  dav = await startWebdav();
  mkdirSync(join(dav.dir, 'Reports/2026'), { recursive: true });
  mkdirSync(join(dav.dir, 'archive'));
  writeFileSync(join(dav.dir, 'Reports/q1 – café.pdf'), 'pdf bytes');
  writeFileSync(join(dav.dir, 'Reports/2026/Quarterly report.txt'), 'x'.repeat(10));
  writeFileSync(join(dav.dir, 'b.txt'), 'bee');
  writeFileSync(join(dav.dir, 'A & B #1.txt'), 'amp');
  p = await import('../webdav.js');
});
after(async () => {
  if (dav) await dav.stop();
});

test('the exports are the interfaces componentize-js looks for', { skip }, () => {
  for (const [name, fns] of Object.entries({
    metadata: ['metadata'], files: ['files'], search: ['search'], download: ['open', 'write'],
    uploadInit: ['uploadInit'], upload: ['upload'], createFolder: ['createFolder'], delete: ['delete'], rename: ['rename'],
  })) {
    for (const fn of fns) assert.equal(typeof p[name][fn], 'function', `${name}.${fn}`);
  }
  assert.equal(p.thumbnail, undefined);
});

test('metadata of the root, a folder and a file; unknown ids are not found', { skip }, async () => {
  const root = ok(await p.metadata.metadata(ctx(), '/'));
  assert.equal(root.id, '/');
  assert.equal(root.kind, 'folder');
  const folder = ok(await p.metadata.metadata(ctx(), '/Reports'));
  assert.equal(folder.kind, 'folder');
  assert.equal(folder.title, 'Reports');
  const file = ok(await p.metadata.metadata(ctx(), '/Reports/q1 – café.pdf'));
  assert.equal(file.title, 'q1 – café.pdf');
  assert.equal(file.kind, 'file');
  assert.equal(file.size, 9n);
  assert.equal(file.mimeType, 'application/pdf');
  assert.match(file.dateModified, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  fails(await p.metadata.metadata(ctx(), '/nope.txt'), 'not-found', /not found \(404 Not Found\)/);
  fails(await p.metadata.metadata(ctx(), '/a/../b'), 'not-found', /not a valid id/);
});

test('files: folders first, then files by title, paged', { skip }, async () => {
  const all = ok(await p.files.files(ctx(), '/', 100, 0));
  assert.deepEqual(all.map((d) => d.id), ['/archive', '/Reports', '/A & B #1.txt', '/b.txt']);
  assert.deepEqual(ok(await p.files.files(ctx(), '/', 2, 1)).map((d) => d.id), ['/Reports', '/A & B #1.txt']);
  assert.deepEqual(ok(await p.files.files(ctx(), '/', 10, 4)), []);
  fails(await p.files.files(ctx(), '/missing', 10, 0), 'not-found');
  fails(await p.files.files(ctx(), '/b.txt', 10, 0), 'failed', /is a file|not found/);
});

test('search walks the tree, ignoring case, paged', { skip }, async () => {
  const hits = ok(await p.search.search(ctx(), 'REPORT', undefined, 100, 0));
  assert.deepEqual(hits.map((d) => d.id), ['/Reports', '/Reports/2026/Quarterly report.txt']);
  assert.deepEqual(ok(await p.search.search(ctx(), 'report', undefined, 1, 1)).map((d) => d.id), ['/Reports/2026/Quarterly report.txt']);
  assert.deepEqual(ok(await p.search.search(ctx(), 'café', '/Reports', 10, 0)).map((d) => d.id), ['/Reports/q1 – café.pdf']);
  assert.deepEqual(ok(await p.search.search(ctx(), '', undefined, 10, 0)), []);
});

test('download streams the file in chunks of at most 4,096 bytes, then drops the body', { skip }, async () => {
  const data = randomBytes(100_000);
  writeFileSync(join(dav.dir, 'big.bin'), data);
  const content = ok(await p.download.open(ctx(), '/big.bin'));
  assert.equal(content.size, 100_000n);
  assert.equal(content.filename, 'big.bin');
  const out = new FakeOutputStream();
  ok(await p.download.write(out));
  assert.ok(out.bytes().equals(data));
  assert.ok(out.calls >= 25);
  assert.equal(out.dropped, 1);
  fails(await p.download.open(ctx(), '/Reports'), 'failed', /is a folder/);
  fails(await p.download.open(ctx(), '/none.bin'), 'not-found');
});

test('a download whose file changed in between fails in write, and the body is kept', { skip }, async () => {
  writeFileSync(join(dav.dir, 'moving.txt'), 'short');
  ok(await p.download.open(ctx(), '/moving.txt'));
  writeFileSync(join(dav.dir, 'moving.txt'), 'much longer now');
  const out = new FakeOutputStream();
  const r = await p.download.write(out);
  assert.equal(r.tag, 'err');
  assert.match(r.val, /changed while it was being downloaded/);
  assert.equal(out.dropped, 0);
});

test('uploadInit makes an empty file, refuses an existing name; upload streams the body', { skip }, async () => {
  const doc = ok(await p.uploadInit.uploadInit(ctx(), '/Reports', 'new report.docx', 'wf-doc', 'wf-ver'));
  assert.equal(doc.id, '/Reports/new report.docx');
  assert.equal(doc.kind, 'file');
  assert.equal(doc.size, 0n);
  assert.equal(readFileSync(join(dav.dir, 'Reports/new report.docx')).length, 0);
  fails(await p.uploadInit.uploadInit(ctx(), '/Reports', 'new report.docx'), 'failed', /already exists/);
  fails(await p.uploadInit.uploadInit(ctx(), '/nowhere', 'x.txt'), 'not-found');
  fails(await p.uploadInit.uploadInit(ctx(), '/', 'a/b'), 'failed', /cannot contain/);

  const data = randomBytes(300_000);
  const body = new FakeInputStream(data, 7000);
  ok(await p.upload.upload(ctx(), doc.id, body, BigInt(data.length)));
  assert.ok(readFileSync(join(dav.dir, 'Reports/new report.docx')).equals(data));
  assert.equal(body.dropped, 1);
  const unsized = new FakeInputStream('no length given');
  ok(await p.upload.upload(ctx(), doc.id, unsized, undefined));
  assert.equal(readFileSync(join(dav.dir, 'Reports/new report.docx'), 'utf8'), 'no length given');
  fails(await p.upload.upload(ctx(), '/gone.txt', new FakeInputStream('x'), 1n), 'not-found');
  fails(await p.upload.upload(ctx(), '/Reports', new FakeInputStream('x'), 1n), 'failed', /is a folder/);
});

test('createFolder, rename, delete', { skip }, async () => {
  const folder = ok(await p.createFolder.createFolder(ctx(), '/archive', 'Q1 & Q2'));
  assert.deepEqual([folder.id, folder.kind, folder.title], ['/archive/Q1 & Q2', 'folder', 'Q1 & Q2']);
  fails(await p.createFolder.createFolder(ctx(), '/archive', 'Q1 & Q2'), 'failed', /already exists/);
  fails(await p.createFolder.createFolder(ctx(), '/missing', 'x'), 'not-found');

  writeFileSync(join(dav.dir, 'archive/Q1 & Q2/inside.txt'), 'in');
  ok(await p.rename.rename(ctx(), '/archive/Q1 & Q2', 'Half #1'));
  assert.ok(existsSync(join(dav.dir, 'archive/Half #1/inside.txt')));
  writeFileSync(join(dav.dir, 'archive/taken.txt'), 't');
  writeFileSync(join(dav.dir, 'archive/mine.txt'), 'm');
  fails(await p.rename.rename(ctx(), '/archive/mine.txt', 'taken.txt'), 'failed', /already exists/);
  assert.equal(readFileSync(join(dav.dir, 'archive/taken.txt'), 'utf8'), 't');
  ok(await p.rename.rename(ctx(), '/archive/mine.txt', 'mine.txt'));
  fails(await p.rename.rename(ctx(), '/', 'x'), 'forbidden');

  ok(await p.delete.delete(ctx(), '/archive/Half #1'));
  assert.ok(!existsSync(join(dav.dir, 'archive/Half #1')));
  ok(await p.delete.delete(ctx(), '/archive/mine.txt'));
  fails(await p.delete.delete(ctx(), '/archive/mine.txt'), 'not-found');
  fails(await p.delete.delete(ctx(), '/'), 'forbidden');
});

test('configuration problems and an unreachable server are failures with the reason', { skip }, async () => {
  fails(await p.metadata.metadata({ ...ctx(), config: [] }, '/'), 'failed', /base-url/);
  fails(await p.metadata.metadata(ctx({ 'base-url': 'http://127.0.0.1:1/' }), '/'), 'failed', /could not be reached/);
});

test('Basic auth from the secrets in wasi:config/store; 401 is forbidden', { skip }, async () => {
  const locked = await startWebdav({ user: 'dav-user', password: 'pässwörd' });
  try {
    const base = { ...ctx(), config: [['base-url', locked.url]] };
    fails(await p.metadata.metadata(base, '/'), 'forbidden', /401/);
    globalThis.__wasiConfig = [['base-url', locked.url], ['webdav-user', 'dav-user'], ['webdav-password', 'pässwörd']];
    try {
      assert.equal(ok(await p.metadata.metadata(base, '/')).kind, 'folder');
    } finally {
      globalThis.__wasiConfig = undefined;
    }
    const wrong = { ...ctx(), config: [['base-url', locked.url], ['webdav-user', 'dav-user'], ['webdav-password', 'no']] };
    fails(await p.metadata.metadata(wrong, '/'), 'forbidden');
  } finally {
    await locked.stop();
  }
});
