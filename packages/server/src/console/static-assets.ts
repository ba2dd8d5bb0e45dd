import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `npm run build` puts the console (packages/console/dist), from src/ or dist/ alike. */
export const DEFAULT_CONSOLE_DIR: string = fileURLToPath(new URL('../../../console/dist/', import.meta.url));

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

export interface ConsoleAsset {
  readonly body: Buffer;
  readonly type: string;
  /** Under `assets/`: the name carries a content hash, so it may be cached for good. */
  readonly immutable: boolean;
}

export interface ConsoleAssets {
  /** The file at `path` (relative to the console root, `/`-separated), or null. */
  get(path: string): Promise<ConsoleAsset | null>;
  /** `index.html`, or null when the console is not built. */
  index(): Promise<ConsoleAsset | null>;
}

async function walk(root: string, dir: string, files: Map<string, ConsoleAsset>): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await walk(root, path, files);
    else if (entry.isFile()) {
      const type = TYPES[extname(entry.name).toLowerCase()];
      if (!type) continue; // only known kinds of files are served
      const rel = relative(root, path).split(sep).join('/');
      files.set(rel, { body: await readFile(path), type, immutable: rel.startsWith('assets/') });
    }
  }
}

/**
 * The built console, held in memory (a few hundred kB). Only files found in
 * the build directory are ever served, so no request path reaches the file
 * system. A rebuild is picked up without a restart: `index.html` changing
 * (its mtime) reloads the set; a missing build is looked for again on each request.
 */
export function loadConsoleAssets(dir: string = DEFAULT_CONSOLE_DIR): ConsoleAssets {
  let loaded: { mtimeMs: number; files: Map<string, ConsoleAsset> } | null = null;
  let loading: Promise<void> | null = null;

  async function refresh(): Promise<void> {
    let mtimeMs: number;
    try {
      mtimeMs = (await stat(join(dir, 'index.html'))).mtimeMs;
    } catch {
      loaded = null;
      return;
    }
    if (loaded?.mtimeMs === mtimeMs) return;
    const files = new Map<string, ConsoleAsset>();
    await walk(dir, dir, files);
    loaded = { mtimeMs, files };
  }
  const fresh = async () => {
    loading ??= refresh().finally(() => {
      loading = null;
    });
    await loading;
  };

  return {
    async get(path) {
      if (!loaded) await fresh();
      const hit = loaded?.files.get(path);
      if (hit) return hit;
      await fresh();
      return loaded?.files.get(path) ?? null;
    },
    async index() {
      await fresh();
      return loaded?.files.get('index.html') ?? null;
    },
  };
}
