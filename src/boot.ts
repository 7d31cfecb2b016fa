#!/bin/sh
// dist/cli.js, the installed command: it runs the program bundle (src/cli.ts and everything it
// imports, one script written by scripts/build.mjs) with the V8 code cache the build made for it.
// Without the cache node parses and compiles every function kubepki calls at every start, before
// its first openssl process and between the steps; with it V8 takes their bytecode from the
// cache. V8 refuses a cache made by another V8, under other flags or for another source, and then
// compiles as usual: the cache only ever saves time. Its file name carries the bundle's hash, so
// a cache of another build is never offered (V8 itself checks the source's length only). V8 does
// not checksum a code cache (one changed byte of its payload is taken); the cache has the
// program's own standing: the build writes both by rename, and npm's and the image's digests
// cover both. A sha256 of it here would take back a good part of what the cache saves.
// Line 2 of dist/cli.js, added by scripts/build.mjs, makes the file a sh launcher as well: the
// installed command starts node without NODE_EXTRA_CA_CERTS (see there why).
// It is a CommonJS script (scripts/build.mjs writes dist/package.json to say so): node starts a
// CommonJS main without setting up its ES module loader, which an ES module entry waits for
// before its first line runs.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Script } from 'node:vm';

/** The program's and its cache's names in dist/, set by scripts/build.mjs. */
declare const KUBEPKI_PROGRAM: string;
declare const KUBEPKI_CODE_CACHE: string;

/** Set by the build only, to a file: the run writes the code cache of what it compiled there. */
const train = process.env.KUBEPKI_TRAIN_CODE_CACHE;
const file = join(__dirname, KUBEPKI_PROGRAM);
let cachedData: Buffer | undefined;
if (!train) {
  try {
    cachedData = readFileSync(join(__dirname, KUBEPKI_CODE_CACHE));
  } catch {
    // no cache (a build without openssl to train it): compiled as usual
  }
}
const script = new Script(readFileSync(file, 'utf8'), { filename: file, cachedData });
if (train) process.on('exit', () => writeFileSync(train, script.createCachedData()));
// the program lives beside this file: this file's require resolves what the program requires
(script.runInThisContext() as (require: NodeJS.Require, url: string) => void)(require, pathToFileURL(file).href);
