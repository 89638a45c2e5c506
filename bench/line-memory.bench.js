// The session table's bounded memories under a flood of distinct lines (issue 8's duplicate memory,
// the tombstones of ended sessions), from the compiled dist/: cost per line once each is full and
// forgets its oldest entry for every new one. Until the fix this grew with every line past the cap
// (a Map used as a queue walked its deleted slots): 200,000 lines past the duplicate memory's cap
// took 7 s, 35 us a line. Run: npm run build && node bench/line-memory.bench.js
import { MAX_RECENT_LINES, RecentLines } from '../dist/events/line-checks.js';
import { MAX_TOMBSTONES, Tombstones } from '../dist/events/tombstones.js';

const PAST = Number(process.env.BENCH_PAST_CAP ?? 200_000);

const recent = new RecentLines(1e12);
for (let i = 0; i < MAX_RECENT_LINES; i++) recent.seen('', `line ${i}`, i, 1e12);
let t0 = performance.now();
for (let i = MAX_RECENT_LINES; i < MAX_RECENT_LINES + PAST; i++) recent.seen('', `line ${i}`, i, 1e12);
const recentUs = ((performance.now() - t0) * 1000) / PAST;

const tombs = new Tombstones(() => 0);
tombs.retentionMs = 1e15;
for (let i = 0; i < MAX_TOMBSTONES; i++) tombs.set(`srx\u000010.0.${i}`, i);
t0 = performance.now();
for (let i = 0; i < PAST; i++) tombs.set(`srx\u000010.1.${i}`, i);
const tombUs = ((performance.now() - t0) * 1000) / PAST;

process.stdout.write(`duplicate-memory-past-cap: ${recentUs.toFixed(2)} us/line\n`);
process.stdout.write(`tombstones-past-cap: ${tombUs.toFixed(2)} us/end\n`);
process.stdout.write(`# line-memory: ${PAST.toLocaleString('en-US')} distinct lines past each cap (duplicate memory ${MAX_RECENT_LINES.toLocaleString('en-US')}, tombstones ${MAX_TOMBSTONES.toLocaleString('en-US')}), oldest forgotten first\n`);
