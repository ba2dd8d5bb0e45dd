/**
 * The upstream of the gateway benchmark, in its own process: a minimal MCP
 * server over Streamable HTTP (JSON responses, a session id) with one `echo`
 * tool, and a plain HTTP route. Deliberately cheap, so the benchmark measures
 * what the gateway adds rather than the upstream's own cost.
 *
 * Usage: node --import tsx bench/gateway-upstream.ts <port>
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
const sessions = new Set<string>();
const TOOLS = [
  {
    name: 'echo',
    description: 'Echoes its message',
    inputSchema: { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] },
  },
];

function send(
  res: import('node:http').ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (req.url?.startsWith('/api/')) return send(res, 200, { id: req.url.slice(5), status: 'paid' });
    if (req.method === 'DELETE') return res.writeHead(200).end();
    if (req.method !== 'POST') return res.writeHead(405).end();
    const message = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
      id?: number | string;
      method?: string;
      params?: { arguments?: { message?: string } };
    };
    if (message.method === 'initialize') {
      const id = randomUUID();
      sessions.add(id);
      return send(
        res,
        200,
        {
          jsonrpc: '2.0',
          id: message.id,
          result: {
            protocolVersion: '2025-06-18',
            capabilities: { tools: {} },
            serverInfo: { name: 'bench', version: '1' },
          },
        },
        { 'mcp-session-id': id },
      );
    }
    if (message.id === undefined) return res.writeHead(202).end();
    if (message.method === 'tools/list')
      return send(res, 200, { jsonrpc: '2.0', id: message.id, result: { tools: TOOLS } });
    if (message.method === 'tools/call') {
      return send(res, 200, {
        jsonrpc: '2.0',
        id: message.id,
        result: { content: [{ type: 'text', text: `Echo: ${message.params?.arguments?.message ?? ''}` }] },
      });
    }
    return send(res, 200, { jsonrpc: '2.0', id: message.id, error: { code: -32601, message: 'not found' } });
  });
}).listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
