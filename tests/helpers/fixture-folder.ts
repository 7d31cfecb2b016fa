// PKI folders assembled from the committed test-only fixtures (fixtures/x509), for unit tests of
// what kubepki decides about a folder: nothing is generated, nothing is spawned.
import { chmodSync, copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { createPublicKey } from 'node:crypto';
import path from 'node:path';
import { readCertificate } from '../../src/x509/inspect.js';
import { FIXTURES } from './cli.js';
import { tmpDir } from './tmp.js';

export const fixture = (name: string) => path.join(FIXTURES, 'x509', name);

/** A day into the life of the shortest-lived fixture (admin.crt, 30 days): never the wall clock,
 *  so that tests on the committed fixtures pass on any later date. */
export const FIXTURE_NOW = new Date(readCertificate(readFileSync(fixture('admin.crt'), 'utf8')).notBefore.getTime() + 86_400_000);

/** A folder holding these fixtures under these OUT-relative names (keys 0600). */
export function fixtureFolder(files: Record<string, string>): string {
  const d = tmpDir('kubepki-fixtures-');
  for (const [rel, src] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(d, rel)), { recursive: true });
    copyFileSync(fixture(src), path.join(d, rel));
    if (rel.endsWith('.key')) chmodSync(path.join(d, rel), 0o600);
  }
  return d;
}

/** The PEM public half of a fixture key (derived, not generated). */
export const publicPemOf = (key: string) => createPublicKey(readFileSync(fixture(key), 'utf8')).export({ type: 'spki', format: 'pem' }) as string;
