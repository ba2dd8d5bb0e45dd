import assert from 'node:assert/strict';
import http, { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { type AddressInfo, connect, createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { readBody, relayResponse, sendUpstream, WHOLE_BODY_LIMIT } from './http-forward.js';

/** Sends raw bytes to a server in the given pieces (a pause between them) and returns the raw answer. */
async function rawExchange(port: number, pieces: readonly string[], pauseMs = 30): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  let answer = '';
  socket.on('data', (chunk: Buffer) => {
    answer += chunk.toString('latin1');
  });
  for (const piece of pieces) {
    socket.write(piece);
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  await new Promise<void>((resolve) => {
    const check = () => (/\r\n\r\n/.test(answer) ? resolve() : setTimeout(check, 5));
    check();
  });
  await new Promise((resolve) => setTimeout(resolve, 20));
  socket.destroy();
  return answer;
}

/**
 * A proxy in front of `upstreamPort` that relays each GET with `relayResponse`
 * and tells `settle` how the relay ended (bytes passed on, or the rejection).
 */
async function relayingProxy(
  upstreamPort: number,
  headersOf: (upstream: IncomingMessage) => OutgoingHttpHeaders,
  settle: (res: ServerResponse, outcome: { bytes: number } | { error: Error }) => void,
): Promise<{ port: number; close(): Promise<void> }> {
  const proxy = http.createServer((req, res) => {
    const { response } = sendUpstream({
      url: new URL(`http://127.0.0.1:${upstreamPort}${req.url}`),
      method: 'GET',
      headers: {},
      body: null,
      timeoutMs: 5000,
    });
    void response
      .then((upstream) => relayResponse(upstream, res, upstream.statusCode ?? 502, headersOf(upstream)))
      .then(
        (bytes) => settle(res, { bytes }),
        (error: Error) => settle(res, { error }),
      );
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    port: (proxy.address() as AddressInfo).port,
    close: async () => {
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}

describe('reading and relaying bodies', () => {
  let server: http.Server;
  let port = 0;
  let handler: (req: IncomingMessage, res: ServerResponse) => void = () => undefined;
  before(async () => {
    server = http.createServer((req, res) => handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const echoLength = (limit: number) => {
    handler = (req, res) => {
      // after a microtask, as the gateway reads it (its handlers await before reading)
      void Promise.resolve().then(async () => {
        const body = await readBody(req, limit);
        res.end(body === null ? 'over' : `${body.length}:${body.toString('latin1')}`);
      });
    };
  };

  it('reads a body that came with its head, and one that comes later', async () => {
    echoLength(1024);
    const head = 'POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 11\r\nconnection: close\r\n\r\n';
    assert.match(await rawExchange(port, [`${head}hello world`]), /\r\n\r\n11:hello world$/);
    assert.match(await rawExchange(port, [head, 'hello', ' world']), /\r\n\r\n11:hello world$/);
    const chunked = 'POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n';
    assert.match(
      await rawExchange(port, [`${chunked}5\r\nhello\r\n`, '6\r\n world\r\n0\r\n\r\n']),
      /\r\n\r\n11:hello world$/,
    );
  });

  it('refuses a body over the limit, whether it came at once or in pieces', async () => {
    echoLength(4);
    const head = 'POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 11\r\nconnection: close\r\n\r\n';
    assert.match(await rawExchange(port, [`${head}hello world`]), /\r\n\r\nover$/);
    assert.match(await rawExchange(port, [head, 'hello', ' world']), /\r\n\r\nover$/);
  });

  it('relays small and large responses intact, and reuses the upstream connection', async () => {
    const sockets = new Set<unknown>();
    const relayed: number[] = [];
    const sizes = [0, 5, WHOLE_BODY_LIMIT, WHOLE_BODY_LIMIT + 1, 300_000];
    handler = (req, res) => {
      sockets.add(req.socket);
      const size = Number(req.url?.slice(1));
      const text = 'abcdefghij'.repeat(Math.ceil(size / 10)).slice(0, size);
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(size) });
      res.end(text);
    };
    // a proxy in front of it, relaying with relayResponse
    const proxy = await relayingProxy(
      port,
      (upstream) => ({ 'content-length': upstream.headers['content-length'] ?? '0', 'x-relayed': 'yes' }),
      (res, outcome) => ('bytes' in outcome ? relayed.push(outcome.bytes) : res.destroy()),
    );
    try {
      for (const size of [...sizes, ...sizes]) {
        const answer = await fetch(`http://127.0.0.1:${proxy.port}/${size}`);
        assert.equal(answer.headers.get('x-relayed'), 'yes');
        const text = await answer.text();
        assert.equal(text.length, size);
        assert.equal(text, 'abcdefghij'.repeat(Math.ceil(size / 10)).slice(0, size));
      }
      // one request at a time: every one went over the same pooled connection
      assert.equal(sockets.size, 1);
      assert.deepEqual(relayed, [...sizes, ...sizes], 'each relay counts the bytes it passed on');
    } finally {
      await proxy.close();
    }
  });

  it('rejects a body whose sender goes away before or while it is read, and one that stalls', async () => {
    const outcomes: string[] = [];
    const reading = (delayMs: number, timeoutMs = 0) => {
      handler = (req, res) => {
        setTimeout(() => {
          readBody(req, 1024, timeoutMs).then(
            (body) => {
              outcomes.push(`read ${body?.length}`);
              res.end();
            },
            (error: Error) => {
              outcomes.push(`rejected: ${error.message}`);
              res.destroy();
            },
          );
        }, delayMs);
      };
    };
    const settled = async (n: number) => {
      for (let i = 0; i < 200 && outcomes.length < n; i++) await new Promise((r) => setTimeout(r, 10));
    };
    const partial = 'POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 11\r\n\r\nhello';
    const send = async (text: string, keepMs: number) => {
      const socket = connect(port, '127.0.0.1');
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      socket.write(text);
      await new Promise((r) => setTimeout(r, keepMs));
      socket.destroy();
    };
    // gone before the handler reads (it reads 100 ms later)
    reading(100);
    await send(partial, 20);
    await settled(1);
    // gone while the handler waits for the rest
    reading(0);
    await send(partial, 50);
    await settled(2);
    // still connected, but the rest never comes: the timeout
    reading(0, 100);
    await send(partial, 400);
    await settled(3);
    assert.equal(outcomes.length, 3, outcomes.join('; '));
    assert.equal(outcomes[0], 'rejected: the body ended before it was complete');
    // (Node reports a connection reset while it is being read as `aborted`)
    assert.match(outcomes[1] ?? '', /^rejected: (aborted|the body ended before it was complete)$/);
    assert.equal(outcomes[2], 'rejected: the body did not arrive within 0.1 s');
  });

  it('refuses an upstream status that is not one, whenever the body arrives, without crashing', async () => {
    // a raw upstream answering `042`, its body in two pieces (the whole-body path waits for the second)
    const raw = createServer((socket) => {
      socket.once('data', () => {
        socket.write('HTTP/1.1 042 X\r\ncontent-length: 4\r\n\r\nab');
        setTimeout(() => socket.end('cd'), 30);
      });
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    const proxy = await relayingProxy(
      (raw.address() as AddressInfo).port,
      () => ({}),
      (res, outcome) => ('bytes' in outcome ? res.end() : res.writeHead(502).end(outcome.error.message)),
    );
    try {
      const answer = await fetch(`http://127.0.0.1:${proxy.port}/`);
      assert.equal(answer.status, 502);
      assert.equal(await answer.text(), 'the upstream answered with an invalid status (42)');
    } finally {
      await proxy.close();
      await new Promise<void>((resolve) => raw.close(() => resolve()));
    }
  });
});
