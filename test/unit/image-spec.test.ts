import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  aptMirror, configDigestOfManifest, debianSuiteOfDockerfile, manifestDigestOfIndex, parsePackageList, runConfigOfImage,
} from '../../scripts/image-spec.ts';

const repoFile = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const digest = (c: string) => `sha256:${c.repeat(64)}`;

test('the package list: one name per line, comments and blank lines dropped, order kept', () => {
  assert.deepEqual(parsePackageList('# header\n\niptables\n  nftables  # the nft tool\nlibstrongswan-standard-plugins\n'), ['iptables', 'nftables', 'libstrongswan-standard-plugins']);
  assert.deepEqual(parsePackageList('g++\nlibc6.1-dev'), ['g++', 'libc6.1-dev']);
});

test('the package list refuses what xargs would read differently, bad names, duplicates and an empty list', () => {
  assert.throws(() => parsePackageList('iptables nftables\n'), /line 1: one package per line/);
  assert.throws(() => parsePackageList('ok\nIPtables\n'), /line 2: "IPtables" is not a Debian package name/);
  assert.throws(() => parsePackageList('-rf\n'), /not a Debian package name/);
  assert.throws(() => parsePackageList('a\n'), /not a Debian package name/);
  assert.throws(() => parsePackageList('$(reboot)\n'), /not a Debian package name/);
  assert.throws(() => parsePackageList('ipset\n\nipset # again\n'), /line 3: ipset is already listed on line 1/);
  assert.throws(() => parsePackageList('# nothing\n\n'), /names no package/);
  assert.throws(() => parsePackageList(''), /names no package/);
});

test("the repository's package list parses and names what seaway runs and loads", () => {
  const names = parsePackageList(repoFile('image/base-packages.txt'));
  for (const needed of ['iptables', 'nftables', 'ipset', 'iproute2', 'charon-systemd', 'strongswan-swanctl', 'libcharon-extra-plugins', 'libstrongswan-standard-plugins', 'wireguard-go', 'util-linux']) {
    assert.ok(names.includes(needed), `image/base-packages.txt lacks ${needed}`);
  }
});

test("the suite comes from the base Dockerfile's one FROM debian line", () => {
  assert.equal(debianSuiteOfDockerfile('# x\nFROM debian:bookworm-slim\nRUN true\n'), 'bookworm');
  assert.equal(debianSuiteOfDockerfile('FROM docker.io/library/debian:trixie AS base\n'), 'trixie');
  assert.equal(debianSuiteOfDockerfile(`from debian:bookworm-slim@sha256:${'0'.repeat(64)}\n`), 'bookworm');
  assert.equal(debianSuiteOfDockerfile(repoFile('image/base.Dockerfile')), 'bookworm');
  assert.throws(() => debianSuiteOfDockerfile('RUN true\n'), /exactly one FROM line, found 0/);
  assert.throws(() => debianSuiteOfDockerfile('FROM debian:bookworm\nFROM scratch\n'), /found 2/);
  assert.throws(() => debianSuiteOfDockerfile('FROM ubuntu:24.04\n'), /not a Debian release image/);
  assert.throws(() => debianSuiteOfDockerfile('FROM debian:bookworm-backports\n'), /not a Debian release image/);
});

test('the mirror: the first deb source of exactly that suite with main, one-line or deb822', () => {
  const deb822 = [
    'Types: deb', 'URIs: http://deb.debian.org/debian', 'Suites: bookworm bookworm-updates', 'Components: main', 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg', '',
    'Types: deb', 'URIs: http://deb.debian.org/debian-security', 'Suites: bookworm-security', 'Components: main',
  ].join('\n');
  assert.equal(aptMirror([{ path: '/etc/apt/sources.list.d/debian.sources', text: deb822 }], 'bookworm'), 'http://deb.debian.org/debian');
  assert.equal(aptMirror([{ path: '/etc/apt/sources.list.d/debian.sources', text: deb822 }], 'bookworm-security'), 'http://deb.debian.org/debian-security');
  const oneLine = '# deb http://old/ bookworm main\ndeb-src http://src.example/debian bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian/ bookworm main contrib\n';
  assert.equal(aptMirror([{ path: '/etc/apt/sources.list', text: oneLine }], 'bookworm'), 'http://mirror.example/debian');
});

test('the mirror skips other suites, components, disabled stanzas and non-http URIs, and says what it searched', () => {
  const files = [
    { path: '/etc/apt/sources.list', text: 'deb http://a.example/debian bookworm-updates main\ndeb http://b.example/debian bookworm contrib\n' },
    { path: '/etc/apt/sources.list.d/x.sources', text: 'Enabled: no\nTypes: deb\nURIs: http://c.example/debian\nSuites: bookworm\nComponents: main\n' },
    { path: '/etc/apt/sources.list.d/y.sources', text: 'Types: deb\nURIs: file:/srv/mirror\nSuites: bookworm\nComponents: main\n' },
    { path: '/etc/apt/sources.list.d/z.list', text: 'garbage line\ndeb\n' },
  ];
  assert.throws(() => aptMirror(files, 'bookworm'), /no apt source for bookworm main in \/etc\/apt\/sources.list, .*z.list/);
  assert.throws(() => aptMirror([], 'bookworm'), /\(no sources files\)/);
});

