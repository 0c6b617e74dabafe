import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApnsHarness, APP as APNS_APP, device as apnsDevice } from '../helpers/apns-harness';
import type { ApnsMock } from '../upstreams/apns-mock';
import { FcmMock, testKeys } from '../upstreams/fcm-mock';
import { OVERSIZE_DISCARD_BYTES } from '../../src/http/body-limit';
import { createLogger } from '../../src/util/log';
import { CapturedLogs, startGateway, type RunningGateway } from '../helpers/gateway';
import { assertUpstreamNotifyResponse } from '../helpers/upstream-schema';

/**
 * A seeded, deterministic fuzzer for the notify endpoint: real homeserver bodies
 * (test/fixtures/homeserver-samples/) mutated at every path, and at the level of the JSON
 * text, sent to a real gateway with APNs, FCM and noop apps behind it. Replay a failing
 * run with HERALD_FUZZ_SEED=<seed> (printed on failure); HERALD_FUZZ_CASES sets how many.
 */

const NOTIFY = '/_matrix/push/v1/notify';
const FCM_APP = 'com.example.android';
const NOOP_APP = 'com.example.noop';
const MAX_BODY_BYTES = 512 * 1024;
const SEED = Number(process.env.HERALD_FUZZ_SEED ?? 20261202);
const CASES = Number(process.env.HERALD_FUZZ_CASES ?? 2000);

/** mulberry32: small, fast and good enough to pick mutations reproducibly. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Path = Array<string | number>;

class Fuzzer {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = random(seed);
  }

  int(max: number): number {
    return Math.floor(this.next() * max);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  /** Values of every JSON type, the awkward ones first in mind. */
  value(depth = 0): Json {
    const scalars: Json[] = [
      null, true, false, 0, -0, -1, 1.5, 2 ** 31, 2 ** 53, -(2 ** 53), 1e300, '', ' ', 'x'.repeat(5_000),
      '\u0000', '\ud800', '💥'.repeat(300), '$event:example.org', '{"a":1}', 'm.room.message', 'high', 'low',
    ];
    const kind = this.int(depth > 2 ? 1 : 4);
    if (kind === 0) return this.pick(scalars);
    if (kind === 1) return Array.from({ length: this.int(4) }, () => this.value(depth + 1));
    if (kind === 2) return Object.fromEntries(Array.from({ length: this.int(4) }, (_, i) => [this.pick(['a', '__proto__', 'aps', 'body', `k${i}`]), this.value(depth + 1)]));
    // Deep nesting is written into the text after serialisation (see DEEP), as
    // JSON.stringify and structuredClone would overflow the stack on it here.
    return `${DEEP}${this.pick([33, 1_000, 20_000])}`;
  }
}

/** A placeholder string for JSON nested N levels: `"<DEEP>N"` in the text becomes `[[…1…]]`. */
const DEEP = '\u0001deep:';

function expandDeep(text: string): string {
  return text.replace(/"\\u0001deep:(\d+)"/g, (_, levels: string) => `${'['.repeat(Number(levels))}1${']'.repeat(Number(levels))}`);
}

/** Every path in `value` down to 8 levels, the root included (iterative: values may be wide). */
function paths(value: Json): Path[] {
  const found: Path[] = [];
  const stack: Array<[Json, Path]> = [[value, []]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [node, path] = item;
    found.push(path);
    if (node === null || typeof node !== 'object' || path.length >= 8) continue;
    for (const [key, child] of Object.entries(node)) stack.push([child, [...path, Array.isArray(node) ? Number(key) : key]]);
  }
  return found;
}

function parentOf(root: Json, path: Path): Json | undefined {
  let node: Json | undefined = root;
  for (const part of path.slice(0, -1)) node = node !== null && typeof node === 'object' ? (node as Record<string, Json>)[part] : undefined;
  return node;
}

