// Kubeconfig YAML, written by kubepki itself (never by shelling out to kubectl).
// Rendered once as a template whose file references are placeholders; generate fills them with
// base64 of the files, plan with `$(openssl base64 -A -in FILE)` inside an unquoted here-document.
import { paths } from '../catalog/certs.js';
import type { KubeconfigRow } from '../catalog/kubeconfigs.js';
import type { Spec } from '../spec/schema.js';

let yaml: typeof import('yaml') | undefined;
/** The YAML library, imported on first need instead of with this module: generate's first
 *  openssl processes do not wait for it (13 ms here). Call before rendering a template (the
 *  runner does before a kubeconfig step, plan before printing). */
export async function loadYaml(): Promise<void> {
  if (yaml) return;
  // yaml is CommonJS: bundled, its exports are the namespace's default; under node, named ones
  const m = (await import('yaml')) as typeof import('yaml') & { default?: typeof import('yaml') };
  yaml = typeof m.stringify === 'function' ? m : m.default;
}
function toYaml(doc: unknown): string {
  if (!yaml) throw new Error('internal: a kubeconfig rendered before loadYaml()');
  return yaml.stringify(doc, { lineWidth: 0 });
}

export interface KubeconfigTemplate {
  text: string;
  /** placeholder -> OUT-relative file whose base64 replaces it */
  embeds: Map<string, string>;
  /** embeds a private key: mode 0600 */
  secret: boolean;
}

export function apiserverUrl(spec: Spec): string {
  const ip = spec.master.ip.includes(':') ? `[${spec.master.ip}]` : spec.master.ip;
  return `https://${ip}:${spec.master.securePort}`;
}

/** The files a kubeconfig embeds, in placeholder order: CA, certificate, key (none when it names
 *  files under install.dir). The plan's dependencies come from this without rendering. */
export function kubeconfigEmbeds(spec: Spec, row: KubeconfigRow): string[] {
  const p = paths(row.cert);
  return spec.kubeconfig.embedCerts ? ['ca.crt', p.crt, p.key] : [];
}

export function kubeconfigTemplate(spec: Spec, row: KubeconfigRow): KubeconfigTemplate {
  const p = paths(row.cert);
  const [caFile, crtFile, keyFile] = kubeconfigEmbeds(spec, row);
  const embeds = new Map<string, string>();
  const embed = (file: string) => {
    const ph = `KUBEPKIEMBED${embeds.size}X`;
    embeds.set(ph, file);
    return ph;
  };
  const host = (rel: string) => `${spec.install.dir.replace(/\/+$/, '')}/${rel}`;
  const e = spec.kubeconfig.embedCerts;
  const cluster = spec.cluster.name;
  const user = row.cert.cn;
  const context = `${user}@${cluster}`;
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: cluster,
        cluster: { ...(e ? { 'certificate-authority-data': embed(caFile) } : { 'certificate-authority': host('ca.crt') }), server: apiserverUrl(spec) },
      },
    ],
    users: [
      {
        name: user,
        user: e
          ? { 'client-certificate-data': embed(crtFile), 'client-key-data': embed(keyFile) }
          : { 'client-certificate': host(p.crt), 'client-key': host(p.key) },
      },
    ],
    contexts: [{ name: context, context: { cluster, user } }],
    'current-context': context,
    preferences: {},
  };
  return { text: toYaml(doc), embeds, secret: e };
}

/** The kubeconfig as generate writes it: placeholders replaced by base64 of the files' bytes. */
export function fillKubeconfig(t: KubeconfigTemplate, read: (rel: string) => Buffer): string {
  let text = t.text;
  for (const [ph, file] of t.embeds) text = text.replace(ph, read(file).toString('base64'));
  return text;
}
