import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built CLI (`npm run build` first), run as users run it. */
export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly args: readonly string[];
}

/** Runs `custos <args>` to completion against `url` with `token` (no other CUSTOS_* variable leaks in). */
export function runCli(args: readonly string[], env: { url: string; token: string }): Promise<CliRun> {
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env))
    if (!key.startsWith('CUSTOS_')) childEnv[key] = value;
  delete childEnv.NODE_TEST_CONTEXT;
  childEnv.CUSTOS_URL = env.url;
  childEnv.CUSTOS_TOKEN = env.token;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, args }));
  });
}

export const describeRun = (run: CliRun) =>
  `custos ${run.args.join(' ')} → code ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;

/** Asserts success (exit 0, nothing on stderr) and returns stdout. */
export function succeeded(run: CliRun): string {
  assert.equal(run.code, 0, describeRun(run));
  assert.equal(run.stderr, '', describeRun(run));
  return run.stdout;
}

/** Asserts the CLI's failure contract: non-zero exit, nothing on stdout, one `custos: …` line on stderr. */
export function failedWith(run: CliRun, pattern: RegExp): string {
  assert.notEqual(run.code, 0, describeRun(run));
  assert.equal(run.stdout, '', describeRun(run));
  assert.match(run.stderr, /^custos: [^\n]+\n$/, describeRun(run));
  assert.match(run.stderr, pattern, describeRun(run));
  return run.stderr;
}
