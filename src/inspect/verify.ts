// verify: reads a PKI folder into data (a row per certificate, a list of problems). Read-only.
// Printing is the command's job.
import { parse as parseYaml } from 'yaml';
import { paths, SA, type CertRow } from '../catalog/certs.js';
import { flagFiles } from '../catalog/flags.js';
import { kubeconfigRows } from '../catalog/kubeconfigs.js';
import type { Plan } from '../plan/plan.js';
import { apiserverUrl } from '../render/kubeconfig.js';
import { parseFlagFile, renderFlagFile } from '../render/flags.js';
import { checkCert, checkKey, checkMode, type Problem } from '../run/checks.js';
import { modeOf, readIn } from '../run/fsutil.js';
import { serviceClusterIps } from '../spec/derive.js';
import { rbacNameProblems } from '../spec/rbac.js';
import { firstServiceIp, parseServiceRanges, canonicalIp, ipVersion } from '../spec/net.js';
import { readPrivateKey, readPublicKey, subjectText, type CertInfo, type KeyInfo } from '../x509/inspect.js';

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


/** RBAC hygiene of a CN or O value on disk: typos that would silently bind nothing (or too much). */
export function identityProblems(file: string, row: CertRow, c: CertInfo): Problem[] {
  const out: Problem[] = [];
  for (const rdn of c.subject) {
    for (const a of rdn) {
      if (a.type !== 'CN' && a.type !== 'O') continue;
      const v = a.value;
      const say = (code: string, m: string) => out.push({ file, code, message: `${a.type} ${JSON.stringify(v)} ${m}` });
      for (const m of rbacNameProblems(v)) say('rbac-identity', m);
      if (a.type === 'O' && v === 'system:masters' && !row.mayBeMaster) say('rbac-masters', 'grants unrestricted cluster-admin (system:masters) to an identity other than admin');
    }
  }
  if (row.node !== undefined) {
    const cn = c.subject.flat().find((a) => a.type === 'CN')?.value;
    if (cn !== `system:node:${row.node}`) out.push({ file, code: 'kubelet-identity', message: `CN ${JSON.stringify(cn)} is not system:node:${row.node}: the Node authorizer will not recognise the kubelet of ${row.node}` });
  }
  return out;
}

