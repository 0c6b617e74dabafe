import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];
let cleanupInstalled = false;

/**
 * A fresh temporary directory, removed when the test process exits (mocha's `exit`
 * option ends the process without running later hooks, so the 'exit' event is the one
 * place every run passes through).
 */
export function tempDir(purpose: string): string {
  if (!cleanupInstalled) {
    cleanupInstalled = true;
    process.once('exit', () => {
      for (const dir of made) rmSync(dir, { recursive: true, force: true });
    });
  }
  const dir = mkdtempSync(join(tmpdir(), `herald-${purpose}-`));
  made.push(dir);
  return dir;
}
