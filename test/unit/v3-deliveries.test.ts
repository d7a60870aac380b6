// Webhook 4.0 deliveries read by the v3 backend: what is accepted, what is refused and why, and what a
// delivery means for the car. Every shape the sources give (smartcar-api.md §6.2, smartcar-v3.md §6).
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';

import { readDelivery } from '../../src/smartcar/v3/deliveries.js';
import type { DeliveredError, DeliveredEvent, DeliveryReceipt, ReadResult } from '../../src/smartcar/types.js';

const AMT = 'amt-0123456789';
const sign = (raw: string, key = AMT): string => createHmac('sha256', key).update(raw).digest('hex');

/** signature: 'good' signs the body, 'none' sends none, anything else is sent as it is. */
function receive(body: unknown, signature = 'good'): DeliveryReceipt {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  return readDelivery(AMT, Buffer.from(raw), signature === 'good' ? sign(raw) : signature === 'none' ? undefined : signature);
}

function event(receipt: DeliveryReceipt): DeliveredEvent {
  assert.equal(receipt.kind, 'event', JSON.stringify(receipt));
  return (receipt as { event: DeliveredEvent }).event;
}

const OEM = 1_796_000_000_000;
const soc = { code: 'tractionbattery-stateofcharge', name: 'StateOfCharge', group: 'TractionBattery', body: { unit: 'percent', value: 78 }, meta: { oemUpdatedAt: OEM, fetchedAt: OEM + 2000 } };
const plug = { code: 'charge-ischargingcableconnected', name: 'IsChargingCableConnected', group: 'Charge', body: { value: true }, meta: { oemUpdatedAt: OEM - 60_000 } };
const lockError = { code: 'closure-islocked', name: 'IsLocked', group: 'Closure', status: { value: 'ERROR', error: { code: 'VEHICLE_NOT_CAPABLE', type: 'COMPATIBILITY' } } };

function state(extra: Record<string, unknown> = {}, signals: unknown[] = [soc, plug]): Record<string, unknown> {
  return {
    eventId: 'evt-1', eventType: 'VEHICLE_STATE', vehicleId: 'veh-1',
    data: { user: { id: 'user-1' }, vehicle: { id: 'veh-1', make: 'TESLA', model: 'Model 3', year: 2020 }, signals },
    meta: { version: '4.0', deliveryId: 'd-1', deliveredAt: OEM + 5000, webhookId: 'w', webhookName: 'Home', signalCount: signals.length, mode: 'LIVE' },
    ...extra,
  };
}

describe('webhook deliveries: refused', () => {
  const table: [string, unknown, string, 400 | 401][] = [
    ['not JSON', '{"eventId": "x", ', 'good', 400],
    ['JSON but not an object', '[1,2]', 'good', 400],
    ['no eventType', { eventId: 'e', data: {} }, 'good', 400],
    ['unsigned', state(), 'none', 401],
    ['an empty signature', state(), '   ', 401],
    ['signed with another key', state(), sign(JSON.stringify(state()), 'other-key'), 401],
    ['a signature that is not hex', state(), 'zz'.repeat(32), 401],
    ['a truncated signature', state(), sign(JSON.stringify(state())).slice(0, 40), 401],
    ['no eventId', { ...state(), eventId: undefined }, 'good', 400],
    ['a VEHICLE_STATE without a vehicle', { ...state(), vehicleId: undefined, data: { signals: [] } }, 'good', 400],
    ['a VEHICLE_STATE without signals', { ...state(), data: { vehicle: { id: 'v' } } }, 'good', 400],
    ['a VEHICLE_ERROR without errors', { eventId: 'e', eventType: 'VEHICLE_ERROR', vehicleId: 'v', data: {} }, 'good', 400],
    ['a VERIFY without a challenge', { eventId: 'e', eventType: 'VERIFY', data: {} }, 'none', 400],
  ];
  for (const [what, body, signature, status] of table) {
    it(`${what}: HTTP ${status}`, () => {
      const r = receive(body, signature);
      assert.equal(r.kind, 'refused', JSON.stringify(r));
      assert.equal((r as { status: number }).status, status);
    });
  }

  it('a signature is over the raw bytes: the same JSON re-serialised does not verify', () => {
    const pretty = JSON.stringify(state(), null, 2);
    const r = readDelivery(AMT, Buffer.from(pretty), sign(JSON.stringify(state())));
    assert.equal(r.kind, 'refused');
    assert.equal((r as { forged?: boolean }).forged, true, 'a wrong signature counts as a verification failure');
    assert.equal(readDelivery(AMT, Buffer.from(pretty), sign(pretty)).kind, 'event');
  });

  it('a challenge cannot be used to obtain a signature for a body (the answer would sign it)', () => {
    const forged = JSON.stringify(state({ eventId: 'evt-forged' }));
    const r = receive({ eventId: 'e', eventType: 'VERIFY', data: { challenge: forged } }, 'none');
    assert.equal(r.kind, 'refused');
  });
});

