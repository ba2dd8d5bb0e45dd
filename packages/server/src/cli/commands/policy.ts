import { Command } from 'commander';
import { CliError } from '../api-client.js';
import { contextOf, enc } from '../context.js';
import { formatTable, printPage, printRecord } from '../output.js';
import { positiveInt, queryString } from '../parse.js';
import { readPolicyDir, readTestCases } from '../policy-files.js';

type Diff = { added: string[]; changed: string[]; removed: string[]; unchanged: number };
type PutResult = {
  mode: string;
  version: number;
  applied: boolean;
  diff: Diff;
  warnings: { policyId: string | null; message: string }[];
};
type Version = {
  version: number;
  at: string;
  actor: { type: string; id: string };
  kind: string;
  mode: string | null;
  reason: string;
};

const write = (text: string) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);

/** The diff as people read it: `+ id` added, `~ id` changed, `- id` removed. */
function diffText(diff: Diff): string {
  const lines = [
    ...diff.added.map((id) => `+ ${id}`),
    ...diff.changed.map((id) => `~ ${id}`),
    ...diff.removed.map((id) => `- ${id}`),
  ];
  const summary = `${diff.added.length} added, ${diff.changed.length} changed, ${diff.removed.length} removed, ${diff.unchanged} unchanged`;
  return [...lines, summary].join('\n');
}

const mode = (o: { shadow?: boolean }) => (o.shadow ? 'shadow' : 'enforce');

