import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatCredential } from '@custos/sdk';
import { ConfigError, type ConfigSources, loadConfig, loadMasterKey } from './index.js';

let root: string;
let seq = 0;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'custos-config-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

/** A fresh, empty directory to use as `cwd`, with an optional `custos.yaml`. */
function workdir(yaml?: string): string {
  const dir = join(root, `w${++seq}`);
  mkdirSync(dir);
  if (yaml !== undefined) writeFileSync(join(dir, 'custos.yaml'), yaml);
  return dir;
}

const load = (sources: ConfigSources) => loadConfig({ env: {}, flags: {}, ...sources });

/** Asserts that loading fails with exactly this one-line message. */
function refuses(sources: ConfigSources, message: string): void {
  assert.throws(
    () => load(sources),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
      assert.equal(error.name, 'ConfigError');
      assert.equal(error.message, `invalid config: ${message}`);
      return true;
    },
  );
}

const patToken = () => formatCredential('pat', randomBytes(64));

describe('loadConfig', () => {
  it('has safe defaults relative to the working directory', () => {
    const cwd = workdir();
    const config = load({ cwd });
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 8080);
    assert.equal(config.dataDir, join(cwd, '.custos'));
    assert.equal(config.databaseUrl, `sqlite:${join(cwd, '.custos', 'custos.db')}`);
    assert.equal(config.issuer, 'http://127.0.0.1:8080');
    assert.equal(config.masterKey, null);
    assert.equal(config.masterKeyFile, join(cwd, '.custos', 'master.key'));
    assert.equal(config.bootstrapToken, undefined);
    assert.equal(config.logLevel, 'info');
    assert.equal(config.bodyLimit, 65536);
    assert.equal(config.agentDefaultTtlDays, 90);
    assert.equal(config.adminTokenTtlDays, 90);
    assert.ok(!existsSync(join(cwd, '.custos')), 'loading the config creates nothing');
  });

  it('returns a frozen object', () => {
    const config = load({ cwd: workdir() });
    assert.ok(Object.isFrozen(config));
    assert.throws(() => {
      (config as { port: number }).port = 1;
    }, TypeError);
    assert.equal(config.port, 8080);
  });

  it('takes the file, then the environment, then flags (each overriding the one before)', () => {
    const cwd = workdir('host: file.example\nport: 1111\n');
    const env = { CUSTOS_HOST: 'env.example', CUSTOS_PORT: '2222' };
    const flags = { host: 'flag.example', port: '3333' };

    const fromFile = load({ cwd });
    assert.deepEqual([fromFile.host, fromFile.port], ['file.example', 1111]);
    const fromEnv = load({ cwd, env });
    assert.deepEqual([fromEnv.host, fromEnv.port], ['env.example', 2222]);
    const fromFlags = load({ cwd, env, flags });
    assert.deepEqual([fromFlags.host, fromFlags.port], ['flag.example', 3333]);
    assert.equal(fromFlags.issuer, 'http://flag.example:3333', 'the default issuer follows host and port');

    // each layer overrides only the keys it sets
    const mixed = load({ cwd, env: { CUSTOS_PORT: '2222' }, flags: { host: 'flag.example' } });
    assert.deepEqual([mixed.host, mixed.port], ['flag.example', 2222]);
    // an empty environment variable counts as unset
    const emptyEnv = load({ cwd, env: { CUSTOS_PORT: '', CUSTOS_HOST: '' } });
    assert.deepEqual([emptyEnv.host, emptyEnv.port], ['file.example', 1111]);
  });

  it('reads the file named by --config or CUSTOS_CONFIG, relative to cwd; the flag wins', () => {
    const cwd = workdir('port: 1111\n');
    mkdirSync(join(cwd, 'etc'));
    writeFileSync(join(cwd, 'etc', 'a.yaml'), 'port: 4444\n');
    writeFileSync(join(cwd, 'etc', 'b.yaml'), 'port: 5555\nlogLevel: debug\n');
    assert.equal(load({ cwd, env: { CUSTOS_CONFIG: 'etc/a.yaml' } }).port, 4444);
    const config = load({ cwd, env: { CUSTOS_CONFIG: 'etc/a.yaml' }, flags: { config: 'etc/b.yaml' } });
    assert.equal(config.port, 5555);
    assert.equal(config.logLevel, 'debug');
  });

  it('resolves relative paths against cwd and derives the issuer from the listening address', () => {
    const cwd = workdir();
    const config = load({
      cwd,
      flags: { dataDir: 'var/custos', databaseUrl: 'sqlite:db/main.db', host: '0.0.0.0' },
      env: { CUSTOS_MASTER_KEY_FILE: 'keys/mk' },
    });
    assert.equal(config.dataDir, join(cwd, 'var', 'custos'));
    assert.equal(config.databaseUrl, `sqlite:${join(cwd, 'db', 'main.db')}`);
    assert.equal(config.masterKeyFile, join(cwd, 'keys', 'mk'));
    assert.equal(config.issuer, 'http://127.0.0.1:8080', 'a wildcard host is reached on loopback');
    assert.equal(load({ cwd, flags: { host: '::1', port: '9000' } }).issuer, 'http://[::1]:9000');
    assert.equal(
      load({ cwd, env: { CUSTOS_ISSUER: 'https://custos.example.com/' } }).issuer,
      'https://custos.example.com',
      'a trailing slash is dropped',
    );
    const pg = 'postgres://custos:secret@db.internal:5432/custos?schema=t1';
    assert.equal(load({ cwd, env: { CUSTOS_DATABASE_URL: pg } }).databaseUrl, pg);
  });

  describe('refuses bad values with a message naming the key', () => {
    const cwd = () => workdir();
    const portMessage = '`port` must be an integer between 1 and 65535';
    for (const port of ['0', '70000', 'abc', '80.5', '-1']) {
      it(`port \`${port}\``, () => refuses({ cwd: cwd(), flags: { port } }, portMessage));
    }
    it('port from the environment and from the file', () => {
      refuses({ cwd: cwd(), env: { CUSTOS_PORT: '65536' } }, portMessage);
      refuses({ cwd: workdir('port: 0\n') }, portMessage);
      refuses({ cwd: workdir('port: "x"\n') }, portMessage);
    });
    it('database URL', () => {
      const shape = '`databaseUrl` must be `sqlite:<path>` or `postgres://…`';
      refuses({ cwd: cwd(), flags: { databaseUrl: 'mysql://db/custos' } }, shape);
      refuses({ cwd: cwd(), flags: { databaseUrl: 'sqlite:' } }, shape);
      refuses({ cwd: cwd(), env: { CUSTOS_DATABASE_URL: '/var/custos.db' } }, shape);
      refuses(
        { cwd: cwd(), flags: { databaseUrl: 'postgres://[::1/custos' } },
        '`databaseUrl` is not a valid PostgreSQL URL',
      );
    });
    it('issuer', () => {
      refuses(
        { cwd: cwd(), flags: { issuer: 'custos.example.com' } },
        '`issuer` must be an absolute http(s) URL',
      );
      refuses(
        { cwd: cwd(), flags: { issuer: 'ftp://custos.example.com' } },
        '`issuer` must be an http(s) URL',
      );
      for (const issuer of [
        'https://custos.example.com/?tenant=a',
        'https://custos.example.com/#x',
        'https://c.example?',
      ]) {
        refuses({ cwd: cwd(), flags: { issuer } }, '`issuer` must not have a query or fragment');
      }
    });
    it('log level', () => {
      refuses(
        { cwd: cwd(), flags: { logLevel: 'verbose' } },
        '`logLevel` must be one of fatal, error, warn, info, debug, trace, silent',
      );
    });
    it('empty or non-string text', () => {
      refuses({ cwd: cwd(), flags: { host: '   ' } }, '`host` must be a non-empty string');
      refuses({ cwd: workdir('dataDir: 12\n') }, '`dataDir` must be a non-empty string');
    });
    it('body limit out of range', () => {
      refuses(
        { cwd: cwd(), env: { CUSTOS_BODY_LIMIT: '10' } },
        '`bodyLimit` must be an integer between 1024 and 67108864',
      );
    });
  });

  describe('refuses a bad config file', () => {
    it('with an unknown key', () => {
      const dir = workdir('port: 8080\nprot: 9090\n');
      refuses({ cwd: dir }, `unknown key \`prot\` in \`${join(dir, 'custos.yaml')}\``);
    });
    it('with a key named like an Object.prototype member', () => {
      for (const key of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
        const dir = workdir(`${key}: 1\n`);
        refuses({ cwd: dir }, `unknown key \`${key}\` in \`${join(dir, 'custos.yaml')}\``);
      }
    });
    it('holding a secret', () => {
      const a = workdir(`bootstrapToken: ${patToken()}\n`);
      refuses(
        { cwd: a },
        `\`bootstrapToken\` is a secret: set it with CUSTOS_BOOTSTRAP_TOKEN, not in \`${join(a, 'custos.yaml')}\``,
      );
      const b = workdir(`masterKey: ${randomBytes(32).toString('base64')}\n`);
      refuses(
        { cwd: b },
        `\`masterKey\` is a secret: set it with CUSTOS_MASTER_KEY, not in \`${join(b, 'custos.yaml')}\``,
      );
    });
    it('that is not valid YAML, in one line', () => {
      const dir = workdir('port: [8080\nhost: x\n');
      assert.throws(
        () => load({ cwd: dir }),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          const prefix = `invalid config: config file \`${join(dir, 'custos.yaml')}\` is not valid YAML: `;
          assert.ok(error.message.startsWith(prefix), error.message);
          assert.ok(error.message.length > prefix.length, 'the parser reason is kept');
          assert.ok(!error.message.includes('\n'), 'one line');
          assert.ok(!error.message.endsWith(':'), error.message);
          return true;
        },
      );
    });
    it('that is not a mapping', () => {
      const dir = workdir('- port\n- 8080\n');
      refuses(
        { cwd: dir },
        `config file \`${join(dir, 'custos.yaml')}\` must be a mapping of keys to values`,
      );
    });
    it('named explicitly but missing (an absent default custos.yaml is fine)', () => {
      const dir = workdir();
      refuses(
        { cwd: dir, flags: { config: 'nope.yaml' } },
        `config file \`${join(dir, 'nope.yaml')}\` does not exist`,
      );
      refuses(
        { cwd: dir, env: { CUSTOS_CONFIG: '/nonexistent/custos.yaml' } },
        'config file `/nonexistent/custos.yaml` does not exist',
      );
      assert.equal(load({ cwd: dir }).port, 8080);
    });
    it('that is empty: defaults apply', () => {
      assert.equal(load({ cwd: workdir('') }).port, 8080);
    });
  });

  describe('bootstrap token', () => {
    const message =
      '`bootstrapToken` must be a `cst_pat_…` token with a valid checksum: create one with `custos token generate`';
    it('accepts a well-formed cst_pat_ token', () => {
      const token = patToken();
      assert.equal(load({ cwd: workdir(), env: { CUSTOS_BOOTSTRAP_TOKEN: token } }).bootstrapToken, token);
    });
    it('refuses a token whose checksum does not match', () => {
      const token = patToken();
      const last = token.at(-1) === 'a' ? 'b' : 'a';
      refuses({ cwd: workdir(), env: { CUSTOS_BOOTSTRAP_TOKEN: `${token.slice(0, -1)}${last}` } }, message);
    });
    it('refuses another kind of credential and free text', () => {
      refuses(
        { cwd: workdir(), env: { CUSTOS_BOOTSTRAP_TOKEN: formatCredential('sec', randomBytes(64)) } },
        message,
      );
      refuses({ cwd: workdir(), env: { CUSTOS_BOOTSTRAP_TOKEN: 'hunter2' } }, message);
    });
  });
});

