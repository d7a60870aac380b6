// v3 vehicle and signals (v3 ref §3.2, §3.3, §4, §7.7–§7.13): the shapes of the reference under every
// reading — paging in both query styles followed to the end, timestamps, units, fuel level, single-signal
// envelope, ungranted signals, store modes with subscriptions, offline reads, doors key, links, content
// type — plus sc-user-id rules and SIGNAL_NOT_FOUND. Values come from the one vehicle state v2 also reads.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { DefaultFleet, SmartcarEmulator, V3Readings } from '../emulator/index.js';
import { DEFAULT_READINGS, defaultFleet, PERMISSIONS, SIGNALS } from '../emulator/index.js';
import type { V3Answer, V3Client } from './support.js';
import { appToken, assertV3Error, sdk, startV3 } from './support.js';

interface Signal {
  id: string; type: string;
  attributes: { code: string; name: string; group: string; status: { value: string; error?: { type: string; code: string | null } }; body?: Record<string, unknown> };
  meta: { retrievedAt: unknown; oemUpdatedAt?: unknown };
  links: { self: string; vehicle: string };
}

const CODES = SIGNALS.map((s) => s.code);

describe('v3 vehicle and signals', () => {
  let emu: SmartcarEmulator;
  let fleet: DefaultFleet;
  let client: V3Client;

  before(async () => {
    ({ emu, fleet, client } = await startV3());
  });
  after(async () => {
    await emu.close();
  });
  beforeEach(() => {
    Object.assign(emu.readings, DEFAULT_READINGS);
    emu.faults.clear();
    emu.limits.monthlyRequestLimit = null;
  });

  const signals = (vehicleId: string, query: Record<string, string> = {}, userId = fleet.user.id): Promise<V3Answer> =>
    client.get(`/vehicles/${vehicleId}/signals`, { userId, query });
  const one = (vehicleId: string, code: string, userId = fleet.user.id): Promise<V3Answer> =>
    client.get(`/vehicles/${vehicleId}/signals/${code}`, { userId });
  /** Every signal of the vehicle, following links.next. */
  async function all(vehicleId: string, userId = fleet.user.id): Promise<Map<string, Signal>> {
    const pages = await client.pages(`/vehicles/${vehicleId}/signals`, { userId });
    return new Map(pages.flatMap((p) => p.body.data as Signal[]).map((s) => [s.attributes.code, s]));
  }
  const bodyOf = (s: Signal | undefined): Record<string, unknown> | undefined => s?.attributes.body;
  /** Moves the emulator clock; app tokens live one hour of it, so take a fresh one. */
  async function advance(ms: number): Promise<void> {
    emu.clock.advance(ms);
    client.token = await appToken(emu);
  }

  it('GET /vehicles/{id}: the reference shape, bearer only, billed 1; unconnected vehicles are 404', async () => {
    const before = emu.billedCount(fleet.ice.id);
    const res = await client.get(`/vehicles/${fleet.ice.id}`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      data: {
        id: fleet.ice.id, type: 'vehicle',
        attributes: { make: 'FORD', model: 'F-150', year: 2021, powertrainType: 'ICE', mode: 'live' },
        links: { self: `/vehicles/${fleet.ice.id}` },
      },
    });
    assert.equal(emu.billedCount(fleet.ice.id), before + 1);
    const stranger = defaultFleet(emu, `stranger-${Math.random()}@example.com`);
    assertV3Error(await client.get(`/vehicles/${stranger.bev.id}`), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
    assertV3Error(await client.get('/vehicles/no-such-car'), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
    emu.updateVehicle(fleet.ice.id, { asleep: true });
    assert.equal((await client.get(`/vehicles/${fleet.ice.id}`)).status, 200, 'attributes do not need the car (as v2)');
    emu.updateVehicle(fleet.ice.id, { asleep: false });
  });

  it('the list: reference resource shape, included.vehicle, values derived from the shared state, every code', async () => {
    const res = await signals(fleet.bev.id);
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(res.body).sort(), ['data', 'included', 'links', 'meta']);
    assert.deepEqual(res.body.included, {
      vehicle: { id: fleet.bev.id, type: 'vehicle', attributes: { make: 'TESLA', model: 'Model 3', year: 2022 }, links: { self: `/vehicles/${fleet.bev.id}` } },
    });
    const first = res.body.data[0] as Signal;
    assert.deepEqual(first.links, { self: `/vehicles/${fleet.bev.id}/signals/closure-islocked`, vehicle: `/vehicles/${fleet.bev.id}` });
    assert.deepEqual({ id: first.id, type: first.type, ...first.attributes }, {
      id: 'closure-islocked', type: 'signal', code: 'closure-islocked', name: 'IsLocked', group: 'Closure', status: { value: 'SUCCESS' }, body: { value: false },
    });
    const s = await all(fleet.bev.id);
    assert.deepEqual([...s.keys()], CODES);
    for (const code of ['closure-islocked', 'closure-doors', 'closure-windows', 'closure-reartrunk', 'closure-fronttrunk', 'tractionbattery-stateofcharge',
      'tractionbattery-range', 'charge-ischarging', 'charge-detailedchargingstatus', 'charge-ischargingcableconnected', 'charge-chargelimits',
      'internalcombustionengine-fuellevel', 'internalcombustionengine-range', 'odometer-traveleddistance', 'location-preciselocation',
      'lowvoltagebattery-stateofcharge', 'vehicleidentification-vin']) {
      assert.ok(s.has(code), `${code} is listed`);
    }
    assert.deepEqual(bodyOf(s.get('tractionbattery-stateofcharge')), { value: 76, unit: 'percent' }, '0–100, not the v2 fraction');
    assert.deepEqual(bodyOf(s.get('tractionbattery-range')), { value: 380, additionalValues: [], unit: 'kilometers' });
    assert.deepEqual(bodyOf(s.get('charge-ischarging')), { value: true });
    assert.deepEqual(bodyOf(s.get('charge-detailedchargingstatus')), { value: 'CHARGING' });
    assert.deepEqual(bodyOf(s.get('charge-ischargingcableconnected')), { value: true });
    assert.deepEqual(bodyOf(s.get('charge-chargelimits')), { values: [], activeLimit: 90, unit: 'percent' });
    assert.deepEqual(bodyOf(s.get('closure-reartrunk')), { isOpen: false, isLocked: false });
    assert.deepEqual(bodyOf(s.get('closure-fronttrunk')), { isOpen: false, isLocked: false });
    assert.deepEqual(bodyOf(s.get('vehicleidentification-vin')), { value: '5YJ3E1EA7NF000001' });
    assert.deepEqual(bodyOf(s.get('odometer-traveleddistance')), { value: 12345.6, unit: 'kilometers' });
    assert.deepEqual(bodyOf(s.get('lowvoltagebattery-stateofcharge')), { value: 90, unit: 'percent' });
    const doors = bodyOf(s.get('closure-doors'))!;
    assert.deepEqual(doors.values, [
      { row: 0, column: 0, isOpen: false, isLocked: false }, { row: 0, column: 1, isOpen: false, isLocked: false },
      { row: 1, column: 0, isOpen: false, isLocked: false }, { row: 1, column: 1, isOpen: false, isLocked: false },
    ]);
    assert.equal(doors.rowCount, 2);
    const loc = bodyOf(s.get('location-preciselocation'))!;
    assert.equal(loc.latitude, fleet.bev.location.latitude);
    // A BEV cannot have fuel or an engine cover: ERROR COMPATIBILITY without body.
    for (const code of ['internalcombustionengine-fuellevel', 'internalcombustionengine-range', 'internalcombustionengine-oillife', 'closure-enginecover', 'location-isathome']) {
      assert.deepEqual(s.get(code)!.attributes.status, { value: 'ERROR', error: { type: 'COMPATIBILITY', code: 'VEHICLE_NOT_CAPABLE' } }, code);
      assert.equal(bodyOf(s.get(code)), undefined);
    }
    // A change made once is seen by both APIs.
    emu.updateVehicle(fleet.bev.id, { locked: true, doors: { backLeft: 'OPEN' } });
    const after = await all(fleet.bev.id);
    assert.deepEqual(bodyOf(after.get('closure-islocked')), { value: true });
    assert.equal((bodyOf(after.get('closure-doors'))!.values as { isOpen: boolean }[])[2]!.isOpen, true);
    const v2 = emu.issueTokens(fleet.user.id).accessToken;
    assert.equal((await new sdk.Vehicle(fleet.bev.id, v2).lockStatus()).isLocked, true);
    emu.updateVehicle(fleet.bev.id, { locked: false, doors: { backLeft: 'CLOSED' } });
  });

  it('an ICE car: traction battery and charge are VEHICLE_NOT_CAPABLE, fuel and engine cover are there', async () => {
    const s = await all(fleet.ice.id);
    for (const code of ['tractionbattery-stateofcharge', 'tractionbattery-range', 'charge-ischarging', 'charge-detailedchargingstatus',
      'charge-ischargingcableconnected', 'charge-chargelimits', 'closure-fronttrunk']) {
      assert.equal(s.get(code)!.attributes.status.value, 'ERROR', code);
      assert.deepEqual(s.get(code)!.attributes.status, { value: 'ERROR', error: { type: 'COMPATIBILITY', code: 'VEHICLE_NOT_CAPABLE' } }, code);
    }
    assert.deepEqual(bodyOf(s.get('internalcombustionengine-fuellevel')), { value: 40, unit: 'percent' });
    assert.deepEqual(bodyOf(s.get('internalcombustionengine-range')), { value: 420, unit: 'kilometers' });
    assert.deepEqual(bodyOf(s.get('closure-enginecover')), { isOpen: false });
  });

  it('paging: both query styles × both meta/links readings × both link styles, followed to the end; default 10, max 50', async () => {
    for (const paging of ['page', 'page-brackets'] as const) {
      for (const links of ['relative', 'absolute'] as const) {
        emu.readings.signalsPaging = paging;
        emu.readings.links = links;
        for (const query of [{}, { page: '1', pageSize: '4' }, { 'page[number]': '1', 'page[size]': '4' }] as Record<string, string>[]) {
          const pages = await client.pages(`/vehicles/${fleet.phev.id}/signals`, { userId: fleet.user.id, query });
          const size = Number(query.pageSize ?? query['page[size]'] ?? 10);
          assert.equal(pages.length, Math.ceil(CODES.length / size), `${paging}/${links}/${JSON.stringify(query)}`);
          assert.deepEqual(pages.flatMap((p) => (p.body.data as Signal[]).map((x) => x.attributes.code)), CODES);
          const [firstPage, lastPage] = [pages[0]!.body, pages.at(-1)!.body];
          if (paging === 'page') {
            assert.deepEqual(firstPage.meta, { page: 1, pageSize: size, totalCount: CODES.length });
            assert.deepEqual(Object.keys(firstPage.links), ['self', 'first', 'previous', 'next', 'last']);
            assert.equal(firstPage.links.previous, null);
            assert.ok(typeof lastPage.links.previous === 'string');
            assert.match(firstPage.links.next, /\?page=2&pageSize=\d+$/);
          } else {
            assert.deepEqual(firstPage.meta, { pageNumber: 1, pageSize: size, totalCount: CODES.length });
            assert.deepEqual(Object.keys(firstPage.links), ['self', 'first', 'prev', 'next', 'last']);
            assert.equal(firstPage.links.prev, null);
            assert.match(firstPage.links.next, /page%5Bnumber%5D=2&page%5Bsize%5D=\d+$/);
          }
          if (links === 'absolute') {
            assert.ok(firstPage.links.self.startsWith(`${emu.origins.v3}/v3/vehicles/${fleet.phev.id}/signals?`));
            assert.ok((firstPage.data[0] as Signal).links.self.startsWith(`${emu.origins.v3}/v3/`));
          } else {
            assert.ok(firstPage.links.self.startsWith(`/vehicles/${fleet.phev.id}/signals?`), 'relative to the /v3 base: prefixing the origin alone would miss /v3');
          }
          assert.equal(lastPage.links.next, null);
          assert.equal(lastPage.links.last, lastPage.links.self);
        }
      }
    }
    assert.equal((await signals(fleet.phev.id, { pageSize: '50' })).body.data.length, CODES.length);
    for (const bad of [{ pageSize: '51' }, { 'page[size]': '51' }, { page: '0' }, { page: '1', 'page[size]': '5' }, { 'page[foo]': '1' }, { pageSize: 'ten' }] as Record<string, string>[]) {
      assertV3Error(await signals(fleet.phev.id, bad), { status: 400, type: 'VALIDATION', code: 'INVALID_INPUT_FORMAT' });
    }
  });

  it('timestamps: retrievedAt = when fetched, oemUpdatedAt = the car\'s dataAt, in ms, s or ISO', async () => {
    emu.updateVehicle(fleet.bev.id, { odometerKm: 20_000 });
    const dataAt = emu.vehicle(fleet.bev.id).dataAt;
    emu.clock.advance(5000);
    for (const timestamps of ['ms', 's', 'iso'] as const) {
      emu.readings.timestamps = timestamps;
      const before = emu.clock.now();
      const s = (await one(fleet.bev.id, 'odometer-traveleddistance')).body as Signal;
      const after = emu.clock.now();
      const { retrievedAt, oemUpdatedAt } = s.meta;
      if (timestamps === 'ms') {
        assert.equal(oemUpdatedAt, dataAt);
        assert.ok(typeof retrievedAt === 'number' && retrievedAt >= before && retrievedAt <= after);
      } else if (timestamps === 's') {
        assert.equal(oemUpdatedAt, Math.floor(dataAt / 1000));
        assert.ok(typeof retrievedAt === 'number' && retrievedAt < 1e12 && retrievedAt >= Math.floor(before / 1000));
      } else {
        assert.equal(oemUpdatedAt, new Date(dataAt).toISOString());
        assert.ok(typeof retrievedAt === 'string' && Date.parse(retrievedAt) >= before - 1);
      }
    }
    // An error signal without body carries only retrievedAt.
    emu.readings.timestamps = 'ms';
    const fuel = (await one(fleet.bev.id, 'internalcombustionengine-fuellevel')).body as Signal;
    assert.deepEqual(Object.keys(fuel.meta), ['retrievedAt']);
  });

  it('units long/short and fuel level percent/fraction; closure-doors key values/doors', async () => {
    emu.readings.units = 'short';
    assert.deepEqual(bodyOf((await one(fleet.phev.id, 'odometer-traveleddistance')).body), { value: 12345.6, unit: 'km' });
    assert.deepEqual(bodyOf((await one(fleet.phev.id, 'tractionbattery-range')).body), { value: 38, additionalValues: [], unit: 'km' });
    assert.deepEqual(bodyOf((await one(fleet.phev.id, 'internalcombustionengine-range')).body), { value: 520, unit: 'km' });
    emu.readings.units = 'long';
    assert.deepEqual(bodyOf((await one(fleet.phev.id, 'internalcombustionengine-range')).body), { value: 520, unit: 'kilometers' });
    assert.deepEqual(bodyOf((await one(fleet.phev.id, 'internalcombustionengine-fuellevel')).body), { value: 60, unit: 'percent' });
    emu.readings.fuelLevel = 'fraction';
    assert.deepEqual(bodyOf((await one(fleet.phev.id, 'internalcombustionengine-fuellevel')).body), { value: 0.6 }, '0–1 without unit');
    assert.deepEqual(bodyOf((await one(fleet.phev.id, 'tractionbattery-stateofcharge')).body), { value: 55, unit: 'percent' }, 'only fuel changes');
    emu.readings.doorsKey = 'doors';
    const doors = bodyOf((await one(fleet.phev.id, 'closure-doors')).body)!;
    assert.deepEqual(Object.keys(doors).sort(), ['columnCount', 'doors', 'rowCount']);
  });

  it('single signal: bare resource or {data} envelope; unknown code 404 SIGNAL_NOT_FOUND; billed 1', async () => {
    const bare = await one(fleet.bev.id, 'closure-islocked');
    assert.equal(bare.body.type, 'signal');
    assert.equal(bare.body.data, undefined);
    emu.readings.singleSignalEnvelope = 'data';
    const wrapped = await one(fleet.bev.id, 'closure-islocked');
    assert.deepEqual(Object.keys(wrapped.body), ['data']);
    assert.equal(wrapped.body.data.id, 'closure-islocked');
    const billed = emu.billedCount(fleet.bev.id);
    assertV3Error(await one(fleet.bev.id, 'vin'), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'SIGNAL_NOT_FOUND' });
    assertV3Error(await one(fleet.bev.id, 'chargeVoltage'), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'SIGNAL_NOT_FOUND' });
    assert.equal(emu.billedCount(fleet.bev.id), billed, 'a 404 is not billed');
    await one(fleet.bev.id, 'vehicleidentification-vin');
    assert.equal(emu.billedCount(fleet.bev.id), billed + 1);
  });

  it('ungranted signals: ERROR PERMISSION (code null) in the list, or left out; single: the ERROR resource, or 403', async () => {
    const f = defaultFleet(emu, `narrow-${Math.random()}@example.com`);
    emu.connect(f.user.id, { vehicleIds: [f.bev.id], scope: ['read_vehicle_info', 'read_security', 'read_odometer'] });
    const s = await all(f.bev.id, f.user.id);
    assert.equal(s.size, CODES.length);
    assert.deepEqual(s.get('charge-ischarging')!.attributes.status, { value: 'ERROR', error: { type: 'PERMISSION', code: null } });
    assert.equal(bodyOf(s.get('charge-ischarging')), undefined);
    assert.equal(s.get('closure-islocked')!.attributes.status.value, 'SUCCESS');
    emu.readings.ungrantedSignals = 'omit';
    const omitted = await all(f.bev.id, f.user.id);
    assert.deepEqual([...omitted.values()].filter((x) => x.attributes.status.value === 'SUCCESS').map((x) => x.attributes.code),
      ['closure-islocked', 'closure-doors', 'closure-windows', 'closure-reartrunk', 'closure-fronttrunk', 'closure-sunroof', 'odometer-traveleddistance']);
    assert.ok(!omitted.has('charge-ischarging') && !omitted.has('vehicleidentification-vin'));
    assert.ok(omitted.has('internalcombustionengine-fuellevel'), 'incompatible signals are still listed as VEHICLE_NOT_CAPABLE');
    assert.equal((await signals(f.bev.id, {}, f.user.id)).body.meta.totalCount, omitted.size);
    assertV3Error(await one(f.bev.id, 'charge-ischarging', f.user.id), { status: 403, type: 'PERMISSION', code: null });
    emu.readings.ungrantedSignals = 'error';
    const single = await one(f.bev.id, 'charge-ischarging', f.user.id);
    assert.equal(single.status, 200);
    assert.deepEqual(single.body.attributes.status, { value: 'ERROR', error: { type: 'PERMISSION', code: null } });
  });

  it('sc-user-id: missing → 400 MISSING_PARAMETER "missing userId"; another user → 403 or 404 per wrongUser; not a uuid → 400', async () => {
    const noHeader = await client.get(`/vehicles/${fleet.bev.id}/signals`);
    assertV3Error(noHeader, { status: 400, type: 'VALIDATION', code: 'MISSING_PARAMETER', detail: 'missing userId' });
    assertV3Error(await client.get(`/vehicles/${fleet.bev.id}/signals/closure-islocked`), { status: 400, type: 'VALIDATION', code: 'MISSING_PARAMETER', detail: 'missing userId' });
    const other = defaultFleet(emu, `other-${Math.random()}@example.com`);
    emu.connect(other.user.id);
    assertV3Error(await signals(fleet.bev.id, {}, other.user.id), { status: 403, type: 'PERMISSION', code: null });
    assertV3Error(await one(fleet.bev.id, 'closure-islocked', other.user.id), { status: 403, type: 'PERMISSION', code: null });
    emu.readings.wrongUser = 'not-found-404';
    assertV3Error(await signals(fleet.bev.id, {}, other.user.id), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
    assertV3Error(await signals(fleet.bev.id, {}, '00000000-0000-4000-8000-000000000000'), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
    assertV3Error(await signals(fleet.bev.id, {}, 'someone'), { status: 400, type: 'VALIDATION', code: 'INVALID_INPUT_FORMAT' });
    assert.equal(emu.billedCount(other.bev.id), 0);
  });

  it('the JLR-style POST /signals and ?signals= are not endpoints/filters', async () => {
    assertV3Error(await client.post(`/vehicles/${fleet.bev.id}/signals`, { userId: fleet.user.id, body: { signals: ['Closure.IsLocked'] } }),
      { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
    assertV3Error(await client.get('/vehicles'), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
    assertV3Error(await client.get(`/vehicles/${fleet.bev.id}/odometer`, { userId: fleet.user.id }), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'PATH' });
  });

  it('daily store: one snapshot per 24 h of emulator clock (values and oemUpdatedAt from it) unless subscribed', async () => {
    const f = defaultFleet(emu, `daily-${Math.random()}@example.com`);
    emu.connect(f.user.id, { scope: [...PERMISSIONS] });
    emu.readings.signalStore = 'daily';
    const first = (await one(f.bev.id, 'tractionbattery-stateofcharge', f.user.id)).body as Signal;
    assert.equal(bodyOf(first)!.value, 76);
    const takenAt = first.meta.retrievedAt as number;
    await advance(3600_000);
    emu.updateVehicle(f.bev.id, { battery: { percentRemaining: 0.5 } });
    const cached = (await one(f.bev.id, 'tractionbattery-stateofcharge', f.user.id)).body as Signal;
    assert.equal(bodyOf(cached)!.value, 76, 'served from the snapshot');
    assert.equal(cached.meta.retrievedAt, takenAt);
    const list = await all(f.bev.id, f.user.id);
    assert.equal(bodyOf(list.get('tractionbattery-stateofcharge'))!.value, 76, 'the list reads the same snapshot');
    await advance(23 * 3600_000);
    const fresh = (await one(f.bev.id, 'tractionbattery-stateofcharge', f.user.id)).body as Signal;
    assert.equal(bodyOf(fresh)!.value, 50, 'a new day, a new snapshot');
    assert.equal(fresh.meta.oemUpdatedAt, emu.vehicle(f.bev.id).dataAt);
    emu.updateVehicle(f.bev.id, { battery: { percentRemaining: 0.4 } });
    assert.equal(bodyOf((await one(f.bev.id, 'tractionbattery-stateofcharge', f.user.id)).body)!.value, 50);
    emu.subscribe(f.bev.id);
    assert.equal(bodyOf((await one(f.bev.id, 'tractionbattery-stateofcharge', f.user.id)).body)!.value, 40, 'subscribed → live');
  });

  it('empty-until-subscribed store: data [] and single 404 until a subscription to an enabled webhook, then live', async () => {
    const f = defaultFleet(emu, `empty-${Math.random()}@example.com`);
    emu.connect(f.user.id, { scope: [...PERMISSIONS] });
    emu.readings.signalStore = 'empty-until-subscribed';
    const empty = await signals(f.bev.id, {}, f.user.id);
    assert.equal(empty.status, 200);
    assert.deepEqual(empty.body.data, []);
    assert.deepEqual(empty.body.meta, { page: 1, pageSize: 10, totalCount: 0 });
    assert.equal(empty.body.links.next, null);
    assertV3Error(await one(f.bev.id, 'closure-islocked', f.user.id), { status: 404, type: 'RESOURCE_NOT_FOUND', code: 'SIGNAL_NOT_FOUND' });
    const disabled = emu.addWebhook({ name: 'off', callbackUri: 'https://example.test/off', isEnabled: false });
    emu.subscribe(f.bev.id, disabled.id);
    assert.equal((await signals(f.bev.id, {}, f.user.id)).body.meta.totalCount, 0, 'a disabled webhook does not fill the store');
    const on = emu.addWebhook({ name: 'on', callbackUri: 'https://example.test/on' });
    emu.subscribe(f.bev.id, on.id);
    assert.equal((await signals(f.bev.id, {}, f.user.id)).body.meta.totalCount, CODES.length);
    assert.equal((await one(f.bev.id, 'closure-islocked', f.user.id)).status, 200);
    assert.equal((await signals(f.phev.id, {}, f.user.id)).body.meta.totalCount, 0, 'per vehicle');
  });

  it('offline car: request-error answers as v2 (409 ASLEEP/UNREACHABLE, billed); cached-signal-errors keeps the last body; the VIN needs no car', async () => {
    const f = defaultFleet(emu, `sleepy-${Math.random()}@example.com`);
    emu.connect(f.user.id, { scope: [...PERMISSIONS] });
    const v2 = new sdk.Vehicle(f.bev.id, emu.issueTokens(f.user.id).accessToken);
    emu.updateVehicle(f.bev.id, { asleep: true });
    await assert.rejects(v2.odometer(), /ASLEEP/);
    const billed = emu.billedCount(f.bev.id);
    assertV3Error(await signals(f.bev.id, {}, f.user.id), { status: 409, type: 'VEHICLE_STATE', code: 'ASLEEP' });
    assertV3Error(await one(f.bev.id, 'closure-islocked', f.user.id), { status: 409, type: 'VEHICLE_STATE', code: 'ASLEEP' });
    assert.equal(emu.billedCount(f.bev.id), billed + 2, 'billed, as v2 bills a 409');
    assert.equal((await one(f.bev.id, 'vehicleidentification-vin', f.user.id)).status, 200);
    emu.readings.offlineRead = 'cached-signal-errors';
    const never = await all(f.bev.id, f.user.id);
    assert.deepEqual(never.get('closure-islocked')!.attributes.status, { value: 'ERROR', error: { type: 'VEHICLE_STATE', code: 'ASLEEP' } });
    assert.equal(bodyOf(never.get('closure-islocked')), undefined, 'nothing retrieved before: no body');
    assert.equal(never.get('vehicleidentification-vin')!.attributes.status.value, 'SUCCESS');
    emu.updateVehicle(f.bev.id, { asleep: false, reachable: true });
    const fetched = await all(f.bev.id, f.user.id);
    // Each page is a fetch: the cache holds the last one.
    const seenAt = Math.max(...[...fetched.values()].map((x) => x.meta.retrievedAt as number));
    emu.clock.advance(60_000);
    emu.updateVehicle(f.bev.id, { reachable: false, locked: true });
    const offline = await all(f.bev.id, f.user.id);
    const locked = offline.get('closure-islocked')!;
    assert.deepEqual(locked.attributes.status, { value: 'ERROR', error: { type: 'VEHICLE_STATE', code: 'UNREACHABLE' } });
    assert.deepEqual(bodyOf(locked), { value: false }, 'the cached body, not the current state');
    assert.equal(locked.meta.retrievedAt, seenAt);
    emu.updateVehicle(f.bev.id, { reachable: true });
  });

  it('content type application/json or application/vnd.api+json (errors too)', async () => {
    assert.equal((await signals(fleet.bev.id)).headers.get('content-type'), 'application/json; charset=utf-8');
    emu.readings.contentType = 'jsonapi';
    assert.equal((await signals(fleet.bev.id)).headers.get('content-type'), 'application/vnd.api+json');
    assert.equal((await client.get('/nope')).headers.get('content-type'), 'application/vnd.api+json');
    assert.equal((await client.get('/connections')).headers.get('content-type'), 'application/vnd.api+json');
  });

  it('every reading is settable at runtime over PATCH /_emulator/options, and bad ones are refused', async () => {
    const patch = async (body: unknown) => fetch(`${emu.origin}/_emulator/options`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const res = await patch({ readings: { timestamps: 'iso', units: 'short' } satisfies Partial<V3Readings>, longRunningAfterMs: 1234 });
    assert.equal(res.status, 200);
    assert.equal(emu.readings.timestamps, 'iso');
    assert.equal(emu.readings.units, 'short');
    assert.equal(emu.longRunningAfterMs, 1234);
    assert.equal((await patch({ readings: { timestamps: 'minutes' } })).status, 400);
    assert.equal((await patch({ readings: { nonsense: 'x' } })).status, 400);
    assert.equal(emu.readings.timestamps, 'iso');
    emu.longRunningAfterMs = 175_000;
  });
});
