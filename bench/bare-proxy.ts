/**
 * A second floor for the gateway benchmark, in its own process: the simplest
 * Node.js reverse proxy in front of the benchmark's upstream (`http` server,
 * keep-alive `http.request`, bodies buffered, headers passed through). It
 * authenticates, decides and records nothing, so what it adds over calling the
 * upstream directly is what any Node.js proxy hop costs on this machine.
 *
 * Usage: node bench/bare-proxy.ts <port> <upstream port>   (also under tsx)
 */
import http from 'node:http';

const [port, upstreamPort] = process.argv.slice(2).map(Number);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
// the gateway's paths, mapped to the upstream's
const rewrite = (path: string) => path.replace(/^\/gw\/billing\//, '/api/').replace(/^\/mcp\/bench$/, '/mcp');

http
  .createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const headers = { ...req.headers, 'content-length': String(body.length) };
      delete headers.host;
      delete headers.connection;
      const out = http.request(
        {
          host: '127.0.0.1',
          port: upstreamPort,
          method: req.method,
          path: rewrite(req.url ?? '/'),
          agent,
          headers,
        },
        (upstream) => {
          const parts: Buffer[] = [];
          upstream.on('data', (c: Buffer) => parts.push(c));
          upstream.on('end', () => {
            const answer = Buffer.concat(parts);
            res.writeHead(upstream.statusCode ?? 502, {
              'content-type': upstream.headers['content-type'] ?? 'application/octet-stream',
              'content-length': answer.length,
            });
            res.end(answer);
          });
        },
      );
      out.on('error', () => res.writeHead(502).end());
      out.end(body);
    });
  })
  .listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
