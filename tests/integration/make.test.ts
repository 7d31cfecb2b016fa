/**
 * kubepki.mk as an infrastructure repository uses it: a temp repo whose
 * Makefile includes the fragment and runs this repository's built CLI.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { explain, repoRoot, requireBuiltCli, run, fileStates, tempDir, type Result } from '../helpers/package-tree.js';

let tmp: string;
let infra: string;
let cli: string;
let stash: string;

function make(args: string[], dir = infra): Result {
  return run(['make', '--no-print-directory', ...args], { cwd: dir });
}
/** Asserts a zero exit, showing the command and its output otherwise. */
function ok(r: Result): Result {
  expect(r.status === 0 ? 0 : explain(r)).toBe(0);
  return r;
}
function writeInfraRepo(dir: string, head: string, tail = ''): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'Makefile'),
    `${head}KUBEPKI = ${process.execPath} ${cli}\ninclude ${path.join(repoRoot, 'kubepki.mk')}\n${tail}`,
  );
}
const pki = (...p: string[]) => path.join(infra, 'pki', ...p);

beforeAll(() => {
  cli = requireBuiltCli();
  tmp = tempDir('make');
  infra = path.join(tmp, 'infra');
  stash = path.join(tmp, 'stash');
  writeInfraRepo(infra, '# an infrastructure repository\n');
});

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('make targets from kubepki.mk (embedded default spec)', () => {
  test('make pki generates OUT=pki', () => {
    ok(make(['pki']));
    for (const f of ['ca.key', 'ca.crt', 'server.key', 'server.crt', 'manifest.json']) expect([f, fs.existsSync(pki(f))]).toEqual([f, true]);
    expect(fs.statSync(pki('ca.key')).mode & 0o777).toBe(0o600);
    fs.cpSync(pki(), stash, { recursive: true, preserveTimestamps: true }); // for the SPEC tests below
  });

  test('make pki-verify exits 0', () => {
    ok(make(['pki-verify']));
  });

  test('a second make pki is a no-op: make runs nothing and no file changes', () => {
    const before = fileStates(pki());
    const r = ok(make(['pki']));
    expect(r.stdout).toContain("Nothing to be done for 'pki'");
    expect(r.stdout).not.toContain(cli);
    expect(fileStates(pki())).toEqual(before);
  });

  test('make pki-plan prints exactly what kubepki plan prints (make pki-plan > plan.sh is the script)', () => {
    const plan = run([process.execPath, cli, 'plan'], { cwd: infra });
    expect(plan.status === 0 ? 0 : explain(plan)).toBe(0);
    expect(plan.stdout).toMatch(/-CAcreateserial/);
    // plain make, without the --no-print-directory of the other tests
    expect(ok(run(['make', 'pki-plan'], { cwd: infra })).stdout).toBe(plan.stdout);
    // with -C, make prints its own directory lines unless -s, as the comment in kubepki.mk says
    expect(ok(run(['make', '-s', '-C', infra, 'pki-plan'], { cwd: tmp })).stdout).toBe(plan.stdout);
  });

  test('a missing core file makes make pki run kubepki again, which completes the PKI', () => {
    const ca = fileStates(pki())['ca.key'];
    fs.rmSync(pki('manifest.json'));
    const r = ok(make(['pki']));
    expect(r.stdout).toContain(`${cli} generate`);
    expect(fs.existsSync(pki('manifest.json'))).toBe(true);
    expect(fileStates(pki())['ca.key']).toEqual(ca);
    ok(make(['pki-verify']));
  });

  test('make pki-renew re-signs the server certificate with the same CA', () => {
    const before = fileStates(pki());
    ok(make(['pki-renew']));
    const after = fileStates(pki());
    expect(after['ca.key']).toEqual(before['ca.key']);
    expect(after['ca.crt']).toEqual(before['ca.crt']);
    expect(after['server.crt']!.sha256).not.toBe(before['server.crt']!.sha256);
    ok(make(['pki-verify']));
  });

  test('make pki-clean without CONFIRM keeps the CA and sa keys, says how to delete them, and make pki rebuilds on them', () => {
    const before = fileStates(pki());
    const trustRoots = Object.keys(before).filter((f) => /(^|\/|-)ca\.(key|crt|srl)$|^sa\.(key|pub)$/.test(f));
    expect(trustRoots).toEqual(expect.arrayContaining(['ca.key', 'ca.crt']));
    const r = ok(make(['pki-clean']));
    expect(r.stdout).toContain('CONFIRM=yes');
    const after = fileStates(pki());
    // and the remembered spec, which the next make pki (no SPEC) rebuilds the leaves from
    const kept = [...trustRoots, '.kubepki/spec.json'];
    expect(Object.keys(after).sort()).toEqual(kept.sort());
    for (const f of kept) expect([f, after[f]]).toEqual([f, before[f]]);

    ok(make(['pki']));
    expect(fileStates(pki())['ca.key']).toEqual(before['ca.key']);
    ok(make(['pki-verify']));
  });

  test('make pki-clean refuses a folder that is not a PKI (OUT=., OUT=some folder) and deletes nothing', () => {
    const r1 = make(['pki-clean', 'OUT=.']);
    expect(r1.status).not.toBe(0);
    const other = path.join(infra, 'notes');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'readme.txt'), 'keep me');
    for (const confirm of [[], ['CONFIRM=yes']]) {
      const r = make(['pki-clean', 'OUT=notes', ...confirm]);
      expect(r.status).not.toBe(0);
      expect(r.stdout).toContain('does not look like a kubepki PKI folder');
    }
    expect(fs.readFileSync(path.join(other, 'readme.txt'), 'utf8')).toBe('keep me');
    expect(fs.existsSync(path.join(infra, 'Makefile'))).toBe(true);
    expect(fs.existsSync(pki('ca.key'))).toBe(true);
  });

  test('make pki-clean CONFIRM=yes deletes the CA and the folder', () => {
    ok(make(['pki-clean', 'CONFIRM=yes']));
    expect(fs.existsSync(pki('ca.key'))).toBe(false);
    expect(fs.existsSync(pki())).toBe(false);
  });

  test('make pki-verify fails when there is no PKI', () => {
    const r = make(['pki-verify']);
    expect(r.status).not.toBe(0);
  });
});

