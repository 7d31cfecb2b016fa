// RBAC objects kubepki's identities need and the default RBAC lacks: with admin.group other than
// system:masters (kubeadm 1.29+'s kubeadm:cluster-admins), the admin identity is only a member of
// that group, and this ClusterRoleBinding gives the group cluster-admin. Someone who bypasses RBAC
// (the super-admin, system:masters) applies it once: kubectl apply -f rbac/.
import type { Spec } from '../spec/schema.js';

export interface RbacFile {
  /** OUT-relative */
  path: string;
  content: string;
  title: string;
}

export const CLUSTER_ADMINS_BINDING = 'rbac/cluster-admins.yaml';

export function rbacFiles(spec: Spec): RbacFile[] {
  const group = spec.admin.group;
  if (group === 'system:masters') return [];
  const content = [
    '# kubepki: gives the admin identity\'s group cluster-admin (apply as the super-admin: kubectl apply -f rbac/)',
    'apiVersion: rbac.authorization.k8s.io/v1',
    'kind: ClusterRoleBinding',
    'metadata:',
    `  name: ${JSON.stringify(group)}`,
    'roleRef:',
    '  apiGroup: rbac.authorization.k8s.io',
    '  kind: ClusterRole',
    '  name: cluster-admin',
    'subjects:',
    '  - apiGroup: rbac.authorization.k8s.io',
    '    kind: Group',
    `    name: ${JSON.stringify(group)}`,
    '',
  ].join('\n');
  return [{ path: CLUSTER_ADMINS_BINDING, content, title: `${CLUSTER_ADMINS_BINDING}: ClusterRoleBinding ${group} -> cluster-admin` }];
}
