import test from 'ava';
import { BridgeError, ERROR_CODES, exitStatusFor, type ErrorCode } from '../src/errors.js';

// The CLI's exit statuses as they were before the table existed: what the operator must fix
// before retrying exits 2, a failure at run time 1. The table must keep that promise.
const exitsTwo: ErrorCode[] = ['ERR_CONFIG_INVALID', 'ERR_PATTERN_INVALID', 'ERR_USAGE', 'ERR_LISTEN_URL_INVALID', 'ERR_JUNOS_CONFIG'];

for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
  test(`exit status of ${code}`, (t) => {
    t.is(exitStatusFor(code), exitsTwo.includes(code) ? 2 : 1);
  });
}

test('a code that never ends a command (handled per connection) still exits 1 if one reaches the CLI', (t) => {
  t.is(ERROR_CODES.ERR_FRAME_TOO_LONG.exit, null);
  t.is(exitStatusFor('ERR_FRAME_TOO_LONG'), 1);
});

test('every code says what it means and what to do next, on one line', (t) => {
  for (const [code, info] of Object.entries(ERROR_CODES)) {
    t.regex(code, /^ERR_[A-Z_]+$/);
    for (const text of [info.meaning, info.next]) {
      t.true(text.trim().length > 0, code);
      t.false(text.includes('\n'), code);
    }
  }
});

test('BridgeError carries its code', (t) => {
  const error = new BridgeError('ERR_STATE_LOCKED', 'held');
  t.is(error.code, 'ERR_STATE_LOCKED');
  t.is(exitStatusFor(error.code), 1);
});
