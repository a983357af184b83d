import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** `npm run bench -- NAME...`: runs test/bench/NAME.ts (all when none is named), each in its own process. */
const dir = fileURLToPath(new URL('.', import.meta.url));
const available = readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.includes('support')).map((f) => f.slice(0, -3)).sort();
const names = process.argv.slice(2);
for (const name of names) {
  if (!existsSync(`${dir}/${name}.ts`)) {
    console.error(`unknown benchmark "${name}"; available: ${available.join(', ')}`);
    process.exit(2);
  }
}
// The gateway benchmark runs the per-cable one at its end: running everything runs it once.
const all = available.filter((name) => name !== 'cables');
let failed = 0;
for (const name of names.length ? names : all) {
  console.log(`== bench ${name}`);
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, [`${dir}/${name}.ts`], { stdio: 'inherit' });
    child.on('close', (c) => resolve(c ?? 1));
  });
  if (code !== 0) failed++;
}
process.exit(failed ? 1 : 0);
