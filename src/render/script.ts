// The plan as a POSIX sh script: the same openssl argv, the same rendered files, one valid
// sequential order (the order `generate --jobs 1` runs).
import { paths } from '../catalog/names.js';
import type { Plan, Step } from '../plan/plan.js';
import { renderKubeconfig } from './kubeconfig.js';

const SAFE = /^[A-Za-z0-9_./:=,@%+-]+$/;

/** Quotes one argument for sh: bare when safe, "…" when nothing in it expands, '…' otherwise. */
export function shQuote(arg: string, prefer: 'bare' | 'double' = 'bare'): string {
  if (prefer === 'bare' && SAFE.test(arg)) return arg;
  if (!/[$`\\"!]/.test(arg)) return `"${arg}"`;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(argv: string[], binary = 'openssl'): string {
  // -subj is quoted the way the document writes it: -subj "/CN=k8s-master"
  return [binary, ...argv.map((a, i) => shQuote(a, argv[i - 1] === '-subj' ? 'double' : 'bare'))].join(' ');
}

const EOF_MARK = 'KUBEPKI_EOF';

function hereDoc(path: string, text: string): string[] {
  if (text.split('\n').includes(EOF_MARK)) throw new Error('internal: here-document marker inside content');
  return [`cat > ${shQuote(path)} <<'${EOF_MARK}'`, ...text.replace(/\n$/, '').split('\n'), EOF_MARK];
}

/** With an external CA the script runs twice (before and after the CA signs): keys and requests
 *  that exist are kept, so that the certificates placed in between still match them. */
function stepLines(step: Step, resumable = false): string[] {
  switch (step.action) {
    case 'config':
    case 'flags':
    case 'rbac':
      return hereDoc(step.outputs[0].path, step.content!);
    case 'kubeconfig': {
      const t = renderKubeconfig(step.kubeconfig!)!;
      // Each embed is read into a variable first: a failed command substitution in an assignment
      // stops `set -e`, one inside a here-document does not (the file would be written without it).
      // The unquoted here-document then expands only those variables; everything else is escaped.
      const vars = new Map<string, string>(); // file -> variable
      const assignments: string[] = [];
      for (const file of t.embeds.values()) {
        if (vars.has(file)) continue;
        const base = `b64_${file.replace(/[^A-Za-z0-9]/g, '_')}`;
        let name = base;
        for (let n = 2; [...vars.values()].includes(name); n++) name = `${base}_${n}`;
        vars.set(file, name);
        assignments.push(`${name}=$(openssl base64 -A -in ${shQuote(file)})`);
      }
      let body = t.text.replace(/[\\$`]/g, (c) => '\\' + c);
      for (const [ph, file] of t.embeds) body = body.replace(ph, `\${${vars.get(file)}}`);
      return [...assignments, `cat > ${shQuote(step.outputs[0].path)} <<${EOF_MARK}`, ...body.replace(/\n$/, '').split('\n'), EOF_MARK];
    }
    default:
      if (step.external) {
        // the external CA signs: the script goes on only with what it has placed
        const crt = step.outputs[1].path;
        return [`# by the external CA (ca.crt is its certificate): ${commandLine(step.argv!)}`, `[ -e ${shQuote(crt)} ] || { echo "$0: ${crt} is missing: have the external CA sign ${step.reads[0]}" >&2; pending=1; }`];
      }
      if (resumable && (step.action === 'genkey' || step.action === 'csr' || step.action === 'pubout')) return [`[ -e ${shQuote(step.outputs[0].path)} ] || ${commandLine(step.argv!)}`];
      return [commandLine(step.argv!)];
  }
}

/** The plan as a script; its kubeconfigs are rendered, so the YAML library must be loaded if one
 *  needs it (withYaml). */
export function renderScript(plan: Plan, source: string, version: string): string {
  // every level of every folder, parents first: mkdir -m sets the mode of the folders it names
  // only, and generate makes each one 0755
  const dirs = new Set<string>();
  for (const s of plan.steps) {
    for (const o of s.outputs) {
      const parts = o.path.split('/').slice(0, -1);
      parts.forEach((_, i) => dirs.add(parts.slice(0, i + 1).join('/')));
    }
  }
  const caFiles = plan.rows.filter((r) => r.kind === 'ca' && !r.external).flatMap((r) => [paths(r).key, paths(r).crt]);
  const external = plan.rows.filter((r) => r.external).map((r) => paths(r).crt);
  const publicFiles = [...new Set(plan.steps.filter((s) => !s.external).flatMap((s) => s.outputs.filter((o) => o.mode === 0o644).map((o) => o.path)))];
  const n = plan.steps.length;
  const lines: string[] = [
    '#!/bin/sh',
    `# kubepki ${version} plan for ${source}: the commands \`kubepki generate\` runs, in one valid order.`,
    '# Run it in an empty folder, e.g.: mkdir pki && cd pki && sh ../plan.sh',
    '# generate also checks every file after each step and writes manifest.json; this script does not.',
    'set -eu',
    'umask 077',
    '# a CA is never replaced: in a folder that has one, stop before anything is written',
    `for f in ${caFiles.map((f) => shQuote(f)).join(' ')}; do`,
    '  if [ -e "$f" ] || [ -L "$f" ]; then',
    '    echo "$0: $f exists: this folder already has a CA, which this script would replace; run it in an empty folder (kubepki generate completes an existing PKI)" >&2',
    '    exit 1',
    '  fi',
    'done',
  ];
  for (const f of external) lines.push(`[ -e ${shQuote(f)} ] || { echo "$0: ${f} is missing: ca.external needs the external CA's certificate (or bundle) there" >&2; exit 1; }`);
  if (dirs.size) lines.push(`mkdir -p -m 0755 ${[...dirs].sort().map((d) => shQuote(d)).join(' ')}`);
  let stopped = false;
  plan.steps.forEach((s, i) => {
    // kubeconfigs and flag files name certificates: not before the external CA has signed them all
    if (external.length && !stopped && (s.action === 'kubeconfig' || s.action === 'flags')) {
      stopped = true;
      lines.push('', '# the requests above are for the external CA: the rest needs its certificates', '[ -z "${pending:-}" ] || { echo "$0: sign the requests above, place the certificates and run this script again" >&2; exit 0; }');
    }
    lines.push('', `# [${i + 1}/${n}] ${s.title}`, ...stepLines(s, external.length > 0));
  });
  lines.push('', '# certificates, requests, configs and public keys are world-readable; keys stay 0600');
  for (let i = 0; i < publicFiles.length; i += 8) lines.push(`chmod 0644 ${publicFiles.slice(i, i + 8).map((p) => shQuote(p)).join(' ')}`);
  return lines.join('\n') + '\n';
}