describe('loadMasterKey', () => {
  const unusedFile = () => join(workdir(), 'must-not-exist.key');

  it('takes CUSTOS_MASTER_KEY as base64 without touching the file', () => {
    const key = randomBytes(32);
    const file = unusedFile();
    const loaded = loadMasterKey({ masterKey: key.toString('base64'), masterKeyFile: file });
    assert.ok(loaded.key.equals(key));
    assert.equal(loaded.created, false);
    assert.ok(!existsSync(file));
  });

  it('takes CUSTOS_MASTER_KEY as hex (either case)', () => {
    const key = randomBytes(32);
    for (const text of [
      key.toString('hex'),
      key.toString('hex').toUpperCase(),
      ` ${key.toString('hex')}\n`,
    ]) {
      const loaded = loadMasterKey({ masterKey: text, masterKeyFile: unusedFile() });
      assert.ok(loaded.key.equals(key), text);
    }
  });

  it('refuses a CUSTOS_MASTER_KEY that is not 32 bytes', () => {
    for (const text of [
      randomBytes(16).toString('base64'),
      randomBytes(33).toString('base64'),
      randomBytes(31).toString('hex'),
      'not a key',
    ]) {
      assert.throws(
        () => loadMasterKey({ masterKey: text, masterKeyFile: unusedFile() }),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.message === 'invalid config: `CUSTOS_MASTER_KEY` must hold 32 bytes, base64 or hex encoded',
        text,
      );
    }
  });

  it('generates the key file (0600 in a 0700 directory) on first use, then reuses it', () => {
    const dir = join(workdir(), 'data');
    const file = join(dir, 'master.key');
    const first = loadMasterKey({ masterKey: null, masterKeyFile: file });
    assert.equal(first.created, true);
    assert.equal(first.key.length, 32);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const text = readFileSync(file, 'utf8');
    assert.ok(Buffer.from(text.trim(), 'base64').equals(first.key), 'the file holds the key, base64');

    const second = loadMasterKey({ masterKey: null, masterKeyFile: file });
    assert.equal(second.created, false);
    assert.ok(second.key.equals(first.key), 'the same bytes');
    assert.equal(readFileSync(file, 'utf8'), text, 'the file is not rewritten');
  });

  it('reads an existing key file written by the operator (hex)', () => {
    const key = randomBytes(32);
    const file = join(workdir(), 'master.key');
    writeFileSync(file, `${key.toString('hex')}\n`, { mode: 0o600 });
    const loaded = loadMasterKey({ masterKey: null, masterKeyFile: file });
    assert.ok(loaded.key.equals(key));
    assert.equal(loaded.created, false);
  });

  it('refuses a key file that group or others can read, and leaves it alone', () => {
    for (const mode of [0o644, 0o640, 0o604]) {
      const file = join(workdir(), 'master.key');
      const content = `${randomBytes(32).toString('base64')}\n`;
      writeFileSync(file, content);
      chmodSync(file, mode);
      assert.throws(
        () => loadMasterKey({ masterKey: null, masterKeyFile: file }),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.message ===
            `invalid config: master key file \`${file}\` is readable by group or others (mode ${mode.toString(8)}): run \`chmod 600 ${file}\``,
      );
      assert.equal(statSync(file).mode & 0o777, mode);
      assert.equal(readFileSync(file, 'utf8'), content);
    }
  });

  it('refuses a key file of the wrong length', () => {
    const file = join(workdir(), 'master.key');
    writeFileSync(file, `${randomBytes(16).toString('base64')}\n`, { mode: 0o600 });
    assert.throws(
      () => loadMasterKey({ masterKey: null, masterKeyFile: file }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.message ===
          `invalid config: master key file \`${file}\` must hold 32 bytes, base64 or hex encoded`,
    );
  });
});
