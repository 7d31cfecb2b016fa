// RBAC hygiene of the identities on disk: a CN or O that would silently bind nothing (or too
// much), and a kubelet certificate the Node authorizer would not recognise.
import type { CertRow } from '../catalog/certs.js';
import { rbacNameProblems } from '../spec/rbac.js';
import type { CertInfo } from '../x509/inspect.js';
import type { Problem } from './rules.js';

/** RBAC hygiene of a CN or O value on disk: typos that would silently bind nothing (or too much). */
export function identityProblems(file: string, row: CertRow, c: CertInfo): Problem[] {
  const out: Problem[] = [];
  for (const rdn of c.subject) {
    for (const a of rdn) {
      if (a.type !== 'CN' && a.type !== 'O') continue;
      const v = a.value;
      const say = (code: string, m: string) => out.push({ file, code, message: `${a.type} ${JSON.stringify(v)} ${m}` });
      for (const m of rbacNameProblems(v)) say('rbac-identity', m);
      if (a.type === 'O' && v === 'system:masters' && !row.mayBeMaster) say('rbac-masters', 'grants unrestricted cluster-admin (system:masters) to an identity other than admin');
    }
  }
  if (row.node !== undefined) {
    const cn = c.subject.flat().find((a) => a.type === 'CN')?.value;
    if (cn !== `system:node:${row.node}`) out.push({ file, code: 'kubelet-identity', message: `CN ${JSON.stringify(cn)} is not system:node:${row.node}: the Node authorizer will not recognise the kubelet of ${row.node}` });
  }
  return out;
}
