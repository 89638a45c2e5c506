import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import type { Registry } from 'prom-client';
import { parse as parseYaml } from 'yaml';
import { startBridge } from '../../src/bridge.js';
import { validateConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { createRegistry } from '../../src/ops/metrics.js';
import { CLIENT_ID, SECRET, startSim } from '../bridge/bridge-process.js';
import { repoRoot } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * deploy/prometheus/ptim-bridge.rules.yml and deploy/grafana/ptim-bridge.dashboard.json speak only of
 * metrics a delivering bridge really serves, with labels those metrics have; promtool accepts the
 * rules and its unit tests (test/deploy/ptim-bridge.rules.test.yml) show the main alerts fire.
 */

const RULES = join(repoRoot, 'deploy', 'prometheus', 'ptim-bridge.rules.yml');
const RULE_TESTS = join(repoRoot, 'test', 'deploy', 'ptim-bridge.rules.test.yml');
const DASHBOARD = join(repoRoot, 'deploy', 'grafana', 'ptim-bridge.dashboard.json');
/** Labels Prometheus itself adds (target labels, histogram buckets), and its own per-target series. */
const TARGET_LABELS = new Set(['instance', 'job', 'le']);
const PROMETHEUS_SERIES = new Set(['up']);

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: { summary: string; description: string };
}
const rules = (parseYaml(readFileSync(RULES, 'utf8')) as { groups: Array<{ name: string; rules: Rule[] }> }).groups.flatMap((g) => g.rules);

interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type: string; uid: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Array<{ expr: string; refId: string; datasource?: { uid: string } }>;
}
const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
  title: string;
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query: unknown; definition?: string }> };
};

const hasPromtool = spawnSync('promtool', ['--version']).error === undefined;
const skipReason = hasPromtool ? '' : ' (skipped: promtool is not installed here; .ci/run installs Debian\'s prometheus package)';

(hasPromtool ? test : test.skip)(`promtool check rules accepts the alert rules${skipReason}`, (t) => {
  const r = spawnSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
  t.is(r.status, 0, r.stdout + r.stderr);
  t.regex(r.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
});

(hasPromtool ? test : test.skip)(`promtool test rules: the main alerts fire on their series and stay quiet on healthy ones${skipReason}`, (t) => {
  const r = spawnSync('promtool', ['test', 'rules', RULE_TESTS], { encoding: 'utf8' });
  t.is(r.status, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /SUCCESS/);
});

(hasPromtool ? test : test.skip)(`promtool check rules refuses a broken expression (the check can fail)${skipReason}`, (t) => {
  const file = join(tempDir(t), 'broken.rules.yml');
  writeFileSync(file, readFileSync(RULES, 'utf8').replace('ptim_bridge_outbox_dead_letters > 0', 'ptim_bridge_outbox_dead_letters >'));
  const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
  t.not(r.status, 0);
});

test('every rule has a severity, a summary and a description; alert names are unique', (t) => {
  t.true(rules.length > 0);
  for (const rule of rules) {
    t.true(['critical', 'warning', 'info'].includes(rule.labels.severity), rule.alert);
    t.truthy(rule.annotations.summary, rule.alert);
    t.truthy(rule.annotations.description, rule.alert);
  }
  t.is(new Set(rules.map((r) => r.alert)).size, rules.length);
});

/** Metric names and label names a real delivering bridge registers, and the names its /metrics serves. */
async function shippedMetrics(t: ExecutionContext): Promise<{ labels: Map<string, Set<string>>; served: string }> {
  const dir = tempDir(t);
  const { sim, caFile } = await startSim(t, dir);
  const secretFile = join(dir, 'secret');
  writeFileSync(secretFile, SECRET);
  // As `run` builds it: default process metrics included.
  const registry: Registry = createRegistry({ defaults: true });
  const bridge = await startBridge({
    config: validateConfig({
      listen: ['tcp://127.0.0.1:0', 'udp://127.0.0.1:0'],
      senders: { allow: ['127.0.0.1/32'] },
      metrics: { listen: '127.0.0.1:0' },
      sessions: { state: join(dir, 'state.db') },
      jims: { url: sim.url, clientId: CLIENT_ID, clientSecret: `file:${secretFile}`, ca: caFile },
      log: { level: 'silent' },
    }),
    log: silentLogger(),
    registry,
    state: join(dir, 'state.db'),
  });
  t.teardown(() => bridge.close());
  const labels = new Map<string, Set<string>>();
  for (const metric of registry.getMetricsAsArray() as unknown as Array<{ name: string; labelNames?: string[] }>) {
    labels.set(metric.name, new Set(metric.labelNames ?? []));
  }
  const served = await (await fetch(bridge.metricsUrl!)).text();
  return { labels, served };
}

/** The registered metric an expression's series name refers to (histogram series by their base name). */
function baseName(series: string, labels: Map<string, Set<string>>): string | undefined {
  if (labels.has(series)) return series;
  const base = series.replace(/_(bucket|sum|count)$/, '');
  return labels.has(base) ? base : undefined;
}

/** Problems with one PromQL expression: unknown series, unknown label names in matchers, groupings or templates. */
function checkExpr(expr: string, labels: Map<string, Set<string>>, where: string, templateLabels: string[] = []): string[] {
  const problems: string[] = [];
  // Strip $__rate_interval and friends, label values in quotes and function names' arguments stay.
  const text = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const series = [...new Set(text.match(/\b(ptim_bridge_[a-z0-9_]+|up)\b(?!\s*\()/g) ?? [])];
  if (series.length === 0) problems.push(`${where}: no metric in ${JSON.stringify(expr)}`);
  const known = new Set<string>(TARGET_LABELS);
  for (const s of series) {
    if (PROMETHEUS_SERIES.has(s)) continue;
    const base = baseName(s, labels);
    if (base === undefined) {
      problems.push(`${where}: ${s} is not a metric the bridge serves`);
      continue;
    }
    for (const l of labels.get(base)!) known.add(l);
  }
  for (const m of text.matchAll(/\b(ptim_bridge_[a-z0-9_]+|up)\{([^}]*)\}/g)) {
    const base = PROMETHEUS_SERIES.has(m[1]!) ? undefined : baseName(m[1]!, labels);
    const own = new Set([...TARGET_LABELS, ...(base ? labels.get(base)! : [])]);
    for (const l of m[2]!.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)) {
      if (!own.has(l[1]!)) problems.push(`${where}: ${m[1]} has no label ${l[1]}`);
    }
  }
  for (const g of text.matchAll(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g)) {
    for (const l of g[1]!.split(',').map((s) => s.trim()).filter(Boolean)) {
      if (!known.has(l)) problems.push(`${where}: groups by ${l}, a label none of its metrics has`);
    }
  }
  for (const l of templateLabels) if (!known.has(l)) problems.push(`${where}: template uses $labels.${l}, a label none of its metrics has`);
  return problems;
}

