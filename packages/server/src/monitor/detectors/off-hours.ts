import { hourOfWeek } from '../baseline.js';
import type { Detector } from './detector.js';
import { num, signal } from './detector.js';

const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

/**
 * Activity at an hour (UTC, ± one hour) that holds almost none of the agent's
 * learned activity: a nine-to-five agent working at 03:00, or on a Sunday once
 * a week of history shows it never does.
 */
export const offHours: Detector = {
  id: 'off-hours',
  hard: false,
  detect(ctx) {
    const e = ctx.event;
    const s = ctx.settings.detectors['off-hours'];
    const b = ctx.agent.baseline;
    if (b.events < s.minEvents) return null;
    const share = b.hourShare(e.at);
    if (share >= s.minShare) return null;
    const h = hourOfWeek(e.at);
    const when = `${DAYS[Math.floor(h / 24)]} ${String(h % 24).padStart(2, '0')}:00 UTC`;
    return signal(ctx, 'off-hours', {
      key: `off-hours:${e.agentId}`,
      title: `activity at an unusual hour (${when})`,
      explanation: `agent \`${e.agentId}\` was active on ${when}; that hour (± 1 h) holds ${num(share * 100)}% of its learned activity (${b.spanDays() >= 7 ? 'by hour of the week' : 'by hour of the day'}), under the ${num(s.minShare * 100)}% that counts as usual`,
      evidence: [e],
    });
  },
};