export async function verifyPki(plan: Plan, out: string, warnDays: number, now = new Date()): Promise<VerifyReport> {
  const problems: Problem[] = [];
  const notes: Problem[] = [];
  const certificates: CertReport[] = [];
  const certs = new Map<string, CertInfo>();
  const keys = new Map<string, KeyInfo>();
  const spec = plan.spec;

  const readText = async (rel: string) => (await readIn(out, rel))?.toString('utf8');
  const secretMode = async (rel: string) => {
    const m = modeOf(out, rel);
    if (m !== undefined) problems.push(...checkMode(rel, m, true));
  };

  for (const row of plan.rows) {
    const p = paths(row);
    const before = problems.length;
    const keyText = await readText(p.key);
    let key: KeyInfo | undefined;
    if (keyText === undefined) problems.push({ file: p.key, code: 'missing', message: 'is missing' });
    else {
      const k = checkKey(p.key, keyText, row);
      for (const x of k.problems) {
        // kubepki never replaces a CA's key: a CA of another size than certs.keyBits keeps signing
        if (row.kind === 'ca' && x.code === 'key-size' && k.info) {
          notes.push({
            file: p.key,
            code: 'ca-key-size',
            message: `is RSA ${k.info.bits}; certs.keyBits is ${row.keyBits}, which applies to new keys: kubepki never replaces a CA's key, so this CA keeps signing leaves with ${row.keyBits}-bit keys. For a ${row.keyBits}-bit CA, move ${p.key} and ${p.crt} away and run kubepki generate (a new CA: every certificate it signs is re-issued, and everything that trusts ${p.crt} needs the new one)`,
          });
        } else problems.push(x);
      }
      key = k.info;
      if (key) keys.set(row.id, key);
      await secretMode(p.key);
    }
    const crtText = await readText(p.crt);
    let info: CertInfo | undefined;
    if (crtText === undefined) problems.push({ file: p.crt, code: 'missing', message: 'is missing' });
    else {
      const signer = row.signer ? certs.get(row.signer) : undefined;
      if (row.signer && !signer) problems.push({ file: p.crt, code: 'not-signed-by-ca', message: `cannot be checked: its CA ${row.signer} is missing or unreadable` });
      const r = checkCert(p.crt, crtText, row, key, signer, { now, warnDays });
      problems.push(...r.problems);
      info = r.info;
      if (info) {
        certs.set(row.id, info);
        if (row.kind === 'leaf') problems.push(...identityProblems(p.crt, row, info));
      }
    }
    const mine = problems.slice(before);
    certificates.push({
      name: row.id,
      file: p.crt,
      subject: info ? subjectText(info) : null,
      notAfter: info ? info.notAfter.toISOString() : null,
      residualDays: info ? Math.floor((info.notAfter.getTime() - now.getTime()) / 86_400_000) : null,
      signedBy: row.signer ?? '(self)',
      status: crtText === undefined ? 'missing' : mine.length ? 'problem' : 'ok',
      problems: mine.map((x) => `${x.file} ${x.message}`),
    });
  }

  // the service-account key pair
  let saKey: KeyInfo | undefined;
  const saText = await readText(SA.key);
  if (saText === undefined) problems.push({ file: SA.key, code: 'missing', message: 'is missing' });
  else {
    const k = checkKey(SA.key, saText, { keyBits: spec.certs.keyBits });
    saKey = k.info;
    for (const x of k.problems) {
      problems.push(x.code === 'key-size' ? { ...x, message: `is RSA ${k.info!.bits}; the spec asks for ${spec.certs.keyBits} bits (kubepki generate makes a new key pair; tokens signed with the old key are then rejected)` } : x);
    }
    await secretMode(SA.key);
  }
  const pubText = await readText(SA.pub);
  if (pubText === undefined) problems.push({ file: SA.pub, code: 'missing', message: 'is missing' });
  else {
    try {
      if (saKey && readPublicKey(pubText) !== saKey.publicId) problems.push({ file: SA.pub, code: 'sa-pair', message: `is not the public half of ${SA.key}: tokens signed by kube-controller-manager would be rejected by kube-apiserver` });
    } catch {
      problems.push({ file: SA.pub, code: 'unparsable', message: 'is not a readable public key' });
    }
  }

  // kubeconfigs: server, CA and embedded certificate agree with the files; embedded certs checked like files
  const server = certs.get('apiserver');
  const serverSans = server?.sans ?? { dns: [], ip: [], other: [] };
  const caPem = await readText('ca.crt');
  for (const k of kubeconfigRows(plan.rows)) {
    const text = await readText(k.path);
    if (text === undefined) {
      problems.push({ file: k.path, code: 'missing', message: 'is missing' });
      continue;
    }
    let doc: { clusters?: { cluster?: Record<string, string> }[]; users?: { user?: Record<string, string> }[] };
    try {
      doc = parseYaml(text);
    } catch {
      problems.push({ file: k.path, code: 'unparsable', message: 'is not valid YAML' });
      continue;
    }
    const cluster = doc?.clusters?.[0]?.cluster ?? {};
    const user = doc?.users?.[0]?.user ?? {};
    const want = apiserverUrl(spec);
    if (cluster.server !== want) problems.push({ file: k.path, code: 'kubeconfig-server', message: `points at ${cluster.server}; the spec says ${want}` });
    if (cluster.server) {
      try {
        const host = new URL(cluster.server).hostname.replace(/^\[|\]$/g, '');
        const inSans = ipVersion(host) ? serverSans.ip.includes(canonicalIp(host)) : serverSans.dns.includes(host);
        if (server && !inSans) problems.push({ file: k.path, code: 'kubeconfig-server', message: `names server host ${host}, which is not a SAN of server.crt: clients will refuse the connection` });
      } catch {
        problems.push({ file: k.path, code: 'kubeconfig-server', message: `has an unreadable server URL ${JSON.stringify(cluster.server)}` });
      }
    }
    const p = paths(k.cert);
    if (cluster['certificate-authority-data'] !== undefined || user['client-certificate-data'] !== undefined) {
      const dec = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString('utf8') : undefined);
      if (caPem !== undefined && dec(cluster['certificate-authority-data']) !== caPem) problems.push({ file: k.path, code: 'kubeconfig-ca', message: 'embeds a CA certificate that differs from ca.crt' });
      const crt = dec(user['client-certificate-data']);
      const fileCrt = await readText(p.crt);
      if (crt === undefined) problems.push({ file: k.path, code: 'kubeconfig-cert', message: 'embeds no client certificate' });
      else {
        if (fileCrt !== undefined && crt !== fileCrt) problems.push({ file: k.path, code: 'kubeconfig-cert', message: `embeds a client certificate that differs from ${p.crt}` });
        const r = checkCert(`${k.path} (embedded certificate)`, crt, k.cert, undefined, certs.get(k.cert.signer!), { now, warnDays });
        problems.push(...r.problems);
        const keyPem = dec(user['client-key-data']);
        if (keyPem && r.info) {
          try {
            if (!r.info.x509.checkPrivateKey(readPrivateKey(keyPem).key)) problems.push({ file: k.path, code: 'key-mismatch', message: 'embeds a key that does not match its embedded certificate' });
          } catch {
            problems.push({ file: k.path, code: 'unparsable', message: 'embeds an unreadable private key' });
          }
        }
        if (r.info) problems.push(...identityProblems(`${k.path} (embedded certificate)`, k.cert, r.info));
      }
      if (user['client-key-data'] !== undefined) await secretMode(k.path);
    } else {
      const host = (rel: string) => `${spec.install.dir.replace(/\/+$/, '')}/${rel}`;
      for (const [field, rel] of [
        [cluster['certificate-authority'], 'ca.crt'],
        [user['client-certificate'], p.crt],
        [user['client-key'], p.key],
      ] as const) {
        if (field !== host(rel)) problems.push({ file: k.path, code: 'kubeconfig-paths', message: `names ${JSON.stringify(field)}; expected ${host(rel)}` });
      }
    }
  }

  // flag files: as the spec renders them; their paths exist; the cross-file facts hold
  const clusterIps = (() => {
    try {
      return serviceClusterIps(spec);
    } catch {
      return [];
    }
  })();
  const dir = spec.install.dir.replace(/\/+$/, '') + '/';
  const saPaths: string[] = [];
  for (const f of flagFiles(spec)) {
    const text = await readText(f.path);
    if (text === undefined) {
      problems.push({ file: f.path, code: 'missing', message: 'is missing' });
      continue;
    }
    const parsed = parseFlagFile(text);
    if (!parsed) {
      problems.push({ file: f.path, code: 'unparsable', message: `has no ${f.variable}="…" line` });
      continue;
    }
    if (text !== renderFlagFile(spec, f)) problems.push({ file: f.path, code: 'flags-drift', message: 'differs from what the spec gives (run kubepki generate to rewrite it)' });
    for (const [flag, value] of parsed.flags) {
      if (value.startsWith(dir)) {
        const rel = value.slice(dir.length);
        if ((await readIn(out, rel)) === undefined) problems.push({ file: f.path, code: 'flags-path', message: `${flag} names ${value}, but ${rel} is not in the PKI folder` });
      }
    }
    const range = parsed.flags.get('--service-cluster-ip-range');
    if (range !== undefined) {
      // one range, or a dual-stack pair: the kubernetes Service has the first address of each
      const r = parseServiceRanges(range);
      const firsts = typeof r === 'string' ? undefined : r.map(firstServiceIp);
      if (!firsts || firsts.join() !== clusterIps.join()) {
        problems.push({ file: f.path, code: 'service-ip', message: `--service-cluster-ip-range=${range} starts at ${firsts ? firsts.join(' and ') : '(invalid)'}, but the spec's kubernetes Service address${clusterIps.length > 1 ? 'es are' : ' is'} ${clusterIps.join(' and ')}` });
      } else if (server) {
        for (const first of firsts.filter((x) => !serverSans.ip.includes(x))) {
          problems.push({ file: f.path, code: 'service-ip', message: `--service-cluster-ip-range=${range}: the Service address ${first} is not a SAN of server.crt (in-cluster clients will refuse the API server)` });
        }
      }
    }
    for (const flag of ['--service-account-key-file', '--service-account-signing-key-file', '--service-account-private-key-file']) {
      const v = parsed.flags.get(flag);
      if (v?.startsWith(dir)) saPaths.push(v.slice(dir.length));
    }
  }
  // the service-account files the flags name must be one key pair
  const saPubs = new Set<string>();
  for (const rel of new Set(saPaths)) {
    const t = await readText(rel);
    if (t === undefined) continue;
    try {
      saPubs.add(t.includes('PRIVATE KEY') ? readPrivateKey(t).publicId : readPublicKey(t));
    } catch {
      /* reported above */
    }
  }
  if (saPubs.size > 1) problems.push({ file: 'flags/', code: 'sa-pair', message: `the service-account key files named by the flags (${[...new Set(saPaths)].join(', ')}) are not one key pair` });

  return { ok: problems.length === 0, out, warnDays, certificates, problems, notes };
}
