import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiServerAddresses, serverHost } from '../../src/model/api-server-addresses.ts';

test('the kubeconfig server host and KUBERNETES_SERVICE_HOST, IPv4 only, sorted without repeats', () => {
  assert.deepEqual(apiServerAddresses('https://192.168.1.1:6443', {}), ['192.168.1.1']);
  assert.deepEqual(apiServerAddresses('http://192.168.1.1:6443/', { KUBERNETES_SERVICE_HOST: '10.96.0.1' }), ['10.96.0.1', '192.168.1.1']);
  assert.deepEqual(apiServerAddresses('https://10.96.0.1:443', { KUBERNETES_SERVICE_HOST: '10.96.0.1' }), ['10.96.0.1']);
  assert.deepEqual(apiServerAddresses(undefined, { KUBERNETES_SERVICE_HOST: ' 10.96.0.1 ' }), ['10.96.0.1']);
});

test('host names, IPv6, garbage and nothing give no address', () => {
  assert.deepEqual(apiServerAddresses('https://api.example.com:6443', {}), []);
  assert.deepEqual(apiServerAddresses('https://[fd00::1]:6443', { KUBERNETES_SERVICE_HOST: 'fd00::1' }), []);
  assert.deepEqual(apiServerAddresses('not a url', { KUBERNETES_SERVICE_HOST: '' }), []);
  assert.deepEqual(apiServerAddresses(undefined, {}), []);
  assert.deepEqual(apiServerAddresses('https://1.2.3.4.5:6443', { KUBERNETES_SERVICE_HOST: '300.1.1.1' }), []);
  assert.equal(serverHost('::'), null);
});
