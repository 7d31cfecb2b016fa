// verify: reads a PKI folder into data (a row per certificate, a list of problems). Read-only.
// Printing is the command's job.
import { parse as parseYaml } from 'yaml';
import { isCert, type CertRow } from '../catalog/certs.js';
import { APISERVER, CA, paths } from '../catalog/names.js';
import { identityProblems } from '../check/identity.js';
import { checkOf, type KeyRef } from '../check/types.js';
import { controlPlaneHosts, flagFiles } from '../catalog/flags.js';
import { kubeconfigRows } from '../catalog/kubeconfigs.js';
import { stepsByUnit, type Plan, type Step } from '../plan/plan.js';
import { apiserverUrl } from '../render/kubeconfig.js';
import { parseFlagFile, renderFlagFile } from '../render/flags.js';
import { keyName } from '../catalog/keys.js';
import { checkCaBundle, checkCert, checkKey, checkMode, describeKey, issuerIn, REKEY_HINT, type Problem } from '../check/rules.js';
import { modeOf, readIn } from '../run/fsutil.js';
import { onHost, serviceClusterIps } from '../spec/derive.js';
import { firstServiceIp, parseServiceRanges, canonicalIp, ipVersion } from '../spec/net.js';
import { certHoldsKey, readPrivateKey, readPublicKey, subjectText, type CertInfo, type KeyInfo } from '../x509/inspect.js';

export interface CertReport {
  name: string;
  file: string;
  subject: string | null;
  notAfter: string | null;
  residualDays: number | null;
  signedBy: string;
  status: 'ok' | 'problem' | 'missing';
  problems: string[];
}

export interface VerifyReport {
  ok: boolean;
  out: string;
  warnDays: number;
  certificates: CertReport[];
  problems: Problem[];
  /** facts worth knowing that are not problems (verify still passes), each with its way out */
  notes: Problem[];
}

/** What verify reads and gathers while it walks the folder. */
interface Walk {
  plan: Plan;
  out: string;
  now: Date;
  warnDays: number;
  problems: Problem[];
  notes: Problem[];
  /** certificates read so far, by row id (a leaf is checked against its CA's) */
  certs: Map<string, CertInfo>;
  /** an external CA's chain, by row id */
  chains: Map<string, CertInfo[]>;
  text: (rel: string) => Promise<string | undefined>;
}

/** The certificate a leaf is checked against: its CA's, or the one of an external CA's chain
 *  that signed it. */
function signerOf(w: Walk, row: CertRow, pem: string): CertInfo | undefined {
  if (!row.signer) return undefined;
  const chain = w.chains.get(row.signer);
  return chain ? issuerIn(chain, pem) : w.certs.get(row.signer);
}

const missing = (file: string): Problem => ({ file, code: 'missing', message: 'is missing' });

async function secretMode(w: Walk, rel: string): Promise<void> {
  const m = modeOf(w.out, rel);
  if (m !== undefined) w.problems.push(...checkMode(rel, m, true));
}

/** A key, checked as its steps check it (and mode 0600); a CA's key of another size is a note. */
async function verifyKey(w: Walk, want: KeyRef, caCrt?: string): Promise<KeyInfo | undefined> {
  const keyText = await w.text(want.file);
  if (keyText === undefined) {
    w.problems.push(missing(want.file));
    return undefined;
  }
  const k = checkKey(want.file, keyText, want);
  for (const x of k.problems) {
    // kubepki never replaces a CA's key: a CA of another size than certs.keyBits keeps signing
    if (caCrt && (x.code === 'key-size' || x.code === 'key-type') && k.info) {
      const crt = caCrt;
      const has = describeKey(k.info);
      const asks = keyName(want);
      const setting = want.algorithm === 'rsa' && k.info.type === 'rsa' ? `certs.keyBits is ${want.bits}` : `the spec asks for ${asks}`;
      w.notes.push({
        file: want.file,
        code: 'ca-key-size',
        message: `is ${has}; ${setting}, which applies to new keys: kubepki never replaces a CA's key, so this CA keeps signing leaves with ${want.algorithm === 'rsa' ? `${want.bits}-bit keys` : `${asks} keys`}. For ${want.algorithm === 'rsa' ? `a ${want.bits}-bit` : `an ${asks}`} CA, move ${want.file} and ${crt} away and run kubepki generate (a new CA: every certificate it signs is re-issued, and everything that trusts ${crt} needs the new one)`,
      });
    } else w.problems.push(x);
  }
  await secretMode(w, want.file);
  return k.info;
}

