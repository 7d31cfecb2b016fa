// Reads an existing PKI folder against the plan and decides what a run must do:
// make what is missing, re-issue what no longer matches the spec (keeping its key), leave the rest.
// A CA is never replaced: a CA that does not fit the spec is an error that names the way out.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { isCert, paths, type CertRow, type KeyPairRow } from '../catalog/certs.js';
import { REKEY_HINT, checkCaBundle, checkCert, checkCsr, checkKey, describeKey, issuerIn, keyWantOf, type Problem } from '../check/rules.js';
import { checkOf, type KeyRef } from '../check/types.js';
import { EnvError, UsageError } from '../errors.js';
import { certSteps, stepsByUnit, type Plan, type Step } from '../plan/plan.js';
import { readIn, readInSync, STATE_DIR } from '../run/fsutil.js';
import { certHoldsKey, readPrivateKey, readPublicKey, type CertInfo, type KeyInfo } from '../x509/inspect.js';

export interface Decision {
  unit: string;
  status: 'create' | 'reissue' | 'keep';
  reasons: string[];
}

export interface Selection {
  steps: Step[];
  decisions: Decision[];
  /** signings for the external CA (ca.external): their requests are made by `steps`; the CA runs
   *  their argv, and the next generate checks what it placed */
  external?: Step[];
}

/** Deciding what to do reads every artifact once, before anything else can run: synchronous
 *  reads (see readInSync). */
function text(out: string, rel: string): string | undefined {
  return readInSync(out, rel, true)?.toString('utf8');
}

interface CaState {
  cert?: CertInfo;
  fresh: boolean;
  /** an external CA's ca.crt: the issuing CA and the CAs above it */
  chain?: CertInfo[];
}

/** The certificate that signed (or must have signed) a leaf: its CA's, or the one of an external
 *  CA's chain that did. */
const signerFor = (ca: CaState, crtText: string) => (ca.chain ? issuerIn(ca.chain, crtText) : ca.cert);

/** An external CA: its ca.crt must be there and fit; its key is never needed. */
function decideExternalCa(f: Folder, row: CertRow): Verdict {
  const p = paths(row);
  const pem = text(f.out, p.crt);
  if (pem === undefined) {
    throw new EnvError(`ca.external is true, but ${p.crt} is missing in ${f.out}`, [
      `place the external CA's certificate at ${path.join(f.out, p.crt)} (a bundle of the issuing CA and the CAs above it works), then run kubepki generate again: it makes every key and request and lists what the CA must sign`,
    ]);
  }
  const r = checkCaBundle(p.crt, pem, f.now);
  if (r.problems.length || !r.chain) throw caMisfit(f.out, row, r.problems);
  f.cas.set(row.id, { chain: r.chain, fresh: false });
  return verdict(row.id, 'keep', [], [`external CA: ${r.chain.length === 1 ? 'one certificate' : `a bundle of ${r.chain.length}`}, no ${p.key} needed`]);
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
      if (certHoldsKey(cert, readPrivateKey(pem.toString('utf8')))) return rel;
    } catch {
      /* not a key */
    }
  }
  return undefined;
}

/** What a unit's steps check, by kind: the key, the request, the certificate, the public key. */
function unitChecks(steps: Step[]) {
  const checks = steps.flatMap((s) => s.checks);
  return { key: checkOf(checks, 'key')!, csr: checkOf(checks, 'csr'), cert: checkOf(checks, 'cert'), pub: checkOf(checks, 'public-of') };
}

/** A decision, and which of the unit's steps (by action) carry it out. */
interface Verdict extends Decision {
  run: Step['action'][];
}

const verdict = (unit: string, status: Decision['status'], run: Step['action'][], reasons: string[] = []): Verdict => ({ unit, status, run, reasons });

/** The folder as it stands, read once; what the CAs decided is kept for their leaves. */
interface Folder {
  out: string;
  now: Date;
  cas: Map<string, CaState>;
}

