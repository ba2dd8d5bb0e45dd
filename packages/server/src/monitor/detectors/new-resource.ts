import type { Detector } from './detector.js';
import { signal } from './detector.js';

/**
 * First use of a tool, resource or route this agent was never seen using
 * (after its learning period). Fires once per resource: the resource is
 * learned right after.
 */
export const newResource: Detector = {
  id: 'new-resource',
  hard: false,
  detect(ctx) {
    const e = ctx.event;
    if (e.kind === 'token' || e.resource === null) return null;
    const known = ctx.agent.baseline.resources;
    if (known.has(e.resource)) return null;
    return signal(ctx, 'new-resource', {
      key: `new-resource:${e.agentId}:${e.resource}`,
      title: `first use of ${e.resource}`,
      explanation: `agent \`${e.agentId}\` asked for \`${e.action}\` on ${e.resource}, which it had not used before (${known.size} resources learned); outcome ${e.outcome}`,
      evidence: [e],
    });
  },
};
