/**
 * The web console in a real browser (Debian's Chromium through playwright-core)
 * against a real server on SQLite and on PostgreSQL: sign-in, the inventory,
 * the agent lifecycle with its audit trail, policy editing with validation at
 * the line, a decision test, the audit explorer, and what auditors and owners
 * may not see or do. Every page is saved as a screenshot in test-artifacts/console/.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { systemClock } from '../src/core/index.js';
import { requestApproval } from '../src/governance/approvals.js';
import { ARTIFACTS, ensureConsoleBuilt, launchChromium } from './support/browser.js';
import { DIALECTS } from './support/databases.js';
import { startEverything } from './support/mcp-upstreams.js';
import { startTestServer, type TestServer } from './support/server.js';

type Json = Record<string, unknown>;
const TIMEOUT = 30_000;
const PASSWORD = 'a long console password';

let browser: Browser;
/**
 * Waits until the page's data table shows exactly `n` rows (lists keep old rows while reloading).
 * Polls from the test: a predicate evaluated in the page can be refused by the console's CSP (no eval).
 */
async function rowsAre(page: Page, n: number): Promise<void> {
  const rows = page.locator('table.data tbody tr');
  for (let i = 0; i < TIMEOUT / 100; i++) {
    if ((await rows.count()) === n) return;
    await page.waitForTimeout(100);
  }
  assert.fail(`expected ${n} rows in the table, saw ${await rows.count()}`);
}
/** A link of the main navigation (pages have other links of the same name, such as breadcrumbs). */
const nav = (page: Page, name: string) =>
  page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });
before(async () => {
  ensureConsoleBuilt();
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
});

