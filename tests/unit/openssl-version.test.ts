// The preflight's reading of `openssl version`: which binaries kubepki accepts, and which version
// decides what a bare signing writes. Pure: the lines are the ones these binaries print.
import { parseVersionLine } from '../../src/openssl/exec.js';
import { bareForm } from '../../src/check/rules.js';

test.each([
  ['OpenSSL 3.0.19 27 Jan 2026 (Library: OpenSSL 3.0.19 27 Jan 2026)', 'OpenSSL 3.0.19', [3, 0, 19], 'v1'],
  ['OpenSSL 3.5.9 29 Sep 2026 (Library: OpenSSL 3.5.9 29 Sep 2026)', 'OpenSSL 3.5.9', [3, 5, 9], 'v3-key-ids'],
  ['OpenSSL 3.6.5 29 Sep 2026 (Library: OpenSSL 3.6.5 29 Sep 2026)', 'OpenSSL 3.6.5', [3, 6, 5], 'v3-key-ids'],
  ['OpenSSL 4.0.3 29 Sep 2026 (Library: OpenSSL 4.0.3 29 Sep 2026)\n', 'OpenSSL 4.0.3', [4, 0, 3], 'v3-key-ids'],
  ['OpenSSL 3.1.8 11 Feb 2025 (Library: OpenSSL 3.1.8 11 Feb 2025)', 'OpenSSL 3.1.8', [3, 1, 8], 'v1'],
  ['OpenSSL 3.2.0 23 Nov 2023 (Library: OpenSSL 3.2.0 23 Nov 2023)', 'OpenSSL 3.2.0', [3, 2, 0], 'v3-key-ids'],
  ['OpenSSL 1.1.1w  11 Sep 2023', 'OpenSSL 1.1.1w', [1, 1, 1], 'v1'],
])('%s: %s', (line, version, [major, minor, patch], form) => {
  const v = parseVersionLine(line);
  expect(v).toEqual({ kind: 'openssl', version, major, minor, patch });
  if (v.kind === 'openssl') expect(bareForm(v)).toBe(form);
});

test("LibreSSL (macOS's /usr/bin/openssl) is told apart from OpenSSL", () => {
  expect(parseVersionLine('LibreSSL 3.3.6\n')).toEqual({ kind: 'libressl', version: 'LibreSSL 3.3.6' });
});

test('anything else is neither', () => {
  expect(parseVersionLine('BoringSSL')).toEqual({ kind: 'other', line: 'BoringSSL' });
  expect(parseVersionLine('')).toEqual({ kind: 'other', line: '' });
});
