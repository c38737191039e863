// Bundles the console into dist/: app.js (esbuild, from src/main.ts),
// app.css and index.html copied as they are. The docket binary embeds
// dist/ at build time (runner/build.rs), so this must run before cargo.
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');

// Start from an empty dist/ so a renamed or removed asset is not embedded.
await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });

await build({
  entryPoints: [join(here, 'src', 'main.ts')],
  outfile: join(dist, 'app.js'),
  bundle: true,
  format: 'esm',
  target: 'es2020',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
});
await copyFile(join(here, 'src', 'app.css'), join(dist, 'app.css'));
await copyFile(join(here, 'src', 'index.html'), join(dist, 'index.html'));
