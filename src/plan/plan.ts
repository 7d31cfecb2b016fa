// spec + catalogue -> ordered steps. Pure data: `generate` executes these steps, `plan` prints them,
// so what is printed is what runs.
import { CLIENT_CNF, MASTER_CNF, SA, certRows, paths, serialPath, type CertRow } from '../catalog/certs.js';
import { flagFiles } from '../catalog/flags.js';
import { kubeconfigRows } from '../catalog/kubeconfigs.js';
import { renderConfigs } from '../render/cnf.js';
import { renderFlagFile } from '../render/flags.js';
import { kubeconfigEmbeds, kubeconfigTemplate, type KubeconfigTemplate } from '../render/kubeconfig.js';
import { escapeSubjValue } from '../x509/der.js';
import type { Spec } from '../spec/schema.js';

export type OutputType = 'key' | 'csr' | 'cert' | 'serial' | 'pub' | 'text';

export interface Output {
  /** OUT-relative */
  path: string;
  type: OutputType;
  mode: 0o600 | 0o644;
}

export type Action = 'genrsa' | 'ca-cert' | 'csr' | 'sign' | 'pubout' | 'config' | 'kubeconfig' | 'flags';

export interface Step {
  id: string;
  /** the catalogue entry it belongs to (a certificate id, 'sa', or the file it writes) */
  unit: string;
  action: Action;
  /** openssl arguments (the binary itself is not included) */
  argv?: string[];
  /** config / flags: the file's text */
  content?: string;
  kubeconfig?: KubeconfigTemplate;
  /** OUT-relative files the step reads. A serial file is read only if it exists. */
  reads: string[];
  /** everything the step writes, checked and then moved into place */
  outputs: Output[];
  row?: CertRow;
  title: string;
}

export interface Plan {
  spec: Spec;
  rows: CertRow[];
  steps: Step[];
}

/** -subj "/CN=…/O=…": every value escaped so that no spec value can add an RDN. */
export function subjOf(row: { cn: string; o: string[] }): string {
  return `/CN=${escapeSubjValue(row.cn)}` + row.o.map((o) => `/O=${escapeSubjValue(o)}`).join('');
}

export interface PlanOptions {
  /** renew --days */
  days?: number;
}

export function certSteps(row: CertRow, signer: CertRow | undefined, opts: PlanOptions = {}): Step[] {
  const p = paths(row);
  const days = String(opts.days ?? row.days);
  const key: Step = {
    id: `${row.id}:key`,
    unit: row.id,
    action: 'genrsa',
    argv: ['genrsa', '-out', p.key, String(row.keyBits)],
    reads: [],
    outputs: [{ path: p.key, type: 'key', mode: 0o600 }],
    row,
    title: `${row.id}: private key`,
  };
  if (row.kind === 'ca') {
    const cnf = row.ext ? ['-config', row.ext.file, '-extensions', row.ext.section] : [];
    return [
      key,
      {
        id: `${row.id}:crt`,
        unit: row.id,
        action: 'ca-cert',
        argv: ['req', '-x509', '-new', '-nodes', '-key', p.key, '-subj', subjOf(row), '-days', String(row.days), ...cnf, '-out', p.crt],
        reads: [p.key, ...(row.ext ? [row.ext.file] : [])],
        outputs: [{ path: p.crt, type: 'cert', mode: 0o644 }],
        row,
        title: `${row.id}: self-signed CA certificate`,
      },
    ];
  }
  if (!signer) throw new Error(`internal: ${row.id} has no signer`);
  const ca = paths(signer);
  const ext = row.ext;
  return [
    key,
    {
      id: `${row.id}:csr`,
      unit: row.id,
      action: 'csr',
      argv: ['req', '-new', '-key', p.key, '-subj', subjOf(row), ...(ext?.forCsr ? ['-config', ext.file] : []), '-out', p.csr],
      reads: [p.key, ...(ext?.forCsr ? [ext.file] : [])],
      outputs: [{ path: p.csr, type: 'csr', mode: 0o644 }],
      row,
      title: `${row.id}: certificate signing request`,
    },
    {
      id: `${row.id}:crt`,
      unit: row.id,
      action: 'sign',
      argv: [
        'x509', '-req', '-in', p.csr, '-CA', ca.crt, '-CAkey', ca.key, '-CAcreateserial', '-days', days,
        ...(ext ? ['-extensions', ext.section, '-extfile', ext.file] : []),
        '-out', p.crt,
      ],
      reads: [p.csr, p.key, ca.crt, ca.key, serialPath(signer), ...(ext ? [ext.file] : [])],
      outputs: [
        { path: serialPath(signer), type: 'serial', mode: 0o644 },
        { path: p.crt, type: 'cert', mode: 0o644 },
      ],
      row,
      title: `${row.id}: sign with ${signer.id}`,
    },
  ];
}