/** A key on disk, checked against what the plan asks of it; an unreadable key is never replaced. */
function readKey(f: Folder, want: KeyRef): { text?: string; key?: KeyInfo; misfit?: Problem } {
  const keyText = text(f.out, want.file);
  if (keyText === undefined) return {};
  const k = checkKey(want.file, keyText, want);
  if (!k.info) {
    throw new EnvError(`${want.file} in ${f.out} is not a readable private key`, ['kubepki never overwrites a key it cannot read: restore it from a backup, or move it away to make a new one']);
  }
  return { text: keyText, key: k.info, misfit: k.problems[0] };
}

/** A CA is made when missing and kept when it fits; one that does not fit is an error. */
function decideCa(f: Folder, row: CertRow, steps: Step[]): { verdict: Verdict; adjusted?: Step } {
  const p = paths(row);
  const c = unitChecks(steps);
  const { key, misfit } = readKey(f, c.key);
  const crtText = text(f.out, p.crt);
  if (crtText !== undefined && !key) {
    throw new EnvError(`${p.crt} exists in ${f.out} but ${p.key} does not`, [
      `a CA cannot sign without its key, and kubepki never replaces a CA: restore ${p.key}, or move ${p.crt} away to make a new CA (every certificate it signed is then re-issued)`,
    ]);
  }
  if (!key) {
    f.cas.set(row.id, { fresh: true });
    return { verdict: verdict(row.id, 'create', ['genkey', 'ca-cert']) };
  }
  if (crtText === undefined) {
    f.cas.set(row.id, { fresh: true });
    const sized = misfit?.code === 'key-size' || misfit?.code === 'key-type';
    // a CA's key is never replaced: certs.keyBits applies to new keys, this certificate is made from the kept one
    const crtStep = steps.find((s) => s.action === 'ca-cert')!;
    const kept: KeyRef = { file: c.key.file, algorithm: key.type === 'ec' ? 'ec' : 'rsa', bits: key.bits };
    const adjusted = sized ? { ...crtStep, checks: crtStep.checks.map((x) => (x.kind === 'cert' ? { ...x, key: kept } : x)) } : undefined;
    return {
      verdict: verdict(row.id, 'create', ['ca-cert'], [`${p.crt} missing; made from the existing ${p.key}${sized ? ` (${describeKey(key)}: kubepki never replaces a CA's key)` : ''}`]),
      adjusted,
    };
  }
  const r = checkCert(p.crt, crtText, row, key, undefined, { now: f.now });
  if (r.problems.length) throw caMisfit(f.out, row, r.problems);
  f.cas.set(row.id, { cert: r.info, fresh: false });
  return { verdict: verdict(row.id, 'keep', []) };
}

/** A leaf is made when missing, re-keyed when its key no longer fits the spec, re-issued when its
 *  certificate does not fit or its CA is new, and kept otherwise (its request made again if
 *  needed). A key and certificate that do not belong together are an error, unless an
 *  interrupted `renew --rekey` explains them. */
async function decideLeaf(f: Folder, row: CertRow, steps: Step[]): Promise<Verdict> {
  const p = paths(row);
  const c = unitChecks(steps);
  const { key, misfit } = readKey(f, c.key);
  const crtText = text(f.out, p.crt);
  const signer = f.cas.get(row.signer!)!;
  if (key && misfit) {
    // the spec asks for another key (certs.keyBits changed): a new key and its certificate, as
    // renew --rekey makes them; the runner backs the old key up before it replaces it
    const also = crtText === undefined || signer.fresh ? [] : checkCert(p.crt, crtText, row, undefined, signerFor(signer, crtText), { now: f.now }).problems.map(said);
    return verdict(row.id, 'reissue', ['genkey', 'csr', 'sign'], [`${p.key} ${misfit.message.replace(REKEY_HINT, '')}: new key (the old one is kept in ${STATE_DIR}/backup/) and certificate`, ...also]);
  }
  if (!key) return verdict(row.id, crtText === undefined ? 'create' : 'reissue', ['genkey', 'csr', 'sign'], crtText === undefined ? [] : [`${p.key} missing`]);
  if (crtText === undefined) {
    // an external CA signs the request on disk when it still fits: made again only when it does not
    const csrText = signer.chain ? text(f.out, p.csr) : undefined;
    const csrOk = csrText !== undefined && checkCsr(p.csr, csrText, row, key).length === 0;
    return verdict(row.id, 'create', csrOk ? ['sign'] : ['csr', 'sign'], [`${p.crt} missing; kept ${p.key}`]);
  }
  if (signer.fresh) return verdict(row.id, 'reissue', ['csr', 'sign'], [`${row.signer} is new`]);
  const r = checkCert(p.crt, crtText, row, key, signerFor(signer, crtText), { now: f.now });
  const mismatch = r.problems.find((x) => x.code === 'key-mismatch');
  if (mismatch) {
    const rekeyed = r.info ? await backedUpKeyOf(f.out, p.key, r.info) : undefined;
    // a `renew --rekey` was stopped after the new key was in place and before its certificate:
    // the certificate belongs to the key that run backed up, so the key on disk is the new one
    if (rekeyed) return verdict(row.id, 'reissue', ['csr', 'sign'], [`${p.key} is the new key of an interrupted renew --rekey (the old key is in ${rekeyed}): certificate re-issued for it`]);
    throw new EnvError(`${p.key} does not match ${p.crt} in ${f.out}: one of them was replaced`, [
      `kubepki will not guess which is right: restore the original, or run \`kubepki renew ${row.id} --rekey\` to make a new key and certificate`,
    ]);
  }
  if (r.problems.length) return verdict(row.id, 'reissue', ['csr', 'sign'], r.problems.map(said));
  const csrText = text(f.out, p.csr);
  if (csrText === undefined || checkCsr(p.csr, csrText, row, key).length) return verdict(row.id, 'keep', ['csr'], [`${p.csr} ${csrText === undefined ? 'missing' : 'out of date'}: made again`]);
  return verdict(row.id, 'keep', []);
}

/** A key pair is made when missing and re-made when its key no longer fits the spec; a public
 *  half that does not belong to its key is an error (kube-apiserver may already trust it). */
function decideKeyPair(f: Folder, e: KeyPairRow, steps: Step[]): Verdict {
  const c = unitChecks(steps);
  const pubFile = c.pub!.file;
  const { key, misfit } = readKey(f, c.key);
  if (!key) return verdict(e.id, 'create', ['genkey', 'pubout']);
  const pub = text(f.out, pubFile);
  let ok = false;
  try {
    ok = pub !== undefined && readPublicKey(pub) === key.publicId;
  } catch {
    ok = false;
  }
  if (!ok && pub !== undefined) {
    throw new EnvError(`${pubFile} in ${f.out} is not the public half of ${c.key.file}: one of them was replaced`, [
      `kubepki will not guess which is right: restore the original, or move ${pubFile} away to derive it again from ${c.key.file} (tokens signed with another key are then rejected)`,
    ]);
  }
  if (misfit) {
    // a new key size: a new pair (the runner backs the old key up)
    return verdict(e.id, 'reissue', ['genkey', 'pubout'], [
      `${c.key.file} ${misfit.message.replace(REKEY_HINT, '')}: new key pair (the old key is kept in ${STATE_DIR}/backup/); service-account tokens signed with the old key are rejected once kube-apiserver has the new ${pubFile}`,
    ]);
  }
  return ok ? verdict(e.id, 'keep', []) : verdict(e.id, 'reissue', ['pubout'], [`${pubFile} ${pub === undefined ? 'missing' : `is not the public half of ${c.key.file}`}`]);
}

const said = (x: Problem) => `${x.file} ${x.message}`;

/** generate: the steps of the plan that this folder still needs. */
export async function selectForGenerate(plan: Plan, out: string, now: Date): Promise<Selection> {
  const byUnit = stepsByUnit(plan.steps);
  const f: Folder = { out, now, cas: new Map() };
  const want = new Set<string>();
  /** steps that run with other checks than the plan's (a CA certificate made from a kept key of another size) */
  const adjusted = new Map<string, Step>();
  const decisions: Decision[] = [];
  // certificates first (a leaf's decision depends on its CA's), then the key pairs
  for (const e of [...plan.rows, ...plan.entries.filter((x) => !isCert(x))]) {
    const steps = byUnit.get(e.id) ?? [];
    let v: Verdict;
    if (e.kind === 'keypair') v = decideKeyPair(f, e, steps);
    else if (e.kind === 'ca' && e.external) v = decideExternalCa(f, e);
    else if (e.kind === 'ca') {
      const d = decideCa(f, e, steps);
      if (d.adjusted) adjusted.set(d.adjusted.id, d.adjusted);
      v = d.verdict;
    } else v = await decideLeaf(f, e, steps);
    for (const s of steps) if (v.run.includes(s.action)) want.add(s.id);
    decisions.push({ unit: v.unit, status: v.status, reasons: v.reasons });
  }
  const external = plan.steps.filter((s) => s.external && want.has(s.id));
  // files kubepki writes itself (configs, kubeconfigs, flags) always run: they compare and skip;
  // while an external CA has certificates to sign, no kubeconfig or flag file names them yet
  const waiting = external.length > 0;
  const steps = plan.steps
    .filter((s) => (want.has(s.id) && !s.external) || (!s.argv && !(waiting && (s.action === 'kubeconfig' || s.action === 'flags'))))
    .map((s) => adjusted.get(s.id) ?? s);
  for (const s of external) {
    const d = decisions.find((x) => x.unit === s.unit)!;
    d.reasons.push(`${s.reads[0]} to be signed by the external CA (kubepki generate checks ${s.outputs[1].path} once it is there)`);
  }
  return { steps, decisions, external };
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
  const external: Step[] = [];
  const decisions: Decision[] = [];
  const configs = new Set(chosen.map((r) => r.ext?.file).filter(Boolean) as string[]);
  const signers = new Set(chosen.map((r) => r.signer!));
  for (const s of signers) {
    const ca = byId.get(s)!;
    const p = paths(ca);
    if (ca.external) {
      // an external CA signs the new requests: its ca.crt must fit, its key is never here
      const pem = text(out, p.crt);
      if (pem === undefined) throw new EnvError(`${p.crt} is missing in ${out}: renew needs the external CA's certificate`, ['place it there (a bundle works), then run renew again']);
      const r = checkCaBundle(p.crt, pem, new Date());
      if (r.problems.length) throw caMisfit(out, ca, r.problems);
      if (opts.rekey) {
        throw new EnvError(`renew --rekey cannot renew a certificate of the external CA: the new key would not match the certificate in use until the CA has signed it`, [
          'move the key and the certificate away and run kubepki generate: it makes a new key and request and lists what the CA must sign',
        ]);
      }
      continue;
    }
    const [keyText, crtText] = [text(out, p.key), text(out, p.crt)];
    for (const [f, t] of [[p.key, keyText], [p.crt, crtText]]) {
      if (t === undefined) throw new EnvError(`${f} is missing in ${out}: renew needs the existing CA`, ['run `kubepki generate` to complete the PKI first']);
    }
    // the same CA checks as generate: a CA that does not fit is never used to sign
    const k = checkKey(p.key, keyText!, keyWantOf(ca));
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
        return k === undefined ? [] : checkKey(p.key, k, keyWantOf(row)).problems.map((x) => `${x.file} ${x.message.replace(REKEY_HINT, '')}`);
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
    steps.push(...cs.filter((s) => (opts.rekey || s.action !== 'genkey') && !s.external));
    external.push(...cs.filter((s) => s.external));
    decisions.push({ unit: row.id, status: 'reissue', reasons: [cs.some((s) => s.external) ? `${p.csr} made again, to be signed by the external CA` : opts.rekey ? 'renewed with a new key' : 'renewed, key kept'] });
  }
  // configs the signings read, then every kubeconfig (they embed renewed certs) and flag file
  const pre = plan.steps.filter((s) => s.action === 'config' && configs.has(s.outputs[0].path));
  const post = plan.steps.filter((s) => s.action === 'kubeconfig' || s.action === 'flags');
  return { steps: [...pre, ...steps, ...post], decisions, external };
}

export type { Problem };
