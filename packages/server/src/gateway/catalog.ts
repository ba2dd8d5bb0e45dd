import { isObject } from './json-rpc.js';
import type { StdioConnection } from './stdio-connection.js';
import type { CatalogTool } from './upstream-spec.js';

const MAX_TOOLS = 1000;

function toTool(raw: unknown): CatalogTool | null {
  if (!isObject(raw) || typeof raw.name !== 'string' || raw.name.length === 0 || raw.name.length > 200)
    return null;
  return {
    name: raw.name,
    description: typeof raw.description === 'string' ? raw.description.slice(0, 2000) : '',
    inputSchema: isObject(raw.inputSchema) ? raw.inputSchema : { type: 'object', properties: {} },
  };
}

/** Lists the tools of an MCP server over Streamable HTTP, as an MCP client (the SDK's), with the gateway's credential. */
export async function discoverHttpTools(
  url: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<CatalogTool[]> {
  // loaded on demand: the SDK (and its schema library) is not needed to serve calls
  const [{ Client }, { StreamableHTTPClientTransport }] = await Promise.all([
    import('@modelcontextprotocol/sdk/client/index.js'),
    import('@modelcontextprotocol/sdk/client/streamableHttp.js'),
  ]);
  const client = new Client({ name: 'custos-gateway', version: '1' });
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  await client.connect(transport, { timeout: timeoutMs });
  try {
    return await collect(async (cursor) => {
      const page = await client.listTools(cursor ? { cursor } : {}, { timeout: timeoutMs });
      return { tools: page.tools as unknown[], nextCursor: page.nextCursor };
    });
  } finally {
    await transport.terminateSession().catch(() => undefined);
    await client.close().catch(() => undefined);
  }
}

/** Lists the tools of a stdio server through its (shared) connection. */
export function discoverStdioTools(connection: StdioConnection, timeoutMs: number): Promise<CatalogTool[]> {
  return collect(async (cursor) => {
    const answer = await connection.request('tools/list', cursor ? { cursor } : {}, timeoutMs);
    if (answer.error || !isObject(answer.result))
      throw new Error(`\`tools/list\` failed: ${answer.error?.message ?? 'no result'}`);
    const result = answer.result;
    return {
      tools: Array.isArray(result.tools) ? result.tools : [],
      nextCursor: typeof result.nextCursor === 'string' ? result.nextCursor : undefined,
    };
  });
}

async function collect(
  page: (cursor: string | undefined) => Promise<{ tools: unknown[]; nextCursor: string | undefined }>,
): Promise<CatalogTool[]> {
  const tools: CatalogTool[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 100; pages++) {
    const next = await page(cursor);
    for (const raw of next.tools) {
      const tool = toTool(raw);
      if (tool && tools.length < MAX_TOOLS && !tools.some((t) => t.name === tool.name)) tools.push(tool);
    }
    if (!next.nextCursor) break;
    cursor = next.nextCursor;
  }
  return tools.sort((a, b) => (a.name < b.name ? -1 : 1));
}
