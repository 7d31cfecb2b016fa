// Which identities get a kubeconfig: every client of kube-apiserver signed by the cluster CA.
import type { CertRow } from './certs.js';
import { kubeconfigPath } from './names.js';

export interface KubeconfigRow {
  name: string;
  /** OUT-relative */
  path: string;
  cert: CertRow;
}

export function kubeconfigRows(rows: CertRow[]): KubeconfigRow[] {
  return rows.filter((r) => r.group === 'client').map((cert) => ({ name: cert.id, path: kubeconfigPath(cert), cert }));
}
