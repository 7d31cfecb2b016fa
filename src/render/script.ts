// The plan as a POSIX sh script: the same openssl argv, the same rendered files, one valid
// sequential order (the order `generate --jobs 1` runs).
import type { Plan, Step } from '../plan/plan.js';

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

function stepLines(step: Step): string[] {
  switch (step.action) {
    case 'config':
    case 'flags':
      return hereDoc(step.outputs[0].path, step.content!);
    case 'kubeconfig': {
      const t = step.kubeconfig!;
      // unquoted here-document: only the embeds expand; everything else is escaped
      let body = t.text.replace(/[\\$`]/g, (c) => '\\' + c);
      for (const [ph, file] of t.embeds) body = body.replace(ph, `$(openssl base64 -A -in ${shQuote(file)})`);
      return [`cat > ${shQuote(step.outputs[0].path)} <<${EOF_MARK}`, ...body.replace(/\n$/, '').split('\n'), EOF_MARK];
    }
    default:
      return [commandLine(step.argv!)];
  }
}

export function renderScript(plan: Plan, source: string, version: string): string {
  const dirs = new Set<string>();
  for (const s of plan.steps) for (const o of s.outputs) if (o.path.includes('/')) dirs.add(o.path.slice(0, o.path.lastIndexOf('/')));
  const publicFiles = [...new Set(plan.steps.flatMap((s) => s.outputs.filter((o) => o.mode === 0o644).map((o) => o.path)))];
  const n = plan.steps.length;
  const lines: string[] = [
    '#!/bin/sh',
    `# kubepki ${version} plan for ${source}: the commands \`kubepki generate\` runs, in one valid order.`,
    '# Run it in an empty folder, e.g.: mkdir pki && cd pki && sh ../plan.sh',
    '# generate also checks every file after each step and writes manifest.json; this script does not.',
    'set -eu',
    'umask 077',
  ];
  if (dirs.size) lines.push(`mkdir -p ${[...dirs].sort().map((d) => shQuote(d)).join(' ')}`);
  plan.steps.forEach((s, i) => {
    lines.push('', `# [${i + 1}/${n}] ${s.title}`, ...stepLines(s));
  });
  lines.push('', '# certificates, requests, configs and public keys are world-readable; keys stay 0600');
  for (let i = 0; i < publicFiles.length; i += 8) lines.push(`chmod 0644 ${publicFiles.slice(i, i + 8).map((p) => shQuote(p)).join(' ')}`);
  return lines.join('\n') + '\n';
}
