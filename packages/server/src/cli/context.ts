import type { Command } from 'commander';
import { type ApiClient, apiClient } from './api-client.js';
import type { OutputOptions } from './output.js';

export interface GlobalOptions extends OutputOptions {
  readonly url?: string;
  readonly token?: string;
}

/** The API client and output options of a command, from its own and the global flags. */
export function contextOf(command: Command): {
  api: ApiClient;
  out: OutputOptions;
  opts: Record<string, unknown>;
} {
  const opts = command.optsWithGlobals<GlobalOptions & Record<string, unknown>>();
  return { api: apiClient({ url: opts.url, token: opts.token }), out: { json: opts.json }, opts };
}

export const enc = encodeURIComponent;