test('the manifest digest: the only one, or the one named by ref when several', () => {
  assert.equal(manifestDigestOfIndex({ manifests: [{ digest: digest('a') }] }), digest('a'));
  const two = { manifests: [
    { digest: digest('a'), annotations: { 'org.opencontainers.image.ref.name': 'localhost/seaway:0.1.0' } },
    { digest: digest('b'), annotations: { 'org.opencontainers.image.ref.name': 'localhost/seaway:0.2.0' } },
  ] };
  assert.equal(manifestDigestOfIndex(two, 'localhost/seaway:0.2.0'), digest('b'));
  assert.throws(() => manifestDigestOfIndex(two), /lists 2 manifests; expected one, found 0/);
  assert.throws(() => manifestDigestOfIndex(two, 'other'), /or one named other, found 0/);
  assert.throws(() => manifestDigestOfIndex({}), /no manifests list/);
  assert.throws(() => manifestDigestOfIndex(null), /no manifests list/);
  assert.throws(() => manifestDigestOfIndex({ manifests: [] }), /lists 0 manifests/);
  assert.throws(() => manifestDigestOfIndex({ manifests: [{ digest: 'sha256:../../etc/passwd' }] }), /no sha256 digest/);
  assert.throws(() => manifestDigestOfIndex({ manifests: [{ digest: `sha512:${'a'.repeat(128)}` }] }), /no sha256 digest/);
});

test('the config digest of a manifest, or an error', () => {
  assert.equal(configDigestOfManifest({ config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digest('c') } }), digest('c'));
  assert.throws(() => configDigestOfManifest({ layers: [] }), /no config descriptor/);
  assert.throws(() => configDigestOfManifest({ config: { digest: 'sha256:XYZ' } }), /no sha256 digest/);
  assert.throws(() => configDigestOfManifest('{}'), /no config descriptor/);
});

test('the run configuration keeps the image config as it is, absent fields as their runtime defaults', () => {
  const config = runConfigOfImage('localhost/seaway:0.1.0', {
    architecture: 'amd64',
    config: {
      Entrypoint: ['/usr/local/bin/node', '--optimize-for-size', '/app/seaway.mjs'],
      Env: ['PATH=/usr/bin:/bin', 'MALLOC_ARENA_MAX=2', 'EMPTY='],
      WorkingDir: '/app',
      Labels: { 'org.opencontainers.image.version': '0.1.0' },
    },
  });
  assert.deepEqual(config, {
    image: 'localhost/seaway:0.1.0',
    Entrypoint: ['/usr/local/bin/node', '--optimize-for-size', '/app/seaway.mjs'],
    Cmd: [],
    Env: ['PATH=/usr/bin:/bin', 'MALLOC_ARENA_MAX=2', 'EMPTY='],
    WorkingDir: '/app',
    User: '',
    Labels: { 'org.opencontainers.image.version': '0.1.0' },
  });
  const bare = runConfigOfImage('x', { config: { Entrypoint: ['/bin/sh'], Cmd: ['-c', 'true'], Env: null, WorkingDir: '', User: '65534' } });
  assert.deepEqual([bare.Cmd, bare.Env, bare.WorkingDir, bare.User, bare.Labels], [['-c', 'true'], [], '/', '65534', {}]);
});

test('a malformed image config is refused, never guessed at', () => {
  const ok = { Entrypoint: ['/usr/local/bin/node'] };
  const refuse = (c: Record<string, unknown>, pattern: RegExp) => assert.throws(() => runConfigOfImage('x', { config: { ...ok, ...c } }), pattern);
  assert.throws(() => runConfigOfImage('x', {}), /no config object/);
  assert.throws(() => runConfigOfImage('x', { config: {} }), /has no Entrypoint/);
  refuse({ Entrypoint: [] }, /must start with an absolute program path/);
  refuse({ Entrypoint: ['node', 'x.mjs'] }, /must start with an absolute program path/);
  refuse({ Entrypoint: '/usr/local/bin/node /app/seaway.mjs' }, /Entrypoint is not a list of strings/);
  refuse({ Cmd: [1] }, /Cmd is not a list of strings/);
  refuse({ Env: ['NOEQUALS'] }, /Env entry "NOEQUALS" is not NAME=value/);
  refuse({ Env: ['=value'] }, /is not NAME=value/);
  refuse({ WorkingDir: 'app' }, /WorkingDir "app" is not absolute/);
  refuse({ WorkingDir: 7 }, /WorkingDir is not a string/);
  refuse({ Labels: { a: 1 } }, /Labels are not a map of strings/);
  refuse({ Labels: ['a'] }, /Labels are not a map of strings/);
});
