// The v3 signal mapper, table-tested against every reading the sources give (smartcar-v3.md §4, §7):
// timestamps in s, ms or ISO; long or short units; fuel as percent or fraction; ERROR and UNAVAILABLE
// statuses; an empty store. A value that fits none is a failure of that signal, never a guess.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { SmartcarProblem } from '../../src/smartcar/errors.js';
import { kmOf, mapSignals, parseTimestamp, percentOf, toSignalResource, type SignalResource } from '../../src/smartcar/v3/signals.js';

const AT = Date.UTC(2026, 11, 1, 8, 0, 0);
const sig = (code: string, body: Record<string, unknown> | undefined, meta: Record<string, unknown> = { oemUpdatedAt: AT, retrievedAt: AT + 5000 }): SignalResource =>
  ({ code, status: { value: 'SUCCESS' }, ...(body ? { body } : {}), meta });
const err = (code: string, type: string, errorCode: string | null): SignalResource => ({ code, status: { value: 'ERROR', error: { type, code: errorCode } } });

describe('parseTimestamp', () => {
  const cases: [unknown, number | undefined][] = [
    [AT, AT], [AT / 1000, AT], [new Date(AT).toISOString(), AT], [String(AT), AT], [0, undefined], [-5, undefined],
    ['yesterday', undefined], [null, undefined], [undefined, undefined], [{}, undefined], [Number.NaN, undefined],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} → ${String(expected)}`, () => assert.equal(parseTimestamp(input), expected));
  }
});

describe('percentOf', () => {
  const cases: [Record<string, unknown> | undefined, boolean, number | undefined][] = [
    [{ value: 54, unit: 'percent' }, false, 54],
    [{ value: 54 }, false, 54],
    [{ value: 0.77 }, true, 77],
    [{ value: 0.77, unit: 'percent' }, true, 0.77],
    [{ value: 75, unit: 'percent' }, true, 75],
    [{ value: 120, unit: 'percent' }, false, undefined],
    [{ value: -1 }, false, undefined],
    [{ value: '54' }, false, undefined],
    [undefined, false, undefined],
  ];
  for (const [body, fraction, expected] of cases) {
    it(`${JSON.stringify(body)}${fraction ? ' (fuel)' : ''} → ${String(expected)}`, () => assert.equal(percentOf(body, fraction), expected));
  }
});

describe('mapSignals', () => {
  it('maps a BEV: lock, state of charge 0–100, cable and detailed status; data age is the oldest oemUpdatedAt', () => {
    const r = mapSignals([
      sig('closure-islocked', { value: false }, { oemUpdatedAt: AT - 60_000, retrievedAt: AT }),
      sig('tractionbattery-stateofcharge', { value: 76, unit: 'percent' }),
      sig('charge-ischargingcableconnected', { value: true }),
      sig('charge-detailedchargingstatus', { value: 'CHARGING' }),
      sig('vehicleidentification-vin', { value: '5YJ3E1EA7NF000001' }, { oemUpdatedAt: 0, retrievedAt: 0 }),
    ], ['lock', 'battery', 'charge'], 1);
    assert.deepEqual(r.values, { locked: false, batteryPercent: 76, pluggedIn: true, chargeState: 'CHARGING', dataAt: AT - 60_000 });
    assert.deepEqual(r.failures, {});
    assert.equal(r.requests, 1);
    assert.equal(r.vin, '5YJ3E1EA7NF000001');
    assert.equal(r.servedAt, AT + 5000);
    assert.equal(r.empty, undefined);
  });

  it('reads seconds and ISO timestamps alike', () => {
    const s = mapSignals([sig('closure-islocked', { value: true }, { oemUpdatedAt: AT / 1000, retrievedAt: new Date(AT).toISOString() })], ['lock'], 1);
    assert.equal(s.values.dataAt, AT);
    assert.equal(s.servedAt, AT);
  });

  it('fuel as a fraction without a unit, and as percent with one', () => {
    assert.equal(mapSignals([sig('internalcombustionengine-fuellevel', { value: 0.4 })], ['fuel'], 1).values.fuelPercent, 40);
    assert.equal(mapSignals([sig('internalcombustionengine-fuellevel', { value: 40, unit: 'percent' })], ['fuel'], 1).values.fuelPercent, 40);
  });

  it('without the detailed status, isCharging decides (true → CHARGING)', () => {
    const r = mapSignals([sig('charge-ischargingcableconnected', { value: true }), sig('charge-ischarging', { value: true })], ['charge'], 1);
    assert.deepEqual({ p: r.values.pluggedIn, c: r.values.chargeState }, { p: true, c: 'CHARGING' });
  });

  it('per-signal ERROR statuses become the plugin\'s error kinds; the rest of the read still counts', () => {
    const r = mapSignals([
      err('closure-islocked', 'PERMISSION', null),
      err('tractionbattery-stateofcharge', 'COMPATIBILITY', 'VEHICLE_NOT_CAPABLE'),
      { code: 'charge-ischargingcableconnected', status: { value: 'UNAVAILABLE' } },
      err('charge-detailedchargingstatus', 'VEHICLE_STATE', 'ASLEEP'),
      sig('internalcombustionengine-fuellevel', { value: 55, unit: 'percent' }),
    ], ['lock', 'battery', 'charge', 'fuel'], 1);
    assert.equal((r.failures.lock as SmartcarProblem | undefined)?.kind, 'permission');
    assert.match(r.failures.lock!.message, /read_security/);
    assert.equal((r.failures.battery as SmartcarProblem | undefined)?.kind, 'not-capable');
    assert.equal((r.failures.charge as SmartcarProblem | undefined)?.kind, 'transient');
    assert.equal(r.values.fuelPercent, 55);
  });

  it('a SUCCESS without a usable value is a failure, not a guess', () => {
    const r = mapSignals([sig('closure-islocked', { value: 'yes' }), sig('tractionbattery-stateofcharge', { value: 250, unit: 'percent' })], ['lock', 'battery'], 1);
    assert.equal(r.values.locked, undefined);
    assert.equal(r.values.batteryPercent, undefined);
    assert.equal((r.failures.lock as SmartcarProblem | undefined)?.kind, 'transient');
    assert.equal((r.failures.battery as SmartcarProblem | undefined)?.kind, 'transient');
  });

  it('an empty store is "no data yet" for every signal, and says so', () => {
    const r = mapSignals([], ['lock', 'battery'], 1);
    assert.equal(r.empty, true);
    assert.match(r.failures.lock!.message, /no data for this car yet/);
    assert.deepEqual(r.values, {});
  });

  it('a signal left out of a non-empty answer fails alone', () => {
    const r = mapSignals([sig('tractionbattery-stateofcharge', { value: 50 })], ['lock', 'battery'], 1);
    assert.match(r.failures.lock!.message, /not in Smartcar's answer/);
    assert.equal(r.values.batteryPercent, 50);
  });

  it('ignores an implausible VIN', () => {
    assert.equal(mapSignals([sig('vehicleidentification-vin', { value: '<script>' })], [], 1).vin, undefined);
  });
});

describe('kmOf', () => {
  const table: [Record<string, unknown> | undefined, number | undefined][] = [
    [{ value: 168, unit: 'km' }, 168], [{ value: 350, unit: 'kilometers' }, 350], [{ value: 100, unit: 'Miles' }, 160.9344], [{ value: 10, unit: 'mi' }, 16.09344],
    [{ value: 42 }, 42], [{ value: 5, unit: 'furlongs' }, undefined], [{ value: -1, unit: 'km' }, undefined], [{ value: '12', unit: 'km' }, undefined], [undefined, undefined],
  ];
  for (const [body, expected] of table) {
    it(`${JSON.stringify(body)} → ${String(expected)}`, () => {
      const got = kmOf(body);
      assert.ok(got === expected || (got !== undefined && expected !== undefined && Math.abs(got - expected) < 1e-9), `${String(got)}`);
    });
  }
});

describe('mapSignals: what rides along', () => {
  it('the range comes with its level, the odometer and the charge limit with any read', () => {
    const r = mapSignals([
      sig('tractionbattery-stateofcharge', { value: 54, unit: 'percent' }), sig('tractionbattery-range', { value: 168, additionalValues: [], unit: 'km' }),
      sig('odometer-traveleddistance', { value: 115071.5, unit: 'kilometers' }), sig('charge-chargelimits', { values: [], activeLimit: 80, unit: 'percent' }),
    ], ['battery'], 1);
    assert.equal(r.values.electricRangeKm, 168);
    assert.equal(r.values.odometerKm, 115071.5);
    assert.equal(r.values.chargeLimitPercent, 80);
    assert.equal(r.values.fuelRangeKm, undefined);
  });

  it('a range without its level is left out, and so is an unplugged car\'s null limit', () => {
    const r = mapSignals([
      sig('tractionbattery-stateofcharge', { unit: 'percent' }), sig('tractionbattery-range', { value: 168, unit: 'km' }),
      sig('charge-chargelimits', { values: [], activeLimit: null, unit: 'percent' }),
    ], ['battery'], 1);
    assert.equal(r.values.electricRangeKm, undefined);
    assert.equal(r.values.chargeLimitPercent, undefined);
    assert.ok(r.failures.battery);
  });

  it('a plug-in hybrid brings both ranges', () => {
    const r = mapSignals([
      sig('tractionbattery-stateofcharge', { value: 40, unit: 'percent' }), sig('tractionbattery-range', { value: 30, unit: 'mi' }),
      sig('internalcombustionengine-fuellevel', { value: 60, unit: 'percent' }), sig('internalcombustionengine-range', { value: 400, unit: 'kilometers' }),
    ], ['battery', 'fuel'], 1);
    assert.ok(Math.abs(r.values.electricRangeKm! - 48.28032) < 1e-9);
    assert.equal(r.values.fuelRangeKm, 400);
  });
});

describe('toSignalResource', () => {
  it('reads the REST shape (attributes, meta beside them) and the flat webhook shape', () => {
    const rest = { id: 'x', type: 'signal', attributes: { code: 'closure-islocked', name: 'IsLocked', group: 'Closure', status: { value: 'SUCCESS' }, body: { value: true } }, meta: { oemUpdatedAt: AT } };
    assert.deepEqual(toSignalResource(rest), { code: 'closure-islocked', status: { value: 'SUCCESS' }, body: { value: true }, meta: { oemUpdatedAt: AT } });
    const flat = { code: 'closure-islocked', status: { value: 'SUCCESS' }, body: { value: true }, meta: { oemUpdatedAt: AT } };
    assert.deepEqual(toSignalResource(flat), flat);
    assert.equal(toSignalResource({ attributes: {} }), undefined);
    assert.equal(toSignalResource('closure-islocked'), undefined);
  });
});
