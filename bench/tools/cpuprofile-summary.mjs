#!/usr/bin/env node
// Summarise a V8 .cpuprofile (node --cpu-prof): self time per function, and inclusive time of
// the functions named on the command line. Used for the breakdowns in docs/performance.md.
//   node bench/tools/cpuprofile-summary.mjs FILE.cpuprofile [top=30] [inclusive-name ...]
import fs from 'node:fs';

const [file, topArg, ...inclusiveNames] = process.argv.slice(2);
if (!file) {
  console.error('usage: cpuprofile-summary.mjs FILE.cpuprofile [top] [function names for inclusive time...]');
  process.exit(2);
}
const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
const top = Number(topArg ?? 30);
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const selfUs = new Map();
const dt = profile.timeDeltas;
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  selfUs.set(id, (selfUs.get(id) ?? 0) + (dt[i] ?? 0));
}
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
const label = (n) => {
  const f = n.callFrame;
  const url = f.url ? f.url.replace(/^.*\/(src|dist|node_modules)\//, '$1/') : '';
  return `${f.functionName || '(anonymous)'} ${url}${url ? ':' + (f.lineNumber + 1) : ''}`;
};
const selfByName = new Map();
for (const [id, us] of selfUs) {
  const name = label(byId.get(id));
  selfByName.set(name, (selfByName.get(name) ?? 0) + us);
}
const idle = [...selfByName].filter(([n]) => n.startsWith('(idle)')).reduce((a, [, v]) => a + v, 0);
console.log(`total ${(total / 1e3).toFixed(1)} ms sampled, idle ${(idle / 1e3).toFixed(1)} ms, busy ${((total - idle) / 1e3).toFixed(1)} ms`);
console.log('self time (% of busy):');
for (const [name, us] of [...selfByName].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  if (name.startsWith('(idle)')) continue;
  console.log(`${((100 * us) / (total - idle)).toFixed(1).padStart(6)}%  ${(us / 1e3).toFixed(1).padStart(8)} ms  ${name}`);
}
if (inclusiveNames.length) {
  console.log('inclusive time (% of busy):');
  for (const wanted of inclusiveNames) {
    let sum = 0;
    for (const [id, us] of selfUs) {
      for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
        if (byId.get(cur).callFrame.functionName === wanted) {
          sum += us;
          break;
        }
      }
    }
    console.log(`${((100 * sum) / (total - idle)).toFixed(1).padStart(6)}%  ${(sum / 1e3).toFixed(1).padStart(8)} ms  ${wanted}`);
  }
}
