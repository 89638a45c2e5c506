import test from 'ava';
import { hasUrlCredentials, MAX_REDACT_CHARS, REDACTED, redactSecrets, redactUrl } from '../src/redact.js';

const TOKEN = 'tQ9xZ2-mK4_vN8pL1wR7yB3cD6fH0jS5';
const SECRET = 's3cret-Value/42+x';

/** [name, input, what must be gone, what must stay]. Literal secrets passed: TOKEN and SECRET. */
const cases: Array<[string, string, string[], string[]]> = [
  ['Authorization header line', `Authorization: Bearer ${TOKEN}\r\nHost: jims`, [TOKEN], ['Authorization: [redacted]', 'Host: jims']],
  ['authorization header, odd case, no space', `AUTHORIZATION:Bearer\t${TOKEN}`, [TOKEN], ['AUTHORIZATION:']],
  ['Proxy-Authorization, Basic', 'Proxy-Authorization: Basic YnJpZGdlOmh1bnRlcjI=', ['YnJpZGdlOmh1bnRlcjI'], ['Proxy-Authorization: [redacted]']],
  ['authorization as a JSON field', `{"error":"invalid_request","authorization":"Bearer ${TOKEN}"}`, [TOKEN], ['"authorization":"[redacted]"', '"error":"invalid_request"']],
  ['lower-case bearer in prose', 'bearer abc.DEF-123_~+/= was refused', ['abc.DEF'], ['bearer [redacted] was refused']],
  ['Bearer with a form-encoded space', 'echo=Bearer+opaque123&x=1', ['opaque123'], ['Bearer+[redacted]']],
  ['Basic credentials', 'got Basic dTpodW50ZXIy, expected Bearer', ['dTpodW50ZXIy'], ['Basic [redacted]']],
  ['access_token in a URL query', 'redirect to https://jims/cb?access_token=abc123&state=ok', ['abc123'], ['access_token=[redacted]', '&state=ok']],
  ['access_token in a percent-encoded nested query', 'next=https%3A%2F%2Fx%2F%3Faccess_token%3Dabc123', ['abc123'], ['access_token%3D[redacted]']],
  ['form body fields', 'grant_type=client_credentials&client_id=bridge&client_secret=hunter2', ['hunter2'], ['client_id=bridge', 'client_secret=[redacted]']],
  ['JSON fields of every sensitive name', '{"access_token":"a1","refresh_token":"r1","id_token":"i1","client_secret":"c1","password":"p1","token":"t1","ok":"kept"}', ['"a1"', '"r1"', '"i1"', '"c1"', '"p1"', '"t1"'], ['"ok":"kept"']],
  ['camelCase and dashed names, nested', '{"outer":{"accessToken":"a2","Client-Secret":"c2"}}', ['a2', 'c2'], ['"outer"']],
  ['a JSON number value stays JSON', '{"password": 123456, "n": 1}', ['123456'], ['"n": 1']],
  ['single-quoted value', "token='t0ps3cret' rest", ['t0ps3cret'], ['rest']],
  ['token: value in prose', 'invalid token: abc987 for client bridge', ['abc987'], ['for client bridge']],
  ['JSON inside a JSON string', '{"request":"{\\"access_token\\":\\"deep1\\",\\"n\\":1}"}', ['deep1'], ['\\"n\\":1']],
  ['a body cut in the middle of a value', '{"detail":"x","access_token":"cut-off-tok', ['cut-off-tok'], ['"detail":"x"']],
  ['field name written with a JSON escape', '{"access\\u005ftoken":"esc1"}', ['esc1'], []],
  ['the literal token in prose', `request with token ${TOKEN} refused`, [TOKEN], ['request with token [redacted] refused']],
  ['the literal token split by JSON escapes', `{"detail":"saw ${TOKEN.slice(0, 5)}\\u00${TOKEN.charCodeAt(5).toString(16)}${TOKEN.slice(6)}"}`, [TOKEN.slice(0, 5), TOKEN.slice(6)], ['saw [redacted]']],
  ['the literal token, every character escaped', `{"d":"${[...TOKEN].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()}`).join('')}"}`, ['\\u'], []],
  ['the literal token percent-encoded', `cb?state=${[...TOKEN].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('')}`, ['%'], ['cb?state=[redacted]']],
  ['the literal token as HTML character references', `<p>${TOKEN.slice(0, 3)}&#x${TOKEN.charCodeAt(3).toString(16)};${TOKEN.slice(4)}</p>`, [TOKEN.slice(4)], ['<p>[redacted]</p>']],
  ['the client secret with JSON-escaped slash', `{"echo":"${SECRET.replace('/', '\\/')}"}`, ['s3cret-Value', '42+x'], ['"echo":"[redacted]"']],
  ['URL userinfo', 'posting to https://bridge:hunter2@jims.example/api failed', ['hunter2', 'bridge:'], ['https://***@jims.example/api']],
  ['nothing secret stays as it is', '{"error":"invalid_request","detail":"events[0].ip: not an IP"}', [], ['{"error":"invalid_request","detail":"events[0].ip: not an IP"}']],
];

