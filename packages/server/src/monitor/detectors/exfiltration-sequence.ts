import type { Detector } from './detector.js';
import { signal } from './detector.js';

/**
 * A read of a sensitive resource followed, within the window, by a call to an
 * egress tool (mail, upload, web post): the shape of data exfiltration. Which
 * resources are sensitive and which tools are egress comes from tags (the
 * reporter's, or patterns in the configuration). A hard rule.
 */
export const exfiltrationSequence: Detector = {
  id: 'exfiltration-sequence',
  hard: true,
  detect(ctx) {
    const e = ctx.event;
    if (e.kind === 'token' || !ctx.classify.egress(e)) return null;
    const read = ctx.agent.lastSensitive;
    const windowMs = ctx.settings.detectors['exfiltration-sequence'].windowSeconds * 1000;
    if (read === null || e.at - read.at > windowMs || e.at < read.at) return null;
    return signal(ctx, 'exfiltration-sequence', {
      key: `exfiltration-sequence:${e.agentId}:${read.seq}`,
      title: `sensitive read then egress: ${read.resource} → ${e.resource}`,
      explanation: `agent \`${e.agentId}\` read sensitive ${read.resource} and ${Math.round((e.at - read.at) / 1000)} s later called egress ${e.resource ?? e.action} (${e.outcome === 'allow' ? 'allowed' : `${e.outcome}, not carried out`})`,
      evidence: [read, e],
    });
  },
};