/** An external CA: its ca.crt (a bundle works) and no key. */
async function verifyExternalCa(w: Walk, row: CertRow): Promise<CertReport> {
  const crt = paths(row).crt;
  const before = w.problems.length;
  const pem = await w.text(crt);
  let first: CertInfo | undefined;
  if (pem === undefined) w.problems.push(missing(crt));
  else {
    const r = checkCaBundle(crt, pem, w.now, w.warnDays);
    w.problems.push(...r.problems);
    if (r.chain) {
      w.chains.set(row.id, r.chain);
      first = r.chain[0];
    }
  }
  return report(w, row, crt, first, pem === undefined, w.problems.slice(before), '(external)');
}

function report(w: Walk, row: CertRow, file: string, info: CertInfo | undefined, isMissing: boolean, mine: Problem[], signedBy = row.signer ?? '(self)'): CertReport {
  return {
    name: row.id,
    file,
    subject: info ? subjectText(info) : null,
    notAfter: info ? info.notAfter.toISOString() : null,
    residualDays: info ? Math.floor((info.notAfter.getTime() - w.now.getTime()) / 86_400_000) : null,
    signedBy,
    status: isMissing ? 'missing' : mine.length ? 'problem' : 'ok',
    problems: mine.map((x) => `${x.file} ${x.message}`),
  };
}

async function verifyCertEntry(w: Walk, row: CertRow, steps: Step[]): Promise<CertReport> {
  if (row.external) return verifyExternalCa(w, row);
  const checks = steps.flatMap((s) => s.checks);
  const crtCheck = checkOf(checks, 'cert')!;
  const before = w.problems.length;
  const crt = crtCheck.file;
  const key = await verifyKey(w, checkOf(checks, 'key')!, row.kind === 'ca' ? crt : undefined);
  const crtText = await w.text(crt);
  let info: CertInfo | undefined;
  if (crtText === undefined) w.problems.push(missing(crt));
  else {
    const signer = signerOf(w, row, crtText);
    if (row.signer && !signer) w.problems.push({ file: crt, code: 'not-signed-by-ca', message: `cannot be checked: its CA ${row.signer} is missing or unreadable` });
    const r = checkCert(crt, crtText, row, key, signer, { now: w.now, warnDays: w.warnDays });
    w.problems.push(...r.problems);
    info = r.info;
    if (info) {
      w.certs.set(row.id, info);
      if (row.kind === 'leaf') w.problems.push(...identityProblems(crt, row, info));
      // OpenSSL signs a leaf beyond its CA's end without a word: it then fails with the CA
      if (signer && info.notAfter.getTime() - signer.notAfter.getTime() > 86_400_000) {
        w.notes.push({ file: crt, code: 'outlives-ca', message: `is valid until ${info.notAfter.toISOString().slice(0, 10)}, after its CA (${row.signer}, until ${signer.notAfter.toISOString().slice(0, 10)}): it stops working with the CA; renew it with --days, or plan a new CA before then` });
      }
    }
  }
  return report(w, row, crt, info, crtText === undefined, w.problems.slice(before));
}

async function verifyKeyPair(w: Walk, steps: Step[]): Promise<void> {
  const checks = steps.flatMap((s) => s.checks);
  const want = checkOf(checks, 'key')!;
  const pubFile = checkOf(checks, 'public-of')!.file;
  const before = w.problems.length;
  const key = await verifyKey(w, want);
  for (const x of w.problems.slice(before)) {
    if (x.code === 'key-size') x.message = `${x.message.replace(REKEY_HINT, '')} (kubepki generate makes a new key pair; tokens signed with the old key are then rejected)`;
  }
  const pubText = await w.text(pubFile);
  if (pubText === undefined) w.problems.push(missing(pubFile));
  else {
    try {
      if (key && readPublicKey(pubText) !== key.publicId) w.problems.push({ file: pubFile, code: 'sa-pair', message: `is not the public half of ${want.file}: tokens signed by kube-controller-manager would be rejected by kube-apiserver` });
    } catch {
      w.problems.push({ file: pubFile, code: 'unparsable', message: 'is not a readable public key' });
    }
  }
}

