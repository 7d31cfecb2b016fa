/**
 * The npm package: `npm pack`, installed with production dependencies only into
 * a clean prefix, and its `kubepki` bin run from outside this repository.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { explain, mustRun, pkg, packTarball, run, tempDir, type Packed } from '../helpers/package-tree.js';

let tmp: string;
let packed: Packed;
let bin: string;
let work: string;
/** PATH with node and the system tools only: nothing from this repository. */
const PATH = [path.dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(':');

function kubepki(args: string[]) {
  return run([bin, ...args], { cwd: work, env: { PATH, HOME: work, LC_ALL: 'C' } });
}

beforeAll(() => {
  tmp = tempDir('npm');
  packed = packTarball(tmp);
  const prefix = path.join(tmp, 'prefix');
  fs.mkdirSync(prefix);
  mustRun(['npm', 'install', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', '--prefix', prefix, packed.tarball], {
    cwd: tmp,
    timeout: 120_000,
  });
  bin = path.join(prefix, 'node_modules', '.bin', 'kubepki');
  work = path.join(tmp, 'work');
  fs.mkdirSync(work);
}, 150_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('npm pack', () => {
  test('ships the built CLI, the make fragment and package.json', () => {
    expect(packed.entries).toEqual(expect.arrayContaining(['package/package.json', 'package/dist/cli.js', 'package/kubepki.mk']));
  });

  test('ships no sources, tests, fixtures, source maps or key material', () => {
    const unwanted = packed.entries.filter(
      (e) =>
        /^package\/(src|tests|fixtures|scripts|node_modules|pki|coverage)\//.test(e) ||
        /\.map$/.test(e) ||
        (/\.ts$/.test(e) && !/\.d\.ts$/.test(e)) ||
        /\.(key|pem|csr|crt|srl|tgz|kubeconfig)$/.test(e) ||
        /(^|\/)(Dockerfile|\.dockerignore|jest\.config\.js|tsconfig[^/]*\.json)$/.test(e),
    );
    expect(unwanted).toEqual([]);
  });
});

describe('installed into a clean prefix with --omit=dev', () => {
  test('has the kubepki bin, every dependency and no dev dependency', () => {
    expect(fs.existsSync(bin)).toBe(true);
    const nm = path.join(tmp, 'prefix', 'node_modules');
    for (const dep of Object.keys(pkg.dependencies ?? {})) expect([dep, fs.existsSync(path.join(nm, dep))]).toEqual([dep, true]);
    const devOnly = [...Object.keys(pkg.devDependencies ?? {}), 'ts-jest', 'typescript', 'jest'].filter((d) => fs.existsSync(path.join(nm, d)));
    expect(devOnly).toEqual([]);
  });

  test('kubepki --version prints the package version', () => {
    const r = kubepki(['--version']);
    expect([r.status, r.stdout.trim()]).toEqual([0, expect.stringContaining(pkg.version)]);
  });

  test('the installed command starts node without NODE_EXTRA_CA_CERTS; node dist/cli.js keeps the environment as is', () => {
    // node 20 reads that file before any JavaScript runs and warns when it cannot: the warning
    // shows whether node was given the variable (dist/cli.js line 2: the sh launcher)
    const env = { PATH, HOME: work, LC_ALL: 'C', NODE_EXTRA_CA_CERTS: path.join(work, 'no-such-bundle.pem') };
    expect(fs.lstatSync(bin).isSymbolicLink()).toBe(true); // npm links the bin: the launcher finds node's entry through $0
    const viaBin = run([bin, '--version'], { cwd: work, env });
    expect([viaBin.status, viaBin.stdout.trim(), viaBin.stderr]).toEqual([0, `kubepki ${pkg.version}`, '']);
    const viaNode = run([process.execPath, fs.realpathSync(bin), '--version'], { cwd: work, env });
    expect([viaNode.status, viaNode.stdout.trim()]).toEqual([0, `kubepki ${pkg.version}`]);
    expect(viaNode.stderr).toContain('Ignoring extra certs');
  });

  test('kubepki --help lists the commands', () => {
    const r = kubepki(['--help']);
    expect(r.status).toBe(0);
    for (const cmd of ['generate', 'plan', 'verify', 'renew', 'init']) expect(r.stdout).toContain(cmd);
  });

  test('kubepki generate --out X writes the PKI, and verify accepts it', () => {
    const out = path.join(work, 'pki-a');
    const g = kubepki(['generate', '--out', out]);
    expect(g.status).toBe(0);
    for (const f of ['ca.key', 'ca.crt', 'ca.srl', 'master_ssl.cnf', 'server.key', 'server.csr', 'server.crt', 'manifest.json']) {
      expect([f, fs.existsSync(path.join(out, f))]).toEqual([f, true]);
    }
    expect(fs.statSync(path.join(out, 'ca.key')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(out, 'server.key')).mode & 0o777).toBe(0o600);
    expect(g.stdout + g.stderr).not.toMatch(/PRIVATE KEY/);

    const v = kubepki(['verify', '--out', out]);
    expect(v.status === 0 ? 0 : explain(v)).toBe(0);
  });

  test('kubepki verify fails (exit 1) on a PKI with a missing certificate', () => {
    const out = path.join(work, 'pki-b');
    fs.cpSync(path.join(work, 'pki-a'), out, { recursive: true, preserveTimestamps: true });
    fs.rmSync(path.join(out, 'server.crt'));
    expect(kubepki(['verify', '--out', out]).status).toBe(1);
  });

  test('kubepki plan prints the openssl script', () => {
    const r = kubepki(['plan']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/openssl\S*['"]? genrsa/);
    expect(r.stdout).toMatch(/-CAcreateserial/);
    expect(r.stdout).not.toMatch(/PRIVATE KEY/);
  });
});
