import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { CliError } from './api-client.js';

/** Every file under `dir` (recursively) whose name ends with `suffix`, sorted by relative path. */
async function filesUnder(dir: string, suffix: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (at: string) => {
    for (const entry of await readdir(at, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const path = join(at, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.name.endsWith(suffix)) out.push(path);
    }
  };
  await walk(dir);
  return out.sort();
}

async function requireDirectory(dir: string): Promise<void> {
  let isDir = false;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) throw new CliError(`\`${dir}\` is not a directory`);
}

/**
 * The `.cedar` files of a policy directory, as the API's `sources`: each named
 * by its path relative to the directory (`/`-separated), so a policy without an
 * `@id` annotation gets a stable id from its file name.
 */
export async function readPolicyDir(dir: string): Promise<{ name: string; text: string }[]> {
  await requireDirectory(dir);
  const files = await filesUnder(dir, '.cedar');
  return Promise.all(
    files.map(async (file) => ({
      name: relative(dir, file).split(sep).join('/'),
      text: await readFile(file, 'utf8'),
    })),
  );
}

/** Parses a JSON file, with a one-line error naming the file. */
export async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read \`${file}\`: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new CliError(`\`${file}\` is not JSON: ${(error as Error).message}`);
  }
}

/** Policy test cases: from `file`, or every `*.test.json` under `dir`. Each file holds an array of cases or `{ "cases": [...] }`. */
export async function readTestCases(dir: string, file: string | undefined): Promise<unknown[]> {
  let files = file ? [file] : [];
  if (!file) {
    await requireDirectory(dir);
    files = await filesUnder(dir, '.test.json');
  }
  if (files.length === 0)
    throw new CliError(`no test cases: no \`*.test.json\` file under \`${dir}\` (or pass --cases)`);
  const cases: unknown[] = [];
  for (const f of files) {
    const parsed = await readJsonFile(f);
    const list = Array.isArray(parsed) ? parsed : (parsed as { cases?: unknown } | null)?.cases;
    if (!Array.isArray(list))
      throw new CliError(`\`${f}\` must hold an array of test cases or { "cases": [...] }`);
    cases.push(...list);
  }
  return cases;
}

/** `Type::"id"` (Cedar uid text) into `{ type, id }`. */
export function parseUid(text: string): { type: string; id: string } {
  const match = /^([_a-zA-Z][_a-zA-Z0-9]*(?:::[_a-zA-Z][_a-zA-Z0-9]*)*)::("(?:[^"\\]|\\.)*")$/s.exec(
    text.trim(),
  );
  if (!match?.[1] || !match[2])
    throw new CliError(`\`${text}\` is not an entity reference like Tool::"server/tool"`);
  try {
    return { type: match[1], id: JSON.parse(match[2]) as string };
  } catch {
    throw new CliError(`\`${text}\` is not an entity reference like Tool::"server/tool"`);
  }
}
