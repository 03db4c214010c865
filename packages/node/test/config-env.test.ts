import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_SETTINGS, envNameOf, loadNodeConfigWithSources } from '../src/config/index.js';
import { tempDir } from './fixtures.js';

test('every setting has a MEDLEDGER_* variable; the environment overrides the file, flags override both', (t) => {
  assert.equal(envNameOf('api.bodyLimitBytes'), 'MEDLEDGER_API_BODY_LIMIT_BYTES');
  assert.equal(envNameOf('p2p.bootstrap'), 'MEDLEDGER_P2P_BOOTSTRAP');
  assert.equal(envNameOf('faults'), 'MEDLEDGER_FAULTS');
  const path = join(tempDir(t, 'config-env'), 'node.json');
  writeFileSync(path, JSON.stringify({ name: 'a', mempool: { maxTxs: 10 } }));
  const { config, sources } = loadNodeConfigWithSources(
    path,
    {
      MEDLEDGER_MEMPOOL_MAX_TXS: '20',
      MEDLEDGER_LOG_LEVEL: 'debug',
      MEDLEDGER_FAULTS: 'true',
      MEDLEDGER_P2P_BOOTSTRAP: '/ip4/10.0.0.1/tcp/1/p2p/x, /ip4/10.0.0.2/tcp/1/p2p/y',
      MEDLEDGER_API_PORT: '9000',
    },
    { api: { port: 9001 } },
  );
  assert.equal(config.mempool.maxTxs, 20);
  assert.equal(config.log.level, 'debug');
  assert.equal(config.faults, true);
  assert.deepEqual(config.p2p.bootstrap, ['/ip4/10.0.0.1/tcp/1/p2p/x', '/ip4/10.0.0.2/tcp/1/p2p/y']);
  assert.equal(config.api.port, 9001);
  assert.equal(sources.name, 'file');
  assert.equal(sources['mempool.maxTxs'], 'env MEDLEDGER_MEMPOOL_MAX_TXS');
  assert.equal(sources['api.port'], 'flag');
  assert.equal(sources['api.host'], 'default');
  assert.throws(() => loadNodeConfigWithSources(path, { MEDLEDGER_API_PORT: 'eighty' }), /MEDLEDGER_API_PORT/);
  assert.throws(() => loadNodeConfigWithSources(path, { MEDLEDGER_FAULTS: 'maybe' }), /MEDLEDGER_FAULTS/);
});

test('docs/CONFIG.md documents every setting and its environment variable', () => {
  const doc = readFileSync(fileURLToPath(new URL('../../../../docs/CONFIG.md', import.meta.url)), 'utf8');
  for (const s of CONFIG_SETTINGS) {
    assert.ok(doc.includes(`\`${s.path}\``), `docs/CONFIG.md lacks ${s.path}`);
    assert.ok(doc.includes(`\`${s.env}\``), `docs/CONFIG.md lacks ${s.env}`);
  }
});
