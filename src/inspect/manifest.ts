// manifest.json: every artifact, the command that makes it, its sha256, and for certificates the
// subject, issuer, serial, SANs and validity. Written only when its content changes, so a re-run
// on a complete PKI changes nothing.
import path from 'node:path';
import { MANIFEST } from '../catalog/names.js';
import type { Plan } from '../plan/plan.js';
import { commandLine } from '../render/script.js';
import { EnvError } from '../errors.js';
import { describeWriteError, modeOf, readIn, readInSync, sha256, writeAtomic } from '../run/fsutil.js';
import { certFacts, readCertificate, type CertFacts } from '../x509/inspect.js';

/** certificates the run has just checked: path -> their sha256 and facts (not parsed again) */
export type KnownCerts = Map<string, { sha256: string; facts: CertFacts }>;
/** files the run has just written or compared, as they are in OUT: path -> sha256 and mode (not
 *  read again) */
export type KnownFiles = Map<string, { sha256: string; mode: number }>;

export async function buildManifest(plan: Plan, out: string, source: string, version: string, known?: KnownCerts, files?: KnownFiles) {
  const artifacts: Record<string, unknown>[] = [];
  const seen = new Set<string>();
  for (const s of plan.steps) {
    for (const o of s.outputs) {
      if (seen.has(o.path)) continue;
      seen.add(o.path);
      const f = files?.get(o.path);
      // synchronous reads (see readInSync)
      const data = f ? undefined : readInSync(out, o.path);
      if (!f && !data) continue;
      const hash = f?.sha256 ?? sha256(data!);
      const entry: Record<string, unknown> = {
        path: o.path,
        type: o.type,
        name: s.row?.id ?? s.unit,
        mode: (f ? f.mode : (modeOf(out, o.path) ?? 0)).toString(8).padStart(4, '0'),
        sha256: hash,
        madeBy: s.argv ? commandLine(s.argv) : s.action === 'kubeconfig' ? 'kubepki (kubeconfig)' : `kubepki (${s.action})`,
      };
      if (o.type === 'cert') {
        const k = known?.get(o.path);
        try {
          Object.assign(entry, k && k.sha256 === hash ? k.facts : certFacts(readCertificate((data ?? readInSync(out, o.path))!.toString('utf8'))));
        } catch {
          entry.unparsable = true;
        }
      }
      artifacts.push(entry);
    }
  }
  return { kubepki: version, spec: source, kubernetesVersion: plan.spec.cluster.kubernetesVersion, artifacts };
}

/** Returns what happened to manifest.json, or false when it did not change. */
export async function writeManifest(plan: Plan, out: string, source: string, version: string, tmpDir: string, known?: KnownCerts, files?: KnownFiles): Promise<'created' | 'replaced' | false> {
  const text = JSON.stringify(await buildManifest(plan, out, source, version, known, files), null, 2) + '\n';
  const before = await readIn(out, MANIFEST);
  if (before && before.toString('utf8') === text) return false;
  try {
    await writeAtomic(path.join(out, MANIFEST), text, 0o644, tmpDir);
  } catch (e) {
    throw new EnvError(`cannot write manifest.json in ${out}: ${describeWriteError(e)}`, ['every other file was written and checked; free the space (or fix the permissions) and run the same command again']);
  }
  return before ? 'replaced' : 'created';
}
