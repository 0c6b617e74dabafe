/**
 * Refuses a Node.js too old to run Herald with one line naming the version needed,
 * instead of a stack trace from whichever module first uses a newer API. Imported first
 * by main.ts, so it runs before anything else loads; written in syntax any old Node
 * parses. The supported lines are package.json's `engines`: 22, 24 and 26. Node 20.19
 * or later still runs Herald (its test suite passes there), but is past its end of life
 * and not supported; older ones are not supported by the dependencies either (undici 7,
 * redis 6 and commander 14 require Node 20).
 * `npm install` on an old Node only warns (package.json's `engines`); `npm start` then
 * ends on this line. No `preinstall` check: a release tarball must run no script when installed.
 */
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  process.stderr.write(`herald: Node.js 22 or later is needed (22, 24 and 26 are supported); this is Node.js ${process.version}\n`);
  process.exit(1);
}

export {};
