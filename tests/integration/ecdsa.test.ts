// ECDSA keys (certs.keyAlgorithm ECDSA-P256 and ECDSA-P384) with every OpenSSL an operator has:
// this machine's and Debian's builds of 3.5, 3.6 and 4.0 (scripts/openssl/fetch.sh unpacks them
// under the user's cache; a missing one fails the test, as in openssl-matrix.test.ts). With each:
// generate and verify, keys on the asked curve, EC usages, the EC service-account public key, and
// real kubectl authenticating with an EC client certificate against an EC serving certificate.
import { execFile, spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, createSign, createVerify } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { kubepki, type CliResult } from '../helpers/cli.js';
import { expectExit, REAL_OPENSSL, SPEC, verifyJson, writeSpec } from '../helpers/pki.js';
import { cleanupTmp, tmpDir } from '../helpers/tmp.js';
import { KUBECTL, requireTool } from '../helpers/tools.js';
import { startWhoamiServer } from '../helpers/whoami-server.js';
import { readCertificate } from '../../src/x509/inspect.js';

const CACHE = process.env.KUBEPKI_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'kubepki');

/** The openssl of a track: the machine's for 3.0, else the wrapper fetch.sh wrote. Missing: the test fails. */
function opensslOf(track: string): string {
  const bin = track === '3.0' ? REAL_OPENSSL : path.join(CACHE, 'openssl', track, 'bin', 'openssl');
  if (!existsSync(bin)) throw new Error(`OpenSSL ${track} is not there (${bin}): run scripts/openssl/fetch.sh`);
  const v = spawnSync(bin, ['version'], { encoding: 'utf8' });
  if (v.status !== 0 || !v.stdout.startsWith(`OpenSSL ${track}.`)) throw new Error(`${bin} should be OpenSSL ${track}; \`version\` said ${JSON.stringify(v.stdout + v.stderr)}`);
  return bin;
}

function kubectl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(requireTool(KUBECTL), args, { encoding: 'utf8', timeout: 30_000, env: { ...process.env, KUBECONFIG: '/dev/null', HOME: tmpDir() } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const CURVES = { 'ECDSA-P256': { bits: 256, curve: 'prime256v1' }, 'ECDSA-P384': { bits: 384, curve: 'secp384r1' } } as const;
type Alg = keyof typeof CURVES;
const ALGS = Object.keys(CURVES) as Alg[];
const KEYS = ['ca.key', 'server.key', 'sa.key', 'clients/admin.key', 'clients/kube-controller-manager.key', 'clients/kubelet-k8s-node-1.key'];
const LEAVES = ['server.crt', 'clients/admin.crt', 'clients/kube-proxy.crt', 'clients/kubelet-k8s-node-1.crt'];

afterAll(cleanupTmp);

describe.each(['3.0', '3.5', '3.6', '4.0'])('ECDSA with OpenSSL %s', (track) => {
  const out: Record<string, string> = {};
  const spec: Record<string, string> = {};
  const gen: Record<string, CliResult> = {};
  let bin: string;

  beforeAll(() => {
    bin = opensslOf(track);
    const work = tmpDir(`kubepki-ecdsa-${track}-`);
    for (const alg of ALGS) {
      spec[alg] = writeSpec(work, `${SPEC}certs: { keyAlgorithm: ${alg} }\n`, `${alg}.yaml`);
      out[alg] = path.join(work, alg);
      gen[alg] = kubepki(['generate', '--spec', spec[alg], '--out', out[alg], '--jobs', '2', '--openssl', bin]);
    }
  });

  test.each(ALGS)('%s: generate succeeds and verify passes without a problem or a note', (alg) => {
    expectExit(gen[alg], 0);
    expect(gen[alg].stdout).toMatch(new RegExp(`openssl commands, OpenSSL ${track.replace('.', '\\.')}\\.`));
    const { r, report } = verifyJson(out[alg], ['--spec', spec[alg]]);
    expect([report.problems, (report as unknown as { notes: unknown[] }).notes]).toEqual([[], []]);
    expectExit(r, 0);
  });

  test.each(ALGS)('%s: every key is on the asked curve, the CA\'s too; the leaves carry no keyEncipherment', (alg) => {
    for (const k of KEYS) {
      const key = createPrivateKey(readFileSync(path.join(out[alg], k)));
      expect([k, key.asymmetricKeyType, key.asymmetricKeyDetails]).toEqual([k, 'ec', { namedCurve: CURVES[alg].curve }]);
      // PKCS#8, which every Kubernetes component reads
      expect([k, readFileSync(path.join(out[alg], k), 'utf8').split('\n')[0]]).toEqual([k, '-----BEGIN PRIVATE KEY-----']);
    }
    for (const c of LEAVES) {
      const cert = readCertificate(readFileSync(path.join(out[alg], c), 'utf8'));
      expect([c, cert.keyUsage]).toEqual([c, c === 'server.crt' ? expect.arrayContaining(['digitalSignature', 'nonRepudiation']) : ['digitalSignature']]);
      expect([c, cert.keyUsage!.includes('keyEncipherment')]).toEqual([c, false]);
    }
  });

  test.each(ALGS)('%s: sa.pub is the EC public half of sa.key, and verifies what sa.key signs (ES tokens)', (alg) => {
    const pubPem = readFileSync(path.join(out[alg], 'sa.pub'), 'utf8');
    expect(pubPem.split('\n')[0]).toBe('-----BEGIN PUBLIC KEY-----');
    const pub = createPublicKey(pubPem);
    const key = createPrivateKey(readFileSync(path.join(out[alg], 'sa.key')));
    expect(pub.export({ type: 'spki', format: 'der' })).toEqual(createPublicKey(key).export({ type: 'spki', format: 'der' }));
    const hash = alg === 'ECDSA-P256' ? 'sha256' : 'sha384';
    const sig = createSign(hash).update('token').sign(key);
    expect(createVerify(hash).update('token').verify(pub, sig)).toBe(true);
  });

  test.each(ALGS)("%s: kubectl authenticates with each EC client certificate against the EC serving certificate", async (alg) => {
    const f = (rel: string) => readFileSync(path.join(out[alg], rel));
    const server = await startWhoamiServer({ cert: f('server.crt'), key: f('server.key'), ca: f('ca.crt') });
    try {
      for (const [kc, user, groups] of [
        ['admin', 'admin', ['system:masters']],
        ['kubelet-k8s-node-1', 'system:node:k8s-node-1', ['system:nodes']],
      ] as const) {
        const r = await kubectl(['--kubeconfig', path.join(out[alg], `kubeconfig/${kc}.kubeconfig`), '--server', server.url, 'auth', 'whoami', '-o', 'json']);
        expect([kc, r.code, r.stderr]).toEqual([kc, 0, '']);
        expect(JSON.parse(r.stdout).status.userInfo).toEqual({ username: user, groups: [...groups, 'system:authenticated'] });
      }
      expect(server.rejected).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
