import type { Detector } from './detector.js';
import { num, signal } from './detector.js';

/**
 * Many denied calls or decisions in the window, at a deny ratio well above the
 * agent's usual one: an agent probing what it may do.
 */
export const denyRateSpike: Detector = {
  id: 'deny-rate-spike',
  hard: false,
  detect(ctx) {
    const e = ctx.event;
    if (e.kind === 'token' || e.outcome !== 'deny') return null;
    const s = ctx.settings.detectors['deny-rate-spike'];
    const denied = ctx.agent.deniedNow;
    if (denied < s.minDenies) return null;
    const judged = Math.max(ctx.agent.judgedNow, denied);
    const ratio = denied / judged;
    const usual = ctx.agent.baseline.denyRatio();
    const threshold = Math.min(1, Math.max(s.minRatio, s.factor * usual));
    if (ratio < threshold) return null;
    return signal(ctx, 'deny-rate-spike', {
      key: `deny-rate-spike:${e.agentId}`,
      title: `${denied} of ${judged} requests denied in ${s.windowSeconds} s`,
      explanation: `agent \`${e.agentId}\` was denied ${denied} of ${judged} calls in the last ${s.windowSeconds} s (ratio ${num(ratio)}); its usual deny ratio is ${num(usual)}, and the threshold is max(${s.minRatio}, ${s.factor} × usual) = ${num(threshold)} with at least ${s.minDenies} denials`,
      evidence: ctx.agent.recentDenials(),
    });
  },
};
