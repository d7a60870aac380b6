// Homebridge entry point: registers the dynamic platform and nothing else.
import type { API } from 'homebridge';

import { SmartcarPlatform } from './platform.js';
import { PLATFORM_NAME } from './settings.js';

export default (api: API): void => {
  api.registerPlatform(PLATFORM_NAME, SmartcarPlatform);
};
