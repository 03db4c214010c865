import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiUrl, p2pAddr } from '../src/consortium.js';

test('the URL and multiaddr of a listen address reach it from this machine', () => {
  assert.equal(apiUrl('127.0.0.1', 26657), 'http://127.0.0.1:26657');
  assert.equal(apiUrl('0.0.0.0', 26657), 'http://127.0.0.1:26657');
  assert.equal(apiUrl('', 26657), 'http://127.0.0.1:26657');
  // An IPv6 literal needs brackets in a URL, or the port reads as part of the address.
  assert.equal(apiUrl('::', 26657), 'http://[::1]:26657');
  assert.equal(apiUrl('::1', 26657), 'http://[::1]:26657');
  assert.equal(apiUrl('fd00::5', 80), 'http://[fd00::5]:80');
  assert.equal(apiUrl('[::1]', 80), 'http://[::1]:80');
  assert.equal(apiUrl('node0.example', 80), 'http://node0.example:80');
  assert.equal(p2pAddr('10.0.0.1', 26656), '/ip4/10.0.0.1/tcp/26656');
  assert.equal(p2pAddr('node0', 26656), '/dns4/node0/tcp/26656');
});
