import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CryptoErrorCode, writeGeneratedPassphrase } from '@medledger/crypto';
import { checkNodeHome, homeLayout, loadNodeConfig } from '../src/config/index.js';
import { initNodeHome, testnetVerifyThreads } from '../src/home.js';
import { tempDir } from './fixtures.js';

test('config: file over defaults, environment over file, overrides over both; typos are errors', (t) => {
  const path = join(tempDir(t, 'config'), 'node.json');
  writeFileSync(path, JSON.stringify({ name: 'a', api: { port: 9000 } }));
  const c = loadNodeConfig(path, { MEDLEDGER_API_PORT: '9100' }, { p2p: { port: 9200 } });
  assert.equal(c.name, 'a');
  assert.equal(c.api.port, 9100);
  assert.equal(c.api.host, '127.0.0.1');
  assert.equal(c.p2p.port, 9200);
  writeFileSync(path, JSON.stringify({ api: { prot: 1 } }));
  assert.throws(() => loadNodeConfig(path, {}), /api\.prot: unknown setting/);
  writeFileSync(path, JSON.stringify({ p2p: { bootstrap: ['/ip4/1.2.3.4/tcp/1'] } }));
  assert.throws(() => loadNodeConfig(path, {}), /p2p\.bootstrap/);
});

test('a testnet gives each node its share of the cores for signature threads, at most the default', () => {
  assert.equal(testnetVerifyThreads(4, 2), 0);
  assert.equal(testnetVerifyThreads(2, 4), 1);
  assert.equal(testnetVerifyThreads(1, 8), 2);
  assert.equal(testnetVerifyThreads(4, 64), 2);
});

test('config validate unlocks the keys as start does, with the passphrase init generated into the home', (t) => {
  const home = join(tempDir(t, 'check'), 'home');
  // What `medledger init` does when the environment names no passphrase.
  initNodeHome({ home, passphrase: writeGeneratedPassphrase(homeLayout(home).passphrase) });
  const checked = checkNodeHome(home, {});
  assert.equal(checked.keys.node.encrypted, true);
  assert.deepEqual(checked.keys.enc, { present: true, encrypted: true });
  assert.ok(checked.warnings.some((w) => w.includes('keys/passphrase')));
  // The environment comes first, for start and for validate alike.
  assert.throws(() => checkNodeHome(home, { MEDLEDGER_KEY_PASSPHRASE: 'not it' }), {
    code: CryptoErrorCode.BAD_PASSPHRASE,
  });
});
