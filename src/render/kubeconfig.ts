// Kubeconfig YAML, written by kubepki itself (never by shelling out to kubectl).
// Rendered once as a template whose file references are placeholders; generate fills them with
// base64 of the files, plan with `$(openssl base64 -A -in FILE)` inside an unquoted here-document.
import { CA, paths } from '../catalog/names.js';
import type { KubeconfigRow } from '../catalog/kubeconfigs.js';
import { apiserverUrl, onHost } from '../spec/derive.js';

export { apiserverUrl };
import type { Spec } from '../spec/schema.js';

let yaml: typeof import('yaml') | undefined;
/** The YAML library, imported on first need instead of with this module. A kubeconfig whose
 *  values are all plain scalars is written without it (see emitPlain); the library is needed
 *  for the others (withYaml loads it when one of them needs it). */
export async function loadYaml(): Promise<void> {
  if (yaml) return;
  // yaml is CommonJS: bundled, its exports are the namespace's default; under node, named ones
  const m = (await import('yaml')) as typeof import('yaml') & { default?: typeof import('yaml') };
  yaml = typeof m.stringify === 'function' ? m : m.default;
}

/** A kubeconfig document: mappings of strings, mappings, and sequences of mappings. */
export interface YamlMap {
  [key: string]: string | YamlMap | YamlMap[];
}

/** Strings that the YAML library writes as they are (plain scalars): a letter or '/' first, no
 *  space, no ':' last, and not read back as another type (true, false, null in any case).
 *  Names, user names, URLs, paths and base64 of the default cluster all are. */
const PLAIN = /^[A-Za-z/][A-Za-z0-9._/:@[\]-]*$/;
const plain = (s: string) => PLAIN.test(s) && !s.endsWith(':') && !/^(true|false|null)$/i.test(s);

/** The text yaml.stringify(doc, { lineWidth: 0 }) gives when every value is a plain scalar
 *  (unit-tested against it), or undefined when one is not: the default cluster's kubeconfigs
 *  are then written without loading the library while the keys are made. */
export function emitPlain(doc: YamlMap): string | undefined {
  const lines: string[] = [];
  return emit(doc, '', lines) ? lines.join('\n') + '\n' : undefined;
}

/** Appends doc's lines at this indentation; false as soon as a key or value is not plain. */
function emit(doc: YamlMap, indent: string, lines: string[]): boolean {
  for (const [k, v] of Object.entries(doc)) {
    if (!plain(k)) return false;
    if (typeof v === 'string') {
      if (!plain(v)) return false;
      lines.push(`${indent}${k}: ${v}`);
    } else if (Array.isArray(v)) {
      lines.push(`${indent}${k}:`);
      for (const item of v) {
        // an item's first key goes on its "- " line, the others under it
        const sub: string[] = [];
        if (!emit(item, `${indent}    `, sub) || sub.length === 0) return false;
        sub[0] = `${indent}  - ${sub[0].slice(indent.length + 4)}`;
        lines.push(...sub);
      }
    } else if (Object.keys(v).length === 0) lines.push(`${indent}${k}: {}`);
    else {
      lines.push(`${indent}${k}:`);
      if (!emit(v, `${indent}  `, lines)) return false;
    }
  }
  return true;
}

/** A kubeconfig as plain data: the document, whose embedded files are placeholders, and the file
 *  each placeholder stands for. The plan holds this; its text is rendered when it is written. */
export interface KubeconfigDoc {
  doc: YamlMap;
  /** [placeholder, OUT-relative file whose base64 replaces it] */
  embeds: [string, string][];
  /** embeds a private key: mode 0600 */
  secret: boolean;
}

export interface KubeconfigTemplate {
  text: string;
  /** placeholder -> OUT-relative file whose base64 replaces it */
  embeds: Map<string, string>;
  secret: boolean;
}

/** The files a kubeconfig embeds, in placeholder order: CA, certificate, key (none when it names
 *  files under install.dir). The plan's dependencies come from this. */
export function kubeconfigEmbeds(spec: Spec, row: KubeconfigRow): string[] {
  const p = paths(row.cert);
  return spec.kubeconfig.embedCerts ? [paths(CA).crt, p.crt, p.key] : [];
}

export function kubeconfigDoc(spec: Spec, row: KubeconfigRow): KubeconfigDoc {
  const p = paths(row.cert);
  const [caFile, crtFile, keyFile] = kubeconfigEmbeds(spec, row);
  const embeds: [string, string][] = [];
  const embed = (file: string) => {
    const ph = `KUBEPKIEMBED${embeds.length}X`;
    embeds.push([ph, file]);
    return ph;
  };
  const host = (rel: string) => onHost(spec, rel);
  const e = spec.kubeconfig.embedCerts;
  const cluster = spec.cluster.name;
  const user = row.cert.cn;
  const context = `${user}@${cluster}`;
  const doc: YamlMap = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: cluster,
        cluster: { ...(e ? { 'certificate-authority-data': embed(caFile) } : { 'certificate-authority': host(paths(CA).crt) }), server: apiserverUrl(spec) },
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
  return { doc, embeds, secret: e };
}

/** The template's text: without the YAML library when every value is a plain scalar; undefined
 *  when a value needs quoting and the library is not loaded yet (see withYaml). */
export function renderKubeconfig(k: KubeconfigDoc): KubeconfigTemplate | undefined {
  const text = emitPlain(k.doc) ?? yaml?.stringify(k.doc, { lineWidth: 0 });
  return text === undefined ? undefined : { text, embeds: new Map(k.embeds), secret: k.secret };
}

/** Loads the YAML library if one of these kubeconfigs needs it; renderKubeconfig then renders each. */
export async function withYaml(docs: Iterable<KubeconfigDoc>): Promise<void> {
  if (yaml) return;
  for (const k of docs) {
    if (emitPlain(k.doc) === undefined) return loadYaml();
  }
}

export function kubeconfigTemplate(spec: Spec, row: KubeconfigRow): KubeconfigTemplate | undefined {
  return renderKubeconfig(kubeconfigDoc(spec, row));
}

/** The kubeconfig as generate writes it: placeholders replaced by base64 of the files' bytes. */
export function fillKubeconfig(t: KubeconfigTemplate, read: (rel: string) => Buffer): string {
  let text = t.text;
  for (const [ph, file] of t.embeds) text = text.replace(ph, read(file).toString('base64'));
  return text;
}
