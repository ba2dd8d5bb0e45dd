import type { Logger } from 'pino';
import type { Clock } from '../core/index.js';
import { type MasterKey, revealSecret } from '../secrets/index.js';
import type { Store } from '../storage/index.js';
import type { StdioMcpTransport, UpstreamAuth } from './upstream-spec.js';

const SECRET_TTL_MS = 60_000;

interface UpstreamToken {
  readonly value: string;
  readonly expiresAt: number;
}

/**
 * The credentials the gateway presents to upstreams. Secret values come from
 * the vault at call time and are kept decrypted in memory for at most a minute,
 * dropped at once when the secret changes anywhere (`secret` changes on the
 * feed). Upstream OAuth tokens (client credentials) are cached until shortly
 * before they expire, and dropped when the upstream refuses them.
 * Values are never logged: errors name the secret, never its value.
 */
export class UpstreamCredentials {
  private readonly secrets = new Map<string, { value: string; until: number }>();
  private readonly tokens = new Map<string, UpstreamToken>();
  private readonly pending = new Map<string, Promise<UpstreamToken>>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly deps: {
      readonly store: Store;
      readonly clock: Clock;
      readonly master: MasterKey;
      readonly logger: Logger;
    },
  ) {
    this.unsubscribe = deps.store.changes.subscribe((change) => {
      if (change.id === '*') {
        this.secrets.clear();
        this.tokens.clear();
      } else if (change.topic === 'secret') {
        this.secrets.delete(change.id);
        // tokens obtained with a changed client secret are dropped with it
        this.tokens.clear();
      }
    });
  }

  close(): void {
    this.unsubscribe();
    this.secrets.clear();
    this.tokens.clear();
  }

  /** The plaintext of a vault secret (fails closed: a missing or tampered secret throws). */
  async secret(name: string): Promise<string> {
    const now = this.deps.clock.now();
    const hit = this.secrets.get(name);
    if (hit && hit.until > now && this.deps.store.changes.healthy()) return hit.value;
    const value = await revealSecret(this.deps, name);
    if (this.deps.store.changes.healthy()) this.secrets.set(name, { value, until: now + SECRET_TTL_MS });
    return value;
  }

  /** Every secret value currently held, so text from upstream processes can be redacted before it is logged. */
  heldValues(): string[] {
    return [...this.secrets.values()]
      .map((s) => s.value)
      .concat([...this.tokens.values()].map((t) => t.value));
  }

  /** Headers that authenticate the gateway to the upstream `key` (`mcp:<name>` or `http:<name>`). */
  async headers(key: string, auth: UpstreamAuth): Promise<Record<string, string>> {
    switch (auth.type) {
      case 'none':
        return {};
      case 'header':
        return { [auth.header.toLowerCase()]: `${auth.prefix ?? ''}${await this.secret(auth.secret)}` };
      case 'bearer':
        return { authorization: `Bearer ${await this.secret(auth.secret)}` };
      case 'oauth_client_credentials':
        return { authorization: `Bearer ${(await this.upstreamToken(key, auth)).value}` };
    }
  }

  /** The upstream refused our credentials: forget its cached token so the next call gets a new one. */
  refused(key: string): void {
    this.tokens.delete(key);
  }

  /** The environment of a stdio server: PATH, its plain variables and its secret ones (never Custos' own). */
  async environment(transport: StdioMcpTransport): Promise<Record<string, string>> {
    const env: Record<string, string> = {};
    for (const name of ['PATH', 'HOME', 'LANG', 'TMPDIR', 'SYSTEMROOT']) {
      const value = process.env[name];
      if (value !== undefined) env[name] = value;
    }
    Object.assign(env, transport.env);
    for (const [variable, secret] of Object.entries(transport.secretEnv))
      env[variable] = await this.secret(secret);
    return env;
  }

  private async upstreamToken(
    key: string,
    auth: Extract<UpstreamAuth, { type: 'oauth_client_credentials' }>,
  ): Promise<UpstreamToken> {
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > this.deps.clock.now()) return cached;
    let pending = this.pending.get(key);
    if (!pending) {
      pending = this.fetchToken(auth).finally(() => this.pending.delete(key));
      this.pending.set(key, pending);
    }
    const token = await pending;
    this.tokens.set(key, token);
    return token;
  }

  private async fetchToken(
    auth: Extract<UpstreamAuth, { type: 'oauth_client_credentials' }>,
  ): Promise<UpstreamToken> {
    const secret = await this.secret(auth.clientSecret);
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (auth.scope) form.set('scope', auth.scope);
    if (auth.resource) form.set('resource', auth.resource);
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
    if ((auth.method ?? 'client_secret_basic') === 'client_secret_basic') {
      // RFC 6749 §2.3.1: form-urlencode each part before base64
      const pair = `${encodeURIComponent(auth.clientId)}:${encodeURIComponent(secret)}`;
      headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
    } else {
      form.set('client_id', auth.clientId);
      form.set('client_secret', secret);
    }
    const started = this.deps.clock.now();
    let response: Response;
    try {
      response = await fetch(auth.tokenUrl, {
        method: 'POST',
        headers,
        body: form,
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      throw new Error(`the upstream token endpoint \`${auth.tokenUrl}\` is unreachable`, { cause: error });
    }
    const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (!response.ok || typeof body.access_token !== 'string') {
      // the error code only: the body could echo what we sent
      throw new Error(
        `the upstream token endpoint \`${auth.tokenUrl}\` refused the client credentials (${response.status}${typeof body.error === 'string' ? ` ${body.error}` : ''})`,
      );
    }
    const lifetime = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 300;
    const margin = Math.min(30, lifetime / 2);
    return { value: body.access_token, expiresAt: started + (lifetime - margin) * 1000 };
  }
}
