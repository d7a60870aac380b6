// Smartcar→HomeKit value tables: what the Home app shows for each Smartcar answer.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { fractionToPercent } from '../../src/smartcar/v2/client.js';
import {
  atHomeVerdict, chargingState, chargingSwitchOn, displayMake, distanceMeters, distanceText, rangeText, levelPercent, lockCurrentState, pluggedInContact, sanitizeName, statusLowBattery,
} from '../../src/vehicle/mappers.js';
import { defaultIntervalMinutes } from '../../src/settings.js';

describe('mappers', () => {
  it('lock: unknown stays UNKNOWN, never a guessed "unlocked"', () => {
    assert.equal(lockCurrentState(true), 1);
    assert.equal(lockCurrentState(false), 0);
    assert.equal(lockCurrentState(undefined), 3);
  });

  for (const [fraction, percent] of [[0.76, 76], [0, 0], [1, 100], [0.305, 30.5], [1.2, 100], [-0.1, 0], [null, undefined], [undefined, undefined], [Number.NaN, undefined]] as const) {
    it(`percentRemaining ${String(fraction)} → ${String(percent)} %`, () => {
      assert.equal(fractionToPercent(fraction), percent);
    });
  }

  it('level: battery for EV/PHEV, fuel for ICE, rounded and clamped', () => {
    const s = { batteryPercent: 75.6, fuelPercent: 40 };
    assert.equal(levelPercent(s, 'battery'), 76);
    assert.equal(levelPercent(s, 'fuel'), 40);
    assert.equal(levelPercent({ fuelPercent: 40 }, 'battery'), undefined);
    assert.equal(levelPercent(undefined, 'fuel'), undefined);
  });

  for (const [level, threshold, low] of [[20, 20, 1], [21, 20, 0], [0, 20, 1], [100, 20, 0], [5, 0, 0], [undefined, 20, undefined]] as const) {
    it(`low battery: level ${String(level)} with threshold ${threshold} → ${String(low)}`, () => {
      assert.equal(statusLowBattery(level, threshold), low);
    });
  }

  for (const [state, chargeable, expected] of [
    ['CHARGING', true, 1], ['NOT_CHARGING', true, 0], ['FULLY_CHARGED', true, 0], [undefined, true, undefined],
    ['CHARGING', false, 2], [undefined, false, 2],
  ] as const) {
    it(`charging: ${String(state)} (chargeable ${chargeable}) → ${String(expected)}`, () => {
      assert.equal(chargingState(state, chargeable), expected);
    });
  }

  it('plugged in reads as contact detected (closed)', () => {
    assert.equal(pluggedInContact(true), 0);
    assert.equal(pluggedInContact(false), 1);
    assert.equal(pluggedInContact(undefined), undefined);
  });

  it('atHomeVerdict: the car\'s own word first, else within the radius of the home point, else unknown', () => {
    const home = { latitude: 52.2385, longitude: 0.1546, radiusMeters: 150 };
    const table: [Parameters<typeof atHomeVerdict>[0], typeof home | undefined, boolean | undefined][] = [
      [{ atHome: false, latitude: 52.2385, longitude: 0.1546 }, home, false],
      [{ atHome: true }, undefined, true],
      [{ latitude: 52.2385, longitude: 0.1546 }, home, true],
      [{ latitude: 52.2394, longitude: 0.1546 }, home, true], // about 100 m north
      [{ latitude: 52.2405, longitude: 0.1546 }, home, false], // about 220 m north
      [{ latitude: 52.2385, longitude: 0.1546 }, undefined, undefined],
      [{ latitude: 52.2385 }, home, undefined],
      [undefined, home, undefined],
    ];
    for (const [where, h, expected] of table) {
      assert.equal(atHomeVerdict(where, h), expected, JSON.stringify([where, h]));
    }
    assert.ok(Math.abs(distanceMeters({ latitude: 0, longitude: 0 }, { latitude: 0, longitude: 1 }) - 111_195) < 10, 'one degree at the equator');
  });

  it('distanceText and rangeText: in the owner\'s units, both figures for a plug-in hybrid', () => {
    assert.equal(distanceText(12_345.6, 'metric'), '12,346 km');
    assert.equal(distanceText(12_345.6, 'imperial'), '7,671 mi');
    assert.equal(distanceText(0.4, 'metric'), '0 km');
    assert.equal(rangeText(250, undefined, 'metric'), '250 km');
    assert.equal(rangeText(undefined, 400, 'imperial'), '249 mi');
    assert.equal(rangeText(30, 400, 'metric'), '30 km electric, 400 km fuel');
    assert.equal(rangeText(undefined, undefined, 'metric'), undefined);
  });

  it('chargingSwitchOn: the pending wish, else charging or not, else no value', () => {
    const table: [boolean | undefined, Parameters<typeof chargingSwitchOn>[1], number | undefined][] = [
      [undefined, 'CHARGING', 1], [undefined, 'NOT_CHARGING', 0], [undefined, 'FULLY_CHARGED', 0], [undefined, undefined, undefined],
      [true, 'NOT_CHARGING', 1], [false, 'CHARGING', 0], [true, undefined, 1],
    ];
    for (const [wish, state, expected] of table) {
      assert.equal(chargingSwitchOn(wish, state), expected, `${String(wish)} ${String(state)}`);
    }
  });

  const hap2Name = /^[\p{L}\p{N}][\p{L}\p{N}\p{Zs}’'&!._:;()/,-]*[\p{L}\p{N}]$/u;
  for (const [input, expected] of [
    ['Model 3', 'Model 3'], ['Ma voiture 🚗', 'Ma voiture'], ['(Golf)', 'Golf'], ['X', 'Car'], ['', 'Car'],
    ["Anna's e-Golf!", "Anna's e-Golf"], ['Ioniq 5 Lock', 'Ioniq 5 Lock'], ['Tesla <script>', 'Tesla script'],
  ] as const) {
    it(`name ${JSON.stringify(input)} → ${JSON.stringify(expected)}, valid for HAP 2.x`, () => {
      const out = sanitizeName(input);
      assert.equal(out, expected);
      assert.match(out, hap2Name);
    });
  }

  it('makes read as people write them', () => {
    assert.equal(displayMake('TESLA'), 'Tesla');
    assert.equal(displayMake('MERCEDES-BENZ'), 'Mercedes-Benz');
    assert.equal(displayMake('BMW'), 'BMW');
  });

  it('default interval fits 500 requests per vehicle per month', () => {
    const monthMinutes = 30 * 24 * 60;
    for (const paths of [1, 2, 3]) {
      const minutes = defaultIntervalMinutes(paths);
      const used = Math.ceil(monthMinutes / minutes) * paths;
      assert.ok(used <= 400, `${paths} paths every ${minutes} min use ${used} requests`);
      assert.ok(minutes >= 30);
    }
    assert.equal(defaultIntervalMinutes(3), 325);
    assert.equal(defaultIntervalMinutes(2), 216);
  });
});
