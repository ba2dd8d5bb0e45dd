import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import type { Logger } from 'pino';
import {
  asMessage,
  isNotification,
  isObject,
  isRequest,
  type JsonRpcNotification,
  type JsonRpcResponse,
  LATEST_PROTOCOL_VERSION,
  RPC,
  rpcError,
} from './json-rpc.js';
import type { StdioMcpTransport } from './upstream-spec.js';

/** What the server answered to the gateway's `initialize`. */
export interface ServerHello {
  readonly protocolVersion: string;
  readonly capabilities: Record<string, unknown>;
  readonly serverInfo: Record<string, unknown>;
  readonly instructions?: string;
}

interface Pending {
  resolve(response: JsonRpcResponse): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

const MAX_LINE = 16 * 1024 * 1024;

/**
 * One MCP server the gateway runs as a child process (stdio transport), shared
 * by every session of the server: the gateway initializes it once and
 * multiplexes requests with ids of its own. Supervised: when it exits it is
 * restarted with backoff (1 s doubling to 30 s); requests in flight fail.
 * The child gets only PATH-like variables and its own configured environment,
 * never the gateway's (which holds the master key).
 */
export class StdioConnection {
  private child: ChildProcessWithoutNullStreams | null = null;
  private hello: ServerHello | null = null;
  private ready: Promise<ServerHello> | null = null;
  private readonly pending = new Map<string, Pending>();
  private nextId = 0;
  private closing = false;
  private backoffMs = 1_000;
  private restartTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly name: string,
    private readonly transport: StdioMcpTransport,
    private readonly environment: () => Promise<Record<string, string>>,
    private readonly logger: Logger,
    private readonly redact: (text: string) => string,
    private readonly onNotification: (message: JsonRpcNotification) => void = () => undefined,
  ) {}

  /** Starts the child (if not running) and resolves with its `initialize` answer. */
  start(): Promise<ServerHello> {
    if (this.closing) return Promise.reject(new Error(`stdio server \`${this.name}\` is stopped`));
    this.ready ??= this.spawnAndInitialize().catch((error: unknown) => {
      this.ready = null;
      this.scheduleRestart();
      throw error;
    });
    return this.ready;
  }

  /** The last `initialize` answer, when running. */
  info(): ServerHello | null {
    return this.hello;
  }

  private async spawnAndInitialize(): Promise<ServerHello> {
    const env = await this.environment();
    const child = spawn(this.transport.command, [...this.transport.args], {
      env,
      cwd: this.transport.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child = child;
    let buffer = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_LINE) {
        this.logger.warn({ server: this.name }, 'stdio server wrote an oversized message; restarting it');
        child.kill();
        return;
      }
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        const line = buffer.slice(0, newline).replace(/\r$/, '');
        buffer = buffer.slice(newline + 1);
        if (line.trim() !== '') this.onLine(line);
        newline = buffer.indexOf('\n');
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      this.logger.debug(
        { server: this.name, stderr: this.redact(chunk).slice(0, 2000) },
        'stdio server stderr',
      );
    });
    child.on('error', (error) =>
      this.logger.error({ server: this.name, err: error }, 'stdio server failed to start'),
    );
    child.on('exit', (code, signal) => this.onExit(child, code, signal));
    const answer = await this.send(
      {
        method: 'initialize',
        params: {
          protocolVersion: LATEST_PROTOCOL_VERSION,
          // no client capabilities: the gateway answers no sampling, roots or elicitation requests
          capabilities: {},
          clientInfo: { name: 'custos-gateway', version: '1' },
        },
      },
      30_000,
    );
    if (answer.error || !isObject(answer.result)) {
      throw new Error(
        `stdio server \`${this.name}\` refused to initialize: ${answer.error?.message ?? 'no result'}`,
      );
    }
    this.write({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const r = answer.result;
    this.hello = {
      protocolVersion: typeof r.protocolVersion === 'string' ? r.protocolVersion : LATEST_PROTOCOL_VERSION,
      capabilities: isObject(r.capabilities) ? r.capabilities : {},
      serverInfo: isObject(r.serverInfo) ? r.serverInfo : { name: this.name, version: '0' },
      ...(typeof r.instructions === 'string' ? { instructions: r.instructions } : {}),
    };
    this.backoffMs = 1_000;
    this.logger.info({ server: this.name, pid: child.pid }, 'stdio MCP server started');
    return this.hello;
  }

  private onLine(line: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      this.logger.debug({ server: this.name }, 'stdio server wrote a line that is not JSON');
      return;
    }
    const message = asMessage(parsed);
    if (!message) return;
    if (isRequest(message)) {
      // server-to-client requests (sampling, roots, elicitation): the gateway declared none of them
      this.write(
        rpcError(message.id, RPC.methodNotFound, `the gateway does not answer \`${message.method}\``),
      );
      return;
    }
    if (isNotification(message)) {
      this.onNotification(message);
      return;
    }
    const response = message as JsonRpcResponse;
    const key = String(response.id);
    const pending = this.pending.get(key);
    if (!pending) return;
    this.pending.delete(key);
    clearTimeout(pending.timer);
    pending.resolve(response);
  }

  private onExit(
    child: ChildProcessWithoutNullStreams,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): void {
    if (this.child !== child) return;
    this.child = null;
    this.hello = null;
    this.ready = null;
    for (const [key, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new Error(`stdio server \`${this.name}\` exited`));
      this.pending.delete(key);
    }
    if (this.closing) return;
    this.logger.warn({ server: this.name, code, signal }, 'stdio MCP server exited; restarting');
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.closing || this.restartTimer) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, 30_000);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      this.start().catch((error: unknown) =>
        this.logger.warn({ server: this.name, err: error }, 'stdio server restart failed'),
      );
    }, delay);
    this.restartTimer.unref();
  }

  private write(message: unknown): void {
    this.child?.stdin.write(`${JSON.stringify(message)}\n`);
  }

  private send(
    message: { method: string; params?: Record<string, unknown> },
    timeoutMs: number,
  ): Promise<JsonRpcResponse> {
    const child = this.child;
    if (!child) return Promise.reject(new Error(`stdio server \`${this.name}\` is not running`));
    const id = `custos-${++this.nextId}`;
    return new Promise<JsonRpcResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`stdio server \`${this.name}\` did not answer within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.write({ jsonrpc: '2.0', id, ...message });
    });
  }

  /** Sends a request (a fresh id of the gateway's) once the server is ready; resolves with its response. */
  async request(
    method: string,
    params: Record<string, unknown> | undefined,
    timeoutMs: number,
  ): Promise<JsonRpcResponse> {
    await this.start();
    return this.send(params === undefined ? { method } : { method, params }, timeoutMs);
  }

  /** Forwards a notification (`notifications/cancelled` carries an id the caller already mapped). */
  notify(method: string, params?: Record<string, unknown>): void {
    this.write({ jsonrpc: '2.0', method, ...(params ? { params } : {}) });
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child) return;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), 2_000);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.stdin.end();
      child.kill('SIGTERM');
    });
  }
}
