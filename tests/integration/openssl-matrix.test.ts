// Every OpenSSL an operator has: this machine's 3.0 and Debian's own builds of 3.5 (trixie), 3.6
// (sid) and 4.0 (experimental), which scripts/openssl/fetch.sh unpacks under the user's cache and
// runs through their own glibc. With each: generate (a default, a full and a bare spec), verify,
// renew, the plan script run by hand, kubectl's view of the identities, and a CA that is the
// documented `req -x509` under Debian's default openssl.cnf and the same without any openssl.cnf.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { kubepki, type CliResult } from '../helpers/cli.js';
import { expectExit, REAL_OPENSSL, SPEC, verifyJson, writeSpec } from '../helpers/pki.js';
import { cleanupTmp, tmpDir } from '../helpers/tmp.js';
import { KUBECTL, requireTool } from '../helpers/tools.js';
import { startWhoamiServer } from '../helpers/whoami-server.js';
import { children, pemToDer, readTlv, whole } from '../../src/x509/der.js';
import { readCertificate } from '../../src/x509/inspect.js';

const CACHE = process.env.KUBEPKI_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'kubepki');

/** The openssl of a track: the machine's for 3.0, else the wrapper fetch.sh wrote. Missing: the test fails. */
function opensslOf(track: string): string {
  const bin = track === '3.0' ? REAL_OPENSSL : path.join(CACHE, 'openssl', track, 'bin', 'openssl');
  if (!existsSync(bin)) {
    throw new Error(`OpenSSL ${track} is not there (${bin}): run scripts/openssl/fetch.sh (it unpacks Debian's build under ${CACHE}/openssl; npm test runs it)`);
  }
  const v = spawnSync(bin, ['version'], { encoding: 'utf8' });
  if (v.status !== 0 || !v.stdout.startsWith(`OpenSSL ${track}.`)) {
    throw new Error(`${bin} should be OpenSSL ${track}; \`version\` said ${JSON.stringify(v.stdout + v.stderr)}${track === '3.0' ? '' : ': run scripts/openssl/fetch.sh --refresh'}`);
  }
  return bin;
}

/** The environment without OPENSSL_CONF: each openssl reads its own distribution's default openssl.cnf. */
function envWith(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  if (!('OPENSSL_CONF' in extra)) delete env.OPENSSL_CONF;
  return env;
}

const DEFAULT = SPEC;
const FULL = `${SPEC}etcd: { mode: tls, members: [{ name: etcd-1, ip: 127.0.0.1 }] }
frontProxy: true
kubeletTLS: { enabled: true }
`;
const BARE = `${SPEC}certs: { clientExtensions: false }
`;
const BARE_ROWS = ['kube-controller-manager', 'kube-scheduler', 'kube-proxy', 'admin', 'kubelet-k8s-node-1'];
const CA_FILES = ['ca.crt', 'etcd/ca.crt', 'front-proxy-ca.crt'];

/** The parts of a certificate that must not differ between two runs of the same command with the
 *  same key: everything of the TBS but serial and validity (DER bytes, hex), and the outer algorithm. */
function tbsParts(pem: string) {
  const cert = readTlv(pemToDer(pem, 'CERTIFICATE'));
  const [tbs, sigAlg] = children(cert);
  const f = children(tbs);
  const hex = (i: number) => (f[i] ? whole(f[i]).toString('hex') : undefined);
  return { fields: f.length, version: hex(0), signature: hex(2), issuer: hex(3), subject: hex(5), publicKey: hex(6), extensions: hex(7), signatureAlgorithm: whole(sigAlg).toString('hex') };
}

function kubectl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(requireTool(KUBECTL), args, { encoding: 'utf8', timeout: 30_000, env: { ...process.env, KUBECONFIG: '/dev/null', HOME: tmpDir() } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** sh SCRIPT in cwd, asynchronously (two scripts run at once) */
function shell(script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile('sh', [script], { cwd, env, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (err, _stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr });
    });
  });
}

afterAll(cleanupTmp);

