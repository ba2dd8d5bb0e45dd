#!/usr/bin/env node
// Prints the functions with the most self time in a V8 .cpuprofile: node scripts/profile-top.mjs <file> [n]
import { readFileSync } from 'node:fs';

const profile = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const limit = Number(process.argv[3] ?? 25);
const timeById = new Map();
profile.samples.forEach((id, i) => {
  timeById.set(id, (timeById.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const self = new Map();
for (const node of profile.nodes) {
  const f = node.callFrame;
  const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + (timeById.get(node.id) ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
console.log(`total ${(total / 1000).toFixed(0)} ms`);
for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, limit)) {
  console.log(
    `${(us / 1000).toFixed(0).padStart(7)} ms  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${key}`,
  );
}
