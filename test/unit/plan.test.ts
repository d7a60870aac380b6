// Which services and reads a vehicle gets from its permissions, powertrain and the owner's switches.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { planVehicle } from '../../src/vehicle/plan.js';

const all = { lock: true, battery: true, pluggedIn: true, closedUp: true, lowVoltage: true, charging: true, connection: true, atHome: true };
const BEV = ['read_vehicle_info', 'read_vin', 'read_security', 'control_security', 'read_battery', 'read_charge'];
const ICE = ['read_vehicle_info', 'read_vin', 'read_security', 'control_security', 'read_fuel'];
const PHEV = [...BEV, 'read_fuel'];

describe('planVehicle', () => {
  const table: [string, string[], Partial<typeof all>, ReturnType<typeof planVehicle>][] = [
    ['BEV', BEV, {}, { lock: 'read', level: 'battery', charging: 'read', pluggedIn: true, closedUp: true, lowVoltage: true, chargeControl: false, atHome: false, signals: ['lock', 'battery', 'charge'] }],
    ['ICE', ICE, {}, { lock: 'read', level: 'fuel', charging: 'not-chargeable', pluggedIn: false, closedUp: true, lowVoltage: false, chargeControl: false, atHome: false, signals: ['lock', 'fuel'] }],
    ['PHEV: battery wins over fuel', PHEV, {}, { lock: 'read', level: 'battery', charging: 'read', pluggedIn: true, closedUp: true, lowVoltage: true, chargeControl: false, atHome: false, signals: ['lock', 'battery', 'charge'] }],
    ['BEV without read_charge', BEV.filter((p) => p !== 'read_charge'), {}, { lock: 'read', level: 'battery', charging: 'unknown', pluggedIn: false, closedUp: true, lowVoltage: true, chargeControl: false, atHome: false, signals: ['lock', 'battery'] }],
    ['command-only lock', ['control_security', 'read_fuel'], {}, { lock: 'command-only', level: 'fuel', charging: 'not-chargeable', pluggedIn: false, closedUp: false, lowVoltage: false, chargeControl: false, atHome: false, signals: ['fuel'] }],
    ['read-only lock', ['read_security'], {}, { lock: 'read-only', level: undefined, charging: 'unknown', pluggedIn: false, closedUp: true, lowVoltage: false, chargeControl: false, atHome: false, signals: ['lock'] }],
    ['nothing granted', ['read_vehicle_info'], {}, { lock: 'none', level: undefined, charging: 'unknown', pluggedIn: false, closedUp: false, lowVoltage: false, chargeControl: false, atHome: false, signals: [] }],
    ['lock and plug switched off: Closed Up still reads the lock', BEV, { lock: false, pluggedIn: false }, { lock: 'none', level: 'battery', charging: 'read', pluggedIn: false, closedUp: true, lowVoltage: true, chargeControl: false, atHome: false, signals: ['lock', 'battery', 'charge'] }],
    ['switches off', BEV, { lock: false, pluggedIn: false, closedUp: false }, { lock: 'none', level: 'battery', charging: 'read', pluggedIn: false, closedUp: false, lowVoltage: true, chargeControl: false, atHome: false, signals: ['battery', 'charge'] }],
    ['battery switched off keeps the plug sensor', BEV, { battery: false }, { lock: 'read', level: undefined, charging: 'read', pluggedIn: true, closedUp: true, lowVoltage: true, chargeControl: false, atHome: false, signals: ['lock', 'charge'] }],
    ['BEV with control_charge: the Charging switch', [...BEV, 'control_charge'], {}, { lock: 'read', level: 'battery', charging: 'read', pluggedIn: true, closedUp: true, lowVoltage: true, chargeControl: true, atHome: false, signals: ['lock', 'battery', 'charge'] }],
    ['the switch alone still reads the charge state it shows', [...BEV, 'control_charge'], { pluggedIn: false, battery: true }, { lock: 'read', level: 'battery', charging: 'read', pluggedIn: false, closedUp: true, lowVoltage: true, chargeControl: true, atHome: false, signals: ['lock', 'battery', 'charge'] }],
    ['control_charge without read_charge: nothing to show, no switch', [...BEV.filter((p) => p !== 'read_charge'), 'control_charge'], {}, { lock: 'read', level: 'battery', charging: 'unknown', pluggedIn: false, closedUp: true, lowVoltage: true, chargeControl: false, atHome: false, signals: ['lock', 'battery'] }],
    ['charging switched off', [...BEV, 'control_charge'], { charging: false }, { lock: 'read', level: 'battery', charging: 'read', pluggedIn: true, closedUp: true, lowVoltage: true, chargeControl: false, atHome: false, signals: ['lock', 'battery', 'charge'] }],
    ['battery and plug off: the switch alone keeps the charge read', [...BEV, 'control_charge'], { battery: false, pluggedIn: false }, { lock: 'read', level: undefined, charging: 'read', pluggedIn: false, closedUp: true, lowVoltage: true, chargeControl: true, atHome: false, signals: ['lock', 'charge'] }],
    ['a petrol car granted control_charge gets no switch', [...ICE, 'read_charge', 'control_charge'], {}, { lock: 'read', level: 'fuel', charging: 'read', pluggedIn: true, closedUp: true, lowVoltage: false, chargeControl: false, atHome: false, signals: ['lock', 'fuel', 'charge'] }],
  ];
  for (const [name, permissions, switches, expected] of table) {
    it(name, () => {
      assert.deepEqual(planVehicle(permissions, { ...all, ...switches }), expected);
    });
  }

  it('At Home: allowed by read_location; the position is read only with a home point, and not once Smartcar says the car cannot', () => {
    const located = [...BEV, 'read_location'];
    assert.equal(planVehicle(located, all).atHome, true);
    assert.deepEqual(planVehicle(located, all).signals, ['lock', 'battery', 'charge'], 'no home point: nothing to read the position for');
    assert.deepEqual(planVehicle(located, all, [], true).signals, ['lock', 'battery', 'charge', 'location']);
    assert.deepEqual(planVehicle(located, all, ['location'], true).signals, ['lock', 'battery', 'charge']);
    assert.equal(planVehicle(located, { ...all, atHome: false }, [], true).atHome, false);
    assert.deepEqual(planVehicle(located, { ...all, atHome: false }, [], true).signals, ['lock', 'battery', 'charge']);
    assert.equal(planVehicle(BEV, all, [], true).atHome, false, 'without read_location');
    assert.deepEqual(planVehicle(BEV, all, [], true).signals, ['lock', 'battery', 'charge']);
  });

  it('a car that cannot report /battery falls back to fuel', () => {
    assert.equal(planVehicle(PHEV, all, ['battery']).level, 'fuel');
  });
});
