// Starts `rclone serve webdav` on a temporary directory at a free 127.0.0.1 port,
// for the tests; skips (answers null) when rclone is not installed.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const haveRclone = () => spawnSync('rclone', ['version'], { stdio: 'ignore' }).status === 0;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** { url, dir, stop() } of a fresh WebDAV server; with `user`, Basic auth is required. */
export async function startWebdav({ user, password } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'js-webdav-'));
  const port = await freePort();
  const args = ['serve', 'webdav', dir, '--addr', `127.0.0.1:${port}`, '--config', '/dev/null', '--log-level', 'ERROR', '--dir-cache-time', '0s'];
  if (user) args.push('--user', user, '--pass', password ?? '');
  const child = spawn('rclone', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const url = `http://127.0.0.1:${port}/`;
  const deadline = Date.now() + 15000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`rclone exited: ${stderr}`);
    try {
      await fetch(url, { method: 'OPTIONS' });
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill();
        throw new Error(`rclone did not start: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    dir,
    async stop() {
      child.kill();
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