describe('kubepki.mk with SPEC and OUT', () => {
  let repo: string;
  let out: string;
  beforeAll(() => {
    repo = path.join(tmp, 'infra-spec');
    out = path.join(repo, 'secrets', 'pki');
    writeInfraRepo(repo, 'SPEC = cluster.yaml\nOUT = secrets/pki\n', 'all:\n\t@echo infra-default-goal\n');
    // the embedded default spec as a file, and the PKI made from it above (generating another costs seconds)
    const init = run([process.execPath, cli, 'init', 'cluster.yaml'], { cwd: repo });
    expect(init.status === 0 ? 0 : explain(init)).toBe(0);
    fs.mkdirSync(path.dirname(out));
    fs.cpSync(stash, out, { recursive: true, preserveTimestamps: true });
  });

  test('including kubepki.mk does not take over the default goal', () => {
    const r = ok(make([], repo));
    expect(r.stdout.trim()).toBe('infra-default-goal');
  });

  test('make pki passes --spec and --out, and generate on the matching PKI changes no PKI file', () => {
    const before = fileStates(out);
    const r = ok(make(['pki'], repo)); // the spec file is newer than the copied manifest.json
    expect(r.stdout).toContain(`${cli} generate --spec cluster.yaml --out secrets/pki`);
    const after = fileStates(out);
    for (const f of Object.keys(before)) {
      if (f === 'manifest.json') continue; // make's own touch records the spec's time
      expect([f, after[f]]).toEqual([f, before[f]]);
    }
    ok(make(['pki-verify'], repo));
  });

  test('make pki then does nothing, until the spec is newer than manifest.json; that run is recorded', () => {
    expect(ok(make(['pki'], repo)).stdout).toContain("Nothing to be done for 'pki'");
    const now = Date.now() / 1000;
    fs.utimesSync(path.join(out, 'manifest.json'), now - 100, now - 100);
    fs.utimesSync(path.join(repo, 'cluster.yaml'), now - 50, now - 50); // the spec was edited after the PKI was made
    const before = fileStates(out);
    expect(ok(make(['pki'], repo)).stdout).toContain(`${cli} generate --spec cluster.yaml`);
    const after = fileStates(out);
    for (const f of Object.keys(before)) if (f !== 'manifest.json') expect([f, after[f]]).toEqual([f, before[f]]);
    // generate changed nothing, so make's touch of manifest.json is what makes the next run a no-op
    expect(ok(make(['pki'], repo)).stdout).toContain("Nothing to be done for 'pki'");
  });

  test('make pki-plan passes the spec: its output is that of kubepki plan --spec', () => {
    const plan = run([process.execPath, cli, 'plan', '--spec', 'cluster.yaml'], { cwd: repo });
    expect(plan.status === 0 ? 0 : explain(plan)).toBe(0);
    expect(plan.stdout).toContain(' plan for cluster.yaml:');
    expect(ok(make(['pki-plan'], repo)).stdout).toBe(plan.stdout);
  });
});
