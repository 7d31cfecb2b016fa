// Executes steps: openssl steps run in a private staging folder inside OUT/.kubepki/tmp that holds
// links to the step's inputs, with the step's own argv and relative paths; the outputs are checked
// there and only then renamed into place. A run killed at any moment leaves nothing unchecked in
// OUT (only a staging folder, removed by the next run). Independent steps run at once, up to
// `jobs`; steps that share a file (every -CAcreateserial signing shares the CA's .srl) keep the
// plan's order.
import { chmodSync, closeSync, copyFileSync, fsyncSync, linkSync, lstatSync, mkdtempSync, openSync, promises as fsp, renameSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { paths, SA, type CertRow } from '../catalog/certs.js';
import { EnvError, InternalError, isSystemError, KubepkiError, StepError } from '../errors.js';
import type { OpensslRunner } from '../openssl/exec.js';
import { dependencies, type Step } from '../plan/plan.js';
import { fillKubeconfig, loadYaml } from '../render/kubeconfig.js';
import { commandLine } from '../render/script.js';
import { certFacts, readCertificate, readPrivateKey, readPublicKey, subjectText, type CertFacts, type CertInfo, type KeyInfo } from '../x509/inspect.js';
import { bareForm, checkCert, checkCsr, checkKey, checkSerial, type Problem } from './checks.js';
import { describeWriteError, ensureDir, explainFullDisk, makeDirs, modeOf, readIn, readInSync, sha256, writeAtomic } from './fsutil.js';

export type StepStatus = 'created' | 'replaced' | 'unchanged';

export interface StepOutcome {
  step: Step;
  index: number;
  status: StepStatus;
  command?: string;
  /** one line per checked output: what was verified. Given to onDone; the outcomes that
   *  runSteps resolves with no longer carry them (empty), so that a run over a thousand nodes
   *  does not hold every printed line until its end. */
  checked: string[];
  ms: number;
  /** a certificate this step wrote and checked: its sha256 and what the manifest records of it
   *  (so that the manifest need not parse it again) */
  cert?: { path: string; sha256: string; facts: CertFacts };
  /** performance.now() marks: dispatched, openssl started and exited (openssl steps), done; and
   *  `after`: the step whose completion, or whose process's exit, dispatched this one (-1: the
   *  run's start), so that the chain of steps that decided the run's end can be followed back
   *  (scripts/bench.sh does). */
  timing: { dispatched: number; spawned?: number; exited?: number; done: number; after: number };
}

export interface RunContext {
  out: string;
  /** OUT/.kubepki/tmp: staging folders live here (same file system as OUT) */
  tmpRoot: string;
  /** OUT/.kubepki/backup/<run>: keys replaced by this run are kept here */
  backupDir: string;
  /** needed when a step runs openssl */
  openssl?: OpensslRunner;
  jobs: number;
  now: () => Date;
  /** CA files: never replaced, whatever a step says */
  protectedPaths: Set<string>;
  rowsById: Map<string, CertRow>;
  signal?: AbortSignal;
  onStart?: (step: Step, index: number) => void;
  onDone?: (o: StepOutcome, done: number, total: number) => void;
}

const daysOf = (argv: string[]) => Number(argv[argv.indexOf('-days') + 1]);

class Files {
  constructor(
    private out: string,
    private stage: string | undefined,
    private produced: Set<string>,
  ) {}
  async get(rel: string): Promise<Buffer> {
    const base = this.stage && this.produced.has(rel) ? this.stage : this.out;
    const b = readInSync(base, rel);
    if (!b) throw new EnvError(`${rel} is missing in ${base === this.out ? 'the PKI folder' : 'the staging folder'}: removed while kubepki was running?`);
    return b;
  }
  async text(rel: string) {
    return (await this.get(rel)).toString('utf8');
  }
}

function fail(step: Step, problems: Problem[], command?: string): never {
  throw new StepError(
    `step ${step.id} wrote ${problems.length === 1 ? 'a file that fails its check' : 'files that fail their checks'}: ${problems.map((p) => `${p.file} ${p.message}`).join('; ')}`,
    step.id,
    command,
    '',
    problems.map((p) => `${p.file}: ${p.code}`),
  );
}

/** A certificate's key is checked after genrsa, again with its request and again with its
 *  certificate; a CA's certificate is read for every signing. Parsing an RSA key costs ~1 ms of
 *  the main thread, so the last few parses are kept, keyed by the file's exact text (a file that
 *  changed is parsed again). Small and bounded: memory does not grow with the node count. */
class ParseCache<T> {
  private m = new Map<string, { text: string; value: T }>();
  constructor(private size = 32) {}
  get(rel: string, text: string, parse: () => T): T {
    const hit = this.m.get(rel);
    if (hit && hit.text === text) return hit.value;
    const value = parse();
    this.m.delete(rel);
    this.m.set(rel, { text, value });
    if (this.m.size > this.size) this.m.delete(this.m.keys().next().value!);
    return value;
  }
}
const keyCache = new ParseCache<ReturnType<typeof checkKey>>();
const certCache = new ParseCache<CertInfo>();

/** Checks the outputs of a step; returns one human line per output. */
async function checkOutputs(step: Step, files: Files, ctx: RunContext, command?: string, written?: { text: string; embedded: Map<string, Buffer> }): Promise<{ lines: string[]; cert?: StepOutcome['cert'] }> {
  const row = step.row;
  const lines: string[] = [];
  let cert: StepOutcome['cert'];
  const key = async (rel: string, bits: number): Promise<KeyInfo> => {
    const text = await files.text(rel);
    const r = keyCache.get(`${rel}:${bits}`, text, () => checkKey(rel, text, { keyBits: bits }));
    if (r.problems.length || !r.info) fail(step, r.problems, command);
    return r.info;
  };
  const signerOf = async (r: CertRow): Promise<CertInfo | undefined> => {
    if (!r.signer) return undefined;
    const rel = paths(ctx.rowsById.get(r.signer)!).crt;
    const text = await files.text(rel);
    return certCache.get(rel, text, () => readCertificate(text));
  };
  const now = ctx.now();
  switch (step.action) {
    case 'genrsa': {
      const rel = step.outputs[0].path;
      const k = await key(rel, row?.keyBits ?? Number(step.argv!.at(-1)));
      lines.push(`${rel}: RSA ${k.bits}-bit private key, mode 0600`);
      break;
    }
    case 'ca-cert':
    case 'sign': {
      const p = paths(row!);
      const k = await key(p.key, row!.keyBits);
      const signer = await signerOf(row!);
      const crt = await files.get(p.crt);
      // a bare signing writes what this openssl writes for it (the preflight has passed: its version is known)
      const bare = step.action === 'sign' && !row!.ext && ctx.openssl ? bareForm(await ctx.openssl.ready()) : undefined;
      const r = checkCert(p.crt, crt.toString('utf8'), row!, k, signer, { now, freshDays: daysOf(step.argv!), bare });
      if (r.problems.length || !r.info) fail(step, r.problems, command);
      const c = r.info;
      cert = { path: p.crt, sha256: sha256(crt), facts: certFacts(c) };
      if (step.action === 'sign') {
        const srl = step.outputs.find((o) => o.type === 'serial')!.path;
        const sp = checkSerial(srl, await files.text(srl), c);
        if (sp.length) fail(step, sp, command);
      }
      const sans = c.sans ? `, SANs ${[...c.sans.dns, ...c.sans.ip].join(' ')}` : '';
      const eku = c.extKeyUsage ? `, ${c.extKeyUsage.join('+')}` : '';
      lines.push(
        `${p.crt}: ${row!.kind === 'ca' ? 'self-signed CA' : `v${c.version}`} ${subjectText(c)}, ${row!.kind === 'ca' ? '' : `signed by ${row!.signer}, `}key matches${eku}${sans}, until ${c.notAfter.toISOString().slice(0, 10)}`,
      );
      if (step.action === 'sign') lines.push(`${step.outputs[0].path}: serial ${c.serialHex}`);
      break;
    }
    case 'csr': {
      const p = paths(row!);
      const k = await key(p.key, row!.keyBits);
      const problems = checkCsr(p.csr, await files.text(p.csr), row!, k);
      if (problems.length) fail(step, problems, command);
      lines.push(`${p.csr}: subject ok, self-signature ok, made from ${p.key}`);
      break;
    }
    case 'pubout': {
      const pub = readPublicKey(await files.text(SA.pub));
      const k = readPrivateKey(await files.text(SA.key));
      if (pub !== k.publicId) fail(step, [{ file: SA.pub, code: 'key-mismatch', message: `is not the public half of ${SA.key}` }], command);
      lines.push(`${SA.pub}: public half of ${SA.key}`);
      break;
    }
    case 'kubeconfig': {
      // the file holds exactly the text rendered for it (its YAML is read by the unit tests and by
      // kubectl in the integration tests), and that text embeds every file with the bytes read
      // from disk for it (the step's own read: not a second one)
      const rel = step.outputs[0].path;
      const text = await files.text(rel);
      const t = written!;
      if (text !== t.text) fail(step, [{ file: rel, code: 'kubeconfig', message: 'does not hold what was written to it' }]);
      for (const [file, bytes] of t.embedded) {
        if (!text.includes(`: ${bytes.toString('base64')}\n`)) fail(step, [{ file: rel, code: 'kubeconfig', message: `does not embed ${file} as written` }]);
      }
      const server = /^ +server: (.*)$/m.exec(text)?.[1] ?? '(none)';
      lines.push(`${rel}: ${t.embedded.size ? `embeds ${[...t.embedded.keys()].join(', ')}` : 'names files under install.dir'}, server ${server}`);
      break;
    }
    default:
      lines.push(`${step.outputs[0].path}: written`);
  }
  return { lines, cert };
}

/** Moves a step's checked outputs from its staging folder into OUT. Synchronous: a handful of
 *  tiny calls per step, each of which would otherwise wait for the thread pool while openssl
 *  processes hold the CPUs (the next step of the chain waits for this one). */
function promote(step: Step, stage: string, ctx: RunContext): StepStatus {
  let status: StepStatus = 'created';
  for (const o of step.outputs) {
    const dest = path.join(ctx.out, o.path);
    if (lstatSync(dest, { throwIfNoEntry: false })) {
      if (ctx.protectedPaths.has(o.path)) {
        throw new EnvError(`refusing to replace ${o.path}: kubepki never overwrites a CA`, [`(step ${step.id}; this is a bug in kubepki if you see it)`]);
      }
      if (o.type !== 'serial') status = 'replaced';
      if (o.type === 'key') {
        const b = path.join(ctx.backupDir, o.path);
        makeDirs(ctx.out, path.relative(ctx.out, path.dirname(b)), 0o700);
        copyFileSync(dest, b);
        chmodSync(b, 0o600);
      }
    }
    ensureDir(ctx.out, path.dirname(o.path));
    if (o.type === 'key') {
      // a key cannot be made again: its bytes reach the disk before its name does, so a power
      // cut cannot leave an empty key under the real name (certificates can be re-issued)
      const fd = openSync(path.join(stage, o.path), 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    renameSync(path.join(stage, o.path), dest);
  }
  return status;
}

type Timing = StepOutcome['timing'];

/** A hard link (the producer's file is renamed into OUT meanwhile; the link keeps its bytes), or
 *  a copy on a file system without hard links. */
function linkOrCopy(src: string, dst: string): void {
  try {
    linkSync(src, dst);
  } catch (e) {
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EMLINK'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
    copyFileSync(src, dst);
  }
}

/** A step started at the exit of the process that makes some of its inputs, before that step's
 *  outputs are checked and moved into OUT: those inputs are taken from the producer's staging
 *  folder (hard links; a serial is copied), and this step's own outputs are checked and moved in
 *  only once the producer has completed (`done` resolves false if it failed: then this one stops). */
interface Early {
  stage: string;
  outputs: Set<string>;
  done: Promise<boolean>;
}

/** `exited` is called once, as soon as the step's openssl process has ended (or could not start),
 *  with the staging folder when the process succeeded and wrote every output: its slot is free
 *  while its outputs are checked and moved in, and a follow-up may start from that folder. */
async function runOpensslStep(
  step: Step,
  index: number,
  ctx: RunContext,
  signal: AbortSignal,
  timing: Timing,
  exited: (stage?: string) => void,
  early?: Early,
): Promise<StepOutcome> {
  const t0 = performance.now();
  let ended = false;
  const end = (stage?: string) => {
    if (!ended) {
      ended = true;
      exited(stage);
    }
  };
  const command = commandLine(step.argv!, 'openssl');
  let stage: string | undefined;
  try {
    // Synchronous from here to the spawn: a follow-up started at its producer's exit links the
    // producer's outputs before the producer moves them away.
    // The stage's folders, then every input: a symlink to the file in OUT, except the serial,
    // which is copied (openssl rewrites it in place) and may not exist yet; inputs made by an
    // early start's producer come from its stage. Synchronous calls: a dozen tiny ones per step
    // cost less than their trips through the thread pool while openssl processes hold the CPUs
    stage = mkdtempSync(path.join(ctx.tmpRoot, `${index}-`));
    const dirs = new Set([...step.reads, ...step.outputs.map((o) => o.path)].map((r) => path.dirname(r)).filter((d) => d !== '.'));
    for (const d of dirs) makeDirs(stage, d, 0o700);
    for (const r of step.reads) {
      const fromProducer = early?.outputs.has(r);
      const src = path.join(fromProducer ? early!.stage : ctx.out, r);
      const dst = path.join(stage, r);
      const isSerial = r.endsWith('.srl');
      try {
        if (isSerial) copyFileSync(src, dst);
        else if (fromProducer) linkOrCopy(src, dst);
        else {
          lstatSync(src);
          symlinkSync(src, dst);
        }
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        if (isSerial) continue; // -CAcreateserial makes it
        throw new StepError(`step ${step.id} cannot run: its input ${r} is missing`, step.id, command, '');
      }
    }
    const openssl = ctx.openssl!;
    const res = await openssl.run(step.argv!, stage, signal);
    // nothing of a step is used before the preflight has passed (a missing openssl is reported
    // as that, not as a failed step)
    await openssl.ready();
    timing.spawned = res.startedAt;
    timing.exited = res.exitedAt;
    let missing: StepError | undefined;
    const ok = !signal.aborted && !res.failure && res.exitCode === 0;
    if (ok) {
      for (const o of step.outputs) {
        const st = lstatSync(path.join(stage, o.path), { throwIfNoEntry: false });
        if (!st || !st.isFile()) missing = new StepError(`step ${step.id}: openssl exited 0 but did not write ${o.path}`, step.id, command, res.stderr);
        else if (st.size === 0) missing = new StepError(`step ${step.id}: openssl wrote an empty ${o.path}`, step.id, command, res.stderr);
        else {
          chmodSync(path.join(stage, o.path), o.mode);
          continue;
        }
        break;
      }
    }
    end(ok && !missing ? stage : undefined);
    if (signal.aborted) throw new StepError(`step ${step.id} was stopped`, step.id, command, '');
    if (res.failure || res.exitCode !== 0) {
      throw new StepError(`step ${step.id} failed: openssl ${res.failure ?? `exited with code ${res.exitCode}`}`, step.id, command, res.stderr, step.outputs.map((o) => `${o.path} (${o.type})`));
    }
    if (missing) throw missing;
    // an early start checks and moves in nothing before its producer is in OUT
    if (early && !(await early.done)) throw new StepError(`step ${step.id} was stopped`, step.id, command, '');
    const { lines: checked, cert } = await checkOutputs(step, new Files(ctx.out, stage, new Set(step.outputs.map((o) => o.path))), ctx, command);
    const status = promote(step, stage, ctx);
    return { step, index, status, command, checked, cert, ms: performance.now() - t0, timing };
  } catch (e) {
    if (e instanceof KubepkiError) throw await explainFullDisk(e, ctx.out);
    // a failed system call is the machine's; anything else is a bug, kept with its stack
    if (!isSystemError(e)) throw new InternalError(step.id, e);
    throw new StepError(`step ${step.id} could not complete: ${describeWriteError(e)}`, step.id, command, '');
  } finally {
    end();
    // removed in the background (a dozen unlinks and rmdirs that the next step need not wait
    // for); the run removes what is left of tmp/ when it ends, and the next run empties it
    if (stage) fsp.rm(stage, { recursive: true, force: true }).catch(() => undefined);
  }
}

async function runFileStep(step: Step, index: number, ctx: RunContext, timing: Timing, preflight?: Promise<unknown>): Promise<StepOutcome> {
  // in a run that needs openssl, nothing is written before it has passed its preflight
  if (preflight) await preflight;
  const t0 = performance.now();
  const o = step.outputs[0];
  const files = new Files(ctx.out, undefined, new Set());
  let text: string;
  const data = new Map<string, Buffer>(); // file -> the bytes a kubeconfig embeds
  if (step.action === 'kubeconfig') {
    // rendered on access; with the YAML library only when a value needs quoting
    let t = step.kubeconfig;
    if (!t) {
      await loadYaml();
      t = step.kubeconfig!;
    }
    for (const f of t.embeds.values()) data.set(f, await files.get(f));
    text = fillKubeconfig(t, (rel) => data.get(rel)!);
  } else text = step.content!;
  const before = await readIn(ctx.out, o.path);
  let status: StepStatus = 'unchanged';
  if (!before || !before.equals(Buffer.from(text)) || modeOf(ctx.out, o.path) !== o.mode) {
    try {
      ensureDir(ctx.out, path.dirname(o.path));
      await writeAtomic(path.join(ctx.out, o.path), text, o.mode, ctx.tmpRoot);
    } catch (e) {
      if (e instanceof KubepkiError || !isSystemError(e)) throw e;
      throw new StepError(`cannot write ${o.path}: ${describeWriteError(e)}`, step.id, undefined, '');
    }
    status = before ? 'replaced' : 'created';
  }
  const checked = status === 'unchanged' ? [`${o.path}: unchanged`] : (await checkOutputs(step, files, ctx, undefined, { text, embedded: data })).lines;
  return { step, index, status, checked, ms: performance.now() - t0, timing };
}

/** With jobs > 1, the order among ready openssl steps: the plan's order (each certificate's key,
 *  request and signing follow each other, and a signing, next in its CA's serial chain, goes
 *  before the keys of later certificates), except that steps with no signing anywhere behind
 *  them go last: the service-account key, whose only follower is its .pub. When the last key to
 *  finish is one of those, no chain of signings is left to run on one core after it. Linear:
 *  dependents always come later in the plan. Returns a rank per step (0 first, then 1). */
function priorities(steps: Step[], dependents: number[][]): number[] {
  const signs = new Array<boolean>(steps.length).fill(false);
  for (let i = steps.length - 1; i >= 0; i--) {
    signs[i] = steps[i].action === 'sign' || steps[i].action === 'ca-cert' || dependents[i].some((j) => signs[j]);
  }
  return signs.map((x) => (x ? 0 : 1));
}

/** A small binary min-heap of step indexes ordered by (rank, index): without ranks the lowest
 *  ready index runs first (plan order). */
class MinHeap {
  private a: number[] = [];
  private less: (x: number, y: number) => boolean;
  constructor(rank?: number[]) {
    this.less = rank ? (x, y) => rank[x] < rank[y] || (rank[x] === rank[y] && x < y) : (x, y) => x < y;
  }
  get size() {
    return this.a.length;
  }
  /** would x be taken before everything in the heap? */
  before(x: number): boolean {
    return this.a.length === 0 || this.less(x, this.a[0]);
  }
  push(v: number) {
    const a = this.a;
    a.push(v);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i], a[p])) break;
      [a[p], a[i]] = [a[i], a[p]];
      i = p;
    }
  }
  pop(): number {
    const a = this.a;
    const top = a[0];
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l], a[m])) m = l;
        if (r < a.length && this.less(a[r], a[m])) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i], a[m]];
        i = m;
      }
    }
    return top;
  }
}

