// What a CN or an O must look like to mean what RBAC will read: one spec rule, used by the spec's
// validation (so that generate never makes such a subject) and by verify (for what is on disk).

const KNOWN_SYSTEM = /^system:(node:[a-z0-9.-]+|nodes|masters|kube-controller-manager|kube-scheduler|kube-proxy|serviceaccounts?(:.*)?|authenticated|bootstrappers(:.*)?|monitoring|public-info-viewer)$/;

/** Typos that would silently bind nothing (or something else): a comma, stray spaces, a repeated
 *  or unknown system: prefix. Each message reads after the quoted value. */
export function rbacNameProblems(v: string): string[] {
  const out: string[] = [];
  if (/,/.test(v)) out.push('contains a comma: RBAC sees it as one name, not a list (use one O per group)');
  if (v !== v.trim() || /\s{2,}/.test(v) || (v.startsWith('system:') && /\s/.test(v))) out.push('contains stray spaces');
  if (/^system:(system:|syste?m?:)/.test(v)) out.push('repeats the system: prefix (a typo?)');
  else if (v.startsWith('system:') && !/\s/.test(v) && !KNOWN_SYSTEM.test(v)) out.push('is not a name Kubernetes defines under system:');
  return out;
}

/** "/O=system:masters" inside a value: an attempt (or a mistake) to add a field to the subject. */
export function looksLikeRdn(v: string): boolean {
  return /\/\s*[A-Za-z][A-Za-z0-9.]*\s*=/.test(v);
}
