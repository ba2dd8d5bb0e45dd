import type { Detector } from './detector.js';
import { signal } from './detector.js';

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

/** Bytes returned to the agent in the window above `factor` × its learned peak (and `minBytes`). */
export const dataVolumeSpike: Detector = {
  id: 'data-volume-spike',
  hard: false,
  detect(ctx) {
    const e = ctx.event;
    if (e.bytes <= 0) return null;
    const s = ctx.settings.detectors['data-volume-spike'];
    const peak = ctx.agent.baseline.bytesPeak;
    const limit = Math.max(s.minBytes, s.factor * peak);
    const now = ctx.agent.bytesNow;
    if (now <= limit) return null;
    return signal(ctx, 'data-volume-spike', {
      key: `data-volume-spike:${e.agentId}`,
      title: `${mib(now)} returned in ${s.windowSeconds} s, learned peak ${mib(peak)}`,
      explanation: `agent \`${e.agentId}\` received ${mib(now)} in the last ${s.windowSeconds} s; its learned peak is ${mib(peak)}, and the limit is max(${mib(s.minBytes)}, ${s.factor} × peak) = ${mib(limit)}`,
      evidence: ctx.agent.recentEvents((x) => x.bytes > 0),
    });
  },
};
