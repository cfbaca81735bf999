// The TypeScript declarations (web/lib/*.d.ts) compile, strictly, against the README's examples.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

test('index.d.ts and the per-module declarations type-check the usage examples (tsc --strict)', () => {
  let out = '';
  try {
    out = execFileSync(process.execPath, [tsc, '--noEmit', '--strict', '--target', 'es2022', '--module', 'es2022',
      '--moduleResolution', 'bundler', '--lib', 'es2022,dom', join(here, 'types/usage.ts')], { encoding: 'utf8' });
  } catch (err) {
    assert.fail(`tsc failed:\n${err.stdout}${err.stderr}`);
  }
  assert.equal(out.trim(), '');
});

test('every value index.d.ts declares is exported by index.js, and nothing else', async () => {
  const { readFileSync } = await import('node:fs');
  const dts = readFileSync(join(here, '../../web/lib/index.d.ts'), 'utf8');
  const declared = [...dts.matchAll(/^export (?:class|function|const) (\w+)/gm)].map((m) => m[1]).sort();
  const mod = await import('../../web/lib/index.js');
  assert.deepEqual(Object.keys(mod).sort(), declared);
});