export function saSteps(spec: Spec): Step[] {
  return [
    {
      id: 'sa:key',
      unit: SA.id,
      action: 'genrsa',
      argv: ['genrsa', '-out', SA.key, String(spec.certs.keyBits)],
      reads: [],
      outputs: [{ path: SA.key, type: 'key', mode: 0o600 }],
      title: 'sa: service-account signing key',
    },
    {
      id: 'sa:pub',
      unit: SA.id,
      action: 'pubout',
      argv: ['rsa', '-in', SA.key, '-pubout', '-out', SA.pub],
      reads: [SA.key],
      outputs: [{ path: SA.pub, type: 'pub', mode: 0o644 }],
      title: 'sa: public key for kube-apiserver',
    },
  ];
}

export function buildPlan(spec: Spec): Plan {
  const rows = certRows(spec);
  const byId = new Map(rows.map((r) => [r.id, r]));
  const configs = renderConfigs(rows);
  const steps: Step[] = [];
  const written = new Set<string>();
  const caConfigs = new Set(rows.flatMap((r) => (r.kind === 'ca' && r.ext ? [r.ext.file] : [])));
  for (const row of rows) {
    const cs = certSteps(row, row.signer ? byId.get(row.signer) : undefined);
    for (const s of cs) {
      // a config file is written just before the first step that reads it
      for (const r of s.reads) {
        if (configs.has(r) && !written.has(r)) {
          written.add(r);
          steps.push({
            id: `config:${r}`,
            unit: r,
            action: 'config',
            content: configs.get(r)!,
            reads: [],
            outputs: [{ path: r, type: 'text', mode: 0o644 }],
            title: caConfigs.has(r) ? `${r}: the CA's extensions (basicConstraints critical CA:TRUE, key identifiers)` : r === MASTER_CNF ? `${r}: x509 v3 extensions and SANs of server.crt` : r === CLIENT_CNF ? `${r}: client certificate extensions` : `${r}: extensions and SANs`,
          });
        }
      }
      steps.push(s);
    }
    if (row.id === 'apiserver') steps.push(...saSteps(spec));
  }
  for (const k of kubeconfigRows(rows)) {
    steps.push({
      id: `kubeconfig:${k.name}`,
      unit: k.path,
      action: 'kubeconfig',
      // rendered when read (by the runner when the step runs, by plan when it prints): with a
      // thousand nodes the plan does not hold a thousand rendered kubeconfigs for the whole run,
      // and generate's first openssl process does not wait for them
      get kubeconfig() {
        return kubeconfigTemplate(spec, k);
      },
      reads: [...new Set(kubeconfigEmbeds(spec, k))],
      outputs: [{ path: k.path, type: 'text', mode: spec.kubeconfig.embedCerts ? 0o600 : 0o644 }],
      row: k.cert,
      title: `${k.path}: ${k.cert.cn}`,
    });
  }
  for (const f of flagFiles(spec)) {
    steps.push({
      id: `flags:${f.path}`,
      unit: f.path,
      action: 'flags',
      content: renderFlagFile(spec, f),
      reads: [],
      outputs: [{ path: f.path, type: 'text', mode: 0o644 }],
      title: `${f.path}: ${f.variable} for ${f.hostFile}`,
    });
  }
  return { spec, rows, steps };
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
