// The built component, not just its sources: $DIST/js-webdav.wasm (default
// actions-wasm/dist) transpiled by jco (from componentize-js's install in
// $TOOLCHAINS/js, default .toolchains) and run under node with jco's WASI shim, so
// the JavaScript runs in StarlingMonkey and fetch goes through wasi:http, against
// `rclone serve webdav`. Skipped when the component, jco or rclone is missing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { haveRclone, startWebdav } from './rclone.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = resolve(here, '../../..');
const wasm = join(process.env.DIST ?? join(root, 'actions-wasm/dist'), 'js-webdav.wasm');
const modules = join(process.env.TOOLCHAINS ?? join(root, '.toolchains'), 'js/node_modules');
const jco = join(modules, '.bin/jco');
const skip = !existsSync(wasm)
  ? `${wasm} is not built (bash actions-wasm/js-webdav/build.sh)`
  : !existsSync(jco)
    ? `jco is not installed (${jco}; build.sh installs componentize-js, which brings it)`
    : !haveRclone()
      ? 'rclone is not installed (apt-get install rclone)'
      : false;

let work;
let dav;
let module;

before(async () => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), 'js-webdav-component-'));
  symlinkSync(modules, join(work, 'node_modules'));
  // Beside node_modules, so its import of jco's WASI shim resolves.
  copyFileSync(join(here, 'component-run.mjs'), join(work, 'component-run.mjs'));
  for (const [name, source] of Object.entries({
    'config.js': 'export const getAll = () => []; export const get = () => undefined;',
    'keyvalue.js': "export class Bucket {} export const open = () => { throw { tag: 'other', val: 'none' }; }; export const increment = () => 0n;",
    'blob.js': 'export const size = () => undefined; export const read = () => new Uint8Array(); export const write = () => {};' +
      ' export const writeFrom = () => 0n; export const readInto = () => 0n; const del = () => false; export { del as delete };',
  })) writeFileSync(join(work, name), source);
  const out = spawnSync(jco, ['transpile', wasm, '-o', join(work, 'out'), '--name', 'js-webdav',
    '--map', 'wasi:config/store=../config.js', '--map', 'wasi:keyvalue/*=../keyvalue.js',
    '--map', 'docket:provider/blob=../blob.js', '--map', 'docket:provider/types=../blob.js'], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  module = join(work, 'out/js-webdav.js');
  dav = await startWebdav();
});
after(async () => {
  if (dav) await dav.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

// One call in a child process; answers { answer, stdout }.
function run(call, args = [], input, base = dav.url) {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(work, 'component-run.mjs'), module, base, call, JSON.stringify(args)], {
      cwd: work, stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out = [];
    let err = '';
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill(), 60000);
    child.on('error', fail);
    child.on('close', () => {
      clearTimeout(timer);
      const line = err.trim().split('\n').pop();
      try {
        done({ answer: JSON.parse(line), stdout: Buffer.concat(out) });
      } catch {
        fail(new Error(`${call}: no answer (stderr: ${err})`));
      }
    });
    child.stdin.end(input ?? '');
  });
}

test('the built component answers every endpoint against a real WebDAV server', { skip, timeout: 300000 }, async () => {
  mkdirSync(join(dav.dir, 'Reports'));
  writeFileSync(join(dav.dir, 'Reports/Quarterly.txt'), 'q');
  const data = randomBytes(50_000);
  writeFileSync(join(dav.dir, 'data.bin'), data);

  let r = await run('metadata.metadata', ['/data.bin']);
  assert.equal(r.answer.ok.size, '50000n');
  r = await run('metadata.metadata', ['/nope']);
  assert.equal(r.answer.err.tag, 'not-found');
  r = await run('metadata.metadata', ['/'], undefined, 'http://127.0.0.1:1/');
  assert.deepEqual(r.answer.err.tag, 'failed');
  assert.match(r.answer.err.val, /could not be reached \(NetworkError/, 'a refused fetch is a failure with its message, not a trap');
  r = await run('files.files', ['/', 10, 0]);
  assert.deepEqual(r.answer.ok.map((d) => d.id), ['/Reports', '/data.bin']);
  r = await run('search.search', ['quarter', undefined, 10, 0]);
  assert.deepEqual(r.answer.ok.map((d) => d.id), ['/Reports/Quarterly.txt']);

  r = await run('download', ['/data.bin']);
  assert.equal(r.answer.ok.size, '50000n');
  assert.ok(r.stdout.equals(data), `download: ${r.stdout.length} bytes`);

  r = await run('createFolder.createFolder', ['/', 'New folder']);
  assert.equal(r.answer.ok.id, '/New folder');
  r = await run('createFolder.createFolder', ['/', 'New folder']);
  assert.match(r.answer.err.val, /already exists/);
  r = await run('uploadInit.uploadInit', ['/New folder', 'up.bin', 'wf-doc', 'wf-ver']);
  assert.equal(r.answer.ok.id, '/New folder/up.bin');
  const upload = randomBytes(200_000);
  r = await run('upload', ['/New folder/up.bin', upload.length], upload);
  assert.deepEqual(r.answer, { ok: null });
  assert.ok(readFileSync(join(dav.dir, 'New folder/up.bin')).equals(upload));
  r = await run('rename.rename', ['/New folder', 'Renamed']);
  assert.deepEqual(r.answer, { ok: null });
  assert.ok(existsSync(join(dav.dir, 'Renamed/up.bin')));
  r = await run('delete.delete', ['/Renamed']);
  assert.deepEqual(r.answer, { ok: null });
  assert.ok(!existsSync(join(dav.dir, 'Renamed')));
});