type KubeconfigYaml = { clusters?: { cluster?: Record<string, string> }[]; users?: { user?: Record<string, string> }[] };

/** kubeconfigs: server, CA and embedded certificate agree with the files; embedded certs checked like files */
async function verifyKubeconfigs(w: Walk): Promise<void> {
  const spec = w.plan.spec;
  const caFile = paths(CA).crt;
  const caPem = await w.text(caFile);
  for (const k of kubeconfigRows(w.plan.rows)) {
    const text = await w.text(k.path);
    if (text === undefined) {
      w.problems.push(missing(k.path));
      continue;
    }
    let doc: KubeconfigYaml;
    try {
      doc = parseYaml(text);
    } catch {
      w.problems.push({ file: k.path, code: 'unparsable', message: 'is not valid YAML' });
      continue;
    }
    const cluster = doc?.clusters?.[0]?.cluster ?? {};
    const user = doc?.users?.[0]?.user ?? {};
    const want = apiserverUrl(spec);
    if (cluster.server !== want) w.problems.push({ file: k.path, code: 'kubeconfig-server', message: `points at ${cluster.server}; the spec says ${want}` });
    if (cluster.server) {
      try {
        const host = new URL(cluster.server).hostname.replace(/^\[|\]$/g, '');
        // every control-plane host answers at that name: each kube-apiserver certificate must carry it
        for (const cp of controlPlaneHosts(spec)) {
          const c = w.certs.get(cp.cert.id);
          const sans = c?.sans ?? { dns: [], ip: [], other: [] };
          const inSans = ipVersion(host) ? sans.ip.includes(canonicalIp(host)) : sans.dns.includes(host);
          if (c && !inSans) w.problems.push({ file: k.path, code: 'kubeconfig-server', message: `names server host ${host}, which is not a SAN of ${paths(cp.cert).crt}: clients will refuse the connection` });
        }
      } catch {
        w.problems.push({ file: k.path, code: 'kubeconfig-server', message: `has an unreadable server URL ${JSON.stringify(cluster.server)}` });
      }
    }
    const p = paths(k.cert);
    if (cluster['certificate-authority-data'] !== undefined || user['client-certificate-data'] !== undefined) {
      const dec = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString('utf8') : undefined);
      if (caPem !== undefined && dec(cluster['certificate-authority-data']) !== caPem) w.problems.push({ file: k.path, code: 'kubeconfig-ca', message: `embeds a CA certificate that differs from ${caFile}` });
      const crt = dec(user['client-certificate-data']);
      const fileCrt = await w.text(p.crt);
      if (crt === undefined) w.problems.push({ file: k.path, code: 'kubeconfig-cert', message: 'embeds no client certificate' });
      else {
        if (fileCrt !== undefined && crt !== fileCrt) w.problems.push({ file: k.path, code: 'kubeconfig-cert', message: `embeds a client certificate that differs from ${p.crt}` });
        const r = checkCert(`${k.path} (embedded certificate)`, crt, k.cert, undefined, signerOf(w, k.cert, crt), { now: w.now, warnDays: w.warnDays });
        w.problems.push(...r.problems);
        const keyPem = dec(user['client-key-data']);
        if (keyPem && r.info) {
          try {
            if (!certHoldsKey(r.info, readPrivateKey(keyPem))) w.problems.push({ file: k.path, code: 'key-mismatch', message: 'embeds a key that does not match its embedded certificate' });
          } catch {
            w.problems.push({ file: k.path, code: 'unparsable', message: 'embeds an unreadable private key' });
          }
        }
        if (r.info) w.problems.push(...identityProblems(`${k.path} (embedded certificate)`, k.cert, r.info));
      }
      if (user['client-key-data'] !== undefined) await secretMode(w, k.path);
    } else {
      for (const [field, rel] of [
        [cluster['certificate-authority'], caFile],
        [user['client-certificate'], p.crt],
        [user['client-key'], p.key],
      ] as const) {
        const want = onHost(spec, rel);
        if (field !== want) w.problems.push({ file: k.path, code: 'kubeconfig-paths', message: `names ${JSON.stringify(field)}; expected ${want}` });
      }
    }
  }
}

/** --service-cluster-ip-range starts at the kubernetes Service address(es), each a SAN of the
 *  API server's certificate. */
