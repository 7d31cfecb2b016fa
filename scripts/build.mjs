// npm run build: type-check (tsc --noEmit, in package.json), then one esbuild bundle of src/cli.ts
// into dist/cli.js with a chunk per command (dist/chunks), so that a command loads only what it
// needs. Chunks of earlier builds are removed once they are 10 minutes old (a test run in the same
// tree may still be loading them).
//
// dist/cli.js is both a POSIX sh script and an ES module. Run as the installed `kubepki` command
// (#!/bin/sh), its second line is shell:  ':' //; unset NODE_EXTRA_CA_CERTS; exec node "$0" "$@"
// — it starts node on the same file without NODE_EXTRA_CA_CERTS. Node 20 reads and parses every
// certificate of that file before it runs a line of JavaScript (88 ms for a 220 KB bundle on the
// benchmark machine, against 4 ms without it: performance.nodeTiming.v8Start); kubepki makes no
// TLS connection, so the variable is of no use to it. For node, that line is a string
// expression and a comment; `node dist/cli.js` runs the same program with the environment as is.
import { chmodSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const LAUNCHER = `':' //; unset NODE_EXTRA_CA_CERTS; exec node "$0" "$@"`;

await build({
  entryPoints: ['src/cli.ts'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  splitting: true,
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  entryNames: '[name]',
  minify: !process.env.KUBEPKI_BUILD_READABLE, minifyWhitespace: true, minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  // bundled CommonJS dependencies (ini, yaml) call require() for node's built-ins
  banner: { js: `import{createRequire as __kubepkiRequire}from'node:module';const require=__kubepkiRequire(import.meta.url);` },
});

// the launcher goes right after the #!/bin/sh line of src/cli.ts, in dist/cli.js only
const cli = readFileSync('dist/cli.js', 'utf8');
if (!cli.startsWith('#!/bin/sh\n')) throw new Error('build: src/cli.ts must start with #!/bin/sh');
writeFileSync('dist/cli.js', cli.replace('\n', `\n${LAUNCHER}\n`));
chmodSync('dist/cli.js', 0o755);

const chunks = 'dist/chunks';
for (const f of readdirSync(chunks)) if (Date.now() - statSync(`${chunks}/${f}`).mtimeMs > 6e5) rmSync(`${chunks}/${f}`);
