import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { HeraldProcess } from '../helpers/process';

async function notify(url: string, appId: string, pushkey: string): Promise<{ status: number; body: { rejected: string[] } }> {
  const response = await fetch(`${url}/_matrix/push/v1/notify`, {
    method: 'POST',
    body: JSON.stringify({ notification: { devices: [{ app_id: appId, pushkey }] } }),
  });
  return { status: response.status, body: (await response.json()) as { rejected: string[] } };
}

describe('reload on SIGHUP', () => {
  let herald: HeraldProcess | undefined;
  afterEach(async () => {
    await herald?.stop();
  });

  it('applies added, changed and removed apps, and refuses an invalid file keeping the old config', async () => {
    herald = HeraldProcess.withConfig('http: {port: 0}\napps:\n  com.example.a: {type: noop}\n  com.example.b: {type: noop}\n');
    const file = herald.configFile as string;
    const url = await herald.url();
    assert.deepEqual((await notify(url, 'com.example.a', 'k1')).body.rejected, []);
    assert.deepEqual((await notify(url, 'com.example.c', 'k2')).body.rejected, ['k2']);

    // a removed, b changed (now rejects k3), c added
    writeFileSync(file, 'http: {port: 0}\napps:\n  com.example.b: {type: noop, reject_pushkeys: [k3]}\n  com.example.c: {type: noop}\n');
    let mark = herald.lines.length;
    herald.signal('SIGHUP');
    await herald.waitFor('configuration reloaded', mark);
    assert.deepEqual((await notify(url, 'com.example.a', 'k1')).body.rejected, ['k1']);
    assert.deepEqual((await notify(url, 'com.example.b', 'k3')).body.rejected, ['k3']);
    assert.deepEqual((await notify(url, 'com.example.c', 'k2')).body.rejected, []);

    writeFileSync(file, 'apps:\n  com.example.d: {type: not-a-type}\n');
    mark = herald.lines.length;
    herald.signal('SIGHUP');
    const refused = await herald.waitFor(/new configuration refused/, mark);
    assert.match(JSON.stringify(refused.problems), /apps\.\\"com\.example\.d\\"\.type: unknown pushkin type/);
    assert.deepEqual((await notify(url, 'com.example.c', 'k2')).body.rejected, []);
  });
});
