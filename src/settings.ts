// Names the rest of the plugin agrees on, and every tunable default with its unit in the name.
// PLATFORM_NAME must equal config.schema.json's pluginAlias; PLUGIN_NAME must equal package.json's name.

export const PLATFORM_NAME = 'Smartcar';
export const PLUGIN_NAME = 'homebridge-smartcar';

export const DOCS_URL = 'https://github.com/homebridge-smartcar/homebridge-smartcar#readme';
