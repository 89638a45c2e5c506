import test from 'ava';
import { parseSetLines } from '../../src/junos/set-lines.js';

const cases: Array<{ name: string; text: string; statements: Array<[number, string, string[]]>; skipped?: Array<[number, RegExp]>; curly?: number }> = [
  {
    name: 'a plain set line: verb, words, line number',
    text: 'set security ipsec vpn ra-vpn ike gateway ra-gw',
    statements: [[1, 'set', ['security', 'ipsec', 'vpn', 'ra-vpn', 'ike', 'gateway', 'ra-gw']]],
  },
  {
    name: 'quoted values: spaces, escaped quotes and backslashes; other backslashes stay',
    text: [
      'set security ike gateway g dynamic user-at-hostname "@ra.auth"',
      'set system login message "Authorized \\"staff\\" only \\\\ here"',
      'set security policies from-zone a to-zone b policy p match source-identity "corp\\vpn-users"',
    ].join('\n'),
    statements: [
      [1, 'set', ['security', 'ike', 'gateway', 'g', 'dynamic', 'user-at-hostname', '@ra.auth']],
      [2, 'set', ['system', 'login', 'message', 'Authorized "staff" only \\ here']],
      [3, 'set', ['security', 'policies', 'from-zone', 'a', 'to-zone', 'b', 'policy', 'p', 'match', 'source-identity', 'corp\\vpn-users']],
    ],
  },
  {
    name: 'a leaf list [ a b ] becomes one statement per value, on the same line',
    text: '\nset security ipsec policy pol proposals [ p1 p2 ]\nset apply-groups [ "${node}" common ]',
    statements: [
      [2, 'set', ['security', 'ipsec', 'policy', 'pol', 'proposals', 'p1']],
      [2, 'set', ['security', 'ipsec', 'policy', 'pol', 'proposals', 'p2']],
      [3, 'set', ['apply-groups', '${node}']],
      [3, 'set', ['apply-groups', 'common']],
    ],
  },
  {
    name: 'a trailing ## SECRET-DATA is not a word',
    text: 'set security ike policy p pre-shared-key ascii-text "$9$abc" ## SECRET-DATA',
    statements: [[1, 'set', ['security', 'ike', 'policy', 'p', 'pre-shared-key', 'ascii-text', '$9$abc']]],
  },
  {
    name: 'prompt, banners, comments and blank lines are skipped silently; CRLF and a BOM are fine',
    text: '\uFEFF{primary:node0}\r\nadmin@srx-hq> show configuration | display set | no-more\r\n## Last commit: 2026-03-01 10:12:44 CET by admin\r\n# a note\r\n[edit]\r\n\r\nset system host-name srx-hq\r\n',
    statements: [[7, 'set', ['system', 'host-name', 'srx-hq']]],
  },
  {
    name: 'deactivate (and protect) are statements with their own verb',
    text: 'set security remote-access profile old ipsec-vpn v\ndeactivate security remote-access profile old\nprotect system',
    statements: [
      [1, 'set', ['security', 'remote-access', 'profile', 'old', 'ipsec-vpn', 'v']],
      [2, 'deactivate', ['security', 'remote-access', 'profile', 'old']],
      [3, 'protect', ['system']],
    ],
  },
  {
    name: 'the curly-brace form is counted and skipped',
    text: 'security {\n    ike {\n        gateway g {\n            address 192.0.2.1;\n        }\n    }\n}',
    statements: [],
    skipped: [[1, /curly-brace/], [2, /curly-brace/], [3, /curly-brace/], [4, /curly-brace/], [5, /curly-brace/], [6, /curly-brace/], [7, /curly-brace/]],
    curly: 7,
  },
  {
    name: 'what cannot be read is skipped with the reason',
    text: 'set system host-name "srx\nshow security ike sa\nset\n"set" system host-name x',
    statements: [],
    skipped: [[1, /unterminated/], [2, /not a set statement/], [3, /without a path/], [4, /not a set statement/]],
  },
];

for (const c of cases) {
  test(`parseSetLines: ${c.name}`, (t) => {
    const parsed = parseSetLines(c.text);
    t.deepEqual(parsed.statements.map((s) => [s.line, s.verb, [...s.words]]), c.statements);
    t.is(parsed.skipped.length, c.skipped?.length ?? 0, JSON.stringify(parsed.skipped));
    (c.skipped ?? []).forEach(([line, reason], i) => {
      t.is(parsed.skipped[i]?.line, line);
      t.regex(parsed.skipped[i]?.reason ?? '', reason);
    });
    t.is(parsed.curlyLines, c.curly ?? 0);
  });
}
