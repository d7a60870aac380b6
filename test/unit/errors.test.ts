// SmartcarError → the kinds the plugin acts on, built from the real SDK error class.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import smartcar from 'smartcar';

import { mapSmartcarError } from '../../src/smartcar/errors.js';

const sdkError = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): Error =>
  new (smartcar.SmartcarError as unknown as new (s: number, b: unknown, h: unknown) => Error)(status, body, { 'content-type': 'application/json', ...headers });

describe('mapSmartcarError', () => {
  const ctx = { operation: 'Reading /security', scope: 'read_security' };

  it('AUTHENTICATION on an API call → unauthorized (refresh and retry)', () => {
    assert.equal(mapSmartcarError(sdkError(401, { type: 'AUTHENTICATION', code: null }), ctx).kind, 'unauthorized');
  });
  it('AUTHENTICATION on a token request → reauthorize', () => {
    assert.equal(mapSmartcarError(sdkError(401, { type: 'AUTHENTICATION' }), { operation: 'Refreshing', tokenRequest: true }).kind, 'reauthorize');
  });
  it('invalid_grant → reauthorize, and the token echoed in the description is not repeated', () => {
    const e = mapSmartcarError(sdkError(400, { error: 'invalid_grant', error_description: 'Invalid refresh_token: rt-secret-123.' }), { operation: 'Refreshing', tokenRequest: true });
    assert.equal(e.kind, 'reauthorize');
    assert.ok(!e.message.includes('rt-secret-123'));
  });
  it('CONNECTED_SERVICES_ACCOUNT AUTHENTICATION_FAILED → reauthorize', () => {
    assert.equal(mapSmartcarError(sdkError(400, { type: 'CONNECTED_SERVICES_ACCOUNT', code: 'AUTHENTICATION_FAILED', resolution: { type: 'REAUTHENTICATE' } }), ctx).kind, 'reauthorize');
  });
  it('PERMISSION → permission error naming the scope', () => {
    const e = mapSmartcarError(sdkError(403, { type: 'PERMISSION', code: null }), ctx);
    assert.equal(e.kind, 'permission');
    assert.match(e.message, /read_security/);
  });
  it('VEHICLE_STATE → code and Smartcar\'s suggestedUserMessage', () => {
    const msg = 'Your vehicle was unable to lock. Please ensure that all doors and the trunk are fully closed.';
    const e = mapSmartcarError(sdkError(409, { type: 'VEHICLE_STATE', code: 'DOOR_OPEN', suggestedUserMessage: msg }), ctx);
    assert.equal(e.kind, 'vehicle-state');
    assert.equal((e as unknown as { code: string }).code, 'DOOR_OPEN');
    assert.equal((e as unknown as { userMessage: string }).userMessage, msg);
  });
  it('RATE_LIMIT VEHICLE → rate-limited with retry-after seconds', () => {
    const e = mapSmartcarError(sdkError(429, { type: 'RATE_LIMIT', code: 'VEHICLE' }, { 'retry-after': '120' }), ctx);
    assert.equal(e.kind, 'rate-limited');
    assert.equal((e as unknown as { retryAfterSeconds: number }).retryAfterSeconds, 120);
  });
  it('BILLING VEHICLE_REQUEST_LIMIT → rate-limited for hours', () => {
    const e = mapSmartcarError(sdkError(430, { type: 'BILLING', code: 'VEHICLE_REQUEST_LIMIT' }), ctx);
    assert.equal(e.kind, 'rate-limited');
    assert.ok((e as unknown as { retryAfterSeconds: number }).retryAfterSeconds >= 3600);
  });
  it('COMPATIBILITY → not-capable', () => {
    assert.equal(mapSmartcarError(sdkError(501, { type: 'COMPATIBILITY', code: 'VEHICLE_NOT_CAPABLE' }), ctx).kind, 'not-capable');
  });
  for (const body of [{ type: 'SERVER', code: 'INTERNAL' }, { type: 'UPSTREAM', code: 'NO_RESPONSE' }, { type: 'VALIDATION', code: null }]) {
    it(`${body.type} → transient`, () => {
      assert.equal(mapSmartcarError(sdkError(500, body), ctx).kind, 'transient');
    });
  }
  it('network failure (not a SmartcarError) → transient', () => {
    assert.equal(mapSmartcarError(new TypeError('fetch failed'), ctx).kind, 'transient');
  });
  it('invalid_client → configuration', () => {
    assert.equal(mapSmartcarError(sdkError(401, { error: 'invalid_client' }), { operation: 'x', tokenRequest: true }).kind, 'configuration');
  });
});
