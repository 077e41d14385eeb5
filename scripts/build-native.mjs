#!/usr/bin/env node
// The native addon, portably: use the prebuilt binary that the npm package carries for this
// platform when it loads; otherwise build from source with node-gyp, offline, against the headers
// of the Node that runs this script (an nvm/volta/asdf/official install ships them next to its
// binary; Debian's nodejs package in /usr/include/node).
//
//   node scripts/build-native.mjs              install step: prebuilt if it loads, else build
//   node scripts/build-native.mjs --source     always build from source
//   node scripts/build-native.mjs --prebuild   build, then copy to prebuilds/<platform>-<arch>/ for `npm pack`
//   node scripts/build-native.mjs --prebuild --reuse   copy the existing build/Release instead (tests)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));
const mode = process.argv[2] ?? 'install';
const prebuildDir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const prebuildFile = path.join(prebuildDir, 'node.napi.glibc.node');
const builtFile = path.join(root, 'build', 'Release', 'plasmapool_native.node');

function fail(message) {
  process.stderr.write(`plasmapool: ${message}\n`);
  process.exit(1);
}

function loads(file) {
  try {
    require(file);
    return true;
  } catch {
    return false;
  }
}

/** A Node install directory with include/node/{node_api.h,common.gypi}, or null. */
function findNodeDir() {
  const candidates = [
    process.env.npm_config_nodedir,
    path.resolve(path.dirname(process.execPath), '..'), // nvm, volta, asdf, official tarballs: bin/node + include/node
    '/usr', // Debian/Ubuntu nodejs (+ libnode-dev)
    '/usr/local',
  ].filter(Boolean);
  return (
    candidates.find(
      (dir) => fs.existsSync(path.join(dir, 'include', 'node', 'node_api.h')) && fs.existsSync(path.join(dir, 'include', 'node', 'uv.h')),
    ) ?? null
  );
}

function nodeGyp() {
  // npm passes its own bundled node-gyp to install scripts; a checkout has it as a dev dependency.
  if (process.env.npm_config_node_gyp && fs.existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp;
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return null;
  }
}

function buildFromSource() {
  const nodedir = findNodeDir();
  if (!nodedir) {
    fail(
      `no prebuilt binary for ${process.platform}-${process.arch}, and no Node headers to build one: looked for include/node/node_api.h ` +
        `next to ${process.execPath} and in /usr and /usr/local. Install your distribution's Node headers (Debian: libnode-dev), ` +
        'or point npm_config_nodedir at a Node install directory.',
    );
  }
  const gyp = nodeGyp();
  if (!gyp) fail('node-gyp is not available to build the native addon: run the install through npm, or `npm install node-gyp`');
  const result = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    fail(`building the native addon failed (node-gyp exit ${result.status}): it needs a C++17 compiler (g++ or clang++), make and python3`);
  }
}

// A git checkout always builds its own sources (a prebuilt binary there may be stale).
const checkout = fs.existsSync(path.join(root, '.git'));

if (mode === 'install') {
  if (!checkout && fs.existsSync(prebuildFile) && !process.env.npm_config_build_from_source && loads(prebuildFile)) {
    process.stdout.write(`plasmapool: using the prebuilt native addon ${path.relative(root, prebuildFile)}\n`);
  } else {
    buildFromSource();
  }
} else if (mode === '--source') {
  buildFromSource();
} else if (mode === '--prebuild') {
  if (!(process.argv[3] === '--reuse' && fs.existsSync(builtFile))) buildFromSource();
  fs.mkdirSync(prebuildDir, { recursive: true });
  fs.copyFileSync(builtFile, prebuildFile);
  spawnSync('strip', ['--strip-debug', prebuildFile], { stdio: 'ignore' });
  if (!loads(prebuildFile)) fail(`the prebuilt binary ${prebuildFile} does not load`);
  process.stdout.write(`plasmapool: prebuilt ${path.relative(root, prebuildFile)} (${fs.statSync(prebuildFile).size} bytes)\n`);
} else {
  fail(`unknown mode ${mode}: use --source or --prebuild`);
}
