import type { ActivityEvent } from '../activity-event.js';
import type { Detector } from './detector.js';
import { signal } from './detector.js';

/**
 * One access token, or one credential, used from two source addresses at the
 * same time (within the window): likely a stolen secret. A token used from two
 * places fires during learning too (hard rule); after it, and for a credential
 * (agents legitimately run several instances with one key), only when one of
 * the addresses is not usual for the agent (not seen, nor its subnet).
 */
export const concurrentUse: Detector = {
  id: 'concurrent-use',
  hard: true,
  detect(ctx) {
    const e = ctx.event;
    if (e.sourceAddress === null) return null;
    const windowMs = ctx.settings.detectors['concurrent-use'].windowSeconds * 1000;
    const baseline = ctx.agent.baseline;
    const unusual = (uses: readonly { event: ActivityEvent }[]) =>
      !baseline.knowsAddress(e.sourceAddress as string) ||
      uses.some((u) => !baseline.knowsAddress(u.event.sourceAddress as string));
    const byToken = e.tokenId === null ? [] : ctx.agent.use(`t:${e.tokenId}`, e, windowMs);
    const byCredential = e.credential === null ? [] : ctx.agent.use(`c:${e.credential}`, e, windowMs);
    let what: 'token' | 'credential';
    let uses: typeof byToken;
    if (byToken.length > 0 && (ctx.learning || unusual(byToken))) {
      what = 'token';
      uses = byToken;
    } else if (byCredential.length > 0 && !ctx.learning && unusual(byCredential)) {
      what = 'credential';
      uses = byCredential;
    } else return null;
    const ref = what === 'token' ? (e.tokenId as string) : (e.credential as string);
    const addresses = [...new Set([...uses.map((u) => u.event.sourceAddress), e.sourceAddress])];
    const fresh = addresses.filter((a) => a !== null && !baseline.knowsAddress(a));
    return signal(ctx, 'concurrent-use', {
      key: `concurrent-use:${e.agentId}:${what}:${ref}`,
      title: `${what} used from ${addresses.length} addresses at once`,
      explanation: `agent \`${e.agentId}\`'s ${what} \`${ref}\` was used from ${addresses.map((a) => `\`${a}\``).join(' and ')} within ${windowMs / 1000} s${fresh.length > 0 ? `; never seen before: ${fresh.map((a) => `\`${a}\``).join(', ')}` : ''}`,
      evidence: [...uses.map((u) => u.event).sort((a, b) => a.seq - b.seq), e],
    });
  },
};