test('the rules and the dashboard use only metrics and labels the bridge serves', async (t) => {
  const { labels, served } = await shippedMetrics(t);
  const problems: string[] = [];
  for (const rule of rules) {
    const templates = [...`${rule.annotations.summary} ${rule.annotations.description}`.matchAll(/\$labels\.(\w+)/g)].map((m) => m[1]!);
    problems.push(...checkExpr(rule.expr, labels, `rule ${rule.alert}`, templates));
  }
  for (const panel of dashboard.panels) {
    for (const target of panel.targets ?? []) problems.push(...checkExpr(target.expr, labels, `panel "${panel.title}" ${target.refId}`));
  }
  for (const variable of dashboard.templating.list.filter((v) => v.type === 'query')) problems.push(...checkExpr(variable.definition ?? '', labels, `variable ${variable.name}`));
  t.deepEqual(problems, []);

  // And over HTTP, as Prometheus sees them: every metric referenced is in the exposition.
  const exposed = new Set([...served.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
  const referenced = new Set([...rules.map((r) => r.expr), ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((x) => x.expr))].flatMap((e) => e.match(/\bptim_bridge_[a-z0-9_]+/g) ?? []).map((s) => baseName(s, labels) ?? s));
  t.deepEqual([...referenced].filter((name) => !exposed.has(name)), []);
});

test('the metric check can fail: a misspelt metric and a label it lacks are reported', async (t) => {
  const { labels } = await shippedMetrics(t);
  t.deepEqual(checkExpr('rate(ptim_bridge_outbox_backlogg[5m])', labels, 'x'), ['x: ptim_bridge_outbox_backlogg is not a metric the bridge serves']);
  t.deepEqual(checkExpr('sum by (outcome) (ptim_bridge_outbox_backlog{reason="x"})', labels, 'x'), ['x: ptim_bridge_outbox_backlog has no label reason', 'x: groups by outcome, a label none of its metrics has']);
});

test('the dashboard is well-formed: unique ids, a Prometheus datasource variable, panels inside the grid and not overlapping', (t) => {
  t.is(dashboard.uid, 'ptim-bridge');
  t.truthy(dashboard.title);
  t.true(Number.isInteger(dashboard.schemaVersion) && dashboard.schemaVersion >= 36);
  const ds = dashboard.templating.list.find((v) => v.type === 'datasource');
  t.is(ds?.query, 'prometheus');
  const ids = dashboard.panels.map((p) => p.id);
  t.is(new Set(ids).size, ids.length, 'panel ids are unique');
  const boxes = dashboard.panels.map((p) => ({ title: p.title, ...p.gridPos }));
  for (const b of boxes) t.true(b.x >= 0 && b.w > 0 && b.x + b.w <= 24 && b.h > 0 && b.y >= 0, `${b.title} inside the 24-column grid`);
  for (const [i, a] of boxes.entries()) {
    for (const b of boxes.slice(i + 1)) {
      const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
      t.false(overlap, `${a.title} and ${b.title} overlap`);
    }
  }
  for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
    t.is(panel.datasource?.uid, '${datasource}', `${panel.title} uses the datasource variable`);
    t.true((panel.targets ?? []).length > 0, `${panel.title} has queries`);
    const refIds = panel.targets!.map((x) => x.refId);
    t.is(new Set(refIds).size, refIds.length, `${panel.title}: unique refIds`);
    t.truthy(panel.description, `${panel.title} says what it shows`);
  }
});

test('alerts named in the dashboard exist in the rules', (t) => {
  const names = new Set(rules.map((r) => r.alert));
  const named = dashboard.panels.flatMap((p) => p.description?.match(/PtimBridge[A-Za-z]+/g) ?? []);
  t.true(named.length > 0);
  t.deepEqual(named.filter((n) => !names.has(n)), []);
});