for (const dialect of DIALECTS) {
  describe(`web console in Chromium (${dialect})`, { timeout: 120_000 }, () => {
    let t: TestServer;
    let aliceAgent: Json;
    let bobAgent: Json;
    const contexts: BrowserContext[] = [];

    const shot = (page: Page, name: string) =>
      page.screenshot({ path: `${ARTIFACTS}/${dialect}-${name}.png`, fullPage: true });

    async function openPage(viewport = { width: 1366, height: 860 }): Promise<Page> {
      const context = await browser.newContext({ viewport, acceptDownloads: true });
      contexts.push(context);
      const page = await context.newPage();
      page.setDefaultTimeout(TIMEOUT);
      // what the browser saw go wrong, for whoever reads a failed run
      page.on('pageerror', (error) => process.stderr.write(`[${dialect}] page error: ${error.message}\n`));
      page.on('requestfailed', (r) =>
        process.stderr.write(
          `[${dialect}] request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}\n`,
        ),
      );
      return page;
    }

    async function signInWithPassword(email: string): Promise<Page> {
      const page = await openPage();
      await page.goto(`${t.url}/console/`);
      await page.getByLabel('Email', { exact: true }).fill(email);
      await page.locator('input[name=password]').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
      return page;
    }

    before(async () => {
      // the monitor without a learning period, reading often: a reported first use raises a finding at once
      t = await startTestServer(dialect, { monitorLearningSeconds: 0, monitorIntervalMs: 50 });
      for (const [email, name, role] of [
        ['alice@example.com', 'Alice', 'owner'],
        ['bob@example.com', 'Bob', 'owner'],
        ['carol@example.com', 'Carol', 'auditor'],
      ] as const) {
        await t.api('POST', '/api/v1/users', { body: { email, name } });
        const set = await t.api('POST', `/api/v1/users/${email}/password`, {
          body: { password: PASSWORD, role },
        });
        assert.equal(set.status, 200, JSON.stringify(set.body));
      }
      await t.api('POST', '/api/v1/teams', { body: { name: 'payments' } });
      aliceAgent = (
        await t.api('POST', '/api/v1/agents', {
          body: { name: 'alice-helper', owner: 'alice@example.com', team: 'payments' },
        })
      ).body;
      bobAgent = (
        await t.api('POST', '/api/v1/agents', { body: { name: 'bob-crawler', owner: 'bob@example.com' } })
      ).body;
    });
    after(async () => {
      for (const c of contexts) await c.close();
      await t?.close();
    });

    it('serves the app with a strict CSP and client-side routes', async () => {
      const index = await fetch(`${t.url}/console/agents/anything`);
      assert.equal(index.status, 200);
      const csp = index.headers.get('content-security-policy') ?? '';
      assert.match(csp, /script-src 'self'/);
      assert.doesNotMatch(csp, /unsafe-inline/);
      const html = await index.text();
      assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
      const asset = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
      assert.ok(asset);
      const js = await fetch(`${t.url}${asset}`);
      assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      assert.equal((await fetch(`${t.url}/console/assets/missing-123.js`)).status, 404);
    });

    it('admin: signs in with a token, creates an agent, finds it, suspends it and sees the audit event', async () => {
      const page = await openPage();
      await page.goto(`${t.url}/console/`);
      await page.getByRole('heading', { name: 'Sign in to Custos' }).waitFor();
      await page.getByRole('radio', { name: 'Admin token' }).check();
      await page.locator('input[name=token]').fill('cst_pat_wrong');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').waitFor();
      await shot(page, '01-sign-in-error');
      await page.locator('input[name=token]').fill(t.adminToken);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
      assert.equal(await page.getByTestId('agent-total').textContent(), '2');
      await shot(page, '02-dashboard');

      // create
      await nav(page, 'Agents').click();
      await page.getByRole('link', { name: 'New agent' }).click();
      await page.getByLabel('Name').fill('invoice-bot');
      await page.getByLabel('Owner (email or user id)').fill('alice@example.com');
      await page.getByLabel('Team').fill('payments');
      await page.getByLabel('Purpose').fill('Reads invoices and files them');
      await page.getByLabel('Environment').fill('prod');
      await page.getByLabel('Risk level').selectOption('high');
      await page.getByLabel('Tags').fill('system=billing');
      await shot(page, '03-agent-new');
      await page.getByRole('button', { name: 'Create agent' }).click();
      await page.getByRole('heading', { name: /invoice-bot/ }).waitFor();
      const agentId = /agents\/(agt_[0-9a-z]{26})$/.exec(page.url())?.[1];
      assert.ok(agentId, page.url());

      // find by search
      await nav(page, 'Agents').click();
      await page.getByLabel('Search').fill('invoice');
      await page.getByRole('button', { name: 'Search' }).click();
      await page.waitForURL(/q=invoice/);
      await rowsAre(page, 1);
      const rows = page.locator('table.data tbody tr');
      await rows.first().getByRole('link', { name: 'invoice-bot' }).waitFor();
      await shot(page, '04-agents-search');

      // suspend
      await rows.first().getByRole('link', { name: 'invoice-bot' }).click();
      await page.getByRole('button', { name: 'Suspend' }).click();
      const dialog = page.getByRole('dialog', { name: 'Suspend invoice-bot' });
      await dialog.getByLabel('Reason (recorded in the audit log)').fill('invoice anomaly under review');
      await dialog.getByRole('button', { name: 'Suspend' }).click();
      await page.getByText('Agent suspended').waitFor();
      await page
        .getByRole('heading', { name: /invoice-bot/ })
        .getByText('suspended')
        .waitFor();
      await page.getByTestId('status-history').getByText('invoice anomaly under review').waitFor();
      await page.getByTestId('activity').getByText('agent.suspend').waitFor();
      await shot(page, '05-agent-suspended');
      assert.equal((await t.api('GET', `/api/v1/agents/${agentId}`)).body.status, 'suspended');

      // the audit explorer shows the event, by a filter, and in full
      await nav(page, 'Audit').click();
      await page.getByLabel('Action').fill('agent.suspend');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.waitForURL(/action=agent.suspend/);
      await rowsAre(page, 1);
      const eventRow = page.locator('table.data tbody tr').filter({ hasText: agentId });
      await eventRow.getByText('agent.suspend').waitFor();
      await page.getByTestId('checkpoint').waitFor();
      await eventRow.getByRole('button').first().click();
      const detail = page.getByTestId('event-detail');
      await detail.getByText('invoice anomaly under review').waitFor();
      await detail.getByText(agentId).first().waitFor();
      await shot(page, '06-audit-event');
      await page.keyboard.press('Escape');
      await detail.waitFor({ state: 'detached' });

      // the chain verifies, and the filtered export downloads through the session
      await page.getByRole('button', { name: 'Verify now' }).click();
      await page
        .getByTestId('verification')
        .getByText(/chain intact: \d+ events/)
        .waitFor();
      const download = page.waitForEvent('download');
      await page.getByRole('link', { name: 'JSON lines' }).click();
      const file = await (await download).path();
      const exported = (await readFile(file, 'utf8')).trim().split('\n');
      assert.equal(exported.length, 1);
      assert.equal((JSON.parse(exported[0] ?? '{}') as Json).action, 'agent.suspend');
      await shot(page, '06b-audit-verified');

      // narrow window: the inventory stays usable
      await page.setViewportSize({ width: 390, height: 844 });
      await nav(page, 'Agents').click();
      await page.getByRole('link', { name: 'invoice-bot' }).waitFor();
      await shot(page, '07-agents-narrow');
      await page.setViewportSize({ width: 1366, height: 860 });
    });

    it('admin: edits a policy, sees the validation error at its line, saves a valid one and tests a request', async () => {
      const page = await openPage();
      await page.goto(`${t.url}/console/`);
      await page.getByRole('radio', { name: 'Admin token' }).check();
      await page.locator('input[name=token]').fill(t.adminToken);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await nav(page, 'Policies').click();
      await page.getByLabel('New policy id').fill('allow-helper-invoices');
      await page.getByRole('button', { name: 'Add', exact: true }).click();
      const editor = page.getByLabel('Cedar text of policy allow-helper-invoices');
      const base = `permit (\n  principal == Agent::"${aliceAgent.id}",\n  action == Action::"tools/call",\n  resource == Tool::"billing/create_invoice"\n)`;
      await editor.fill(`${base}\nwhen {\n  resource.amount < 100\n};`);
      await page.getByRole('button', { name: 'Save…' }).click();
      const problems = page.getByTestId('editor-problems');
      await problems.waitFor();
      const problemText = (await problems.textContent()) ?? '';
      assert.match(problemText, /Line 7/, problemText);
      assert.match(problemText, /amount/);
      assert.equal(await page.getByRole('dialog').count(), 0, 'an invalid set is not offered for saving');
      await shot(page, '08-policy-validation-error');

      await editor.fill(`${base};`);
      await page.getByRole('button', { name: 'Save…' }).click();
      const save = page.getByRole('dialog', { name: 'Save to the enforced set' });
      await save.getByLabel('Reason (recorded in the audit log)').fill('let the helper create invoices');
      await save.getByRole('button', { name: 'Save' }).click();
      await page.getByText(/Saved to the enforced set as version \d+/).waitFor();
      await shot(page, '09-policy-saved');
      const stored = await t.api('GET', '/api/v1/policies');
      assert.deepEqual(
        (stored.body.policies as Json[]).map((p) => p.id),
        ['allow-helper-invoices'],
      );

      await page.getByRole('tab', { name: 'Versions and diff' }).click();
      await page.getByTestId('diff').getByText('// allow-helper-invoices').waitFor();
      await shot(page, '10-policy-versions-diff');

      await page.getByRole('tab', { name: 'Test a request' }).click();
      await page.getByLabel('Principal id').fill(String(aliceAgent.id));
      await page.getByLabel('Resource id').fill('billing/create_invoice');
      await page.getByRole('button', { name: 'Decide' }).click();
      const decision = page.getByTestId('decision');
      await decision.getByText('Allowed').waitFor();
      await decision.getByText('allow-helper-invoices').waitFor();
      await shot(page, '11-policy-test-allow');
      await page.getByLabel('Resource id').fill('billing/delete_everything');
      await page.getByRole('button', { name: 'Decide' }).click();
      await decision.getByText('Denied').waitFor();
      await decision.getByText(/default deny/).waitFor();
    });

    it('auditor: sees everything, is offered no change, and the server refuses one forced from the browser', async () => {
      const page = await signInWithPassword('carol@example.com');
      assert.equal(await page.getByTestId('role').textContent(), 'auditor');
      await nav(page, 'Agents').click();
      await page.getByRole('link', { name: 'bob-crawler' }).waitFor();
      await page.getByRole('link', { name: 'alice-helper' }).waitFor();
      assert.equal(await page.getByRole('link', { name: 'New agent' }).count(), 0);
      await page.getByRole('link', { name: 'bob-crawler' }).click();
      await page.getByText('Read-only: your role (auditor) cannot change agents.').waitFor();
      for (const name of ['Suspend', 'Resume', 'Decommission', 'Add key', 'Add grant']) {
        assert.equal(await page.getByRole('button', { name }).count(), 0, `no ${name} button`);
      }
      await shot(page, '12-auditor-agent');

      // a change forced from the page, with the session's own CSRF token, is still refused
      const forced = await page.evaluate(async (id) => {
        const me = (await (await fetch('/api/v1/session')).json()) as { csrfToken: string };
        const res = await fetch(`/api/v1/agents/${id}/suspend`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrfToken },
          body: JSON.stringify({ reason: 'forced' }),
        });
        return { status: res.status, body: (await res.json()) as { detail: string } };
      }, String(bobAgent.id));
      assert.equal(forced.status, 403);
      assert.match(forced.body.detail, /read-only/);

      await nav(page, 'Policies').click();
      await page.getByText('Read-only: your role (auditor) can validate and test, not save.').waitFor();
      assert.equal(await page.getByRole('button', { name: 'Save…' }).count(), 0);
      assert.equal(await page.getByLabel('New policy id').count(), 0);
      assert.equal(
        await page.getByLabel('Cedar text of policy allow-helper-invoices').getAttribute('readonly'),
        '',
      );
      await shot(page, '13-auditor-policies');
      assert.equal((await t.api('GET', `/api/v1/agents/${bobAgent.id}`)).body.status, 'active');
    });

    it("owner: sees only their own agents, and another owner's agent page is refused", async () => {
      const page = await signInWithPassword('bob@example.com');
      assert.equal(await page.getByTestId('role').textContent(), 'owner');
      assert.equal(await page.getByTestId('agent-total').textContent(), '1');
      assert.equal(await nav(page, 'Audit').count(), 0);
      await nav(page, 'Agents').click();
      await page.getByRole('link', { name: 'bob-crawler' }).waitFor();
      await rowsAre(page, 1);
      assert.equal(await page.getByText('alice-helper').count(), 0);
      assert.equal(await page.getByText('invoice-bot').count(), 0);
      await shot(page, '14-owner-agents');

      await page.goto(`${t.url}/console/agents/${aliceAgent.id}`);
      const refusal = page.getByRole('alert');
      await refusal.getByText('Not allowed').waitFor();
      await refusal.getByText(/belongs to another owner/).waitFor();
      assert.equal(await page.getByRole('button', { name: 'Suspend' }).count(), 0);
      await shot(page, '15-owner-forbidden');

      // their own agent: they may act on it
      await page.goto(`${t.url}/console/agents/${bobAgent.id}`);
      await page.getByRole('button', { name: 'Suspend' }).waitFor();
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('heading', { name: 'Sign in to Custos' }).waitFor();
      assert.equal((await page.context().cookies()).filter((c) => c.value !== '').length, 0);
    });

    it('findings: the monitor’s alerts in the console; an admin acknowledges and resolves, an owner sees their own, an auditor reads', async () => {
      const report = (agent: Json, tool: string) =>
        t.api('POST', '/api/v1/activity', {
          body: {
            events: [
              {
                agent: agent.id,
                action: 'tools/call',
                resource: { type: 'Tool', id: tool },
                outcome: 'allow',
                sourceAddress: '10.20.30.40',
              },
            ],
          },
        });
      assert.equal((await report(aliceAgent, 'crm/search')).status, 202);
      assert.equal((await report(bobAgent, 'crm/export')).status, 202);
      const findingAbout = async (tool: string) => {
        for (let i = 0; i < 200; i++) {
          const page = await t.api('GET', '/api/v1/findings?detector=new-resource');
          const items = (page.body.items ?? []) as Json[];
          const found = items.find((f) => String(f.title).includes(tool));
          if (found) return found;
          await new Promise((r) => setTimeout(r, 50));
        }
        return assert.fail(`no finding about ${tool}`);
      };
      const search = await findingAbout('crm/search');
      await findingAbout('crm/export');
      const findingsNav = (page: Page) =>
        page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: /^Findings/ });

      // admin: the open count in the navigation, the list, a finding's detail, then acknowledge and resolve
      const page = await openPage();
      await page.goto(`${t.url}/console/`);
      await page.getByRole('radio', { name: 'Admin token' }).check();
      await page.locator('input[name=token]').fill(t.adminToken);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
      await page.getByTestId('open-findings').waitFor();
      assert.ok(
        Number(
          await page
            .getByTestId('open-findings')
            .textContent()
            .then((x) => x?.replace(/\D/g, '')),
        ) >= 2,
      );
      await findingsNav(page).click();
      await page.getByRole('heading', { name: 'Findings' }).waitFor();
      const row = page.locator(`tr[data-finding="${String(search.id)}"]`);
      await row.waitFor();
      await page.locator('tr', { hasText: 'crm/export' }).first().waitFor();
      await row.getByRole('button', { name: String(search.title) }).click();
      await page.getByText(String(search.explanation)).waitFor();
      await page.getByRole('link', { name: 'tools/call' }).first().waitFor();
      await shot(page, '16-findings');
      await row.getByRole('button', { name: 'Acknowledge' }).click();
      await row.waitFor({ state: 'detached' }); // no longer open
      await page.getByLabel('Status').selectOption('acknowledged');
      await page.getByRole('button', { name: 'Apply' }).click();
      await row.getByText('acknowledged').waitFor();
      await row.getByRole('button', { name: 'Resolve…' }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByLabel(/Reason/).fill('expected: a new CRM integration');
      await dialog.getByRole('button', { name: 'Resolve' }).click();
      await row.waitFor({ state: 'detached' });
      const resolved = (await t.api('GET', `/api/v1/findings/${String(search.id)}`)).body;
      assert.equal(resolved.status, 'resolved');
      assert.equal(resolved.statusReason, 'expected: a new CRM integration');
      await page.getByLabel('Status').selectOption('resolved');
      await page.getByRole('button', { name: 'Apply' }).click();
      await row.getByText('resolved').waitFor();
      await shot(page, '17-findings-resolved');

      // owner: only the findings about their own agents, and they may act on them
      const bob = await signInWithPassword('bob@example.com');
      await findingsNav(bob).click();
      await bob.locator('tr', { hasText: 'crm/export' }).first().waitFor();
      await rowsAre(bob, 1);
      assert.equal(await bob.getByText('crm/search').count(), 0);
      await bob.getByRole('button', { name: 'Acknowledge' }).waitFor();
      await shot(bob, '18-owner-findings');

      // auditor: every finding, no action
      const carol = await signInWithPassword('carol@example.com');
      await findingsNav(carol).click();
      await carol.getByLabel('Status').selectOption('all');
      await carol.getByRole('button', { name: 'Apply' }).click();
      await carol.locator(`tr[data-finding="${String(search.id)}"]`).waitFor();
      await carol.locator('tr', { hasText: 'crm/export' }).first().waitFor();
      for (const name of ['Acknowledge', 'Resolve…', 'False positive…']) {
        assert.equal(await carol.getByRole('button', { name }).count(), 0, `no ${name} button`);
      }
      await shot(carol, '19-auditor-findings');
    });

    it('approvals: the approver sees the held call and approves it; another owner sees nothing, an auditor reads', async () => {
      const approval = await requestApproval(
        { store: t.server.store, clock: systemClock, ttlMs: 900_000 },
        {
          agentId: String(aliceAgent.id),
          personId: null,
          action: 'http:POST',
          resource: { type: 'Route', id: 'billing/POST /transfers' },
          args: { path: '/transfers', query: '' },
          kind: 'owner',
          policies: ['transfers-need-approval'],
          shown: {
            api: 'billing',
            method: 'POST',
            path: '/transfers',
            query: '',
            body: { text: 'amount=10' },
          },
          requestId: null,
        },
      );
      const approvalsNav = (page: Page) =>
        page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: /^Approvals/ });

      // while it is pending (once decided, nobody is offered a decision and nobody's pending list shows it):
      // bob, not his to decide, so not his to see
      const bob = await signInWithPassword('bob@example.com');
      await approvalsNav(bob).click();
      await bob.getByText('Nothing waits for an approval').waitFor();
      assert.equal(await bob.getByTestId('pending-approvals').count(), 0);

      // carol, an auditor: every request, no decision
      const carol = await signInWithPassword('carol@example.com');
      await approvalsNav(carol).click();
      await carol
        .locator(`tr[data-approval="${approval.id}"]`)
        .getByText('pending', { exact: true })
        .waitFor();
      for (const name of ['Approve…', 'Deny…']) {
        assert.equal(await carol.getByRole('button', { name }).count(), 0, `no ${name} button`);
      }
      await shot(carol, '21-auditor-approvals');

      // alice, the agent's owner: the count in the navigation, the call as asked, then approve it
      const alice = await signInWithPassword('alice@example.com');
      const count = alice.getByTestId('pending-approvals');
      await count.waitFor();
      assert.equal((await count.textContent())?.replace(/\D/g, ''), '1');
      await approvalsNav(alice).click();
      await alice.getByRole('heading', { name: 'Approvals' }).waitFor();
      const row = alice.locator(`tr[data-approval="${approval.id}"]`);
      await row.getByText('billing/POST /transfers').waitFor();
      await row.getByText(/amount=10/).waitFor();
      await shot(alice, '20-approvals');
      await row.getByRole('button', { name: 'Approve…' }).click();
      const dialog = alice.getByRole('dialog');
      await dialog.getByLabel(/Reason/).fill('expected transfer');
      await dialog.getByRole('button', { name: 'Approve' }).click();
      await row.waitFor({ state: 'detached' }); // no longer pending
      await count.waitFor({ state: 'detached' }); // the navigation's count follows
      const decided = (await t.api('GET', `/api/v1/approvals/${approval.id}`)).body;
      assert.equal(decided.status, 'approved');
      assert.equal(decided.reason, 'expected transfer');
      await alice.getByLabel('Status').selectOption('approved');
      await alice.getByRole('button', { name: 'Apply' }).click();
      await row.getByText('approved', { exact: true }).waitFor();
      assert.equal(await row.getByRole('button', { name: 'Approve…' }).count(), 0);
    });

    it('consents: an owner gives one to their agent and withdraws it; a refused one says why; another owner sees none', async () => {
      const alice = await signInWithPassword('alice@example.com');
      await nav(alice, 'Consents').click();
      await alice.getByRole('heading', { name: 'Consents' }).waitFor();
      const form = alice.getByRole('form', { name: 'Give a consent' });
      // an agent that does not exist: the API's words, at the field
      await form.getByLabel('Agent id').fill('agt_00000000000000000000000000');
      await form.getByLabel('Scopes').fill('payments');
      await form.getByRole('button', { name: 'Give consent' }).click();
      // exact: the notice under the form says "unknown agent `agt_…`" too
      await form.getByText('unknown agent', { exact: true }).waitFor();
      assert.equal(await form.getByLabel('Agent id').getAttribute('aria-invalid'), 'true');

      await form.getByLabel('Agent id').fill(String(aliceAgent.id));
      await form.getByLabel('Scopes').fill('payments read');
      await form.getByLabel('Only these tools').fill('crm/*');
      // not a whole number of days: said at the field, nothing sent
      await form.getByLabel('Valid for (days)').fill('1e');
      await form.getByRole('button', { name: 'Give consent' }).click();
      await form.getByText('a whole number of days from 1 to 3650').waitFor();
      await form.getByLabel('Valid for (days)').fill('7');
      await form.getByRole('button', { name: 'Give consent' }).click();
      let given: Json | undefined;
      for (let i = 0; i < 100 && !given; i++) {
        const items = (await t.api('GET', '/api/v1/consents')).body.items as Json[];
        given = items.find((c) => c.agent === aliceAgent.id);
        if (!given) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(given, 'the consent was recorded');
      assert.deepEqual(given.scopes, ['payments', 'read']);
      assert.deepEqual(given.tools, ['crm/*']);
      const days = (Date.parse(String(given.expiresAt)) - Date.now()) / 86_400_000;
      assert.ok(days > 6.9 && days <= 7, String(days));
      const row = alice.locator(`tr[data-consent="${String(given.id)}"]`);
      await row.getByText('active', { exact: true }).waitFor();
      await row.getByText('crm/*').waitFor();
      await shot(alice, '22-consents');
      await row.getByRole('button', { name: 'Withdraw…' }).click();
      await alice.getByRole('dialog').getByRole('button', { name: 'Withdraw' }).click();
      await row.getByText('revoked', { exact: true }).waitFor();
      const withdrawn = ((await t.api('GET', '/api/v1/consents')).body.items as Json[]).find(
        (c) => c.id === given?.id,
      );
      assert.ok(withdrawn && withdrawn.revokedAt !== null, JSON.stringify(withdrawn));

      const bob = await signInWithPassword('bob@example.com');
      await nav(bob, 'Consents').click();
      await bob.getByText('No consents').waitFor();
    });

    it('gateway: admins and auditors see the upstreams, their tools and routes; an admin refreshes and removes; owners do not see the page', async () => {
      const everything = await startEverything();
      after(() => everything.stop());
      const server = await t.api('POST', '/api/v1/gateway/servers', {
        body: { name: 'everything', transport: { type: 'http', url: everything.url } },
      });
      assert.equal(server.status, 201, JSON.stringify(server.body));
      await t.api('PUT', '/api/v1/secrets/billing-token', {
        body: { value: 'console-test-upstream-secret' },
      });
      const registered = await t.api('POST', '/api/v1/gateway/apis', {
        body: {
          name: 'billing',
          description: 'invoices and transfers',
          baseUrl: 'http://127.0.0.1:9/v1',
          routes: [
            { method: 'GET', path: '/invoices/{id}' },
            { method: 'POST', path: '/transfers' },
          ],
          auth: { type: 'bearer', secret: 'billing-token' },
          limits: { perTool: { rate: 2, burst: 5 } },
        },
      });
      assert.equal(registered.status, 201, JSON.stringify(registered.body));

      const carol = await signInWithPassword('carol@example.com');
      await nav(carol, 'Gateway').click();
      await carol.getByRole('heading', { name: 'Gateway' }).waitFor();
      // a server's tools with the Cedar types of their arguments, as policies see them
      const tools = carol.locator('article[data-upstream="server-everything"]');
      await tools.getByText('Tool::"everything/get-sum"').waitFor();
      await tools
        .locator('tr', { hasText: 'get-sum' })
        .getByText(/\ba: Long\b/)
        .waitFor();
      await tools.getByText(/Streamable HTTP http:/).waitFor();
      const card = carol.locator('article[data-upstream="api-billing"]');
      await card.getByText('Route::"billing/POST /transfers"').waitFor();
      await card.getByText(/bearer token from secret billing-token/).waitFor();
      await card.getByText(/per tool or route: 2\/s, burst 5/).waitFor();
      assert.equal(
        await carol.getByRole('button', { name: 'Remove…' }).count(),
        0,
        'auditors remove nothing',
      );
      assert.equal(
        (await carol.content()).includes('console-test-upstream-secret'),
        false,
        'never a secret value',
      );
      await shot(carol, '23-auditor-gateway');

      const bob = await signInWithPassword('bob@example.com');
      assert.equal(await nav(bob, 'Gateway').count(), 0, 'owners have no gateway page');

      const admin = await openPage();
      await admin.goto(`${t.url}/console/`);
      await admin.getByRole('radio', { name: 'Admin token' }).check();
      await admin.locator('input[name=token]').fill(t.adminToken);
      await admin.getByRole('button', { name: 'Sign in' }).click();
      await admin.getByRole('heading', { name: 'Dashboard' }).waitFor();
      await nav(admin, 'Gateway').click();
      const refreshed = admin.locator('article[data-upstream="server-everything"]');
      await refreshed.getByRole('button', { name: 'Refresh tools' }).click();
      let refreshes = 0;
      for (let i = 0; i < 100 && refreshes === 0; i++) {
        const events = await t.api('GET', '/api/v1/audit/events?action=gateway.server.refresh');
        refreshes = (events.body.items as Json[]).length;
        if (refreshes === 0) await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(refreshes, 1, 'the refresh went through (and was recorded)');
      await refreshed.getByRole('button', { name: 'Refresh tools' }).waitFor();
      assert.equal(await admin.getByRole('alert').count(), 0);
      const billing = admin.locator('article[data-upstream="api-billing"]');
      await billing.getByRole('button', { name: 'Remove…' }).click();
      const dialog = admin.getByRole('dialog');
      await dialog.getByLabel(/to confirm/).fill('billing');
      await dialog.getByRole('button', { name: 'Remove' }).click();
      await billing.waitFor({ state: 'detached' });
      await admin.getByText('No HTTP APIs').waitFor();
      assert.equal((await t.api('GET', '/api/v1/gateway/apis/billing')).status, 404);
    });
  });
}
