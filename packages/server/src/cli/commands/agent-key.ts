import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { exportJWK, generateKeyPair } from 'jose';
import { CliError } from '../api-client.js';
import { contextOf, enc } from '../context.js';
import { printPage, printRecord } from '../output.js';
import { parseExpiry } from '../parse.js';

type Key = {
  kid: string;
  alg: string;
  thumbprint: string;
  status: string;
  expiresAt: string;
  createdAt: string;
};

const ALGS = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'];

function alg(value: string): string {
  if (!ALGS.includes(value)) throw new InvalidArgumentError(`expected one of ${ALGS.join(', ')}`);
  return value;
}

export function agentKeyCommand(): Command {
  const key = new Command('key').description("an agent's public keys (private_key_jwt)");
  key
    .command('generate <agent>')
    .description('create a key pair here, save the private key (mode 0600) and register only the public key')
    .option('--alg <alg>', `signing algorithm: ${ALGS.join(', ')}`, alg, 'ES256')
    .option('--out <file>', 'where to write the private JWK (default: ./<agent>.<kid>.jwk.json)')
    .option('--expires <when>', 'RFC 3339 time or duration (default 90d)', (v) => parseExpiry(v))
    .action(async (agentId: string, o: { alg: string; out?: string; expires?: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const pair = await generateKeyPair(o.alg, {
        extractable: true,
        ...(o.alg.startsWith('RS') || o.alg.startsWith('PS') ? { modulusLength: 3072 } : {}),
      });
      const publicJwk = await exportJWK(pair.publicKey);
      if (o.out && existsSync(o.out)) throw new CliError(`refusing to overwrite \`${o.out}\``);
      const registered = await api.call<Key>('POST', `/api/v1/agents/${enc(agentId)}/keys`, {
        jwk: { ...publicJwk, alg: o.alg },
        ...(o.expires ? { expiresAt: o.expires } : {}),
      });
      const path = resolve(o.out ?? `${agentId}.${registered.kid}.jwk.json`);
      const privateJwk = { ...(await exportJWK(pair.privateKey)), alg: o.alg, kid: registered.kid };
      // 'wx': never overwrite, and the file is created readable by its owner only
      await writeFile(path, `${JSON.stringify(privateJwk, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
      printRecord(out, { ...registered, privateKeyFile: path });
    });
  key
    .command('list <agent>')
    .description("list an agent's keys")
    .action(async (agentId: string, _o: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const page = await api.call<{ items: Key[] }>('GET', `/api/v1/agents/${enc(agentId)}/keys`);
      printPage(out, { items: page.items, nextCursor: null }, [
        'kid',
        'alg',
        'status',
        'expiresAt',
        'thumbprint',
      ]);
    });
  key
    .command('revoke <agent> <kid>')
    .description('revoke a key; tokens obtained with it stop working at once')
    .action(async (agentId: string, kid: string, _o: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      printRecord(out, await api.call<Key>('DELETE', `/api/v1/agents/${enc(agentId)}/keys/${enc(kid)}`));
    });
  return key;
}
