// Flag files in the document's sysconfig form: NAME="--flag=value …", sourced by systemd units.
import { flagsFor, type FlagFile } from '../catalog/flags.js';
import type { Spec } from '../spec/schema.js';

export function renderFlagFile(spec: Spec, file: FlagFile): string {
  const flags = flagsFor(spec, file);
  for (const [f, v] of flags) {
    if (/["$`\\\s]/.test(v)) throw new Error(`internal: flag ${f} value ${JSON.stringify(v)} cannot be written into a sysconfig file`);
  }
  const who = file.node ? ` on ${file.node.name}` : file.member ? ` member ${file.member.name}` : '';
  return [
    `# ${file.hostFile}: ${file.component}${who} flags for Kubernetes ${spec.cluster.kubernetesVersion} (written by kubepki)`,
    `${file.variable}="${flags.map(([f, v]) => `${f}=${v}`).join(' ')}"`,
    '',
  ].join('\n');
}

/** Reads NAME="…" back into [flag, value] pairs (for verify). */
export function parseFlagFile(text: string): { variable: string; flags: Map<string, string> } | null {
  const m = text.match(/^([A-Z_]+)="([^"]*)"\s*$/m);
  if (!m) return null;
  const flags = new Map<string, string>();
  for (const tok of m[2].split(/\s+/).filter(Boolean)) {
    const eq = tok.indexOf('=');
    if (eq > 0) flags.set(tok.slice(0, eq), tok.slice(eq + 1));
    else flags.set(tok, '');
  }
  return { variable: m[1], flags };
}
