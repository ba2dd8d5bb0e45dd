import { signDelivery } from '../audit/index.js';
import { newId } from '../core/index.js';
import type { DeliveryRecord, FindingRecord } from '../storage/index.js';

export interface WebhookSettings {
  /** Where alerts are POSTed. */
  readonly url: string;
  /** HMAC-SHA256 key of the `x-custos-signature` header. */
  readonly secret: string;
}

/** The alert about a finding, as the receiver gets it (JSON). */
export function alertPayload(finding: FindingRecord, response: string): Record<string, unknown> {
  return {
    type: 'custos.finding',
    finding: {
      id: finding.id,
      detector: finding.detector,
      severity: finding.severity,
      status: finding.status,
      agent: finding.agentId,
      title: finding.title,
      explanation: finding.explanation,
      firstSeen: new Date(finding.firstSeen).toISOString(),
      lastSeen: new Date(finding.lastSeen).toISOString(),
      response,
      evidence: finding.evidence,
    },
  };
}

/** The outbox row of an alert: stored with the finding, delivered later (see `deliverer.ts`). */
export function webhookDelivery(
  settings: WebhookSettings,
  finding: FindingRecord,
  response: string,
  now: number,
): DeliveryRecord {
  const id = newId('dlv', now);
  return {
    id,
    channel: 'webhook',
    target: settings.url,
    contentType: 'application/json',
    body: JSON.stringify({ id, ...alertPayload(finding, response) }),
    findingId: finding.id,
    attempts: 0,
    nextAt: now,
    deliveredAt: null,
    lastError: null,
    createdAt: now,
  };
}

/**
 * The headers of an alert POST: `x-custos-signature: t=<unix seconds>,v1=<hex
 * HMAC-SHA256 of "<t>.<body>">` (the audit sink's scheme; receivers should
 * reject a `t` far from now), and the delivery id to de-duplicate retries on.
 */
export function alertHeaders(secret: string, d: DeliveryRecord, unixSeconds: number): Record<string, string> {
  return {
    'content-type': d.contentType,
    'x-custos-signature': signDelivery(secret, d.body, unixSeconds),
    'x-custos-delivery': d.id,
    'x-custos-event': 'finding',
  };
}
