// A ready-made owner with one car of each powertrain, shared by the `npm start` demo and the tests
// so they all talk about the same BEV, PHEV and ICE car.
import type { SmartcarEmulator } from './emulator.js';
import type { EmulatedVehicle } from './vehicles.js';

export interface DefaultFleet {
  user: { id: string; email: string };
  password: string;
  bev: EmulatedVehicle;
  phev: EmulatedVehicle;
  ice: EmulatedVehicle;
}

export function defaultFleet(emu: SmartcarEmulator, email = 'owner@example.com', password = 'password'): DefaultFleet {
  const user = emu.addUser({ email, password });
  const bev = emu.addVehicle(user.id, {
    powertrain: 'BEV', make: 'TESLA', model: 'Model 3', year: 2022, vin: '5YJ3E1EA7NF000001',
    locked: false,
    battery: { percentRemaining: 0.76, rangeKm: 380, capacityKwh: 75 },
    charge: { isPluggedIn: true, state: 'CHARGING', limit: 0.9 },
  });
  const phev = emu.addVehicle(user.id, {
    powertrain: 'PHEV', make: 'TOYOTA', model: 'RAV4 Prime', year: 2023, vin: 'JTMEB3FV0PD000002',
    locked: true,
    battery: { percentRemaining: 0.55, rangeKm: 38, capacityKwh: 18 },
    charge: { isPluggedIn: false, state: 'NOT_CHARGING', limit: 1 },
    fuel: { percentRemaining: 0.6, amountRemainingLiters: 33, rangeKm: 520, tankLiters: 55 },
  });
  // An ICE car has no read_battery / read_charge / control_charge capability (DEFAULT_CAPABILITIES.ICE).
  const ice = emu.addVehicle(user.id, {
    powertrain: 'ICE', make: 'FORD', model: 'F-150', year: 2021, vin: '1FTFW1E50MF000003',
    locked: true,
    fuel: { percentRemaining: 0.4, amountRemainingLiters: 36.3, rangeKm: 420, tankLiters: 90.8 },
  });
  return { user, password, bev, phev, ice };
}
