/**
 * The policy commands of the `custos` binary (policy, grant, schema, entity)
 * against a real server, on SQLite and PostgreSQL: what a person or a script
 * sees (exit code, stdout, one-line errors on stderr).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, failedWith, runCli, succeeded } from './support/cli.js';
import { DIALECTS } from './support/databases.js';
import { createAgent, type TestAgent } from './support/oauth-client.js';
import { startTestServer, type TestServer } from './support/server.js';

type Json = Record<string, unknown>;

const SCHEMA =
  'entity Doc { label: String };\naction read appliesTo { principal: [Agent], resource: [Doc] };\n';

before(() => {
  assert.ok(existsSync(CLI), `${CLI} is missing: run \`npm run build\` first`);
});

for (const dialect of DIALECTS) {
  describe(`custos policy commands (${dialect})`, () => {
    let t: TestServer;
    let dir: string;
    let agent: TestAgent;
    const custos = (...args: string[]) => runCli(args, { url: t.url, token: t.adminToken });
    const json = async (...args: string[]): Promise<Json> =>
      JSON.parse(succeeded(await custos('--json', ...args)));

    before(async () => {
      t = await startTestServer(dialect);
      const owner = String(
        (await t.api('POST', '/api/v1/users', { body: { email: 'cli@example.com', name: 'Cli' } })).body
          .email,
      );
      agent = await createAgent(t, owner, { withKey: false });
      dir = await mkdtemp(join(tmpdir(), 'custos-policy-cli-'));
      await mkdir(join(dir, 'policies', 'docs'), { recursive: true });
      await writeFile(join(dir, 'schema.cedarschema'), SCHEMA);
      await writeFile(
        join(dir, 'entities.json'),
        JSON.stringify({ entities: [{ uid: { type: 'Doc', id: 'handbook' }, attrs: { label: 'public' } }] }),
      );
      await writeFile(
        join(dir, 'policies', 'docs', 'public.cedar'),
        `// anyone may read public docs\npermit (principal is Agent, action == Action::"read", resource is Doc) when { resource.label == "public" };\n`,
      );
      await writeFile(
        join(dir, 'policies', 'deny.cedar'),
        `@id("no-bot") forbid (principal == Agent::"${agent.id}", action, resource is Doc) when { resource.label == "secret" };\n`,
      );
      await writeFile(
        join(dir, 'policies', 'docs.test.json'),
        JSON.stringify([
          {
            name: 'reads the handbook',
            subject: { type: 'Agent', id: agent.id },
            action: { name: 'read' },
            resource: { type: 'Doc', id: 'handbook' },
            expect: 'allow',
          },
          {
            name: 'not a secret doc',
            subject: { type: 'Agent', id: agent.id },
            action: { name: 'read' },
            resource: { type: 'Doc', id: 'x', properties: { label: 'secret' } },
            expect: 'deny',
          },
        ]),
      );
    });
    after(async () => {
      await t.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('applies the schema and entities, and refuses what does not validate, in one line', async () => {
      failedWith(
        await custos('policy', 'validate', join(dir, 'policies')),
        /^custos: the policies are invalid \(\d errors?\): .*unrecognized entity type `Doc`/,
      );
      failedWith(await custos('schema', 'apply', join(dir, 'schema.cedarschema')), /--reason is required/);
      assert.match(
        succeeded(await custos('schema', 'apply', join(dir, 'schema.cedarschema'), '--reason', 'docs')),
        /^applied \(schema version 1\)\n$/,
      );
      assert.match(succeeded(await custos('schema', 'show')), /entity Doc/);
      assert.match(succeeded(await custos('schema', 'show', '--default')), /entity Tool in \[McpServer\]/);
      assert.equal(
        succeeded(await custos('entity', 'apply', join(dir, 'entities.json'))),
        'upserted 1 entity\n',
      );
      const doc = await json('entity', 'get', 'Doc', 'handbook');
      assert.deepEqual(doc.attrs, { label: 'public' });
      const own = await json('entity', 'get', 'Agent', agent.id);
      assert.equal((own.attrs as Json).status, 'active');
      failedWith(await custos('entity', 'get', 'Doc', 'nope'), /unknown entity `Doc::"nope"` \(HTTP 404\)/);
      assert.match(
        succeeded(await custos('policy', 'validate', join(dir, 'policies'))),
        /^valid: 2 policies\n$/,
      );
    });

    it('shows the diff, applies like code, lists, shows history', async () => {
      const dryRun = succeeded(await custos('policy', 'apply', join(dir, 'policies'), '--dry-run'));
      assert.equal(
        dryRun,
        '+ docs/public\n+ no-bot\n2 added, 0 changed, 0 removed, 0 unchanged\ndry run: nothing changed (enforce set at version 1)\n',
      );
      assert.match(
        succeeded(await custos('policy', 'apply', join(dir, 'policies'), '--reason', 'first')),
        /applied: enforce set is version 2\n$/,
      );
      await writeFile(
        join(dir, 'policies', 'deny.cedar'),
        `@id("no-bot") forbid (principal == Agent::"${agent.id}", action, resource is Doc) when { resource.label == "secret" || resource.label == "draft" };\n`,
      );
      assert.equal(
        succeeded(await custos('policy', 'diff', join(dir, 'policies'))),
        '~ no-bot\n0 added, 1 changed, 0 removed, 1 unchanged\n',
      );
      succeeded(await custos('policy', 'apply', join(dir, 'policies'), '--reason', 'drafts too'));
      const list = succeeded(await custos('policy', 'list')).split('\n');
      assert.match(list[0] ?? '', /^ID\s+EFFECT\s+CHANGED$/);
      assert.match(list[1] ?? '', /^docs\/public\s+permit\s+2$/);
      assert.match(list[2] ?? '', /^no-bot\s+forbid\s+3$/);
      const show = succeeded(await custos('policy', 'show', 'no-bot'));
      assert.match(show, /enforced \(since version 3\):/);
      assert.match(show, /drafts too/);
      const history = succeeded(await custos('policy', 'history'));
      assert.match(history.split('\n')[1] ?? '', /^3\s+\S+\s+policies\s+enforce\s+tok_\w+\s+drafts too$/);
    });

    it('runs policy tests: passing prints them, failing is one line naming the failures', async () => {
      const passing = succeeded(await custos('policy', 'test', join(dir, 'policies')));
      assert.match(passing, /reads the handbook\s+allow\s+docs\/public/);
      assert.match(passing, /2 passed\n$/);
      const cases = join(dir, 'wrong.json');
      await writeFile(
        cases,
        JSON.stringify({
          cases: [
            {
              name: 'expects too much',
              subject: { type: 'Agent', id: agent.id },
              action: { name: 'read' },
              resource: { type: 'Doc', id: 'x', properties: { label: 'draft' } },
              expect: 'allow',
            },
          ],
        }),
      );
      failedWith(
        await custos('policy', 'test', join(dir, 'policies'), '--cases', cases),
        /^custos: 1 of 1 policy tests failed: `expects too much` \(expected allow, got deny\)\n$/,
      );
    });

    it('grants, lists and revokes access; what-if shows what a change would deny', async () => {
      failedWith(
        await custos('grant', 'add', '--tool', 'gh/x', '--reason', 'r'),
        /exactly one of --agent, --team and --user/,
      );
      failedWith(
        await custos(
          'grant',
          'add',
          '--agent',
          agent.id,
          '--tool',
          'gh/x',
          '--server',
          'gh',
          '--reason',
          'r',
        ),
        /exactly one of --tool, --server and --resource/,
      );
      failedWith(
        await custos(
          'grant',
          'add',
          '--agent',
          agent.id,
          '--resource',
          'Doc:handbook',
          '--action',
          'read',
          '--reason',
          'r',
        ),
        /not an entity reference/,
      );
      const grant = await json(
        'grant',
        'add',
        '--agent',
        agent.id,
        '--action',
        'read',
        '--resource',
        'Doc::"internal"',
        '--until',
        '2h',
        '--reason',
        'incident 42',
      );
      assert.match(String(grant.id), /^grt_/);
      assert.equal(grant.status, 'active');
      const listed = succeeded(await custos('grant', 'list', '--agent', agent.id)).split('\n');
      assert.match(
        listed[1] ?? '',
        new RegExp(`^${grant.id}\\s+Agent::"${agent.id}"\\s+read\\s+Doc::"internal"\\s+\\S+\\s+active$`),
      );
      // a decision to replay
      const asked = await t.api('POST', '/access/v1/evaluation', {
        body: {
          subject: { type: 'Agent', id: agent.id },
          action: { name: 'read' },
          resource: { type: 'Doc', id: 'handbook' },
        },
      });
      assert.equal(asked.body.decision, true);
      const proposed = join(dir, 'proposed');
      await mkdir(proposed, { recursive: true });
      await writeFile(
        join(proposed, 'all.cedar'),
        `forbid (principal == Agent::"${agent.id}", action, resource);\n`,
      );
      const whatif = succeeded(await custos('policy', 'whatif', proposed, '--last', '10'));
      assert.match(
        whatif,
        new RegExp(`Agent::"${agent.id}"\\s+read\\s+Doc::"handbook"\\s+allow\\s+deny\\s+all`),
      );
      assert.match(whatif, /1 of \d+ decisions would change\n$/);
      const revoked = await json('grant', 'revoke', String(grant.id), '--reason', 'incident over');
      assert.equal(revoked.status, 'revoked');
      failedWith(
        await custos('grant', 'revoke', String(grant.id), '--reason', 'again'),
        /already revoked \(HTTP 409\)/,
      );
    });

    it('applies a shadow set, then promotes it; discarding nothing is refused', async () => {
      assert.match(
        succeeded(await custos('policy', 'apply', join(dir, 'policies'), '--shadow', '--reason', 'try')),
        /applied: shadow set is version \d+/,
      );
      assert.match(succeeded(await custos('policy', 'list', '--shadow')), /\(shadow set, version \d+\)/);
      assert.match(succeeded(await custos('policy', 'promote', '--reason', 'fine')), /promoted: version \d+/);
      failedWith(
        await custos('policy', 'discard', '--reason', 'none'),
        /no shadow set to discard \(HTTP 409\)/,
      );
      succeeded(await custos('entity', 'delete', 'Doc', 'handbook'));
      assert.deepEqual((await json('entity', 'list', '--type', 'Doc')).items, []);
    });
  });
}