/** One mutated request body, as text. */
function mutate(f: Fuzzer, sample: Json): string {
  const body = structuredClone(sample);
  // Point the sample's one device at one of our apps, with a pushkey that app accepts.
  const notification = (body as { notification: { devices: Array<Record<string, Json>> } }).notification;
  const target = f.pick([APNS_APP, FCM_APP, NOOP_APP]);
  for (const d of notification.devices) {
    d.app_id = target;
    d.pushkey = target === APNS_APP ? apnsDevice(`fuzz-${f.int(50)}`).pushkey : `fuzz-${f.int(50)}`;
  }
  const mutations = 1 + f.int(3);
  for (let m = 0; m < mutations; m++) {
    const all = paths(body);
    const path = f.pick(all);
    const parent = parentOf(body, path);
    const key = path[path.length - 1];
    const op = f.int(6);
    if (path.length === 0 || parent === null || typeof parent !== 'object' || key === undefined) continue;
    const container = parent as Record<string | number, Json>;
    if (op === 0) delete container[key];
    else if (op === 1 && Array.isArray(parent)) parent.push(...Array.from({ length: f.pick([2, 20, 200]) }, () => parent[0] ?? null));
    else if (op === 2) {
      const holder = container[key];
      if (holder !== null && typeof holder === 'object' && !Array.isArray(holder)) holder[f.pick(['unknown', 'default_payload', 'aps', 'format', 'url'])] = f.value();
    } else container[key] = f.value();
  }
  let text = expandDeep(JSON.stringify(body));
  // Text-level mutations: what JSON.stringify cannot write.
  switch (f.int(8)) {
    case 0:
      text = text.replace(/(":)(\d+)/, `$1${f.pick(['1e400', '-1e400', '1e-400', '9007199254740993', '0.0', '-0'])}`);
      break;
    case 1:
      text = text.slice(0, f.int(text.length));
      break;
    case 2: {
      const at = f.int(text.length);
      text = text.slice(0, at) + String.fromCharCode(f.int(128)) + text.slice(at + 1);
      break;
    }
    case 3:
      text = text.replace('{', `{"dup":1,"dup":${f.pick(['2', '"x"', 'null'])},`);
      break;
    default:
      break;
  }
  return text;
}

function samples(): Json[] {
  const dir = join(__dirname, '..', 'fixtures', 'homeserver-samples');
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => (JSON.parse(readFileSync(join(dir, name), 'utf8')) as { body: Json }).body);
}

describe('fuzzing the notify endpoint with mutated homeserver bodies', function () {
  this.timeout(120_000);
  const harness = new ApnsHarness();
  let fcm: FcmMock;
  let apns: ApnsMock;
  let gw: RunningGateway;
  // Warnings and errors only: a debug line per device would be most of the run's work.
  const logs = new CapturedLogs();

  before(async () => {
    testKeys();
    apns = await harness.mock();
    fcm = await FcmMock.start();
    const apps = `apps:\n  ${JSON.stringify(APNS_APP)}: ${JSON.stringify(harness.tokenApp(apns))}\n${fcm.appYaml(FCM_APP)}\n  ${NOOP_APP}:\n    type: noop\n`;
    // Answers are checked here against the spec's schema, and by startGateway against openapi/herald.yaml.
    gw = await startGateway(apps, { http: { notify_deadline_ms: 5_000, max_body_bytes: MAX_BODY_BYTES }, log: createLogger('warn', logs.stream()) });
  });
  after(async () => {
    await gw.close();
    await fcm.close();
    await harness.close();
  });

  it(`${CASES} cases: no 500, Matrix errors naming a field, valid 200s, and the gateway still serves`, async () => {
    const bodies = samples();
    assert.ok(bodies.length >= 5, 'the homeserver samples are in test/fixtures/homeserver-samples/');
    const f = new Fuzzer(SEED);
    const statuses = new Map<number, number>();
    let text = '';
    let linesSeen = 0;
    let index = 0;
    try {
      for (index = 0; index < CASES; index++) {
        text = mutate(f, f.pick(bodies));
        const response = await fetch(gw.url + NOTIFY, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text }).catch((err: unknown) => {
          // Past max_body_bytes and the discard bound, the 413 goes out at once and the
          // connection is closed while the client is still sending: a reset is allowed.
          if (Buffer.byteLength(text) > MAX_BODY_BYTES + OVERSIZE_DISCARD_BYTES) return undefined;
          throw err;
        });
        if (response === undefined) {
          statuses.set(0, (statuses.get(0) ?? 0) + 1);
          continue;
        }
        const answer = await response.text();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        const errors = logs.lines.slice(linesSeen).filter((line) => Number(line.level) >= 50);
        linesSeen = logs.lines.length;
        assert.deepEqual(errors, [], 'nothing is logged at error level (a crash inside the gateway)');
        const json = JSON.parse(answer) as Record<string, unknown>;
        assert.ok(response.status === 200 || response.status === 400 || response.status === 413 || response.status === 502, `status ${response.status}: ${answer}`);
        if (response.status === 200) {
          assertUpstreamNotifyResponse(json);
        } else if (response.status === 502) {
          assert.ok(typeof json.errcode === 'string' && Array.isArray(json.rejected) && Array.isArray(json.devices), answer);
        } else {
          assert.equal(typeof json.errcode, 'string', answer);
          assert.ok(['M_NOT_JSON', 'M_BAD_JSON', 'M_MISSING_PARAM', 'M_TOO_LARGE'].includes(json.errcode as string), answer);
          if (json.errcode === 'M_BAD_JSON' || json.errcode === 'M_MISSING_PARAM') {
            assert.match(String(json.error), /notification|request body/, `the error names a field: ${answer}`);
          }
        }
      }
    } catch (err) {
      console.error(`fuzz failure: seed ${SEED}, case ${index} (replay: HERALD_FUZZ_SEED=${SEED} HERALD_FUZZ_CASES=${index + 1}); body: ${text.slice(0, 2_000)}`);
      throw err;
    }
    // Most cases must get through validation, or the fuzzer only tests the validator.
    assert.ok((statuses.get(200) ?? 0) > CASES / 5, `statuses: ${JSON.stringify([...statuses])}`);
    // Numbers that are not numbers never reach a platform (1e400 once gave "badge": null, "unread": "Infinity").
    assert.ok(apns.requests.length > 0 && fcm.sends.length > 0, 'both platforms were exercised');
    assert.deepEqual(apns.requests.filter((request) => /"badge":null/.test(request.body)).map((request) => request.body), []);
    const fcmValues = fcm.sends.flatMap((send) => Object.values(send.message.data as Record<string, string>));
    assert.deepEqual(fcmValues.filter((value) => /^-?(Infinity|NaN)$/.test(value)), []);
    const good = await fetch(gw.url + NOTIFY, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ notification: { event_id: '$after:x', type: 'm.room.message', devices: [{ app_id: NOOP_APP, pushkey: 'after' }] } }),
    });
    assert.equal(good.status, 200);
    assert.deepEqual(await good.json(), { rejected: [] });
  });
});
