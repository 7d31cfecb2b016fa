// Reads an existing PKI folder against the plan and decides what a run must do:
// make what is missing, re-issue what no longer matches the spec (keeping its key), leave the rest.
// A CA is never replaced: a CA that does not fit the spec is an error that names the way out.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { paths, SA, type CertRow } from '../catalog/certs.js';
import { EnvError, UsageError } from '../errors.js';
import { certSteps, type Plan, type Step } from '../plan/plan.js';
import { REKEY_HINT, checkCert, checkCsr, checkKey, type Problem } from '../run/checks.js';
import { readIn, readInSync, STATE_DIR } from '../run/fsutil.js';
import { readPrivateKey, readPublicKey, type CertInfo, type KeyInfo } from '../x509/inspect.js';

export interface Decision {
  unit: string;
  status: 'create' | 'reissue' | 'keep';
  reasons: string[];
}

export interface Selection {
  steps: Step[];
  decisions: Decision[];
}

/** Synchronous: deciding what to do reads every artifact once (most are missing in a new folder),
 *  before anything else can run; direct reads cost less than trips through the thread pool. */
function text(out: string, rel: string): string | undefined {
  return readInSync(out, rel)?.toString('utf8');
}

interface CaState {
  cert?: CertInfo;
  fresh: boolean;
}

/** A CA on disk that does not fit the spec (or whose files do not belong together): never replaced. */
function caMisfit(out: string, row: CertRow, problems: Problem[]): EnvError {
  const p = paths(row);
  const first = problems.find((x) => x.code !== 'identity') ?? problems[0];
  return new EnvError(`the CA in ${out} does not fit the spec: ${first.file} ${first.message}`, [
    ...problems.filter((x) => x !== first).map((x) => `${x.file} ${x.message}`),
    first.code === 'identity'
      ? `kubepki never replaces a CA. To keep this CA, set ${row.id === 'ca' ? 'ca.commonName' : 'the CA name'} in the spec to its CN; to start a new CA, move ${p.key} and ${p.crt} away (every certificate is then re-issued).`
      : first.code === 'key-mismatch'
        ? `${p.key} and ${p.crt} are not one key pair (one of them was replaced). kubepki never replaces a CA: restore the CA files from a backup, or move both away to start a new CA.`
        : `kubepki never replaces a CA: restore the CA files from a backup, or move ${p.key} and ${p.crt} away to start a new CA.`,
  ]);
}

/** The backup (OUT-relative) of `keyRel` that kubepki made when it replaced a key, and that the
 *  certificate belongs to; undefined when there is none. */
async function backedUpKeyOf(out: string, keyRel: string, cert: CertInfo): Promise<string | undefined> {
  const root = path.join(STATE_DIR, 'backup');
  const runs = await fsp.readdir(path.join(out, root)).catch(() => [] as string[]);
  for (const run of runs.sort().reverse()) {
    const rel = path.join(root, run, keyRel);
    const pem = await readIn(out, rel).catch(() => undefined);
    if (!pem) continue;
    try {
      if (cert.x509.checkPrivateKey(readPrivateKey(pem.toString('utf8')).key)) return rel;
    } catch {
      /* not a key */
    }
  }
  return undefined;
}

