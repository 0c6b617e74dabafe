import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Absolute path of a file shipped with the package (e.g. `openapi/herald.yaml`). Looked
 * up from this file's directory upwards, because the code runs both from `src/` (tests)
 * and from `dist/src/` (the built CLI).
 */
export function resourcePath(relative: string): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const candidate = join(dir, relative);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error(`cannot find ${relative} above ${__dirname}`);
  }
}