for (const [name, input, gone, kept] of cases) {
  test(`redactSecrets: ${name}`, (t) => {
    const out = redactSecrets(input, [TOKEN, SECRET]);
    for (const g of gone) t.false(out.includes(g), `"${g}" still in ${out}`);
    for (const k of kept) t.true(out.includes(k), `"${k}" missing from ${out}`);
    t.is(redactSecrets(out, [TOKEN, SECRET]), out, 'idempotent');
  });
}

test('redactSecrets: a JSON body stays valid JSON', (t) => {
  for (const input of ['{"access_token":"a","n":[1,2]}', '{"password": 12, "ok": true}', `{"detail":"bearer ${TOKEN}"}`, `{"d":"x\\u00${TOKEN.charCodeAt(0).toString(16)}${TOKEN.slice(1)}"}`]) {
    const out = redactSecrets(input, [TOKEN]);
    t.notThrows(() => JSON.parse(out), out);
    t.false(out.includes(TOKEN.slice(1)), out);
  }
});

test('redactSecrets: a literal is matched case-sensitively and empty literals are ignored', (t) => {
  t.is(redactSecrets('abcDEF abcdef', ['abcDEF', '', undefined]), `${REDACTED} abcdef`);
  t.is(redactSecrets('plain text', []), 'plain text');
});

test('redactSecrets: crafted input costs linear time', (t) => {
  const inputs = [
    'a-'.repeat(200_000),
    '"token":"'.repeat(20_000),
    `${'bearer '.repeat(20_000)}${'+'.repeat(50_000)}`,
    'Authorization:'.repeat(20_000),
    'x://'.repeat(50_000),
    '\\u0074'.repeat(50_000),
    '['.repeat(100_000),
  ];
  for (const input of inputs) {
    const started = performance.now();
    redactSecrets(input, [TOKEN, 'tttttttt']);
    t.true(performance.now() - started < 2000, `${input.slice(0, 20)}... took too long`);
  }
});

test('redactSecrets: a text longer than the limit is cut before a delimiter, never inside a secret', (t) => {
  const filler = 'x '.repeat(MAX_REDACT_CHARS / 2 - 8);
  const out = redactSecrets(`${filler}${TOKEN}${TOKEN}`, [TOKEN]);
  t.true(out.length <= MAX_REDACT_CHARS + 3);
  t.false(out.includes(TOKEN.slice(0, 8)));
});

const urls: Array<[string, boolean, string]> = [
  ['https://jims.example:8443/base', false, 'https://jims.example:8443/base'],
  ['https://user:pass@jims.example', true, 'https://***@jims.example/'],
  ['https://user@jims.example', true, 'https://***@jims.example/'],
  ['https:user:pass@jims.example', true, 'https://***@jims.example/'],
  ['https:\\\\user:pass@jims.example', true, 'https://***@jims.example/'],
  ['https://@jims.example', true, 'https://***@jims.example/'],
  ['https://jims.example/?access_token=abc', true, 'https://jims.example/?access_token=[redacted]'],
  ['https://jims.example/?Client_Secret=abc&x=1', true, 'https://jims.example/?Client_Secret=[redacted]&x=1'],
  ['https://jims.example/path?next=a@b', false, 'https://jims.example/path?next=a@b'],
  ['https://jims.example/#@frag', false, 'https://jims.example/#@frag'],
];
for (const [url, has, shown] of urls) {
  test(`hasUrlCredentials / redactUrl: ${url}`, (t) => {
    t.is(hasUrlCredentials(url), has);
    t.is(redactUrl(url), shown);
  });
}
