// Runs one call of the transpiled js-webdav component (see component.test.mjs), as
// Docket would: `node component-run.mjs <module> <base-url> <call> <json args>`.
// download.write writes to this process's stdout (a wasi:io output-stream from jco's
// shim); upload reads this process's stdin. The answer goes to stderr as one JSON line.
import { stdout, stdin } from '@bytecodealliance/preview2-shim/cli';

const [modulePath, baseUrl, call, json] = process.argv.slice(2);
const m = await import(modulePath);
const args = JSON.parse(json ?? '[]');
const ctx = { tenant: 'acme', username: 'jane.doe', usernameVerified: true, params: [], config: [['base-url', baseUrl]], requestId: 'req-1' };
const show = (v) => JSON.stringify(v ?? null, (k, x) => (typeof x === 'bigint' ? `${x}n` : x));
let answer;
try {
  if (call === 'download') {
    const content = await m.download.open(ctx, ...args);
    await m.download.write(stdout.getStdout());
    answer = { ok: content };
  } else if (call === 'upload') {
    const [id, size] = args;
    answer = { ok: (await m.upload.upload(ctx, id, stdin.getStdin(), size == null ? undefined : BigInt(size))) ?? null };
  } else {
    const [iface, fn] = call.split('.');
    answer = { ok: (await m[iface][fn](ctx, ...args)) ?? null };
  }
} catch (e) {
  answer = { err: e.payload ?? String(e) };
}
process.stderr.write(show(answer) + '\n');
process.exit(0);
