// npm run build: type-check (tsc --noEmit, in package.json), then esbuild writes
//   dist/kubepki-HASH.js     the program: src/cli.ts and everything it imports, one script that
//                            evaluates to a function of (require, the script's URL); its modules
//                            are evaluated when first imported, as with ES modules
//   dist/kubepki-HASH.cache  V8's code cache for it, from a training run (below)
//   dist/cli.js              the installed command (src/boot.ts): runs the program with its cache
//   dist/package.json        {"type":"commonjs"}: node loads cli.js as the CommonJS script it is
// HASH is the program's sha256 (16 hex digits); cli.js names both files. Files of earlier builds
// are removed once they are 10 minutes old (a test run in the same tree may still be loading them),
// and cli.js is replaced by a rename, after the files it names are written.
//
// The training run: `generate` of a two-node cluster into a temporary folder (removed at once: it
// holds keys), with KUBEPKI_TRAIN_CODE_CACHE naming the cache file; the run writes the bytecode of
// every function it compiled there at exit. It needs an openssl 3 (KUBEPKI_OPENSSL, else PATH);
// without one the build writes no cache and says so, and kubepki compiles its code at every start.
// The cache is V8's: a node other than the build's refuses it (and compiles as usual).
//
// dist/cli.js is both a POSIX sh script and a CommonJS script. Run as the installed `kubepki` command
// (#!/bin/sh), its second line is shell:  ':' //; unset NODE_EXTRA_CA_CERTS; exec node "$0" "$@"
// — it starts node on the same file without NODE_EXTRA_CA_CERTS. Node 20 reads and parses every
// certificate of that file before it runs a line of JavaScript (88 ms for a 220 KB bundle on the
// benchmark machine, against 4 ms without it: performance.nodeTiming.v8Start); kubepki makes no
// TLS connection, so the variable is of no use to it. For node, that line is a string
// expression and a comment; `node dist/cli.js` runs the same program with the environment as is.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';

const LAUNCHER = `':' //; unset NODE_EXTRA_CA_CERTS; exec node "$0" "$@"`;
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  minify: !process.env.KUBEPKI_BUILD_READABLE, minifyWhitespace: true, minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  write: false,
};

mkdirSync('dist', { recursive: true });
// dist/cli.js is CommonJS: this file makes node load it (and the training run's copy) so, where
// the package's own "type" is "module"
writeFileSync('dist/package.json', '{"type":"commonjs"}\n');
const prog = await build({
  ...common,
  entryPoints: ['src/cli.ts'],
  format: 'cjs',
  outfile: 'dist/program.js',
  define: { 'import.meta.url': '__kubepkiUrl' },
  banner: { js: '(function(require,__kubepkiUrl){' },
  footer: { js: '})' },
});
const program = prog.outputFiles[0].contents;
const hash = createHash('sha256').update(program).digest('hex').slice(0, 16);
const name = `kubepki-${hash}`;
// a file of this name holds these bytes already; a test run may be reading it
if (!existsSync(`dist/${name}.js`)) {
  writeFileSync(`dist/.${name}.js`, program);
  renameSync(`dist/.${name}.js`, `dist/${name}.js`);
}

// the launcher, naming the program and its cache; the training run runs it as dist/.cli-next.js
const boot = await build({
  ...common,
  entryPoints: ['src/boot.ts'],
  format: 'cjs',
  outfile: 'dist/cli.js',
  define: { KUBEPKI_PROGRAM: JSON.stringify(`./${name}.js`), KUBEPKI_CODE_CACHE: JSON.stringify(`./${name}.cache`) },
});
const cli = boot.outputFiles[0].text;
if (!cli.startsWith('#!/bin/sh\n')) throw new Error('build: src/boot.ts must start with #!/bin/sh');
writeFileSync('dist/.cli-next.js', cli.replace('\n', `\n${LAUNCHER}\n`));
chmodSync('dist/.cli-next.js', 0o755);

// trained by every build, for the node that runs it
train(`dist/${name}.cache`);
renameSync('dist/.cli-next.js', 'dist/cli.js');

for (const f of readdirSync('dist')) {
  const p = `dist/${f}`;
  if (/^kubepki-[0-9a-f]{16}\.(js|cache)$/.test(f) && !f.startsWith(`${name}.`) && Date.now() - statSync(p).mtimeMs > 6e5) rmSync(p);
}
// the ES module chunks of earlier builds
if (existsSync('dist/chunks')) for (const f of readdirSync('dist/chunks')) if (Date.now() - statSync(`dist/chunks/${f}`).mtimeMs > 6e5) rmSync(`dist/chunks/${f}`);

/** The training run (see above): writes `file`, or nothing and a note why. */
function train(file) {
  const dir = mkdtempSync(path.join(tmpdir(), 'kubepki-train-'));
  const part = `${file}.${process.pid}`;
  try {
    const spec = path.join(dir, 'cluster.yaml');
    writeFileSync(spec, 'master: {hostname: k8s-master, ip: 192.168.18.3}\nnodes:\n  - {name: node-1, ip: 10.0.0.1}\n  - {name: node-2, ip: 10.0.0.2}\n');
    const r = spawnSync(process.execPath, ['dist/.cli-next.js', 'generate', '--out', path.join(dir, 'pki'), '--spec', spec], {
      env: { ...process.env, KUBEPKI_TRAIN_CODE_CACHE: part },
      encoding: 'utf8',
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    if (r.status !== 0 || !existsSync(part)) {
      rmSync(file, { force: true });
      const why = r.error ? r.error.message : (r.stderr.trim().split('\n')[0] || `exit code ${r.status}`);
      console.warn(`build: no code cache (its training run failed: ${why}); kubepki compiles its code at every start`);
      rmSync(part, { force: true });
      return;
    }
    renameSync(part, file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
