#!/usr/bin/env node
// Builds the native parts during `npm install`: the XDP program (clang -target bpf), the bpf()
// addon (node-gyp), both needed only by the XDP backend, the literal scan addon and the native
// line matcher (node-gyp), which only make the matcher faster. A machine without clang or a C
// compiler still installs: the step says what is missing; the XDP backend refuses to start
// until `npm run build:native` succeeds, and the matcher uses node-re2 alone instead.
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

function run(what, cmd, args, without = 'the XDP backend will not be available') {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.warn(`logban: building ${what} failed (${cmd} ${args.join(' ')}); ${without}`);
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
const gypArgs = (dir) => ['rebuild', '--silent', '--directory', dir, ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
run('the bpf addon', gyp, gypArgs('native-rules/bpf-addon'));
run('the literal scan addon', gyp, gypArgs('native-rules/scan-addon'), 'the matcher scans for literals with RE2 instead (slower, same results)');
// RE2 again, from node-re2's own sources (about a minute on two cores)
run('the native line matcher', gyp, [...gypArgs('native-rules/re2-lines'), '-j', 'max'], 'the matcher runs RE2 through node-re2 instead (slower, same results)');

process.exit(strict && failed ? 1 : 0);
