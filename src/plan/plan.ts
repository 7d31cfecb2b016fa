// spec + catalogue -> ordered steps. Pure data: `generate` executes these steps, `plan` prints them,
// so what is printed is what runs. Each step carries the checks its outputs must pass.
import { catalogue, CLIENT_CNF, isCert, MASTER_CNF, paths, serialPath, subjOf, type CertRow, type Entry, type KeyPairRow } from '../catalog/certs.js';
import { genkeyArgv, puboutArgv } from '../catalog/keys.js';
import { keyWantOf } from '../check/rules.js';
import type { Check, KeyRef } from '../check/types.js';
import { flagFiles } from '../catalog/flags.js';
import { kubeconfigRows } from '../catalog/kubeconfigs.js';
import { rbacFiles } from '../catalog/rbac.js';
import { renderConfigs } from '../render/cnf.js';
import { renderFlagFile } from '../render/flags.js';
import { kubeconfigDoc, kubeconfigEmbeds, type KubeconfigDoc } from '../render/kubeconfig.js';
import type { Spec } from '../spec/schema.js';

export type OutputType = 'key' | 'csr' | 'cert' | 'serial' | 'pub' | 'text';

export interface Output {
  /** OUT-relative */
  path: string;
  type: OutputType;
  mode: 0o600 | 0o644;
}

export type Action = 'genkey' | 'ca-cert' | 'csr' | 'sign' | 'pubout' | 'config' | 'kubeconfig' | 'flags' | 'rbac';

export interface Step {
  id: string;
  /** the catalogue entry it belongs to (a certificate id, 'sa', or the file it writes) */
  unit: string;
  action: Action;
  /** openssl arguments (the binary itself is not included), run in the PKI folder */
  argv?: string[];
  /** config / flags: the file's text */
  content?: string;
  kubeconfig?: KubeconfigDoc;
  /** OUT-relative files the step reads. A serial file is read only if it exists. */
  reads: string[];
  /** everything the step writes, checked and then moved into place */
  outputs: Output[];
  /** what each output must be: evaluated before the outputs are moved into place */
  checks: Check[];
  row?: CertRow;
  title: string;
  /** a signing by an external CA (ca.external): kubepki never runs it; generate lists it, with
   *  its argv as the command that CA would run */
  external?: boolean;
}

export interface Plan {
  spec: Spec;
  /** the certificates (plan.entries without the key pairs) */
  rows: CertRow[];
  entries: Entry[];
  steps: Step[];
}

export interface PlanOptions {
  /** renew --days */
  days?: number;
}

const keyStep = (e: Entry, title: string): Step => {
  const p = paths(e);
  return {
    id: `${e.id}:key`,
    unit: e.id,
    action: 'genkey',
    argv: genkeyArgv(e.key, p.key),
    reads: [],
    outputs: [{ path: p.key, type: 'key', mode: 0o600 }],
    checks: [{ kind: 'key', file: p.key, ...keyWantOf(e) }],
    row: isCert(e) ? e : undefined,
    title,
  };
};

export function certSteps(row: CertRow, signer: CertRow | undefined, opts: PlanOptions = {}): Step[] {
  const p = paths(row);
  const key: KeyRef = { file: p.key, ...keyWantOf(row) };
  const days = opts.days ?? row.days;
  if (row.kind === 'ca' && row.external) return [];
  if (row.kind === 'ca') {
    const cnf = row.ext ? ['-config', row.ext.file, '-extensions', row.ext.section] : [];
    return [
      keyStep(row, `${row.id}: private key`),
      {
        id: `${row.id}:crt`,
        unit: row.id,
        action: 'ca-cert',
        argv: ['req', '-x509', '-new', '-nodes', '-key', p.key, '-subj', subjOf(row), '-days', String(row.days), ...cnf, '-out', p.crt],
        reads: [p.key, ...(row.ext ? [row.ext.file] : [])],
        outputs: [{ path: p.crt, type: 'cert', mode: 0o644 }],
        checks: [{ kind: 'cert', file: p.crt, row: row.id, key, days: row.days }],
        row,
        title: `${row.id}: self-signed CA certificate`,
      },
    ];
  }
  if (!signer) throw new Error(`internal: ${row.id} has no signer`);
  const ca = paths(signer);
  const srl = serialPath(signer);
  const ext = row.ext;
  return [
    keyStep(row, `${row.id}: private key`),
    {
      id: `${row.id}:csr`,
      unit: row.id,
      action: 'csr',
      argv: ['req', '-new', '-key', p.key, '-subj', subjOf(row), ...(ext?.forCsr ? ['-config', ext.file] : []), '-out', p.csr],
      reads: [p.key, ...(ext?.forCsr ? [ext.file] : [])],
      outputs: [{ path: p.csr, type: 'csr', mode: 0o644 }],
      checks: [{ kind: 'csr', file: p.csr, row: row.id, key }],
      row,
      title: `${row.id}: certificate signing request`,
    },
    {
      id: `${row.id}:crt`,
      unit: row.id,
      action: 'sign',
      argv: [
        'x509', '-req', '-in', p.csr, '-CA', ca.crt, '-CAkey', ca.key, '-CAcreateserial', '-days', String(days),
        ...(ext ? ['-extensions', ext.section, '-extfile', ext.file] : []),
        '-out', p.crt,
      ],
      reads: [p.csr, p.key, ca.crt, ca.key, srl, ...(ext ? [ext.file] : [])],
      outputs: [
        { path: srl, type: 'serial', mode: 0o644 },
        { path: p.crt, type: 'cert', mode: 0o644 },
      ],
      checks: [
        { kind: 'cert', file: p.crt, row: row.id, key, signer: ca.crt, days },
        { kind: 'serial', file: srl, cert: p.crt },
      ],
      row,
      title: `${row.id}: sign with ${signer.id}${signer.external ? ' (by the external CA)' : ''}`,
      ...(signer.external ? { external: true } : {}),
    },
  ];
}

