import type {
  AgentKeyRecord,
  FederatedIssuerRecord,
  IssuedTokenRecord,
  SigningKeyRecord,
} from './records.js';
import type { SqlExecutor } from './sql-driver.js';
import { issuedTokenStatement, SQL } from './statements.js';
import type { Repositories } from './store.js';

type SigningKeyRow = {
  kid: string;
  alg: SigningKeyRecord['alg'];
  public_jwk: string;
  private_key: string;
  state: SigningKeyRecord['state'];
  created_at: number;
  activated_at: number | null;
  retired_at: number | null;
  publish_until: number | null;
};
const num = (v: number | null) => (v === null ? null : Number(v));
const toSigningKey = (r: SigningKeyRow): SigningKeyRecord => ({
  kid: r.kid,
  alg: r.alg,
  publicJwk: JSON.parse(r.public_jwk) as Record<string, unknown>,
  privateKey: r.private_key,
  state: r.state,
  createdAt: Number(r.created_at),
  activatedAt: num(r.activated_at),
  retiredAt: num(r.retired_at),
  publishUntil: num(r.publish_until),
});

type AgentKeyRow = {
  agent_id: string;
  kid: string;
  alg: string;
  jwk: string;
  thumbprint: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
};
const toAgentKey = (r: AgentKeyRow): AgentKeyRecord => ({
  agentId: r.agent_id,
  kid: r.kid,
  alg: r.alg,
  jwk: JSON.parse(r.jwk) as Record<string, unknown>,
  thumbprint: r.thumbprint,
  createdAt: Number(r.created_at),
  expiresAt: Number(r.expires_at),
  revokedAt: num(r.revoked_at),
});

type IssuedTokenRow = {
  jti: string;
  agent_id: string;
  credential: string;
  issued_at: number;
  expires_at: number;
  revoked_at: number | null;
  subject: string | null;
  consent_id: string | null;
};
const toIssuedToken = (r: IssuedTokenRow): IssuedTokenRecord => ({
  subject: r.subject,
  consentId: r.consent_id,
  jti: r.jti,
  agentId: r.agent_id,
  credential: r.credential,
  issuedAt: Number(r.issued_at),
  expiresAt: Number(r.expires_at),
  revokedAt: num(r.revoked_at),
});

type IssuerRow = {
  id: string;
  issuer: string;
  jwks: string | null;
  jwks_uri: string | null;
  audiences: string;
  rules: string;
  created_at: number;
};
const toIssuer = (r: IssuerRow): FederatedIssuerRecord => ({
  id: r.id,
  issuer: r.issuer,
  jwks: r.jwks === null ? null : (JSON.parse(r.jwks) as FederatedIssuerRecord['jwks']),
  jwksUri: r.jwks_uri,
  audiences: JSON.parse(r.audiences) as string[],
  rules: JSON.parse(r.rules) as FederatedIssuerRecord['rules'],
  createdAt: Number(r.created_at),
});

type OAuthRepositories = Pick<
  Repositories,
  'signingKeys' | 'agentKeys' | 'issuedTokens' | 'usedJtis' | 'federatedIssuers'
>;

