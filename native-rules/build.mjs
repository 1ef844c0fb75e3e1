#!/usr/bin/env node
// Builds the native parts during `npm install`: the XDP program (clang -target bpf) and the
// bpf() addon (node-gyp). Both are needed only by the XDP backend, so a machine without clang
// still installs: the step says what is missing and the XDP backend refuses to start until
// `npm run build:native` succeeds.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict');
let failed = false;

function have(cmd) {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
}

function run(what, cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.warn(`logban: building ${what} failed (${cmd} ${args.join(' ')}); the XDP backend will not be available`);
    failed = true;
  }
}

if (have('clang') && have('make')) {
  run('the XDP program', 'make', ['-s', '-C', 'native-rules/xdp']);
} else {
  console.warn('logban: clang or make not found: skipping the XDP program (apt-get install clang libbpf-dev for --backend xdp)');
  failed = true;
}

const localGyp = path.join(root, 'node_modules', '.bin', 'node-gyp');
const gyp = existsSync(localGyp) ? localGyp : 'node-gyp';
// node-gyp would download Node's headers; build against the installed ones (no network here)
const nodedir = process.env.npm_config_nodedir || (existsSync('/usr/include/node/node_api.h') ? '/usr' : undefined);
run('the bpf addon', gyp, ['rebuild', '--silent', '--directory', 'native-rules/bpf-addon', ...(nodedir ? [`--nodedir=${nodedir}`] : [])]);

process.exit(strict && failed ? 1 : 0);
