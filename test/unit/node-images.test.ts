/** withoutNodeImages (src/k8s/node-images.ts): Nodes' image lists cut from the API server's JSON before it is parsed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withoutNodeImages } from '../../src/k8s/node-images.ts';
import { benchNode } from '../bench/footprint-support.ts';

/** What the parse of the cut text must equal: the whole text parsed, every status.images emptied. */
function expected(json: string): unknown {
  return JSON.parse(json, function (key, value) { return key === 'images' && Array.isArray(value) ? [] : value; });
}

test('a watch event of a kubelet-sized Node parses to the same Node without its images, from a third of the text', () => {
  const line = JSON.stringify({ type: 'MODIFIED', object: benchNode(7, new Date('2026-12-01T00:00:00Z')) });
  const cut = withoutNodeImages(line);
  assert.ok(cut.length * 3 < line.length, `${cut.length} of ${line.length} characters`);
  assert.deepEqual(JSON.parse(cut), expected(line));
  assert.deepEqual((JSON.parse(cut) as { object: { status: { images: unknown[] } } }).object.status.images, []);
});

test('a list page cuts every Node\'s images and keeps everything else', () => {
  const page = JSON.stringify({ kind: 'NodeList', metadata: { resourceVersion: '42', continue: 'abc' }, items: [1, 2, 3].map((i) => benchNode(i, new Date())) });
  assert.deepEqual(JSON.parse(withoutNodeImages(page)), expected(page));
  assert.equal(withoutNodeImages(page).split('"images":[]').length, 4);
});

test('brackets, braces and quotes inside strings do not end the list early', () => {
  const tricky = { status: { images: [{ names: ['a]b', 'c}d', 'e\\"]f', 'g\\\\', '[{'], sizeBytes: 1 }, { names: [], sizeBytes: 2 }], nodeInfo: { kernelVersion: '6.18' } } };
  const json = JSON.stringify(tricky);
  assert.deepEqual(JSON.parse(withoutNodeImages(json)), { status: { images: [], nodeInfo: { kernelVersion: '6.18' } } });
});

test('only a key named images with an array is cut: strings that mention it and other keys are kept', () => {
  const node = {
    metadata: { annotations: { note: '"images":[1,2]', images: 'not a list' } },
    spec: { podCIDR: '10.1.0.0/24' },
    status: { images: [{ names: ['x'] }], addresses: [{ type: 'InternalIP', address: '10.0.0.1' }] },
  };
  const json = JSON.stringify(node);
  assert.deepEqual(JSON.parse(withoutNodeImages(json)), { ...node, status: { images: [], addresses: node.status.addresses } });
});

test('text without images, an empty list and nested lists come out as they should', () => {
  for (const json of ['', '{}', '{"a":1}', '[]', '{"images":[]}', '{"status":{"conditions":[]}}']) assert.equal(withoutNodeImages(json), json);
  assert.equal(withoutNodeImages('{"images":[[1,[2]],{"a":[3]}],"b":[4]}'), '{"images":[],"b":[4]}');
  // Spaced JSON (not what the API server sends) is left for the parser as it is.
  assert.equal(withoutNodeImages('{"images": [1]}'), '{"images": [1]}');
});

test('a list that does not close, or closes with a brace, leaves the text whole for the parser to refuse', () => {
  for (const json of ['{"images":[1,2', '{"images":[{"a":"]"}', '{"images":[1}', '{"images":["unterminated]', '{"images":[{]]}', '{"images":[[}]]}']) {
    assert.equal(withoutNodeImages(json), json);
    assert.throws(() => JSON.parse(json), SyntaxError);
  }
  // One list whole and a later one cut short: nothing is cut.
  const partial = '{"a":{"images":[1]},"b":{"images":[2';
  assert.equal(withoutNodeImages(partial), partial);
});