export function keyPairSteps(e: KeyPairRow): Step[] {
  const p = paths(e);
  return [
    keyStep(e, `${e.id}: service-account signing key`),
    {
      id: `${e.id}:pub`,
      unit: e.id,
      action: 'pubout',
      argv: puboutArgv(e.key, p.key, p.pub),
      reads: [p.key],
      outputs: [{ path: p.pub, type: 'pub', mode: 0o644 }],
      checks: [{ kind: 'public-of', file: p.pub, key: p.key }],
      title: `${e.id}: public key for kube-apiserver`,
    },
  ];
}

const configTitle = (r: string, caConfigs: Set<string>) =>
  caConfigs.has(r)
    ? `${r}: the CA's extensions (basicConstraints critical CA:TRUE, key identifiers)`
    : r === MASTER_CNF
      ? `${r}: x509 v3 extensions and SANs of server.crt`
      : r === CLIENT_CNF
        ? `${r}: client certificate extensions`
        : `${r}: extensions and SANs`;

const fileStep = (action: 'config' | 'flags' | 'rbac', file: string, content: string, title: string): Step => ({
  id: `${action}:${file}`,
  unit: file,
  action,
  content,
  reads: [],
  outputs: [{ path: file, type: 'text', mode: 0o644 }],
  checks: [{ kind: 'written', file }],
  title,
});

export function buildPlan(spec: Spec): Plan {
  const entries = catalogue(spec);
  const rows = entries.filter(isCert);
  const byId = new Map(rows.map((r) => [r.id, r]));
  const configs = renderConfigs(rows);
  const steps: Step[] = [];
  const written = new Set<string>();
  const caConfigs = new Set(rows.flatMap((r) => (r.kind === 'ca' && r.ext ? [r.ext.file] : [])));
  for (const e of entries) {
    const es = isCert(e) ? certSteps(e, e.signer ? byId.get(e.signer) : undefined) : keyPairSteps(e);
    for (const s of es) {
      // a config file is written just before the first step that reads it
      for (const r of s.reads) {
        if (configs.has(r) && !written.has(r)) {
          written.add(r);
          steps.push(fileStep('config', r, configs.get(r)!, configTitle(r, caConfigs)));
        }
      }
      steps.push(s);
    }
  }
  for (const k of kubeconfigRows(rows)) {
    steps.push({
      id: `kubeconfig:${k.name}`,
      unit: k.path,
      action: 'kubeconfig',
      kubeconfig: kubeconfigDoc(spec, k),
      reads: [...new Set(kubeconfigEmbeds(spec, k))],
      outputs: [{ path: k.path, type: 'text', mode: spec.kubeconfig.embedCerts ? 0o600 : 0o644 }],
      checks: [{ kind: 'kubeconfig', file: k.path }],
      row: k.cert,
      title: `${k.path}: ${k.cert.cn}`,
    });
  }
  for (const f of flagFiles(spec)) steps.push(fileStep('flags', f.path, renderFlagFile(spec, f), `${f.path}: ${f.variable} for ${f.hostFile}`));
  for (const f of rbacFiles(spec)) steps.push(fileStep('rbac', f.path, f.content, f.title));
  return { spec, rows, entries, steps };
}

/** The plan's steps of each catalogue entry (or written file), in plan order. */
export function stepsByUnit(steps: Step[]): Map<string, Step[]> {
  const m = new Map<string, Step[]>();
  for (const s of steps) {
    const list = m.get(s.unit);
    if (list) list.push(s);
    else m.set(s.unit, [s]);
  }
  return m;
}

/** Dependencies that keep the plan's meaning when steps run at once: a step waits for the last
 *  writer of everything it reads or writes, and a writer waits for the readers before it.
 *  Linear in the number of steps. Returns, for each step index, the indexes it waits for. */
export function dependencies(steps: Step[]): number[][] {
  const lastWriter = new Map<string, number>();
  const readersSince = new Map<string, number[]>();
  return steps.map((s, j) => {
    const deps = new Set<number>();
    for (const r of s.reads) {
      const w = lastWriter.get(r);
      if (w !== undefined) deps.add(w);
    }
    for (const o of s.outputs) {
      const w = lastWriter.get(o.path);
      if (w !== undefined) deps.add(w);
      for (const r of readersSince.get(o.path) ?? []) if (r !== j) deps.add(r);
    }
    for (const r of s.reads) {
      const list = readersSince.get(r) ?? [];
      list.push(j);
      readersSince.set(r, list);
    }
    for (const o of s.outputs) {
      lastWriter.set(o.path, j);
      readersSince.set(o.path, []);
    }
    deps.delete(j);
    return [...deps].sort((a, b) => a - b);
  });
}

export { subjOf };