/** The authorization server's tables, in the SQL both dialects share. */
export function oauthRepositories(ex: SqlExecutor): OAuthRepositories {
  return {
    signingKeys: {
      async reseal(kid, privateKey) {
        await ex.write('UPDATE signing_keys SET private_key = $1 WHERE kid = $2', [privateKey, kid]);
      },
      async insert(k) {
        await ex.write(
          `INSERT INTO signing_keys (kid, alg, public_jwk, private_key, state, created_at, activated_at, retired_at, publish_until)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [
            k.kid,
            k.alg,
            JSON.stringify(k.publicJwk),
            k.privateKey,
            k.state,
            k.createdAt,
            k.activatedAt,
            k.retiredAt,
            k.publishUntil,
          ],
        );
      },
      async list() {
        const rows = await ex.all<SigningKeyRow>('SELECT * FROM signing_keys ORDER BY created_at, kid');
        return rows.map(toSigningKey);
      },
      async setState(kid, from, to, fields) {
        const { changes } = await ex.write(
          `UPDATE signing_keys SET state = $1, activated_at = COALESCE($2, activated_at),
             retired_at = COALESCE($3, retired_at), publish_until = COALESCE($4, publish_until)
             WHERE kid = $5 AND state = $6`,
          [to, fields.activatedAt ?? null, fields.retiredAt ?? null, fields.publishUntil ?? null, kid, from],
        );
        return changes === 1;
      },
      async deleteExpired(now) {
        const { rows } = await ex.write<{ kid: string }>(
          "DELETE FROM signing_keys WHERE state = 'retired' AND publish_until <= $1 RETURNING kid",
          [now],
        );
        return rows.map((r) => r.kid);
      },
    },

    agentKeys: {
      async insert(k) {
        await ex.write(
          `INSERT INTO agent_keys (agent_id, kid, alg, jwk, thumbprint, created_at, expires_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [
            k.agentId,
            k.kid,
            k.alg,
            JSON.stringify(k.jwk),
            k.thumbprint,
            k.createdAt,
            k.expiresAt,
            k.revokedAt,
          ],
        );
      },
      async get(agentId, kid) {
        const rows = await ex.all<AgentKeyRow>('SELECT * FROM agent_keys WHERE agent_id = $1 AND kid = $2', [
          agentId,
          kid,
        ]);
        return rows[0] ? toAgentKey(rows[0]) : null;
      },
      async list(agentId) {
        const rows = await ex.all<AgentKeyRow>(
          'SELECT * FROM agent_keys WHERE agent_id = $1 ORDER BY created_at, kid',
          [agentId],
        );
        return rows.map(toAgentKey);
      },
      async revoke(agentId, kid, at) {
        const { rows } = await ex.write<AgentKeyRow>(
          'UPDATE agent_keys SET revoked_at = $1 WHERE agent_id = $2 AND kid = $3 AND revoked_at IS NULL RETURNING *',
          [at, agentId, kid],
        );
        return rows[0] ? toAgentKey(rows[0]) : null;
      },
    },

    issuedTokens: {
      async insert(t) {
        const { sql, params } = issuedTokenStatement(t);
        await ex.write(sql, params);
      },
      async get(jti) {
        const rows = await ex.all<IssuedTokenRow>('SELECT * FROM issued_tokens WHERE jti = $1', [jti]);
        return rows[0] ? toIssuedToken(rows[0]) : null;
      },
      async revoke(jti, at) {
        const { changes } = await ex.write(
          'UPDATE issued_tokens SET revoked_at = $1 WHERE jti = $2 AND revoked_at IS NULL',
          [at, jti],
        );
        return changes === 1;
      },
      async revokeForConsent(consentId, at) {
        const { changes } = await ex.write(
          'UPDATE issued_tokens SET revoked_at = $1 WHERE consent_id = $2 AND revoked_at IS NULL AND expires_at > $1',
          [at, consentId],
        );
        return changes;
      },
      async revokeForAgent(agentId, at, credential) {
        const { changes } = await ex.write(
          `UPDATE issued_tokens SET revoked_at = $1
             WHERE agent_id = $2 AND revoked_at IS NULL AND expires_at > $1 AND (CAST($3 AS TEXT) IS NULL OR credential = CAST($3 AS TEXT))`,
          [at, agentId, credential ?? null],
        );
        return changes;
      },
      async deleteExpired(now) {
        return (await ex.write('DELETE FROM issued_tokens WHERE expires_at <= $1', [now])).changes;
      },
    },

    usedJtis: {
      async claim(scope, jti, expiresAt) {
        const { changes } = await ex.write(SQL.claimJti, [scope, jti, expiresAt]);
        return changes === 1;
      },
      async deleteExpired(now) {
        return (await ex.write('DELETE FROM used_jtis WHERE expires_at <= $1', [now])).changes;
      },
    },

    federatedIssuers: {
      async insert(f) {
        await ex.write(
          `INSERT INTO federated_issuers (id, issuer, jwks, jwks_uri, audiences, rules, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [
            f.id,
            f.issuer,
            f.jwks === null ? null : JSON.stringify(f.jwks),
            f.jwksUri,
            JSON.stringify(f.audiences),
            JSON.stringify(f.rules),
            f.createdAt,
          ],
        );
      },
      async list() {
        return (await ex.all<IssuerRow>('SELECT * FROM federated_issuers ORDER BY created_at, id')).map(
          toIssuer,
        );
      },
      async getByIssuer(issuer) {
        const rows = await ex.all<IssuerRow>('SELECT * FROM federated_issuers WHERE issuer = $1', [issuer]);
        return rows[0] ? toIssuer(rows[0]) : null;
      },
      async delete(id) {
        return (await ex.write('DELETE FROM federated_issuers WHERE id = $1', [id])).changes === 1;
      },
    },
  };
}
