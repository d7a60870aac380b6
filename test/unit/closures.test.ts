// What is open, from v2's /security body and from v3's closure signals (smartcar-api.md §3.3,
// smartcar-v3.md §4), and the Closed Up contact it makes. Every shape the sources give.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { openingsOfSecurity } from '../../src/smartcar/v2/closures.js';
import { mapSignals, openingsOfClosures, type SignalResource } from '../../src/smartcar/v3/signals.js';
import { closedUpContact, lowVoltageStatus } from '../../src/vehicle/mappers.js';

const closed = (type: string) => ({ type, status: 'CLOSED' });
const quad = (status: Record<string, string> = {}) => ['frontLeft', 'frontRight', 'backRight', 'backLeft'].map((type) => ({ type, status: status[type] ?? 'CLOSED' }));

describe('v2 /security → what is open', () => {
  const table: [string, Record<string, unknown>, string[] | undefined][] = [
    ['the reference example: front right door open, a window UNKNOWN', {
      doors: quad({ frontRight: 'OPEN' }), windows: quad({ backRight: 'UNKNOWN' }), sunroof: [closed('sunroof')], storage: [{ type: 'rear', status: 'UNKNOWN' }, closed('front')],
    }, ['front right door']],
    ['all closed', { doors: quad(), windows: quad(), sunroof: [closed('sunroof')], storage: [closed('rear'), closed('front')] }, []],
    ['trunk, hood/frunk, sunroof and a rear window open', {
      doors: quad(), windows: quad({ backLeft: 'OPEN' }), sunroof: [{ type: 'sunroof', status: 'OPEN' }], storage: [{ type: 'rear', status: 'OPEN' }, { type: 'front', status: 'OPEN' }],
    }, ['rear left window', 'sunroof', 'trunk', 'hood/frunk']],
    ['nothing reported (empty arrays: partial support)', { doors: [], windows: [], storage: [] }, undefined],
    ['only UNKNOWN: nothing known', { doors: quad({ frontLeft: 'UNKNOWN', frontRight: 'UNKNOWN', backLeft: 'UNKNOWN', backRight: 'UNKNOWN' }) }, undefined],
    ['lowercase status and unknown part types', { doors: [{ type: 'frontLeft', status: 'open' }, { type: 'tailgate', status: 'OPEN' }] }, ['front left door']],
    ['garbage', { doors: 'OPEN', windows: [null, 3, { type: 1 }] }, undefined],
    ['no closure fields at all', {}, undefined],
  ];
  for (const [name, body, expected] of table) {
    it(name, () => assert.deepEqual(openingsOfSecurity(body), expected));
  }
});

describe('v3 closure signals → what is open', () => {
  const sig = (code: string, body: Record<string, unknown>): SignalResource => ({ code, status: { value: 'SUCCESS' }, body });
  const grid = (open: [number, number][] = []) => [0, 1].flatMap((row) => [0, 1].map((column) => ({ row, column, isOpen: open.some(([r, c]) => r === row && c === column) })));
  const of = (...resources: SignalResource[]) => openingsOfClosures(new Map(resources.map((r) => [r.code, r])));
  const table: [string, SignalResource[], string[] | undefined][] = [
    ['doors under values (real payloads): rear right open', [sig('closure-doors', { values: grid([[1, 1]]), rowCount: 2, columnCount: 2 })], ['rear right door']],
    ['doors under doors (the spec\'s example)', [sig('closure-doors', { doors: grid([[0, 0]]) })], ['front left door']],
    ['windows, trunk, frunk, hood, sunroof', [
      sig('closure-windows', { values: grid([[0, 1]]) }), sig('closure-reartrunk', { isOpen: true, isLocked: false }), sig('closure-fronttrunk', { isOpen: false }),
      sig('closure-enginecover', { isOpen: true }), sig('closure-sunroof', { isOpen: false }),
    ], ['front right window', 'trunk', 'hood']],
    ['all closed', [sig('closure-doors', { values: grid() }), sig('closure-reartrunk', { isOpen: false })], []],
    ['a signal in ERROR is not reported', [{ code: 'closure-doors', status: { value: 'ERROR', error: { type: 'COMPATIBILITY', code: 'VEHICLE_NOT_CAPABLE' } } }], undefined],
    ['no closure signals', [sig('closure-islocked', { value: true })], undefined],
    ['a cell outside the 2×2 grid still counts', [sig('closure-doors', { values: [{ row: 2, column: 0, isOpen: true }] })], ['a door']],
  ];
  for (const [name, resources, expected] of table) {
    it(name, () => assert.deepEqual(of(...resources), expected));
  }
});

describe('Closed Up contact', () => {
  it('closed only when everything reported is closed; unknown when nothing is reported', () => {
    assert.equal(closedUpContact([]), 0);
    assert.equal(closedUpContact(['trunk']), 1);
    assert.equal(closedUpContact(undefined), undefined);
  });
});

describe('12 V battery (v3 lowvoltagebattery-*)', () => {
  const sig = (code: string, body: Record<string, unknown>): SignalResource => ({ code, status: { value: 'SUCCESS' }, body });
  it('is read from any signals read, whatever was asked, and judged low at 50 % or by Smartcar\'s WARN/BAD', () => {
    const r = mapSignals([sig('closure-islocked', { value: true }), sig('lowvoltagebattery-stateofcharge', { value: 64, unit: 'percent' }), sig('lowvoltagebattery-status', { value: 'warn' })], ['lock'], 1);
    assert.equal(r.values.lowVoltagePercent, 64);
    assert.equal(r.values.lowVoltageStatus, 'WARN');
    assert.equal(mapSignals([sig('closure-islocked', { value: true })], ['lock'], 1).values.lowVoltagePercent, undefined, 'not reported: nothing');
    assert.equal(mapSignals([sig('lowvoltagebattery-stateofcharge', { value: 140, unit: 'percent' })], [], 1).values.lowVoltagePercent, undefined, 'out of range: nothing');
    const table: [number | undefined, 'GOOD' | 'WARN' | 'BAD' | undefined, number | undefined][] = [
      [90, undefined, 0], [50, undefined, 1], [51, undefined, 0], [90, 'BAD', 1], [20, 'GOOD', 0], [undefined, 'WARN', 1], [undefined, undefined, undefined],
    ];
    for (const [percent, verdict, expected] of table) {
      assert.equal(lowVoltageStatus(percent, verdict), expected, `${String(percent)} / ${String(verdict)}`);
    }
  });
});