/** file steps at once beside the openssl processes (each holds a few files open) */
const MAX_WRITERS = 8;

/** Runs the steps; resolves with their outcomes in plan order, or rejects with the first failure
 *  after every started step has ended (its process gone; staging folders are removed in the
 *  background, and the caller removes what is left of tmpRoot).
 *
 *  Scheduling: a step is ready when every step it depends on is done; among ready steps the
 *  lowest plan index goes first, so each certificate's key, request and signing follow each other
 *  and a signing (next in the CA's serial chain) never waits behind later keys; with jobs > 1,
 *  keys with no signing behind them go last (see priorities). Up to `jobs` openssl processes run
 *  at once; with jobs > 1 a slot is free when its process exits (the outputs are checked beside
 *  the next process), and a follow-up that only this step holds back and that goes before
 *  everything waiting (a key's request, the CA's certificate, the next signing of the serial
 *  chain) takes the slot at once, its inputs linked from this step's staging folder (see Early):
 *  it is moved into OUT only after this step. With jobs > 1, steps that run no process (configs,
 *  kubeconfigs, flag files: a few ms of file writing) do not take one of those slots: they run as
 *  soon as they are ready, beside the openssl processes, and in a run that needs openssl not
 *  before its preflight has passed. With jobs = 1 everything runs one at a time, in exactly the
 *  plan's order (the lowest unfinished index is always ready). `openssl version` runs beside the
 *  first processes; no step's result is used before it has passed. */