describe.each(['3.0', '3.5', '3.6', '4.0'])('OpenSSL %s', (track) => {
  let bin: string;
  let version: string;
  let work: string;
  const specs: Record<string, string> = {};
  const pki: Record<string, string> = {};
  const gens: Record<string, CliResult> = {};
  /** the spec file each PKI was made from */
  const specOf: Record<string, string> = {};
  const run = (args: string[], env: Record<string, string> = {}) => kubepki([...args, '--openssl', bin], { env: envWith(env) });

  beforeAll(() => {
    bin = opensslOf(track);
    version = execFileSync(bin, ['version'], { encoding: 'utf8' }).match(/^OpenSSL \S+/)![0];
    work = tmpDir(`kubepki-ossl-${track}-`);
    for (const [name, text] of Object.entries({ default: DEFAULT, full: FULL, bare: BARE })) specs[name] = writeSpec(work, text, `${name}.yaml`);
    // default, full and bare with the system's configuration; full again without any openssl.cnf
    for (const [name, spec, env] of [
      ['default', 'default', {}],
      ['full', 'full', {}],
      ['bare', 'bare', {}],
      ['full-no-cnf', 'full', { OPENSSL_CONF: '/dev/null' }],
    ] as const) {
      pki[name] = path.join(work, name);
      specOf[name] = specs[spec];
      gens[name] = run(['generate', '--spec', specs[spec], '--out', pki[name]], env);
    }
  });

  test('generate succeeds with the default, full and bare specs (and the full one with OPENSSL_CONF=/dev/null), naming this OpenSSL; verify passes', () => {
    for (const [name, r] of Object.entries(gens)) {
      expectExit(r, 0);
      expect([name, r.stdout]).toEqual([name, expect.stringContaining(`openssl commands, ${version}, `)]);
      const { r: v, report } = verifyJson(pki[name], ['--spec', specOf[name]]);
      expect([name, report.problems]).toEqual([name, []]);
      expectExit(v, 0);
    }
  });

  test('bare client certificates are exactly what this openssl writes for x509 -req without -extfile', () => {
    const v3 = !/^OpenSSL 3\.[01]\./.test(version);
    for (const id of BARE_ROWS) {
      const c = readCertificate(readFileSync(path.join(pki.bare, `clients/${id}.crt`), 'utf8'));
      expect([id, c.version, c.extensions.map((e) => e.oid)]).toEqual([id, v3 ? 3 : 1, v3 ? ['2.5.29.14', '2.5.29.35'] : []]);
    }
    expect(gens.bare.stdout).toMatch(new RegExp(`✓ clients/admin\\.crt: v${v3 ? 3 : 1} /CN=admin/O=system:masters, signed by ca`));
    // generate again with the same openssl: nothing is re-issued
    const again = run(['generate', '--spec', specs.bare, '--out', pki.bare]);
    expectExit(again, 0);
    expect(again.stdout).toMatch(/^nothing to do: /m);
  });

  test('every CA carries critical CA:TRUE and a subject key identifier, with or without an openssl.cnf', () => {
    for (const name of ['full', 'full-no-cnf']) {
      for (const f of CA_FILES) {
        const c = readCertificate(readFileSync(path.join(pki[name], f), 'utf8'));
        expect([name, f, c.basicConstraints, c.extensions.map((e) => e.oid)]).toEqual([name, f, { ca: true, critical: true }, ['2.5.29.14', '2.5.29.35', '2.5.29.19']]);
      }
    }
  });

  test("the CA is the documented req -x509 under this distribution's default openssl.cnf, byte for byte but serial and validity", () => {
    // OpenSSL 4.0's default openssl.cnf asks for no authority key identifier on a self-signed
    // certificate (authorityKeyIdentifier = keyid:nonss,issuer:nonss); kubepki's CA keeps the one
    // that Debian's configuration of 3.0 to 3.6 gives, so that the CA is the same everywhere
    const withoutAkid = (hexExts: string) => {
      const ext = children(children(readTlv(Buffer.from(hexExts, 'hex')))[0]);
      return ext.filter((e) => !whole(e).includes(Buffer.from('0603551d23', 'hex'))).map((e) => whole(e).toString('hex'));
    };
    for (const name of ['default', 'full-no-cnf']) {
      const dir = pki[name];
      const doc = path.join(tmpDir(), 'documented-ca.crt');
      const r = spawnSync(bin, ['req', '-x509', '-new', '-nodes', '-key', 'ca.key', '-subj', '/CN=k8s-master', '-days', '5000', '-out', doc], { cwd: dir, env: envWith(), encoding: 'utf8' });
      expect(r.status).toBe(0);
      const mine = tbsParts(readFileSync(path.join(dir, 'ca.crt'), 'utf8'));
      expect(mine.fields).toBe(8);
      const documented = tbsParts(readFileSync(doc, 'utf8'));
      if (track === '4.0') {
        expect([name, withoutAkid(mine.extensions!)]).toEqual([name, withoutAkid(documented.extensions!)]);
        expect(withoutAkid(documented.extensions!)).toHaveLength(2);
        expect({ ...mine, extensions: '' }).toEqual({ ...documented, extensions: '' });
      } else expect([name, mine]).toEqual([name, documented]);
    }
  });

  test('renew --all re-signs every leaf with this openssl; verify passes again', () => {
    for (const name of ['default', 'full', 'bare']) {
      const before = readFileSync(path.join(pki[name], 'clients/admin.crt'), 'utf8');
      const r = run(['renew', '--all', '--spec', specOf[name], '--out', pki[name]]);
      expectExit(r, 0);
      expect(readFileSync(path.join(pki[name], 'clients/admin.crt'), 'utf8')).not.toBe(before);
      const { r: v, report } = verifyJson(pki[name], ['--spec', specOf[name]]);
      expect([name, report.problems]).toEqual([name, []]);
      expectExit(v, 0);
    }
  });

  test('the plan script, run by hand with this openssl first on PATH, makes a PKI that verify accepts (the full one with OPENSSL_CONF=/dev/null)', async () => {
    const PATH = `${path.dirname(bin)}:${process.env.PATH}`;
    const byHand = async (spec: string, env: Record<string, string>) => {
      const p = kubepki(['plan', '--spec', specs[spec]]);
      expectExit(p, 0);
      const dir = path.join(work, `by-hand-${spec}`);
      mkdirSync(dir);
      const script = path.join(work, `plan-${spec}.sh`);
      writeFileSync(script, p.stdout);
      const sh = await shell(script, dir, envWith({ ...env, PATH }));
      return { spec, dir, sh };
    };
    // both scripts at once (each runs its commands one after another)
    const runs = await Promise.all([byHand('full', { OPENSSL_CONF: '/dev/null' }), byHand('bare', {})]);
    for (const { spec, dir, sh } of runs) {
      expect([spec, sh.code, sh.stderr.split('\n').filter((l) => /error|unable/i.test(l))]).toEqual([spec, 0, []]);
      for (const f of spec === 'full' ? CA_FILES : ['ca.crt']) {
        expect([spec, f, readCertificate(readFileSync(path.join(dir, f), 'utf8')).basicConstraints]).toEqual([spec, f, { ca: true, critical: true }]);
      }
      const { r: v, report } = verifyJson(dir, ['--spec', specs[spec]]);
      expect([spec, report.problems]).toEqual([spec, []]);
      expectExit(v, 0);
    }
  });

  test("kubectl sees each client's identity through its kubeconfig (default and bare PKIs)", async () => {
    for (const name of ['default', 'bare']) {
      const f = (rel: string) => readFileSync(path.join(pki[name], rel));
      const server = await startWhoamiServer({ cert: f('server.crt'), key: f('server.key'), ca: f('ca.crt') });
      try {
        for (const [kc, user, groups] of [
          ['admin', 'admin', ['system:masters']],
          ['kube-controller-manager', 'system:kube-controller-manager', []],
          ['kubelet-k8s-node-1', 'system:node:k8s-node-1', ['system:nodes']],
        ] as const) {
          const r = await kubectl(['--kubeconfig', path.join(pki[name], `kubeconfig/${kc}.kubeconfig`), '--server', server.url, 'auth', 'whoami', '-o', 'json']);
          expect([name, kc, r.code, r.stderr]).toEqual([name, kc, 0, '']);
          expect(JSON.parse(r.stdout).status.userInfo).toEqual({ username: user, groups: [...groups, 'system:authenticated'] });
        }
        expect(server.rejected).toEqual([]);
      } finally {
        await server.close();
      }
    }
  });
});
