// Table tests of the setup page's pure pieces: escaping, relative times, reading Connect's answer
// (from the callback or a pasted address) and the local-Host check against DNS rebinding.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parsePastedAddress, readConnectAnswer } from '../../src/setup/connect-answer.js';
import { escapeHtml, html } from '../../src/setup/html.js';
import { relativeTime } from '../../src/setup/pages.js';
import { isLocalHostHeader } from '../../src/setup/routes.js';

describe('html', () => {
  it('escapes interpolations but keeps nested html', () => {
    const name = '<img src=x onerror="alert(1)">&\'';
    assert.equal(escapeHtml(name), '&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&#39;');
    assert.equal(html`<b>${name}</b>`.text, `<b>${escapeHtml(name)}</b>`);
    assert.equal(html`<ul>${['<a>', html`<li>ok</li>`]}</ul>`.text, '<ul>&lt;a&gt;<li>ok</li></ul>');
    assert.equal(html`${undefined}${null}${false}${0}${true}`.text, '0true');
  });
});

describe('relativeTime', () => {
  const now = 1_700_000_000_000;
  const cases: [number, string][] = [
    [0, 'just now'], [30_000, 'just now'], [-30_000, 'just now'], [60_000, '1 minute ago'], [5 * 60_000, '5 minutes ago'],
    [-25 * 60_000, 'in 25 minutes'], [3 * 3_600_000, '3 hours ago'], [90 * 60_000, '1 hour ago'], [-5 * 3_600_000, 'in 5 hours'],
    [26 * 3_600_000, '1 day ago'], [9 * 86_400_000, '9 days ago'],
  ];
  for (const [ago, words] of cases) {
    it(`${ago} ms ago reads "${words}"`, () => {
      assert.equal(relativeTime(now - ago, now), words);
    });
  }
});

describe('readConnectAnswer', () => {
  const read = (q: string) => readConnectAnswer(new URLSearchParams(q));

  it('reads a code and its state', () => {
    assert.deepEqual(read('code=abc&state=s1'), { kind: 'code', code: 'abc', userId: undefined, state: 's1' });
  });

  it('reads the user id of a v3 Connect answer, with or without a code', () => {
    assert.deepEqual(read('code=abc&user_id=u-1&state=s1'), { kind: 'code', code: 'abc', userId: 'u-1', state: 's1' });
    assert.deepEqual(read('user_id=u-1&state=s1'), { kind: 'code', code: undefined, userId: 'u-1', state: 's1' });
  });

  it('reads an error with Smartcar\'s description and vehicle details', () => {
    assert.deepEqual(read('error=vehicle_incompatible&error_description=Nope&state=s&make=FORD&model=Focus&year=2019'), {
      kind: 'error', error: 'vehicle_incompatible', state: 's', description: 'Nope', extra: '2019 FORD Focus',
    });
    assert.equal((read('error=configuration_error&status_code=400&error_message=bad+redirect') as { extra: string }).extra, '400 bad redirect');
  });

  it('calls everything else malformed', () => {
    for (const q of ['', 'state=s', 'code=&state=s', 'code=a&code=b&state=s', 'code=a&state=s&state=t', `code=${'x'.repeat(513)}&state=s`, 'user_id=&state=s', 'user_id=a&user_id=b&state=s', `user_id=${'u'.repeat(513)}&state=s`]) {
      assert.equal(read(q).kind, 'malformed', q);
    }
  });

  it('clips long Smartcar text', () => {
    const answer = read(`error=server_error&error_description=${'d'.repeat(5000)}`);
    assert.equal(answer.kind, 'error');
    assert.ok((answer as { description: string }).description.length <= 501);
  });
});

describe('parsePastedAddress', () => {
  const cases: [string, string | undefined][] = [
    ['http://localhost:8585/callback?code=c&state=s', 'code=c&state=s'],
    ['  https://hb.example.org/cb?code=c&state=s#frag \n', 'code=c&state=s'],
    ['localhost:8585/callback?code=c&state=s', 'code=c&state=s'],
    ['?code=c&state=s', 'code=c&state=s'],
    ['code=c&state=s', 'code=c&state=s'],
    ['', undefined],
    ['   ', undefined],
    ['http://[::1', undefined],
  ];
  for (const [text, query] of cases) {
    it(JSON.stringify(text), () => {
      assert.equal(parsePastedAddress(text)?.toString(), query);
    });
  }
});

describe('isLocalHostHeader', () => {
  const redirect = 'https://cars.example.org/callback';
  const cases: [string | undefined, boolean][] = [
    ['127.0.0.1:8585', true], ['192.168.1.2', true], ['[::1]:8585', true], ['[fe80::1]', true], ['localhost', true],
    ['homebridge:8585', true], ['homebridge.local', true], ['pi.lan', true], ['hb.home.arpa', true], ['app.localhost', true],
    ['CARS.EXAMPLE.ORG', true], ['example.org', false], ['evil.com', false], ['192.168.1.2.nip.io', false],
    ['local.evil.com', false], ['', false], [undefined, false], ['a b', false], ['x@evil.com', false],
  ];
  for (const [host, ok] of cases) {
    it(`${String(host)} → ${ok}`, () => {
      assert.equal(isLocalHostHeader(host, redirect), ok);
    });
  }
});
