import type { Detector } from './detector.js';
import { num, signal } from './detector.js';

/**
 * Calls in the last minute above `factor` × the agent's learned peak minute
 * (and above `minPerMinute`): an agent suddenly working far harder than it
 * ever did (a loop, a takeover, scraping).
 */
export const callRateSpike: Detector = {
  id: 'call-rate-spike',
  hard: false,
  detect(ctx) {
    const e = ctx.event;
    if (e.kind !== 'call') return null;
    const s = ctx.settings.detectors['call-rate-spike'];
    const peak = ctx.agent.baseline.callPeak;
    const limit = Math.max(s.minPerMinute, s.factor * peak);
    const now = ctx.agent.callsNow;
    if (now <= limit) return null;
    return signal(ctx, 'call-rate-spike', {
      key: `call-rate-spike:${e.agentId}`,
      title: `call rate ${now}/min, learned peak ${num(peak)}/min`,
      explanation: `agent \`${e.agentId}\` made ${now} calls in the last minute; its learned peak is ${num(peak)} per minute, and the limit is max(${s.minPerMinute}, ${s.factor} × peak) = ${num(limit)}`,
      evidence: ctx.agent.recentEvents((x) => x.kind === 'call'),
    });
  },
};

/** Token requests in the last minute above `factor` × the learned peak (and `minPerMinute`). */
export const tokenRateSpike: Detector = {
  id: 'token-rate-spike',
  hard: false,
  detect(ctx) {
    const e = ctx.event;
    if (e.kind !== 'token') return null;
    const s = ctx.settings.detectors['token-rate-spike'];
    const peak = ctx.agent.baseline.tokenPeak;
    const limit = Math.max(s.minPerMinute, s.factor * peak);
    const now = ctx.agent.tokensNow;
    if (now <= limit) return null;
    return signal(ctx, 'token-rate-spike', {
      key: `token-rate-spike:${e.agentId}`,
      title: `token requests ${now}/min, learned peak ${num(peak)}/min`,
      explanation: `agent \`${e.agentId}\` requested ${now} tokens in the last minute; its learned peak is ${num(peak)} per minute, and the limit is max(${s.minPerMinute}, ${s.factor} × peak) = ${num(limit)}`,
      evidence: ctx.agent.recentEvents((x) => x.kind === 'token'),
    });
  },
};
