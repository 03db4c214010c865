import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeapGrowthPolicy } from '../src/heap-growth.js';

test('the heap growth is capped while the node is not busy and left to V8 while it is', () => {
  const set: string[] = [];
  const policy = new HeapGrowthPolicy((flags) => set.push(flags));
  policy.update(false);
  policy.update(false);
  policy.update(true);
  policy.update(true);
  policy.update(false);
  // One flag change per change of load, none while it stays.
  assert.deepEqual(set, ['--heap-growing-percent=50', '--heap-growing-percent=0', '--heap-growing-percent=50']);
});
