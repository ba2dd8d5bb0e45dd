import type { ConsentRecord, IdentityProviderRecord } from './records.js';
import type { SqlExecutor } from './sql-driver.js';
import type { Repositories } from './store.js';

type IdpRow = {
  id: string;
  issuer: string;
  jwks: string | null;
  jwks_uri: string | null;
  audience: string;
  claim: 'sub' | 'email';
  jit_users: number;
  created_at: number;
};
const toIdp = (r: IdpRow): IdentityProviderRecord => ({
  id: r.id,
  issuer: r.issuer,
  jwks: r.jwks === null ? null : (JSON.parse(r.jwks) as IdentityProviderRecord['jwks']),
  jwksUri: r.jwks_uri,
  audience: r.audience,
  claim: r.claim,
  jitUsers: Number(r.jit_users) === 1,
  createdAt: Number(r.created_at),
});

type ConsentRow = {
  id: string;
  user_id: string;
  agent_id: string;
  scopes: string;
  created_by: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  tools: string | null;
};
const toConsent = (r: ConsentRow): ConsentRecord => ({
  id: r.id,
  userId: r.user_id,
  agentId: r.agent_id,
  scopes: JSON.parse(r.scopes) as string[],
  createdBy: r.created_by,
  createdAt: Number(r.created_at),
  expiresAt: Number(r.expires_at),
  revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
  tools: r.tools === null ? null : (JSON.parse(r.tools) as string[]),
});

/** Identity providers for people, their subjects, and consents, in the SQL both dialects share. */
export function delegationRepositories(
  ex: SqlExecutor,
): Pick<Repositories, 'identityProviders' | 'consents'> {
  return {
    identityProviders: {
      async insert(i) {
        await ex.write(
          `INSERT INTO identity_providers (id, issuer, jwks, jwks_uri, audience, claim, jit_users, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [
            i.id,
            i.issuer,
            i.jwks === null ? null : JSON.stringify(i.jwks),
            i.jwksUri,
            i.audience,
            i.claim,
            i.jitUsers ? 1 : 0,
            i.createdAt,
          ],
        );
      },
      async list() {
        return (await ex.all<IdpRow>('SELECT * FROM identity_providers ORDER BY created_at, id')).map(toIdp);
      },
      async getByIssuer(issuer) {
        const rows = await ex.all<IdpRow>('SELECT * FROM identity_providers WHERE issuer = $1', [issuer]);
        return rows[0] ? toIdp(rows[0]) : null;
      },
      async delete(id) {
        await ex.write('DELETE FROM user_identities WHERE provider_id = $1', [id]);
        return (await ex.write('DELETE FROM identity_providers WHERE id = $1', [id])).changes === 1;
      },
      async userFor(providerId, subject) {
        const rows = await ex.all<{ user_id: string }>(
          'SELECT user_id FROM user_identities WHERE provider_id = $1 AND subject = $2',
          [providerId, subject],
        );
        return rows[0]?.user_id ?? null;
      },
      async link(providerId, subject, userId) {
        await ex.write(
          `INSERT INTO user_identities (provider_id, subject, user_id) VALUES ($1, $2, $3)
             ON CONFLICT (provider_id, subject) DO UPDATE SET user_id = excluded.user_id`,
          [providerId, subject, userId],
        );
      },
    },
    consents: {
      async insert(c) {
        await ex.write(
          `INSERT INTO consents (id, user_id, agent_id, scopes, created_by, created_at, expires_at, revoked_at, tools)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [
            c.id,
            c.userId,
            c.agentId,
            JSON.stringify(c.scopes),
            c.createdBy,
            c.createdAt,
            c.expiresAt,
            c.revokedAt,
            c.tools ? JSON.stringify(c.tools) : null,
          ],
        );
      },
      async get(id) {
        const rows = await ex.all<ConsentRow>('SELECT * FROM consents WHERE id = $1', [id]);
        return rows[0] ? toConsent(rows[0]) : null;
      },
      async active(userId, agentId, at) {
        const rows = await ex.all<ConsentRow>(
          `SELECT * FROM consents WHERE user_id = $1 AND agent_id = $2 AND revoked_at IS NULL AND expires_at > $3
             ORDER BY created_at DESC, id DESC`,
          [userId, agentId, at],
        );
        return rows.map(toConsent);
      },
      async list(filter) {
        const rows = await ex.all<ConsentRow>(
          `SELECT * FROM consents WHERE (CAST($1 AS TEXT) IS NULL OR user_id = CAST($1 AS TEXT))
             AND (CAST($2 AS TEXT) IS NULL OR agent_id = CAST($2 AS TEXT)) ORDER BY created_at, id`,
          [filter.userId ?? null, filter.agentId ?? null],
        );
        return rows.map(toConsent);
      },
      async revoke(id, at) {
        const { rows } = await ex.write<ConsentRow>(
          'UPDATE consents SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL RETURNING *',
          [at, id],
        );
        return rows[0] ? toConsent(rows[0]) : null;
      },
    },
  };
}