describe('webhook deliveries: accepted', () => {
  it('VERIFY (unsigned) is answered with the HMAC of the challenge; the 2.0 form too', () => {
    for (const body of [
      { eventId: 'e', eventType: 'VERIFY', data: { challenge: 'a1b2c3-d4' }, meta: { version: '4.0' } },
      { version: '2.0', webhookId: 'w', eventName: 'verify', payload: { challenge: 'a1b2c3-d4' } },
    ]) {
      const r = receive(body, 'none');
      assert.deepEqual(r, { kind: 'challenge', reply: { challenge: sign('a1b2c3-d4') } });
    }
  });

  it('VEHICLE_STATE: the carried signals as values, each with the car\'s own time; the rest untouched', () => {
    const e = event(receive(state()));
    assert.equal(e.eventId, 'evt-1');
    assert.equal(e.vehicleId, 'veh-1');
    assert.equal(e.userId, 'user-1');
    assert.equal(e.test, false);
    assert.equal(e.deliveredAt, OEM + 5000);
    assert.equal(e.body.type, 'state');
    const { result, first, carried } = e.body as { result: ReadResult; first: boolean; carried: string[] };
    assert.equal(first, false);
    assert.deepEqual(carried, ['battery', 'charge'], 'what the webhook is configured with');
    assert.equal(result.values.batteryPercent, 78);
    assert.equal(result.values.pluggedIn, true);
    assert.equal(result.values.locked, undefined);
    assert.deepEqual(result.failures, {}, 'a signal the webhook does not carry is not a failure');
    assert.equal(result.requests, 0, 'deliveries are not billed');
    assert.deepEqual(result.signalAt, { battery: OEM, charge: OEM - 60_000 });
  });

  it('a signal in ERROR in a delivery is that signal\'s failure', () => {
    const e = event(receive(state({}, [soc, lockError])));
    const { result } = e.body as { result: ReadResult };
    assert.equal((result.failures.lock as { kind?: string } | undefined)?.kind, 'not-capable');
    assert.equal(result.values.batteryPercent, 78);
  });

  it('without oemUpdatedAt a value is as new as the delivery', () => {
    const bare = { ...soc, meta: {} };
    const { result } = event(receive(state({}, [bare]))).body as { result: ReadResult };
    assert.equal(result.signalAt?.battery, OEM + 5000);
  });

  for (const [where, extra] of [
    ['data.triggers (docs)', { data: { ...(state().data as object), triggers: [{ code: 'FIRST_DELIVERY' }] } }],
    ['top-level triggers with type (a real payload)', { triggers: [{ type: 'FIRST_DELIVERY' }] }],
  ] as const) {
    it(`FIRST_DELIVERY in ${where}`, () => {
      assert.equal((event(receive(state(extra))).body as { first: boolean }).first, true);
    });
  }

  it('a signal trigger is not a first delivery; ISO deliveredAt is read', () => {
    const e = event(receive(state({ triggers: [{ type: 'SIGNAL_UPDATED', signal: { code: 'tractionbattery-stateofcharge' } }], meta: { deliveredAt: '2026-12-01T10:00:00.000Z', mode: 'LIVE' } })));
    assert.equal((e.body as { first: boolean }).first, false);
    assert.equal(e.deliveredAt, Date.parse('2026-12-01T10:00:00.000Z'));
  });

  it('meta.mode TEST marks a Dashboard test delivery', () => {
    assert.equal(event(receive(state({ meta: { mode: 'TEST' } }))).test, true);
  });

  it('VEHICLE_ERROR: signals as dotted names, objects or codes; none = the whole car; only unknown ones = not ours', () => {
    const e = event(receive({
      eventId: 'e2', eventType: 'VEHICLE_ERROR', vehicleId: 'veh-1',
      data: {
        errors: [
          { type: 'VEHICLE_STATE', code: 'ASLEEP', state: 'ERROR', description: 'The vehicle is asleep', signals: ['TractionBattery.StateOfCharge'] },
          { type: 'VEHICLE_STATE', code: 'UNREACHABLE', state: 'RESOLVED', signals: [{ name: 'IsLocked', group: 'Closure' }, { code: 'charge-ischargingcableconnected' }] },
          { type: 'PERMISSION', code: null, state: 'ERROR', resolution: { type: 'REAUTHENTICATE' }, description: 'Permission withdrawn' },
          { type: 'COMPATIBILITY', code: 'VEHICLE_NOT_CAPABLE', state: 'ERROR', signals: ['VehicleIdentification.Nickname'] },
        ],
      },
    }));
    assert.equal(e.body.type, 'errors');
    const errors = (e.body as { errors: DeliveredError[] }).errors;
    assert.equal(errors.length, 3, 'the nickname error concerns nothing the plugin shows');
    assert.deepEqual(errors.map((x) => [x.resolved, x.signals, x.problem.kind]), [
      [false, ['battery'], 'vehicle-state'],
      [true, ['lock', 'charge'], 'vehicle-state'],
      [false, [], 'reauthorize'],
    ]);
  });

  it('an event type the plugin does not know is read as such (acknowledged, nothing done)', () => {
    const e = event(receive({ eventId: 'e3', eventType: 'SOMETHING_NEW', vehicleId: 'v', data: {} }));
    assert.deepEqual(e.body, { type: 'other', name: 'SOMETHING_NEW' });
  });
});
