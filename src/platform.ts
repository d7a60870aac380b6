// Platform lifecycle. Until credentials are configured it only says where the docs are.
import type { API, DynamicPlatformPlugin, Logging, PlatformAccessory, PlatformConfig } from 'homebridge';

import { DOCS_URL } from './settings.js';

export class SmartcarPlatform implements DynamicPlatformPlugin {
  private readonly cached: PlatformAccessory[] = [];

  constructor(
    private readonly log: Logging,
    private readonly config: PlatformConfig,
    private readonly api: API,
  ) {
    const clientId = typeof config.clientId === 'string' ? config.clientId : '';
    if (clientId === '') {
      this.log.warn(`Smartcar is not configured yet: add clientId and clientSecret to the platform block. See ${DOCS_URL}`);
      return;
    }
  }

  configureAccessory(accessory: PlatformAccessory): void {
    this.cached.push(accessory);
  }
}