/** generate: the steps of the plan that this folder still needs. */
export async function selectForGenerate(plan: Plan, out: string, now: Date): Promise<Selection> {
  const byUnit = new Map<string, Step[]>();
  for (const s of plan.steps) byUnit.set(s.unit, [...(byUnit.get(s.unit) ?? []), s]);
  const want = new Set<string>();
  /** steps that run with another row than the plan's (a CA certificate made from a kept key of another size) */
  const adjusted = new Map<string, Step>();
  const decisions: Decision[] = [];
  const cas = new Map<string, CaState>();
  const pick = (unit: string, actions: Step['action'][]) => {
    for (const s of byUnit.get(unit) ?? []) if (actions.includes(s.action)) want.add(s.id);
  };

  for (const row of plan.rows) {
    const p = paths(row);
    const keyText = text(out, p.key);
    const crtText = text(out, p.crt);
    let key: KeyInfo | undefined;
    let keyMisfit: Problem | undefined;
    if (keyText !== undefined) {
      const k = checkKey(p.key, keyText, row);
      if (!k.info) {
        throw new EnvError(`${p.key} in ${out} is not a readable private key`, [
          'kubepki never overwrites a key it cannot read: restore it from a backup, or move it away to make a new one',
        ]);
      }
      key = k.info;
      keyMisfit = k.problems[0];
    }
    if (row.kind === 'ca') {
      if (crtText !== undefined && !key) {
        throw new EnvError(`${p.crt} exists in ${out} but ${p.key} does not`, [
          `a CA cannot sign without its key, and kubepki never replaces a CA: restore ${p.key}, or move ${p.crt} away to make a new CA (every certificate it signed is then re-issued)`,
        ]);
      }
      if (!key) {
        pick(row.id, ['genrsa', 'ca-cert']);
        decisions.push({ unit: row.id, status: 'create', reasons: [] });
        cas.set(row.id, { fresh: true });
        continue;
      }
      if (crtText === undefined) {
        pick(row.id, ['ca-cert']);
        if (keyMisfit?.code === 'key-size') {
          // a CA's key is never replaced: certs.keyBits applies to new keys, this certificate is made from the kept one
          for (const st of byUnit.get(row.id) ?? []) if (st.action === 'ca-cert') adjusted.set(st.id, { ...st, row: { ...row, keyBits: key.bits } });
        }
        decisions.push({ unit: row.id, status: 'create', reasons: [`${p.crt} missing; made from the existing ${p.key}${keyMisfit?.code === 'key-size' ? ` (RSA ${key.bits}: kubepki never replaces a CA's key)` : ''}`] });
        cas.set(row.id, { fresh: true });
        continue;
      }
      const c = checkCert(p.crt, crtText, row, key, undefined, { now });
      if (c.problems.length) throw caMisfit(out, row, c.problems);
      cas.set(row.id, { cert: c.info, fresh: false });
      decisions.push({ unit: row.id, status: 'keep', reasons: [] });
      continue;
    }
    // a leaf
    const signer = cas.get(row.signer!)!;
    if (key && keyMisfit) {
      // the spec asks for another key (certs.keyBits changed): a new key and its certificate, as
      // renew --rekey makes them; the runner backs the old key up before it replaces it
      pick(row.id, ['genrsa', 'csr', 'sign']);
      const also = crtText === undefined || signer.fresh ? [] : checkCert(p.crt, crtText, row, undefined, signer.cert, { now }).problems.map((x) => `${x.file} ${x.message}`);
      decisions.push({ unit: row.id, status: 'reissue', reasons: [`${p.key} ${keyMisfit.message.replace(REKEY_HINT, '')}: new key (the old one is kept in ${STATE_DIR}/backup/) and certificate`, ...also] });
      continue;
    }
    if (!key) {
      pick(row.id, ['genrsa', 'csr', 'sign']);
      decisions.push({ unit: row.id, status: crtText === undefined ? 'create' : 'reissue', reasons: crtText === undefined ? [] : [`${p.key} missing`] });
      continue;
    }
    if (crtText === undefined || signer.fresh) {
      pick(row.id, ['csr', 'sign']);
      decisions.push({
        unit: row.id,
        status: crtText === undefined ? 'create' : 'reissue',
        reasons: crtText === undefined ? [`${p.crt} missing; kept ${p.key}`] : [`${row.signer} is new`],
      });
      continue;
    }
    const c = checkCert(p.crt, crtText, row, key, signer.cert, { now });
    const mismatch = c.problems.find((x) => x.code === 'key-mismatch');
    const rekeyed = mismatch && c.info ? await backedUpKeyOf(out, p.key, c.info) : undefined;
    if (rekeyed) {
      // a `renew --rekey` was stopped after the new key was in place and before its certificate:
      // the certificate belongs to the key that run backed up, so the key on disk is the new one
      pick(row.id, ['csr', 'sign']);
      decisions.push({ unit: row.id, status: 'reissue', reasons: [`${p.key} is the new key of an interrupted renew --rekey (the old key is in ${rekeyed}): certificate re-issued for it`] });
      continue;
    }
    if (mismatch) {
      throw new EnvError(`${p.key} does not match ${p.crt} in ${out}: one of them was replaced`, [
        `kubepki will not guess which is right: restore the original, or run \`kubepki renew ${row.id} --rekey\` to make a new key and certificate`,
      ]);
    }
    if (c.problems.length) {
      pick(row.id, ['csr', 'sign']);
      decisions.push({ unit: row.id, status: 'reissue', reasons: c.problems.map((x) => `${x.file} ${x.message}`) });
      continue;
    }
    const csrText = text(out, p.csr);
    if (csrText === undefined || checkCsr(p.csr, csrText, row, key).length) {
      pick(row.id, ['csr']);
      decisions.push({ unit: row.id, status: 'keep', reasons: [`${p.csr} ${csrText === undefined ? 'missing' : 'out of date'}: made again`] });
      continue;
    }
    decisions.push({ unit: row.id, status: 'keep', reasons: [] });
  }

  // the service-account key pair
  const saKey = text(out, SA.key);
  if (saKey === undefined) {
    pick(SA.id, ['genrsa', 'pubout']);
    decisions.push({ unit: SA.id, status: 'create', reasons: [] });
  } else {
    const checked = checkKey(SA.key, saKey, { keyBits: plan.spec.certs.keyBits });
    if (!checked.info) {
      throw new EnvError(`${SA.key} in ${out} is not a readable private key`, ['kubepki never overwrites a key it cannot read: restore it, or move it away to make a new one']);
    }
    const k = checked.info;
    const pub = text(out, SA.pub);
    let ok = false;
    try {
      ok = pub !== undefined && readPublicKey(pub) === k.publicId;
    } catch {
      ok = false;
    }
    if (!ok && pub !== undefined) {
      // kube-apiserver may already trust this sa.pub: never overwrite it on a guess
      throw new EnvError(`${SA.pub} in ${out} is not the public half of ${SA.key}: one of them was replaced`, [
        `kubepki will not guess which is right: restore the original, or move ${SA.pub} away to derive it again from ${SA.key} (tokens signed with another key are then rejected)`,
      ]);
    }
    if (checked.problems.length) {
      // a new key size: a new pair (the runner backs the old sa.key up)
      pick(SA.id, ['genrsa', 'pubout']);
      decisions.push({
        unit: SA.id,
        status: 'reissue',
        reasons: [`${SA.key} ${checked.problems[0].message.replace(REKEY_HINT, '')}: new key pair (the old key is kept in ${STATE_DIR}/backup/); service-account tokens signed with the old key are rejected once kube-apiserver has the new ${SA.pub}`],
      });
    } else {
      if (!ok) pick(SA.id, ['pubout']);
      decisions.push({ unit: SA.id, status: ok ? 'keep' : 'reissue', reasons: ok ? [] : [`${SA.pub} ${pub === undefined ? 'missing' : `is not the public half of ${SA.key}`}`] });
    }
  }

  // files kubepki writes itself (configs, kubeconfigs, flags) always run: they compare and skip
  const steps = plan.steps.filter((s) => want.has(s.id) || !s.argv).map((s) => adjusted.get(s.id) ?? s);
  return { steps, decisions };
}

/** renew: re-sign the chosen leaves with their existing CA (new key only with rekey). */
export async function selectForRenew(plan: Plan, out: string, ids: string[], opts: { rekey: boolean; days?: number }): Promise<Selection> {
  const byId = new Map(plan.rows.map((r) => [r.id, r]));
  const chosen: CertRow[] = [];
  for (const id of ids) {
    const row = byId.get(id);
    if (!row) {
      const names = plan.rows.filter((r) => r.kind === 'leaf').map((r) => r.id);
      throw new UsageError(`no certificate named ${JSON.stringify(id)} in this spec`, `names: ${names.join(', ')}`);
    }
    if (row.kind === 'ca') throw new UsageError(`${id} is a CA: renew never touches a CA`, 'renew re-signs leaf certificates with the existing CA');
    chosen.push(row);
  }
  const steps: Step[] = [];
  const decisions: Decision[] = [];
  const configs = new Set(chosen.map((r) => r.ext?.file).filter(Boolean) as string[]);
  const signers = new Set(chosen.map((r) => r.signer!));
  for (const s of signers) {
    const ca = byId.get(s)!;
    const p = paths(ca);
    const [keyText, crtText] = [text(out, p.key), text(out, p.crt)];
    for (const [f, t] of [[p.key, keyText], [p.crt, crtText]]) {
      if (t === undefined) throw new EnvError(`${f} is missing in ${out}: renew needs the existing CA`, ['run `kubepki generate` to complete the PKI first']);
    }
    // the same CA checks as generate: a CA that does not fit is never used to sign
    const k = checkKey(p.key, keyText!, ca);
    if (!k.info) throw new EnvError(`${p.key} in ${out} is not a readable private key`, ['restore the CA key from a backup: renew needs the existing CA']);
    const c = checkCert(p.crt, crtText!, ca, k.info, undefined, { now: new Date() });
    if (c.problems.length) throw caMisfit(out, ca, c.problems);
  }
  // a kept key must be what the spec asks for (certs.keyBits may have changed): refused before anything is written
  const misfits = opts.rekey
    ? []
    : chosen.flatMap((row) => {
        const p = paths(row);
        const k = text(out, p.key);
        return k === undefined ? [] : checkKey(p.key, k, row).problems.map((x) => `${x.file} ${x.message.replace(REKEY_HINT, '')}`);
      });
  if (misfits.length) {
    throw new EnvError(`renew keeps the keys, but ${misfits.length === 1 ? 'one does' : `${misfits.length} do`} not fit the spec: ${misfits[0]}`, [
      ...misfits.slice(1),
      'renew with --rekey to make new keys, or run `kubepki generate` (it re-keys what the spec asks, old keys backed up)',
    ]);
  }
  for (const row of chosen) {
    const p = paths(row);
    const k = text(out, p.key);
    if (k === undefined && !opts.rekey) throw new EnvError(`${p.key} is missing in ${out}: nothing to renew`, ['run `kubepki generate` to make it, or renew with --rekey']);
    const cs = certSteps(row, byId.get(row.signer!), { days: opts.days });
    steps.push(...cs.filter((s) => opts.rekey || s.action !== 'genrsa'));
    decisions.push({ unit: row.id, status: 'reissue', reasons: [opts.rekey ? 'renewed with a new key' : 'renewed, key kept'] });
  }
  // configs the signings read, then every kubeconfig (they embed renewed certs) and flag file
  const pre = plan.steps.filter((s) => s.action === 'config' && configs.has(s.outputs[0].path));
  const post = plan.steps.filter((s) => s.action === 'kubeconfig' || s.action === 'flags');
  return { steps: [...pre, ...steps, ...post], decisions };
}

export type { Problem };
