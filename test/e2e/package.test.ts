// Packaging as the Homebridge Verified checks do it: pack the plugin, install the tarball into an
// empty folder, and look at what an owner's `npm install homebridge-smartcar` would get.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';

import { PROJECT_DIR } from '../helpers/homebridge-process.js';

const run = promisify(execFile);

interface PackFile { path: string }

describe('the published package', () => {
  let work: string;
  let files: string[];
  let manifest: Record<string, unknown> & { scripts?: Record<string, string>; keywords?: string[]; engines?: Record<string, string> };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'hbsc-pack-'));
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: PROJECT_DIR });
    const packed = JSON.parse(stdout) as Array<{ filename: string; files: PackFile[] }>;
    files = packed[0]!.files.map((f) => f.path);
    await writeFile(join(work, 'package.json'), JSON.stringify({ name: 'owner', private: true }));
    await run('npm', ['install', '--no-audit', '--no-fund', join(work, packed[0]!.filename)], { cwd: work, timeout: 240_000 });
    manifest = JSON.parse(await readFile(join(work, 'node_modules/homebridge-smartcar/package.json'), 'utf8'));
  });

  it('ships the built plugin and its schema, not sources or tests', () => {
    assert.ok(files.includes('dist/index.js'), 'dist/index.js is packed');
    assert.ok(files.includes('config.schema.json'));
    assert.ok(files.includes('README.md'));
    assert.deepEqual(files.filter((f) => /^(src|test|scripts|\.ci)\//.test(f)), []);
  });

  it('ships the license package.json names, and says who wrote it', async () => {
    assert.ok(files.includes('LICENSE'), 'LICENSE is packed');
    assert.equal(manifest.license, 'MIT');
    const license = await readFile(join(work, 'node_modules/homebridge-smartcar/LICENSE'), 'utf8');
    assert.match(license, /^MIT License\n\nCopyright \(c\) \d{4} \S/);
    const author = manifest.author as { name?: string } | string | undefined;
    assert.ok(typeof author === 'string' ? author.length > 0 : (author?.name ?? '').length > 0, 'package.json has an author');
  });

  it('brings neither homebridge nor hap-nodejs into the owner\'s node_modules', () => {
    for (const banned of ['homebridge', 'hap-nodejs', '@homebridge/hap-nodejs']) {
      assert.equal(existsSync(join(work, 'node_modules', banned)), false, `${banned} must not be installed`);
    }
    assert.ok(existsSync(join(work, 'node_modules/smartcar')), 'the official SDK is installed');
  });

  it('follows the Homebridge plugin rules', async () => {
    assert.ok(manifest.keywords?.includes('homebridge-plugin'));
    assert.ok((manifest.keywords?.length ?? 0) >= 2);
    for (const hook of ['preinstall', 'install', 'postinstall']) {
      assert.equal(manifest.scripts?.[hook], undefined, `no ${hook} script`);
    }
    assert.equal(manifest.engines?.homebridge, '^1.8.0 || ^2.0.0');
    assert.equal(manifest.engines?.node, '^20.18.0 || ^22.10.0 || ^24.0.0');
    assert.match(String(manifest.homepage), /^https:\/\//);
    const schema = JSON.parse(await readFile(join(work, 'node_modules/homebridge-smartcar/config.schema.json'), 'utf8'));
    assert.equal(schema.pluginAlias, 'Smartcar');
    assert.equal(schema.pluginType, 'platform');
    assert.equal(schema.singular, true);
    assert.ok(schema.schema.properties.name, 'schema has a name property');
    const plugin = await import(join(work, 'node_modules/homebridge-smartcar/dist/index.js'));
    assert.equal(typeof plugin.default, 'function', 'exports an initializer');
  });
});