export async function runSteps(steps: Step[], ctx: RunContext): Promise<StepOutcome[]> {
  makeDirs(ctx.out, path.relative(ctx.out, ctx.tmpRoot), 0o700);
  const deps = dependencies(steps);
  const waiting = deps.map((d) => d.length);
  const dependents: number[][] = steps.map(() => []);
  deps.forEach((d, j) => d.forEach((i) => dependents[i].push(j)));
  const sequential = ctx.jobs <= 1;
  const procs = new MinHeap(sequential ? undefined : priorities(steps, dependents));
  const files = sequential ? procs : new MinHeap();
  waiting.forEach((w, i) => w === 0 && (steps[i].argv ? procs : files).push(i));
  const outcomes: StepOutcome[] = new Array(steps.length);
  const abort = new AbortController();
  const onOuterAbort = () => abort.abort();
  ctx.signal?.addEventListener('abort', onOuterAbort);
  const needsOpenssl = steps.some((s) => s.argv);
  const started = new Array<boolean>(steps.length).fill(false);
  /** per step: resolves when it has completed (true) or failed (false) */
  const settled: Promise<boolean>[] = new Array(steps.length);
  const ready = (i: number) => !started[i] && (steps[i].argv ? procs : files).push(i);
  let running = 0; // openssl processes (every step when sequential)
  let writing = 0; // file steps beside them
  let inflight = 0; // steps started and not yet settled
  let done = 0;
  let failure: unknown;
  return new Promise<StepOutcome[]>((resolve, reject) => {
    const finish = () => {
      ctx.signal?.removeEventListener('abort', onOuterAbort);
      if (failure) reject(failure);
      else if (ctx.signal?.aborted) reject(new EnvError('stopped by a signal'));
      else resolve(outcomes);
    };
    const start = (i: number, after: number, slot: boolean, early?: Early) => {
      const step = steps[i];
      started[i] = true;
      inflight++;
      if (slot) running++;
      else writing++;
      // the slot of an openssl step is free as soon as its process has ended (with jobs > 1): the
      // next process starts while this one's outputs are checked and moved in. Sequential: at the
      // step's end, so that --jobs 1 is exactly the plan's order
      let held = slot;
      const free = () => {
        if (held) running--;
        held = false;
      };
      const timing: Timing = { dispatched: performance.now(), done: 0, after };
      ctx.onStart?.(step, i);
      const onExit = (stage?: string) => {
        if (sequential) return;
        // a follow-up that this step's completion would make ready, and that goes before every
        // step waiting for a slot (a key's request, the CA's certificate after its key, the next
        // signing of the CA's serial chain), gets the slot now, with its inputs from this step's
        // stage; it is moved into OUT after this step. If the process failed, the slot is kept
        // until this step ends (the run stops)
        const next = dependents[i].find((j) => steps[j].argv && waiting[j] === 1 && !started[j] && procs.before(j));
        if (next !== undefined && !stage) return;
        free();
        if (next !== undefined && !failure && !abort.signal.aborted) start(next, i, true, { stage: stage!, outputs: new Set(step.outputs.map((o) => o.path)), done: settled[i] });
        else pump(i);
      };
      // a step that fails before its first await (no stage could be made) ends inside this call:
      // its exit is handled once this start has returned
      let inStart = true;
      const p = step.argv
        ? runOpensslStep(step, i, ctx, abort.signal, timing, (stage) => (inStart ? queueMicrotask(() => onExit(stage)) : onExit(stage)), early)
        : runFileStep(step, i, ctx, timing, needsOpenssl ? ctx.openssl!.ready() : undefined).catch((e: unknown) => {
            throw e instanceof KubepkiError || e instanceof InternalError ? e : new InternalError(step.id, e);
          });
      inStart = false;
      p.then(
        (o) => {
          timing.done = performance.now();
          inflight--;
          if (!slot) writing--;
          done++;
          if (!failure) ctx.onDone?.(o, done, steps.length);
          outcomes[i] = { ...o, checked: [] };
          for (const j of dependents[i]) if (--waiting[j] === 0) ready(j);
          free();
          pump(i);
        },
        (e) => {
          inflight--;
          if (!slot) writing--;
          if (!failure && !abort.signal.aborted) failure = e;
          else if (!failure && ctx.signal?.aborted) failure = new EnvError('stopped by a signal');
          abort.abort();
          free();
          pump(i);
        },
      );
      // registered after the handlers above: a follow-up started early learns of a failure once
      // the run has recorded it
      settled[i] = p.then(
        () => true,
        () => false,
      );
    };
    const pump = (after: number) => {
      const go = () => !failure && !abort.signal.aborted;
      // processes first: they are what the run waits for
      while (go() && running < ctx.jobs && procs.size) start(procs.pop(), after, true);
      if (!sequential) while (go() && writing < MAX_WRITERS && files.size) start(files.pop(), after, false);
      if (inflight === 0 && (failure || abort.signal.aborted || (procs.size === 0 && files.size === 0))) finish();
    };
    pump(-1);
    // `openssl version` runs beside the first steps' processes (see OpensslRunner)
    if (needsOpenssl) ctx.openssl!.ready().catch(() => undefined);
  });
}