export function policyCommand(): Command {
  const policy = new Command('policy').description(
    'Cedar policies: validate, apply a directory, diff, test, what-if',
  );

  policy
    .command('validate <dir>')
    .description('validate the .cedar files of a directory against the schema, storing nothing')
    .action(async (dir: string, _o: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const result = await api.call<{
        valid: boolean;
        policies: number;
        errors: { pointer: string; detail: string }[];
        warnings: { policyId: string | null; message: string }[];
      }>('POST', '/api/v1/policies/validate', { sources: await readPolicyDir(dir) });
      if (!result.valid) {
        throw new CliError(
          `the policies are invalid (${result.errors.length} error${result.errors.length === 1 ? '' : 's'}): ${result.errors.map((e) => e.detail).join('; ')}`,
        );
      }
      if (out.json) printRecord(out, result);
      else {
        write(`valid: ${result.policies} polic${result.policies === 1 ? 'y' : 'ies'}`);
        for (const w of result.warnings)
          write(`warning: ${w.policyId ? `policy \`${w.policyId}\`: ` : ''}${w.message}`);
      }
    });

  policy
    .command('apply <dir>')
    .description(
      'make the .cedar files of a directory the whole policy set (like code: added, changed, removed)',
    )
    .option('--reason <text>', 'why; recorded in the policy history (required unless --dry-run)')
    .option('--shadow', 'apply as the shadow set: evaluated and recorded, not enforced')
    .option('--dry-run', 'validate and show the diff; change nothing')
    .action(async (dir: string, o: { reason?: string; shadow?: boolean; dryRun?: boolean }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      if (!o.dryRun && !o.reason) throw new CliError('--reason is required (or use --dry-run)');
      const result = await api.call<PutResult>('PUT', '/api/v1/policies', {
        sources: await readPolicyDir(dir),
        mode: mode(o),
        reason: o.reason ?? 'dry run',
        ...(o.dryRun ? { dryRun: true } : {}),
      });
      if (out.json) return printRecord(out, result);
      write(diffText(result.diff));
      for (const w of result.warnings)
        write(`warning: ${w.policyId ? `policy \`${w.policyId}\`: ` : ''}${w.message}`);
      write(
        o.dryRun
          ? `dry run: nothing changed (${result.mode} set at version ${result.version})`
          : result.applied
            ? `applied: ${result.mode} set is version ${result.version}`
            : `unchanged: ${result.mode} set is version ${result.version}`,
      );
    });

  policy
    .command('diff <dir>')
    .description('what `policy apply <dir>` would change')
    .option('--shadow', 'against the shadow set')
    .action(async (dir: string, o: { shadow?: boolean }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const result = await api.call<PutResult>('PUT', '/api/v1/policies', {
        sources: await readPolicyDir(dir),
        mode: mode(o),
        reason: 'diff',
        dryRun: true,
      });
      if (out.json) printRecord(out, result.diff);
      else write(diffText(result.diff));
    });

  policy
    .command('list')
    .description('the policies in force (or of the shadow set, or at a past version)')
    .option('--shadow', 'the shadow set')
    .option('--version <n>', 'the set as it was at this version', positiveInt)
    .action(async (o: { shadow?: boolean; version?: number }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const set = await api.call<{
        mode: string;
        version: number;
        active: boolean;
        policies: { id: string; text: string; effect?: string; version?: number }[];
      }>('GET', `/api/v1/policies${queryString({ mode: mode(o), version: o.version })}`);
      if (out.json) return printRecord(out, set);
      write(
        formatTable(
          set.policies.map((p) => ({ id: p.id, effect: p.effect, changed: p.version })),
          ['id', 'effect', 'changed'],
        ),
      );
      write(`(${set.mode} set, version ${set.version}${set.active ? '' : ', inactive'})`);
    });

  policy
    .command('show <id>')
    .description('a policy: its text and history (who, when, why)')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const p = await api.call<{
        id: string;
        enforce: { text: string; version: number } | null;
        shadow: { text: string; version: number } | null;
        history: { mode: string; version: number; text: string | null; change: Version | null }[];
      }>('GET', `/api/v1/policies/${enc(id)}`);
      if (out.json) return printRecord(out, p);
      write(`id: ${p.id}`);
      for (const [label, set] of [
        ['enforced', p.enforce],
        ['shadow', p.shadow],
      ] as const) {
        if (set) write(`${label} (since version ${set.version}):\n${set.text}`);
      }
      write(
        formatTable(
          p.history.map((h) => ({
            version: h.version,
            set: h.mode,
            change: h.text === null ? 'removed' : 'set',
            at: h.change?.at,
            by: h.change?.actor.id,
            reason: h.change?.reason,
          })),
          ['version', 'set', 'change', 'at', 'by', 'reason'],
        ),
      );
    });

  policy
    .command('test <dir>')
    .description('run policy tests (*.test.json under <dir>, or --cases) against the .cedar files of <dir>')
    .option('--cases <file>', 'a JSON file of test cases')
    .option('--enforced', 'test the policies in force rather than the directory')
    .action(async (dir: string, o: { cases?: string; enforced?: boolean }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const cases = await readTestCases(dir, o.cases);
      const result = await api.call<{
        version: number;
        passed: number;
        failed: number;
        results: { name: string; expected: string; actual: string; pass: boolean; policies: string[] }[];
      }>('POST', '/api/v1/policies/test', {
        ...(o.enforced ? {} : { sources: await readPolicyDir(dir) }),
        cases,
      });
      if (result.failed > 0) {
        const failures = result.results
          .filter((r) => !r.pass)
          .map((r) => `\`${r.name}\` (expected ${r.expected}, got ${r.actual})`);
        throw new CliError(
          `${result.failed} of ${result.results.length} policy tests failed: ${failures.join(', ')}`,
        );
      }
      if (out.json) return printRecord(out, result);
      write(
        formatTable(
          result.results.map((r) => ({ test: r.name, expect: r.expected, policies: r.policies.join(' ') })),
          ['test', 'expect', 'policies'],
        ),
      );
      write(`${result.passed} passed`);
    });

  policy
    .command('whatif <dir>')
    .description(
      'replay the last recorded decisions against the .cedar files of <dir>; list those that would change',
    )
    .option('--last <n>', 'how many recorded decisions (default 1000)', positiveInt)
    .action(async (dir: string, o: { last?: number }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const result = await api.call<{
        version: number;
        examined: number;
        changed: {
          seq: number;
          at: string;
          request: {
            principal: { type: string; id: string };
            action: string;
            resource: { type: string; id: string };
          };
          recorded: string;
          current: string;
          proposed: string;
          proposedPolicies: string[];
        }[];
      }>('POST', '/api/v1/policies/whatif', {
        sources: await readPolicyDir(dir),
        ...(o.last ? { last: o.last } : {}),
      });
      if (out.json) return printRecord(out, result);
      const uid = (u: { type: string; id: string }) => `${u.type}::${JSON.stringify(u.id)}`;
      write(
        formatTable(
          result.changed.map((c) => ({
            at: c.at,
            principal: uid(c.request.principal),
            action: c.request.action,
            resource: uid(c.request.resource),
            was: c.recorded,
            would: c.proposed,
            by: c.proposedPolicies.join(' '),
          })),
          ['at', 'principal', 'action', 'resource', 'was', 'would', 'by'],
        ),
      );
      write(`${result.changed.length} of ${result.examined} decisions would change`);
    });

  policy
    .command('history')
    .description('policy, grant and schema changes, newest first')
    .option('--limit <n>', 'page size', positiveInt)
    .option('--cursor <cursor>')
    .action(async (o: { limit?: number; cursor?: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const page = await api.call<{ items: Version[]; nextCursor: string | null }>(
        'GET',
        `/api/v1/policy-versions${queryString({ limit: o.limit, cursor: o.cursor })}`,
      );
      printPage(out, page, ['version', 'at', 'kind', 'mode', 'by', 'reason'], (v) => ({
        version: v.version,
        at: v.at,
        kind: v.kind,
        mode: v.mode,
        by: v.actor.id,
        reason: v.reason,
      }));
    });

  for (const [verb, description] of [
    ['promote', 'make the shadow set the enforced set'],
    ['discard', 'stop shadow evaluation and drop the shadow set'],
  ] as const) {
    policy
      .command(verb)
      .description(description)
      .requiredOption('--reason <text>', 'why; recorded in the policy history')
      .action(async (o: { reason: string }, cmd: Command) => {
        const { api, out } = contextOf(cmd);
        const result = await api.call<{ version: number; diff?: Diff }>(
          'POST',
          `/api/v1/policies/shadow/${verb}`,
          { reason: o.reason },
        );
        if (out.json) return printRecord(out, result);
        if (result.diff) write(diffText(result.diff));
        write(`${verb === 'promote' ? 'promoted' : 'discarded'}: version ${result.version}`);
      });
  }
  return policy;
}
