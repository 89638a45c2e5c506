import test from 'ava';
import { formatListenUrl, parseListenUrl } from '../../src/ingest/listen-url.js';

const good: Array<[string, string, string, number]> = [
  ['udp://0.0.0.0:5514', 'udp', '0.0.0.0', 5514],
  ['tcp://127.0.0.1:0', 'tcp', '127.0.0.1', 0],
  ['tls://[::]:6514', 'tls', '::', 6514],
  ['tcp://[::1]:5514', 'tcp', '::1', 5514],
  ['udp://localhost:514', 'udp', 'localhost', 514],
];
for (const [url, transport, host, port] of good) {
  test(`listen-url: ${url}`, (t) => {
    t.like(parseListenUrl(url), { transport, host, port });
  });
}

const bad = ['http://0.0.0.0:80', 'udp://0.0.0.0', 'tcp://::1:5514', 'tcp://[zz]:5514', 'tcp://0.0.0.0:70000', 'udp//x:1', ''];
for (const url of bad) {
  test(`listen-url rejects ${JSON.stringify(url)}`, (t) => {
    const error = t.throws(() => parseListenUrl(url));
    t.is((error as { code?: string }).code, 'ERR_LISTEN_URL_INVALID');
    t.regex(error!.message, /like udp:\/\/|IPv6|port/);
  });
}

test('listen-url: format brackets IPv6', (t) => {
  t.is(formatListenUrl('tcp', '::1', 5), 'tcp://[::1]:5');
  t.is(formatListenUrl('udp', '127.0.0.1', 5), 'udp://127.0.0.1:5');
});
