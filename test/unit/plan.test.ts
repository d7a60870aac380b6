// Which services and reads a vehicle gets from its permissions, powertrain and the owner's switches.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { planVehicle } from '../../src/vehicle/plan.js';

const all = { lock: true, battery: true, pluggedIn: true, closedUp: true, lowVoltage: true, charging: true, connection: true };
const BEV = ['read_vehicle_info', 'read_vin', 'read_security', 'control_security', 'read_battery', 'read_charge'];
const ICE = ['read_vehicle_info', 'read_vin', 'read_security', 'control_security', 'read_fuel'];
const PHEV = [...BEV, 'read_fuel'];

describe('planVehicle', () => {
  const table: [string, string[], Partial<typeof all>, ReturnType<typeof planVehicle>][] = [
    ['BEV', BEV, {}, { lock: 'read', level: 'battery', charging: 'read', pluggedIn: true, closedUp: true, lowVoltage: true, chargeControl: false, signals: ['lock', 'battery', 'charge'] }],
    ['ICE', ICE, {}, { lock: 'read', level: 'fuel', charging: 'not-chargeable', pluggedIn: false, closedUp: true, lowVoltage: false, chargeControl: false, signals: ['lock', 'fuel'] }],
    ['PHEV: battery wins over fuel', PHEV, {}, { lock: 'read', level: 'battery', charging: 'read', pluggedIn: true, closedUp: true, lowVoltage: true, chargeControl: false, signals: ['lock', 'battery', 'charge'] }],
    ['BEV without read_charge', BEV.filter((p) => p !== 'read_charge'), {}, { lock: 'read', level: 'battery', charging: 'unknown', pluggedIn: false, closedUp: true, lowVoltage: true, chargeControl: false, signals: ['lock', 'battery'] }],
    ['command-only lock', ['control_security', 'read_fuel'], {}, { lock: 'command-only', level: 'fuel', charging: 'not-chargeable', pluggedIn: false, closedUp: false, lowVoltage: false, chargeControl: false, signals: ['fuel'] }],
    ['read-only lock', ['read_security'], {}, { lock: 'read-only', level: undefined, charging: 'unknown', pluggedIn: false, closedUp: true, lowVoltage: false, chargeControl: false, signals: ['lock'] }],
    ['nothing granted', ['read_vehicle_info'], {}, { lock: 'none', level: undefined, charging: 'unknown', pluggedIn: false, closedUp: false, lowVoltage: false, chargeControl: false, signals: [] }],
    ['lock and plug switched off: Closed Up still reads the lock', BEV, { lock: false, pluggedIn: false }, { lock: 'none', level: 'battery', charging: 'read', pluggedIn: false, closedUp: true, lowVoltage: true, chargeControl: false, signals: ['lock', 'battery', 'charge'] }],
    ['switches off', BEV, { lock: false, pluggedIn: false, closedUp: false }, { lock: 'none', level: 'battery', charging: 'read', pluggedIn: false, closedUp: false, lowVoltage: true, chargeControl: false, signals: ['battery', 'charge'] }],
    ['battery switched off keeps the plug sensor', BEV, { battery: false }, { lock: 'read', level: undefined, charging: 'read', pluggedIn: true, closedUp: true, lowVoltage: true, chargeControl: false, signals: ['lock', 'charge'] }],
    ['BEV with control_charge: the Charging switch', [...BEV, 'control_charge'], {}, { lock: 'read', level: 'battery', charging: 'read', pluggedIn: true, closedUp: true, lowVoltage: true, chargeControl: true, signals: ['lock', 'battery', 'charge'] }],
    ['the switch alone still reads the charge state it shows', [...BEV, 'control_charge'], { pluggedIn: false, battery: true }, { lock: 'read', level: 'battery', charging: 'read', pluggedIn: false, closedUp: true, lowVoltage: true, chargeControl: true, signals: ['lock', 'battery', 'charge'] }],
    ['control_charge without read_charge: nothing to show, no switch', [...BEV.filter((p) => p !== 'read_charge'), 'control_charge'], {}, { lock: 'read', level: 'battery', charging: 'unknown', pluggedIn: false, closedUp: true, lowVoltage: true, chargeControl: false, signals: ['lock', 'battery'] }],
    ['charging switched off', [...BEV, 'control_charge'], { charging: false }, { lock: 'read', level: 'battery', charging: 'read', pluggedIn: true, closedUp: true, lowVoltage: true, chargeControl: false, signals: ['lock', 'battery', 'charge'] }],
    ['battery and plug off: the switch alone keeps the charge read', [...BEV, 'control_charge'], { battery: false, pluggedIn: false }, { lock: 'read', level: undefined, charging: 'read', pluggedIn: false, closedUp: true, lowVoltage: true, chargeControl: true, signals: ['lock', 'charge'] }],
    ['a petrol car granted control_charge gets no switch', [...ICE, 'read_charge', 'control_charge'], {}, { lock: 'read', level: 'fuel', charging: 'read', pluggedIn: true, closedUp: true, lowVoltage: false, chargeControl: false, signals: ['lock', 'fuel', 'charge'] }],
  ];
  for (const [name, permissions, switches, expected] of table) {
    it(name, () => {
      assert.deepEqual(planVehicle(permissions, { ...all, ...switches }), expected);
    });
  }

  it('a car that cannot report /battery falls back to fuel', () => {
    assert.equal(planVehicle(PHEV, all, ['battery']).level, 'fuel');
  });
});
