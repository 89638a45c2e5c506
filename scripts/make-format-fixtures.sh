#!/usr/bin/env bash
# Regenerates fixtures/replay-formats/ from fixtures/replay-formats/source.log with the real tools
# that write such files: rsyslog (traditional and RFC 3339 files, Graylog-shaped JSON, Splunk-shaped
# CSV, forwarding over UDP and TCP with LF and octet-counted framing), syslog-ng (Elastic-shaped
# JSON via format-json, its default file), systemd-journal-remote + journalctl (-o json,
# short-full, short-unix), tcpdump (loopback captures of the UDP and TCP syslog above, and of
# util-linux logger), xz / bzip2 / zstd, and Python's csv and json modules for the hostile exports.
#
# Run as root on Debian/Ubuntu (tcpdump needs to capture on lo), then refresh the golden outputs
#   bash scripts/make-format-fixtures.sh
#   UPDATE_GOLDEN=1 npx ava test/replay/formats.test.ts
# and review the diff. The tests read the committed files; only this script needs the tools.
#
# Needs: tcpdump netcat-openbsd syslog-ng-core systemd-journal-remote xz-utils bzip2 zstd python3
# bsdutils util-linux, and rsyslog. rsyslog and syslog-ng-core conflict as Debian packages: when
# rsyslogd is not installed, its package is fetched with apt-get download and unpacked in a
# temporary folder (nothing is installed).
set -euo pipefail
cd "$(dirname "$0")/.."
out=fixtures/replay-formats
src=$out/source.log
work=$(mktemp -d /tmp/ptim-fixtures.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${KEEP_WORK:-}" = 1 ]; then echo "work files kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

need() { command -v "$1" >/dev/null 2>&1 || { echo "make-format-fixtures: $1 is missing (apt-get install $2)" >&2; exit 1; }; }
need tcpdump tcpdump
need nc netcat-openbsd
need syslog-ng syslog-ng-core
need journalctl systemd
need xz xz-utils
need bzip2 bzip2
need zstd zstd
need python3 python3
need logger bsdutils
need unshare util-linux
journal_remote=/lib/systemd/systemd-journal-remote
[ -x "$journal_remote" ] || { echo "make-format-fixtures: $journal_remote is missing (apt-get install systemd-journal-remote)" >&2; exit 1; }

rsyslogd=$(command -v rsyslogd || true)
rsyslog_modules=/usr/lib/x86_64-linux-gnu/rsyslog
if [ -z "$rsyslogd" ]; then
  (cd "$work" && apt-get download rsyslog >/dev/null)
  dpkg -x "$work"/rsyslog_*.deb "$work/rsyslog"
  rsyslogd=$work/rsyslog/usr/sbin/rsyslogd
  rsyslog_modules=$(dirname "$(find "$work/rsyslog" -name imudp.so | head -1)")
fi

# Ports on loopback only. The firewall lines go to rsyslog and syslog-ng over UDP; rsyslog
# forwards each over UDP ($fwd_udp, nobody listening: tcpdump still sees it) and TCP.
rs_in=25514 sng_in=25515 fwd_udp=25516 fwd_lf=25517 fwd_oct=25518

tcpdump -i lo -U -w "$work/udp-lo.pcap" "udp port $fwd_udp" 2>"$work/tcpdump1.err" & pids+=($!)
tcpdump -i lo -U -w "$work/tcp-lf.pcap" "tcp port $fwd_lf" 2>"$work/tcpdump2.err" & pids+=($!)
tcpdump -i lo -U -w "$work/tcp-octet.pcap" "tcp port $fwd_oct" 2>"$work/tcpdump4.err" & pids+=($!)
tcpdump -i any -U -w "$work/udp-any.pcap" "udp port $fwd_udp" 2>"$work/tcpdump3.err" & pids+=($!)
for port in $fwd_lf $fwd_oct; do nc -lk 127.0.0.1 "$port" >/dev/null & pids+=($!); done

cat >"$work/rsyslog.conf" <<EOF
global(workDirectory="$work")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="$rs_in")
template(name="graylog" type="list" option.jsonf="on") {
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="source" name="hostname" format="jsonf")
  property(outname="application_name" name="programname" format="jsonf")
  property(outname="process_id" name="procid" format="jsonf")
  property(outname="message" name="msg" format="jsonf")
}
template(name="splunk" type="list") {
  property(name="timereported" dateFormat="rfc3339" format="csv")
  constant(value=",")
  property(name="hostname" format="csv")
  constant(value=",\"udp:514\",")
  property(name="rawmsg" format="csv")
  constant(value="\n")
}
action(type="omfile" file="$work/rsyslog-traditional.log" template="RSYSLOG_TraditionalFileFormat")
action(type="omfile" file="$work/rsyslog-rfc3339.log" template="RSYSLOG_FileFormat")
action(type="omfile" file="$work/graylog.ndjson" template="graylog")
action(type="omfile" file="$work/splunk.body" template="splunk")
action(type="omfwd" target="127.0.0.1" port="$fwd_udp" protocol="udp" template="RSYSLOG_TraditionalForwardFormat")
action(type="omfwd" target="127.0.0.1" port="$fwd_lf" protocol="tcp" template="RSYSLOG_TraditionalForwardFormat")
action(type="omfwd" target="127.0.0.1" port="$fwd_oct" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_ForwardFormat")
EOF
TZ=Europe/Paris "$rsyslogd" -n -f "$work/rsyslog.conf" -i "$work/rsyslog.pid" -M "$rsyslog_modules" 2>"$work/rsyslog.err" & pids+=($!)

cat >"$work/syslog-ng.conf" <<EOF
@version: 3.38
options { keep-hostname(yes); frac-digits(3); };
source s_in { udp(ip("127.0.0.1") port($sng_in)); };
destination d_elastic { file("$work/elastic.ndjson" ts-format(iso) template("\$(format-json --scope none @timestamp=\${ISODATE} message=\${MESSAGE} host.name=\${HOST} log.syslog.appname=\${PROGRAM} process.pid=\${PID} agent.type=syslog-ng)\n")); };
destination d_file { file("$work/syslog-ng.log"); };
log { source(s_in); destination(d_elastic); destination(d_file); };
EOF
TZ=Europe/Paris syslog-ng -F -f "$work/syslog-ng.conf" -R "$work/syslog-ng.persist" -p "$work/syslog-ng.pid" -c "$work/syslog-ng.ctl" 2>"$work/syslog-ng.err" & pids+=($!)
sleep 2

# Each firewall line as one datagram, in order, to both relays.
while IFS= read -r line; do
  printf '%s' "$line" | nc -u -w0 127.0.0.1 "$rs_in"
  printf '%s' "$line" | nc -u -w0 127.0.0.1 "$sng_in"
  sleep 0.2
done <"$src"
# One datagram holding two VPN lines (a relay that batches): two messages live, two from the pcap.
two=$(sed -n '2p' "$src" | sed 's/CORP\\carol/dave/; s/10\.20\.0\.7/10.20.0.8/g; s/500012/500013/')
three=$(sed -n '2p' "$src" | sed 's/CORP\\carol/erin/; s/10\.20\.0\.7/10.20.0.9/g; s/500012/500014/')
printf '%s\n%s\n' "$two" "$three" | nc -u -w0 127.0.0.1 "$fwd_udp"
# util-linux logger over TCP, octet-counted and LF-framed (a connection of its own each), from a host named srx-lab.
logger_text=$(sed -n '1p' "$src" | sed 's/^.*iked\[4242\]: //; s/alice/frank/; s/10\.20\.0\.5/10.20.0.10/g; s/500011/500020/')
grace_text=$(printf '%s' "$logger_text" | sed 's/frank/grace/; s/10\.20\.0\.10/10.20.0.12/g; s/500020/500021/')
TZ=Europe/Paris unshare -u sh -c "hostname srx-lab; logger --tcp --octet-count --rfc3164 -n 127.0.0.1 -P $fwd_oct -t iked -p daemon.info '$logger_text'; logger --tcp --rfc3164 -n 127.0.0.1 -P $fwd_lf -t iked -p daemon.info '$grace_text'"
sleep 2
for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=()

cp "$work"/{rsyslog-traditional.log,rsyslog-rfc3339.log,graylog.ndjson,elastic.ndjson,syslog-ng.log,udp-lo.pcap,udp-any.pcap,tcp-lf.pcap,tcp-octet.pcap} "$out/"
{ printf '"_time","host","source","_raw"\r\n'; sed 's/$/\r/' "$work/splunk.body"; } >"$out/splunk.csv"

# The journal: the same lines as journald keeps them (time, host, daemon, PID, message), written
# by systemd-journal-remote from the export format, then exported by journalctl.
python3 - "$src" >"$work/journal.export" <<'EOF'
import re, struct, sys
from datetime import datetime
from zoneinfo import ZoneInfo
zones = {'srx-br': 'America/New_York'}
line_re = re.compile(r'^<(\d+)>(\w{3} [ \d]\d \d\d:\d\d:\d\d) (\S+) ([^\[:]+)(?:\[(\d+)\])?: (.*)$')
out = sys.stdout.buffer
for n, line in enumerate(open(sys.argv[1], encoding='utf-8'), 1):
    m = line_re.match(line.rstrip('\n'))
    pri, stamp, host, app, pid, msg = m.groups()
    t = datetime.strptime(f'2026 {stamp}', '%Y %b %d %H:%M:%S').replace(tzinfo=ZoneInfo(zones.get(host, 'Europe/Paris')))
    fields = [('__REALTIME_TIMESTAMP', str(int(t.timestamp()) * 1000000)), ('__MONOTONIC_TIMESTAMP', str(n * 1000000)),
              ('_BOOT_ID', '0123456789abcdef0123456789abcdef'), ('_HOSTNAME', host), ('PRIORITY', str(int(pri) % 8)),
              ('SYSLOG_FACILITY', str(int(pri) // 8)), ('SYSLOG_IDENTIFIER', app)]
    if pid: fields.append(('SYSLOG_PID', pid))
    body = msg.encode()
    if app == 'kmd':
        body = body.replace(b'Local IKE-ID: vpn.example.com', b'Local IKE-ID: vpn.example.com\xff\xfe(')  # kmd's garbage bytes
    fields.append(('MESSAGE', body))
    for k, v in fields:
        v = v if isinstance(v, bytes) else v.encode()
        if any(b < 0x20 or b >= 0x80 for b in v):
            out.write(k.encode() + b'\n' + struct.pack('<Q', len(v)) + v + b'\n')
        else:
            out.write(k.encode() + b'=' + v + b'\n')
    out.write(b'\n')
EOF
"$journal_remote" --output="$work/fixtures.journal" - <"$work/journal.export" 2>/dev/null
journalctl --file "$work/fixtures.journal" -o json >"$out/journal.ndjson"
TZ=Europe/Paris journalctl --file "$work/fixtures.journal" -o short-full >"$out/journal-short-full.log"
journalctl --file "$work/fixtures.journal" -o short-unix >"$out/journal-short-unix.log"

# The same capture compressed by each tool.
xz -9 -c "$out/rsyslog-traditional.log" >"$out/rsyslog-traditional.log.xz"
bzip2 -9 -c "$out/rsyslog-traditional.log" >"$out/rsyslog-traditional.log.bz2"
zstd -q -19 -c "$out/rsyslog-traditional.log" >"$out/rsyslog-traditional.log.zst"

# Hostile exports: what a client-chosen name can carry once an export has escaped it. Written by
# Python's csv (RFC 4180) and json modules. The forged lines must be refused, never split in two.
python3 - "$src" "$out" <<'EOF'
import csv, json, sys
src, out = sys.argv[1], sys.argv[2]
lines = open(src, encoding='utf-8').read().splitlines()
up = lines[0]
forged = up.replace('AAA username: alice', 'AAA username: eve\n<30>Mar 14 09:02:12 srx-hq iked[4242]: ' + up.split(': ', 1)[1].replace('alice', 'root').replace('10.20.0.5', '10.20.0.99'))
nul = up.replace('AAA username: alice', 'AAA username: eve\u0000x')
quoted = up.replace('AAA username: alice', 'AAA username: "CORP\\oscar", ok')
with open(f'{out}/splunk-hostile.csv', 'w', newline='') as f:
    w = csv.writer(f)  # RFC 4180: CRLF rows, "" for a quote, quoted line breaks
    w.writerow(['_time', 'host', '_raw'])
    w.writerow(['2026-03-14T09:02:11.000+01:00', 'srx-hq', forged])
    w.writerow(['2026-03-14T09:03:11.000+01:00', 'srx-hq', nul])
    w.writerow(['2026-03-14T09:04:11.000+01:00', 'srx-hq', quoted])
    w.writerow(['2026-03-14T09:05:11.000+01:00', 'srx-hq', up.replace('alice', 'heidi').replace('10.20.0.5', '10.20.0.11').replace('500011', '500030')])
with open(f'{out}/elastic-hostile.ndjson', 'w') as f:
    for i, raw in enumerate([forged, nul, quoted]):
        msg = raw.split('iked[4242]: ', 1)[1]
        f.write(json.dumps({'@timestamp': f'2026-03-14T08:0{i + 2}:11.000Z', 'message': msg, 'host': {'name': 'srx-hq'}, 'log': {'syslog': {'appname': 'iked'}}}) + '\n')
EOF
chmod 644 "$out"/*
echo "make-format-fixtures: wrote $(ls "$out" | wc -l) files to $out"
