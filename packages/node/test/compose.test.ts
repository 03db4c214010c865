import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { composeConfig, composeFile, initTestnet, testnetNodeName } from '../src/index.js';
import { tempDir } from './fixtures.js';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const schemaPath = join(repo, 'packages/node/test/compose-spec/compose-spec.json');

test('testnet/docker-compose.yml is exactly what `medledger testnet compose` generates (no drift)', () => {
  assert.equal(readFileSync(join(repo, 'testnet/docker-compose.yml'), 'utf8'), composeFile());
});

test('the compose file validates against the Compose Specification JSON schema', () => {
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as Record<string, unknown>;
  // Draft-07, Ajv's default; its "$schema" spells the draft's URL in a form Ajv does not know.
  delete schema.$schema;
  const validate = ajv.compile(schema);
  const ok = validate(composeConfig());
  assert.ok(ok, JSON.stringify(validate.errors, null, 2));
  // And the schema is not a pushover: a misspelt key is caught.
  const bad = composeConfig() as { services: Record<string, Record<string, unknown>> };
  bad.services.node0!.dependson = bad.services.node0!.depends_on;
  assert.equal(validate(bad), false);
});

test('the YAML text parses back to the same structure (an independent YAML parser)', () => {
  const parsed: unknown = parseYaml(composeFile({ validators: 5, basePort: 31000 }));
  assert.deepEqual(parsed, composeConfig({ validators: 5, basePort: 31000 }));
});

test('services, volumes and ports agree with the homes `testnet init --docker` writes', (t) => {
  const config = composeConfig() as {
    services: Record<string, { hostname?: string; ports?: string[]; volumes: string[]; command: string[] }>;
    volumes: Record<string, unknown>;
  };
  const dir = tempDir(t, 'compose');
  const n = 4;
  const hosts = Array.from({ length: n }, (_, i) => testnetNodeName(i));
  const manifest = initTestnet({ validators: n, dir, basePort: 26600, hosts, listenHost: '0.0.0.0' });
  assert.deepEqual(Object.keys(config.services), ['init', ...hosts]);
  assert.deepEqual(Object.keys(config.volumes), hosts);
  for (const [i, node] of manifest.nodes.entries()) {
    const service = config.services[node.name]!;
    const nodeConfig = JSON.parse(readFileSync(join(node.home, 'config', 'node.json'), 'utf8')) as {
      api: { host: string; port: number };
      p2p: { host: string; port: number; bootstrap: string[] };
    };
    assert.equal(service.hostname, node.name);
    assert.deepEqual(service.ports, [`127.0.0.1:${nodeConfig.api.port}:${nodeConfig.api.port}`]);
    assert.equal(nodeConfig.api.host, '0.0.0.0');
    assert.deepEqual(service.volumes, [`${node.name}:/testnet/${node.name}`]);
    assert.deepEqual(service.command, ['start', '--home', `/testnet/${node.name}`]);
    // Peers are dialled by service name, on the port each of them listens on.
    const expected = manifest.nodes.filter((_, j) => j !== i).map((m) => m.p2p);
    assert.deepEqual(nodeConfig.p2p.bootstrap, expected);
    for (const addr of expected) assert.match(addr, /^\/dns4\/node\d\/tcp\/267\d\d\/p2p\//);
  }
});
