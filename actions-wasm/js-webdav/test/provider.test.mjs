// guest-sdk/js/provider.js under node: what each export answers for what a handler
// returns or throws, the context it sees, and the stream helpers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeProvider, forbidden, notFound, failed, writeBody } from '../../../guest-sdk/js/provider.js';
import { FakeOutputStream, FakeInputStream } from './streams.mjs';

const raw = { tenant: 't', username: 'u', usernameVerified: true, params: [['a', '1'], ['a', '2'], ['constructor', 'x']], config: [['k', 'v']], requestId: 'r' };
const doc = { id: '/x', title: 'x', kind: 'file' };

test('answers become ok, failures err, and any exception failed(its message)', async () => {
  const p = makeProvider({
    metadata: async (ctx, id) => {
      if (id === 'forbidden') return forbidden('no');
      if (id === 'thrown') throw notFound('gone');
      if (id === 'type') return null.x;
      if (id === 'error') throw new Error('boom');
      if (id === 'string') throw 'plain';
      if (id === 'bad') return { id: '/b', title: 'b', kind: 'dir' };
      if (id === 'size') return { ...doc, size: -1 };
      return { ...doc, size: 5, dateModified: new Date(0), readOnly: 1 };
    },
  });
  assert.deepEqual(Object.keys(p), ['metadata']);
  const call = (id) => p.metadata.metadata(raw, id);
  assert.deepEqual(await call('ok'), {
    tag: 'ok',
    val: { id: '/x', title: 'x', kind: 'file', mimeType: undefined, size: 5n, dateModified: '1970-01-01T00:00:00.000Z', viewLink: undefined, downloadLink: undefined, readOnly: true },
  });
  assert.deepEqual(await call('forbidden'), { tag: 'err', val: { tag: 'forbidden', val: 'no' } });
  assert.deepEqual(await call('thrown'), { tag: 'err', val: { tag: 'not-found', val: 'gone' } });
  const type = await call('type');
  assert.equal(type.val.tag, 'failed');
  assert.match(type.val.val, /^TypeError: /);
  assert.deepEqual(await call('error'), { tag: 'err', val: { tag: 'failed', val: 'boom' } });
  assert.deepEqual(await call('string'), { tag: 'err', val: { tag: 'failed', val: 'plain' } });
  assert.match((await call('bad')).val.val, /kind must be "file" or "folder"/);
  assert.match((await call('size')).val.val, /out of range/);
});

test('the context: plain tables, first value wins, usernameVerified a boolean', async () => {
  let seen;
  const p = makeProvider({ files: (ctx) => ((seen = ctx), []) });
  assert.deepEqual(await p.files.files({ ...raw, usernameVerified: false }, '/', 10, 0), { tag: 'ok', val: [] });
  assert.equal(Object.getPrototypeOf(seen.params), null);
  assert.equal(seen.params.a, '1');
  assert.equal(seen.params.constructor, 'x');
  assert.equal(seen.config.k, 'v');
  assert.equal(seen.usernameVerified, false);
  globalThis.__wasiConfig = [['k', 'other'], ['secret', 's']];
  try {
    await p.files.files(raw, '/', 10, 0);
    assert.equal(seen.config.k, 'v', 'the context wins over the store');
    assert.equal(seen.config.secret, 's');
  } finally {
    globalThis.__wasiConfig = undefined;
  }
});

test('download as one function: open answers the content, write streams the body and drops it', async () => {
  const data = new Uint8Array(10_000).map((_, i) => i & 255);
  const p = makeProvider({ download: async () => ({ mimeType: 'text/plain', size: data.length, filename: 'a.txt', body: async () => new Response(data) }) });
  assert.deepEqual(await p.download.open(raw, '/a'), { tag: 'ok', val: { mimeType: 'text/plain', size: 10000n, filename: 'a.txt' } });
  const out = new FakeOutputStream();
  assert.deepEqual(await p.download.write(out), { tag: 'ok', val: undefined });
  assert.deepEqual(new Uint8Array(out.bytes()), data);
  assert.equal(out.dropped, 1);

  const short = makeProvider({ download: () => ({ size: 3, body: 'ab' }) });
  await short.download.open(raw, '/s');
  const out2 = new FakeOutputStream();
  assert.deepEqual(await short.download.write(out2), { tag: 'err', val: 'the download was 2 bytes, not the 3 announced' });
  assert.equal(out2.dropped, 0, 'a failed write leaves the body to Docket');
  assert.deepEqual(await short.download.write(new FakeOutputStream()), { tag: 'err', val: 'download.write was called before a successful download.open' });
});

