import { Command } from 'commander';
import { contextOf, enc } from '../context.js';
import { printPage, printRecord } from '../output.js';

type Approval = {
  id: string;
  status: string;
  agent: string;
  onBehalfOf: string | null;
  approver: string;
  action: string;
  resource: { type: string; id: string };
  request: Record<string, unknown>;
  expiresAt: string;
};

/** Shows what exactly is being asked: the tool or route and its arguments, on one line each. */
const flatten = (a: Approval) => ({
  ...a,
  resource: `${a.resource.type}::${a.resource.id}`,
  request: JSON.stringify(a.request),
});

export function approvalCommand(): Command {
  const approval = new Command('approval').description(
    'human approval of sensitive calls: see exactly what an agent asks to do, then approve or deny it',
  );
  approval
    .command('list')
    .description('list approval requests (people see those they decide)')
    .option('--status <status>', 'pending, approved, denied or used')
    .option('--agent <agent>', 'only this agent (agt_…)')
    .action(async (o: { status?: string; agent?: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const qs = new URLSearchParams({
        ...(o.status ? { status: o.status } : {}),
        ...(o.agent ? { agent: o.agent } : {}),
      });
      const page = await api.call<{ items: Approval[] }>(
        'GET',
        `/api/v1/approvals${qs.size ? `?${qs}` : ''}`,
      );
      printPage(
        out,
        { items: page.items, nextCursor: null },
        ['id', 'status', 'agent', 'onBehalfOf', 'action', 'resource', 'expiresAt'],
        flatten,
      );
    });
  approval
    .command('show <id>')
    .description('the exact call an approval request is for')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const found = await api.call<Approval>('GET', `/api/v1/approvals/${enc(id)}`);
      printRecord(out, out.json ? found : flatten(found));
    });
  for (const [verb, description] of [
    ['approve', 'approve the call: the agent may then make it once, exactly as shown'],
    ['deny', 'deny the call'],
  ] as const) {
    approval
      .command(`${verb} <id>`)
      .description(description)
      .option('--reason <text>', 'why (kept in the audit log)')
      .action(async (id: string, o: { reason?: string }, cmd: Command) => {
        const { api, out } = contextOf(cmd);
        const decided = await api.call<Approval>(
          'POST',
          `/api/v1/approvals/${enc(id)}/${verb}`,
          o.reason ? { reason: o.reason } : {},
        );
        printRecord(out, out.json ? decided : flatten(decided));
      });
  }
  return approval;
}
