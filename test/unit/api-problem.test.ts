import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiException } from '@kubernetes/client-node';
import { ApiStatusError, ApiTimeoutError, classifyApiError, MAX_RETRY_AFTER_MS, parseRetryAfter, statusError } from '../../src/k8s/api-problem.ts';

const NOW = Date.parse('2030-01-01T00:00:00Z');

test('HTTP errors: 410 is "gone", others keep their code and reason as the cause, and Retry-After is read', () => {
  assert.deepEqual(classifyApiError(new ApiStatusError(410, 'Expired', 'too old resource version: 5 (9)'), NOW),
    { category: 'gone', cause: 'HTTP 410 Expired', detail: 'too old resource version: 5 (9)', statusCode: 410 });
  const throttled = classifyApiError(new ApiStatusError(429, 'TooManyRequests', 'slow down', 3000), NOW);
  assert.equal(throttled.category, 'status');
  assert.equal(throttled.cause, 'HTTP 429 TooManyRequests');
  assert.equal(throttled.retryAfterMs, 3000);
});

test('the real client\'s ApiException: code, Status body and the retry-after header', () => {
  const body = JSON.stringify({ kind: 'Status', reason: 'TooManyRequests', message: 'too many requests', code: 429, details: { retryAfterSeconds: 2 } });
  const withHeader = classifyApiError(new ApiException(429, 'HTTP-Code: 429', body, { 'retry-after': '7' }), NOW);
  assert.deepEqual([withHeader.cause, withHeader.retryAfterMs], ['HTTP 429 TooManyRequests', 7000]);
  const fromDetails = classifyApiError(new ApiException(429, 'HTTP-Code: 429', body, {}), NOW);
  assert.equal(fromDetails.retryAfterMs, 2000);
  const plain = classifyApiError(new ApiException(500, 'HTTP-Code: 500', 'not json', {}), NOW);
  assert.deepEqual([plain.category, plain.cause], ['status', 'HTTP 500']);
});

test('socket failures are "unreachable", also when undici wraps them in a TypeError', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:6443'), { code: 'ECONNREFUSED' });
  assert.equal(classifyApiError(refused, NOW).cause, 'unreachable');
  const wrapped = new TypeError('fetch failed', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });
  const problem = classifyApiError(wrapped, NOW);
  assert.equal(problem.cause, 'unreachable');
  assert.match(problem.detail, /fetch failed: other side closed/);
  assert.equal(classifyApiError(new Error('socket hang up'), NOW).cause, 'unreachable');
});

test('deadlines are "timeout"; anything else is "unexpected" and still a problem to retry', () => {
  assert.equal(classifyApiError(new ApiTimeoutError('no answer within 30000 ms'), NOW).cause, 'timeout');
  assert.equal(classifyApiError(new DOMException('The operation was aborted due to timeout', 'TimeoutError'), NOW).cause, 'timeout');
  assert.equal(classifyApiError(Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' }), NOW).cause, 'timeout');
  assert.deepEqual(classifyApiError(new TypeError("Cannot read properties of undefined (reading 'items')"), NOW),
    { category: 'unexpected', cause: 'unexpected', detail: "Cannot read properties of undefined (reading 'items')" });
  assert.equal(classifyApiError('a string', NOW).category, 'unexpected');
});

test('Retry-After in seconds or as a date, bounded', () => {
  assert.equal(parseRetryAfter('5', NOW), 5000);
  assert.equal(parseRetryAfter('Tue, 01 Jan 2030 00:00:30 GMT', NOW), 30_000);
  assert.equal(parseRetryAfter('999999', NOW), MAX_RETRY_AFTER_MS);
  assert.equal(parseRetryAfter('soon', NOW), undefined);
  assert.equal(parseRetryAfter(undefined, NOW), undefined);
});

test('statusError, used by watches and by the client\'s errors alike, caps a huge details.retryAfterSeconds and prefers the header', () => {
  assert.equal(statusError(429, { details: { retryAfterSeconds: 1e9 } }, undefined, NOW).retryAfterMs, MAX_RETRY_AFTER_MS);
  assert.equal(statusError(429, { details: { retryAfterSeconds: 3 } }, '5', NOW).retryAfterMs, 5000);
  assert.equal(statusError(503, { details: { retryAfterSeconds: 3 } }, undefined, NOW).retryAfterMs, 3000);
  const plain = statusError(500, { reason: 7, message: null }, undefined, NOW);
  assert.deepEqual([plain.statusCode, plain.reason, plain.message, plain.retryAfterMs], [500, '', 'HTTP 500', undefined]);
});
