import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXTERNAL_PACKAGES, isRuntimeFile, missingRuntimeFiles, runtimeFiles } from '../../scripts/app-files.ts';

/** netlink 0.3.0's files as the directory walk finds them (abridged). */
const NETLINK = [
  'package.json', 'LICENSE', 'README.md', 'binding.gyp', 'src/binding.cc',
  'dist/index.js', 'dist/index.d.ts', 'dist/index.js.map', 'dist/raw.js', 'dist/rt/rt.js', 'dist/rt/rt.d.ts',
  'build/Release/netlink_binding.node', 'build/Release/obj.target/netlink_binding/src/binding.o', 'build/Makefile', 'build/config.gypi',
  'prebuilds/linux-x64/node.napi.node', 'node_modules/@types/node/index.d.ts', 'node_modules/@types/node/package.json',
];

test("netlink ships its JavaScript, package.json, licence and its locally built binding, nothing else", () => {
  assert.deepEqual(runtimeFiles(NETLINK), [
    'LICENSE', 'build/Release/netlink_binding.node', 'dist/index.js', 'dist/raw.js', 'dist/rt/rt.js', 'package.json',
  ]);
});

test("the package's stock prebuilds are never shipped: without the patched build loading must fail, not fall back", () => {
  assert.equal(isRuntimeFile('prebuilds/linux-x64/node.napi.node'), false);
  assert.equal(isRuntimeFile('build/Debug/netlink_binding.node'), false);
  assert.equal(isRuntimeFile('build/Release/obj.target/x.node'), false);
  assert.equal(isRuntimeFile('build/Release/netlink_binding.node'), true);
});

test('nested node_modules, sources, type declarations and maps stay behind; .cjs, .mjs and JSON data go', () => {
  for (const f of ['node_modules/x/index.js', 'src/a.js', 'a.d.ts', 'dist/a.js.map', 'README.md', 'binding.gyp']) assert.equal(isRuntimeFile(f), false, f);
  for (const f of ['index.js', 'lib/a.cjs', 'lib/b.mjs', 'data/table.json', 'LICENSE.md', 'COPYING', 'NOTICE']) assert.equal(isRuntimeFile(f), true, f);
});

test('a path from a broken walk (absolute, climbing out, empty parts) is refused, not copied', () => {
  for (const bad of ['/etc/passwd', '../x.js', 'dist/../../x.js', 'dist//a.js', './a.js', '', 'a\\b.js', 'a\0.js']) {
    assert.throws(() => runtimeFiles(['package.json', bad]), /not a plain relative path inside the package/, JSON.stringify(bad));
    assert.equal(isRuntimeFile(bad), false);
  }
});

test('a shipped package must hold package.json, its main entry and, for netlink, its binding', () => {
  assert.deepEqual(missingRuntimeFiles(runtimeFiles(NETLINK), { main: 'dist/index.js' }, true), []);
  assert.deepEqual(missingRuntimeFiles(['package.json', 'index.js'], {}, false), [], 'main defaults to index.js');
  assert.deepEqual(missingRuntimeFiles(['package.json', 'lib/index.js'], { main: './lib' }, false), []);
  assert.deepEqual(missingRuntimeFiles(['package.json', 'lib/main.js'], { main: 'lib/main' }, false), []);
  assert.deepEqual(missingRuntimeFiles(['dist/index.js'], { main: 'dist/index.js' }, true), ['package.json', 'a built binding in build/Release (*.node)']);
  assert.deepEqual(missingRuntimeFiles(['package.json'], { main: 'dist/index.js' }, false), ['its main entry dist/index.js']);
  assert.deepEqual(missingRuntimeFiles(['package.json', 'index.js'], 'not an object', false), []);
});

test('the external packages are netlink and the loader it needs at run time', () => {
  assert.deepEqual(Object.keys(EXTERNAL_PACKAGES).sort(), ['netlink', 'node-gyp-build']);
});
