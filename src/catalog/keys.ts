// Key algorithms by kubeadm's names (v1beta4 encryptionAlgorithm), what a key must be for each,
// and the openssl commands an operator would type to make one: `genrsa` as the document does for
// RSA, `genpkey` for EC (PKCS#8, which every Kubernetes component reads).

export const KEY_ALGORITHMS = ['RSA-2048', 'RSA-3072', 'RSA-4096', 'ECDSA-P256', 'ECDSA-P384'] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];

/** What a private key must be: RSA of `bits`, or EC on the NIST curve of `bits` (256: P-256). */
export interface KeyWant {
  algorithm: 'rsa' | 'ec';
  bits: number;
}

export function keyWant(name: KeyAlgorithm): KeyWant {
  const [kind, size] = name.split('-');
  return kind === 'RSA' ? { algorithm: 'rsa', bits: Number(size) } : { algorithm: 'ec', bits: Number(size.slice(1)) };
}

/** "RSA 2048" / "ECDSA P-256": how messages name a key */
export const keyName = (k: KeyWant) => (k.algorithm === 'rsa' ? `RSA ${k.bits}` : `ECDSA P-${k.bits}`);

/** `openssl genrsa -out FILE BITS` (the document's), or genpkey on the curve. */
export function genkeyArgv(k: KeyWant, file: string): string[] {
  return k.algorithm === 'rsa' ? ['genrsa', '-out', file, String(k.bits)] : ['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:P-${k.bits}`, '-out', file];
}

/** The public half: `openssl rsa -pubout` for RSA (as kubeadm documents for sa.pub), `pkey -pubout` for EC. */
export function puboutArgv(k: KeyWant, key: string, pub: string): string[] {
  return [k.algorithm === 'rsa' ? 'rsa' : 'pkey', '-in', key, '-pubout', '-out', pub];
}
