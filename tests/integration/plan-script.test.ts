// The plan script run by hand with sh: it never replaces a CA (in a folder that has one it stops
// before writing anything), it stops at an embed it cannot read, and its folders get the modes
// generate gives them. Real openssl; the test-only fake openssl only to make one call fail.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { kubepki } from '../helpers/cli.js';
import { FAKE_BIN, SPEC, basePki, expectExit, fakeEnv, snapshot } from '../helpers/pki.js';
import { cleanupTmp } from '../helpers/tmp.js';

let work: string;
let spec: string;
let script: string;
let generated: string;

beforeAll(() => {
  ({ work, spec, out: generated } = basePki(SPEC, 'script'));
  const plan = kubepki(['plan', '--spec', spec]);
  expectExit(plan, 0);
  script = path.join(work, 'plan.sh');
  writeFileSync(script, plan.stdout);
});
afterAll(() => cleanupTmp());

function runScript(dir: string, env: NodeJS.ProcessEnv = {}) {
  return spawnSync('sh', [script], { cwd: dir, encoding: 'utf8', env: { ...process.env, ...env } });
}

/** rel path -> mode of every folder under dir (.kubepki, which only generate makes, left out). */
function folderModes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (!e.isDirectory() || (d === dir && e.name === '.kubepki')) continue;
      const p = path.join(d, e.name);
      out[path.relative(dir, p)] = (statSync(p).mode & 0o777).toString(8);
      walk(p);
    }
  };
  walk(dir);
  return out;
}

let made: string;

test('run in an empty folder it makes a PKI that verify accepts, whose folders have the modes generate gives them', () => {
  made = path.join(work, 'made');
  mkdirSync(made);
  const r = runScript(made);
  expect([r.status, r.status === 0 ? '' : r.stderr]).toEqual([0, '']);
  const modes = folderModes(made);
  expect(Object.keys(modes).length).toBeGreaterThan(0);
  expect(modes).toEqual(folderModes(generated));
  expect(Object.values(modes).every((m) => m === '755')).toBe(true);
  const v = kubepki(['verify', '--spec', spec, '--out', made]);
  expectExit(v, 0);
});

test('run again in that folder it exits 1 naming the CA and changes nothing: the CA is byte-identical', () => {
  const before = snapshot(made);
  const r = runScript(made);
  expect(r.status).toBe(1);
  expect(r.stderr).toBe(`${script}: ca.key exists: this folder already has a CA, which this script would replace; run it in an empty folder (kubepki generate completes an existing PKI)\n`);
  expect(snapshot(made)).toEqual(before);
});

test('a folder with only a CA certificate is refused the same way, before any folder is made', () => {
  const dir = path.join(work, 'only-crt');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'ca.crt'), 'a CA certificate from elsewhere\n');
  const r = runScript(dir);
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('ca.crt exists: this folder already has a CA');
  expect(readdirSync(dir)).toEqual(['ca.crt']);
});

test('an embed that cannot be read stops the script before its kubeconfig is written', () => {
  const text = spawnSync('cat', [script], { encoding: 'utf8' }).stdout.split('\n');
  const firstEmbed = text.findIndex((l) => /^b64_\w+=\$\(openssl base64 -A -in /.test(l));
  expect(firstEmbed).toBeGreaterThan(0);
  // that base64 call is the one that fails (every call that reads its file does)
  const embed = /\$\(openssl (base64 -A -in \S+)\)/.exec(text[firstEmbed])![1];
  const kubeconfig = text.slice(firstEmbed).find((l) => l.startsWith('cat > '))!.split(' ')[2];
  const dir = path.join(work, 'failing-embed');
  mkdirSync(dir);
  const env = { ...fakeEnv('fail', { match: embed }), PATH: `${FAKE_BIN}:${process.env.PATH}` };
  const r = runScript(dir, env);
  expect(r.status).not.toBe(0);
  expect(r.stderr).toContain(`fake openssl: fails on purpose: ${embed}\n`);
  expect([kubeconfig, existsSync(path.join(dir, kubeconfig))]).toEqual([kubeconfig, false]);
});
