import { writeFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { newVapidKeyPair } from '../pushkins/webpush/vapid';

/**
 * `herald vapid-keys FILE`: makes a VAPID key pair for a webpush app, writes the private
 * key to FILE (PEM, readable by its owner only; an existing file is never overwritten)
 * and prints the public key, which the web app passes to `pushManager.subscribe()`.
 */
export function vapidKeys(file: string, out: Writable, err: Writable): number {
  const { pem, publicKey } = newVapidKeyPair();
  try {
    writeFileSync(file, pem, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    err.write(`cannot write ${file}: ${code === 'EEXIST' ? 'the file exists (Herald never overwrites a key)' : (error as Error).message}\n`);
    return 1;
  }
  out.write(
    [
      `VAPID private key written to ${file}`,
      `public key (the web app's applicationServerKey): ${publicKey}`,
      '',
      'In the config, under apps:',
      '  <your web app id>:',
      '    type: webpush',
      `    vapid_private_key: ${file}`,
      '    vapid_contact_email: <an address push services can write to>',
      '',
    ].join('\n'),
  );
  return 0;
}
