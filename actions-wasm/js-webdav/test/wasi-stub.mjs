// Runs guest code under node: registers a module hook that answers the WASI and
// Docket imports componentize-js would link (`wasi:config/store@…`) with the
// stubs below. Use: node --import ./test/wasi-stub.mjs --test test/
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`
export async function resolve(specifier, context, next) {
  if (specifier.startsWith('wasi:') || specifier.startsWith('docket:')) {
    return { url: 'stub:' + specifier, shortCircuit: true };
  }
  return next(specifier, context);
}
export async function load(url, context, next) {
  if (url === 'stub:wasi:config/store@0.2.0-rc.1') {
    return {
      format: 'module',
      shortCircuit: true,
      source: 'export const getAll = () => (globalThis.__wasiConfig ?? []).slice();' +
        'export const get = (k) => (globalThis.__wasiConfig ?? []).find(([key]) => key === k)?.[1];',
    };
  }
  if (url.startsWith('stub:')) throw new Error('no stub for ' + url.slice(5));
  return next(url, context);
}
`),
);