test('download as { open, write }, and writeBody sources', async () => {
  const p = makeProvider({ download: { open: () => ({ mimeType: 'a/b' }), write: async (out) => { await writeBody(out, ['x', new Uint8Array([1, 2])]); } } });
  assert.deepEqual(await p.download.open(raw, '/'), { tag: 'ok', val: { mimeType: 'a/b', size: undefined, filename: undefined } });
  const out = new FakeOutputStream();
  assert.deepEqual(await p.download.write(out), { tag: 'ok', val: undefined });
  assert.deepEqual([...out.bytes()], [120, 1, 2]);
  await assert.rejects(writeBody(new FakeOutputStream(), new Response('no', { status: 404 })), /HTTP 404/);
  assert.equal(await writeBody(new FakeOutputStream(), null), 0);
});

test('upload: the body as chunks, a ReadableStream or bytes, bounded; dropped afterwards', async () => {
  const seen = [];
  const p = makeProvider({
    upload: async (ctx, id, body, size) => {
      seen.push(size);
      if (id === 'bytes') return void seen.push(body.bytes({ maxBytes: 10 }));
      if (id === 'stream') return void seen.push(Buffer.from(await new Response(body.stream()).arrayBuffer()).toString());
      if (id === 'twice') { body.bytes(); body.bytes(); }
    },
  });
  const input = new FakeInputStream('hello', 2);
  assert.deepEqual(await p.upload.upload(raw, 'bytes', input, 5n), { tag: 'ok', val: undefined });
  assert.deepEqual(seen.splice(0), [5, new TextEncoder().encode('hello')]);
  assert.equal(input.dropped, 1);
  assert.deepEqual(await p.upload.upload(raw, 'stream', new FakeInputStream('streamed body', 3), undefined), { tag: 'ok', val: undefined });
  assert.deepEqual(seen.splice(0), [undefined, 'streamed body']);
  const big = await p.upload.upload(raw, 'bytes', new FakeInputStream('more than ten bytes'), undefined);
  assert.equal(big.val.tag, 'failed');
  assert.match(big.val.val, /more than the 10 bytes/);
  assert.match((await p.upload.upload(raw, 'twice', new FakeInputStream(''), 0n)).val.val, /only once/);
});

test('a stream error reads as one, and other endpoints pass their arguments through', async () => {
  const p = makeProvider({
    search: (ctx, query, parentId, max, offset) => [{ ...doc, title: `${query}|${parentId}|${max}|${offset}` }],
    uploadInit: (ctx, parentId, filename, documentId, documentVersionId) => ({ ...doc, title: `${parentId}|${filename}|${documentId}|${documentVersionId}` }),
    createFolder: () => ({ id: '/f', title: 'f', kind: 'folder' }),
    delete: () => {},
    rename: () => failed(),
    thumbnail: () => ({ mimeType: 'image/png', bytes: [1, 2] }),
  });
  assert.equal((await p.search.search(raw, 'q', undefined, 5, 1)).val[0].title, 'q|undefined|5|1');
  assert.equal((await p.uploadInit.uploadInit(raw, '/', 'n', undefined, 'v')).val.title, '/|n|undefined|v');
  assert.equal((await p.createFolder.createFolder(raw, '/', 'f')).val.kind, 'folder');
  assert.deepEqual(await p.delete.delete(raw, '/x'), { tag: 'ok', val: undefined });
  assert.deepEqual(await p.rename.rename(raw, '/x', 'y'), { tag: 'err', val: { tag: 'failed', val: 'the provider failed' } });
  assert.deepEqual(await p.thumbnail.thumbnail(raw, '/x', 200), { tag: 'ok', val: { mimeType: 'image/png', bytes: new Uint8Array([1, 2]) } });
  const out = new FakeOutputStream();
  const q = makeProvider({ download: () => ({ body: new Uint8Array(5000) }) });
  await q.download.open(raw, '/');
  out.blockingWriteAndFlush = () => { throw Object.assign(new Error('x'), { payload: { tag: 'last-operation-failed', val: { toDebugString: () => 'connection reset' } } }); };
  assert.deepEqual(await q.download.write(out), { tag: 'err', val: 'stream error: connection reset' });
});