function serviceRangeProblems(w: Walk, file: string, range: string): Problem[] {
  const clusterIps = (() => {
    try {
      return serviceClusterIps(w.plan.spec);
    } catch {
      return [];
    }
  })();
  const server = w.certs.get(APISERVER.id);
  const serverSans = server?.sans ?? { dns: [], ip: [], other: [] };
  // one range, or a dual-stack pair: the kubernetes Service has the first address of each
  const r = parseServiceRanges(range);
  const firsts = typeof r === 'string' ? undefined : r.map(firstServiceIp);
  if (!firsts || firsts.join() !== clusterIps.join()) {
    return [{ file, code: 'service-ip', message: `--service-cluster-ip-range=${range} starts at ${firsts ? firsts.join(' and ') : '(invalid)'}, but the spec's kubernetes Service address${clusterIps.length > 1 ? 'es are' : ' is'} ${clusterIps.join(' and ')}` }];
  }
  if (!server) return [];
  return firsts
    .filter((x) => !serverSans.ip.includes(x))
    .map((first) => ({ file, code: 'service-ip', message: `--service-cluster-ip-range=${range}: the Service address ${first} is not a SAN of ${paths(APISERVER).crt} (in-cluster clients will refuse the API server)` }));
}

/** flag files: as the spec renders them; their paths exist; the cross-file facts hold */
async function verifyFlagFiles(w: Walk): Promise<void> {
  const spec = w.plan.spec;
  const dir = onHost(spec, '');
  const saPaths: string[] = [];
  for (const f of flagFiles(spec)) {
    const text = await w.text(f.path);
    if (text === undefined) {
      w.problems.push(missing(f.path));
      continue;
    }
    const parsed = parseFlagFile(text);
    if (!parsed) {
      w.problems.push({ file: f.path, code: 'unparsable', message: `has no ${f.variable}="…" line` });
      continue;
    }
    if (text !== renderFlagFile(spec, f)) w.problems.push({ file: f.path, code: 'flags-drift', message: 'differs from what the spec gives (run kubepki generate to rewrite it)' });
    for (const [flag, value] of parsed.flags) {
      if (value.startsWith(dir)) {
        const rel = value.slice(dir.length);
        if ((await readIn(w.out, rel)) === undefined) w.problems.push({ file: f.path, code: 'flags-path', message: `${flag} names ${value}, but ${rel} is not in the PKI folder` });
      }
    }
    const range = parsed.flags.get('--service-cluster-ip-range');
    if (range !== undefined) w.problems.push(...serviceRangeProblems(w, f.path, range));
    for (const flag of SA_FLAGS) {
      const v = parsed.flags.get(flag);
      if (v?.startsWith(dir)) saPaths.push(v.slice(dir.length));
    }
  }
  // the service-account files the flags name must be one key pair
  const saPubs = new Set<string>();
  for (const rel of new Set(saPaths)) {
    const t = await w.text(rel);
    if (t === undefined) continue;
    try {
      saPubs.add(t.includes('PRIVATE KEY') ? readPrivateKey(t).publicId : readPublicKey(t));
    } catch {
      /* reported above */
    }
  }
  if (saPubs.size > 1) w.problems.push({ file: 'flags/', code: 'sa-pair', message: `the service-account key files named by the flags (${[...new Set(saPaths)].join(', ')}) are not one key pair` });
}

const SA_FLAGS = ['--service-account-key-file', '--service-account-signing-key-file', '--service-account-private-key-file'];

export async function verifyPki(plan: Plan, out: string, warnDays: number, now = new Date()): Promise<VerifyReport> {
  const w: Walk = { plan, out, now, warnDays, problems: [], notes: [], certs: new Map(), chains: new Map(), text: async (rel) => (await readIn(out, rel))?.toString('utf8') };
  const byUnit = stepsByUnit(plan.steps);
  const certificates: CertReport[] = [];
  // certificates first (a leaf is checked against its CA), then the key pairs
  for (const e of plan.rows) certificates.push(await verifyCertEntry(w, e, byUnit.get(e.id) ?? []));
  for (const e of plan.entries) if (!isCert(e)) await verifyKeyPair(w, byUnit.get(e.id) ?? []);
  await verifyKubeconfigs(w);
  await verifyFlagFiles(w);
  return { ok: w.problems.length === 0, out, warnDays, certificates, problems: w.problems, notes: w.notes };
}

