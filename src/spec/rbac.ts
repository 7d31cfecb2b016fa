// What a CN or an O must look like to mean what RBAC will read: one spec rule, used by the spec's
// validation (so that generate never makes such a subject) and by verify (for what is on disk).

const KNOWN_SYSTEM = /^system:(node:[a-z0-9.-]+|nodes|masters|kube-controller-manager|kube-scheduler|kube-proxy|serviceaccounts?(:.*)?|authenticated|bootstrappers(:.*)?|monitoring|public-info-viewer)$/;

/** Typos that would silently bind nothing (or something else): a comma, stray spaces, a repeated
 *  or unknown system: prefix. Each message reads after the quoted value. */
export function rbacNameProblems(v: string): string[] {
  const out: string[] = [];
  if (/,/.test(v)) out.push('contains a comma: RBAC sees it as one name, not a list (use one O per group)');
  if (v !== v.trim() || /\s{2,}/.test(v) || (v.startsWith('system:') && /\s/.test(v))) out.push('contains stray spaces');
  if (v === 'system:anonymous') out.push('is the user name kube-apiserver gives requests without credentials: RBAC treats a certificate that carries it as the anonymous user, not as an identity of its own');
  else if (v === 'system:unauthenticated') out.push('is the group kube-apiserver gives requests without credentials: RBAC treats a certificate in it as an anonymous request, not as an identity of its own');
  else if (/^system:(system:|syste?m?:)/.test(v)) out.push('repeats the system: prefix (a typo?)');
  else if (v.startsWith('system:') && !/\s/.test(v) && !KNOWN_SYSTEM.test(v)) out.push('is not a name Kubernetes defines under system:');
  return out;
}

/** Why an extra client's CN or O would pass for an identity kubepki makes itself (a kubelet, a
 *  control-plane component): undefined when it does not. Reads after the quoted value. */
export function impersonation(kind: 'CN' | 'O', v: string): string | undefined {
  if (kind === 'CN' && v.startsWith('system:node:')) return 'is the identity of a kubelet (the Node authorizer gives it that node\'s rights): an extra client must not impersonate it; give the node in nodes: and kubepki makes its kubelet certificate';
  if (kind === 'CN' && v.startsWith('system:kube-')) return 'is the identity of a Kubernetes component (RBAC\'s system:kube-* roles are bound to it): an extra client must not impersonate it; kubepki makes the components\' certificates itself';
  if (kind === 'O' && v === 'system:nodes') return 'is the group of kubelets (the Node authorizer and NodeRestriction act on it): an extra client must not join it';
  return undefined;
}

/** "/O=system:masters" inside a value: an attempt (or a mistake) to add a field to the subject. */
export function looksLikeRdn(v: string): boolean {
  return /\/\s*[A-Za-z][A-Za-z0-9.]*\s*=/.test(v);
}
