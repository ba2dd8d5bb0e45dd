import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';

/** Debian's Chromium; tests never let a tool download a browser of its own. */
export const CHROMIUM = '/usr/bin/chromium';
const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
export const CONSOLE_INDEX = `${REPO}packages/console/dist/index.html`;
export const ARTIFACTS = `${REPO}test-artifacts/console`;

/**
 * Installs Debian's `chromium` package when it is missing (as root, as CI and
 * sessions run): a no-op when it is there. apt waits for a lock held by another
 * installer instead of failing.
 */
export function ensureChromium(): string {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  if (process.getuid?.() !== 0) {
    throw new Error(`${CHROMIUM} is missing: install it with \`apt-get install -y chromium\` (needs root)`);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const lock = ['-o', 'DPkg::Lock::Timeout=300'];
  execFileSync('apt-get', [...lock, 'update', '-qq'], { env, stdio: 'inherit', timeout: 300_000 });
  execFileSync('apt-get', [...lock, 'install', '-y', '-qq', 'chromium'], {
    env,
    stdio: 'inherit',
    timeout: 600_000,
  });
  if (!existsSync(CHROMIUM)) throw new Error(`installing chromium did not produce ${CHROMIUM}`);
  return CHROMIUM;
}

/** Builds the console when its files are missing (running this test alone, before `npm run build`). */
export function ensureConsoleBuilt(): void {
  if (existsSync(CONSOLE_INDEX)) return;
  const run = spawnSync('npm', ['run', 'build', '-w', 'packages/console'], { cwd: REPO, stdio: 'inherit' });
  if (run.status !== 0 || !existsSync(CONSOLE_INDEX)) throw new Error('building the console failed');
}

/**
 * Headless Chromium driven by playwright-core. Playwright gives every launch a
 * fresh temporary profile (its own `--user-data-dir`); the flags keep Chromium
 * off the network (this machine has none) and quiet.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: ensureChromium(),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
