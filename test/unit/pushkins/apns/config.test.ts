import assert from 'node:assert/strict';
import { configProblems } from '../../../helpers/config';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfigText, type LoadedConfig } from '../../../../src/config/config';
import type { ApnsConfig } from '../../../../src/pushkins/apns/config';
import { checkCertificate, pushEnvironments } from '../../../../src/pushkins/apns/credentials';
import { apnsPushkinType } from '../../../../src/pushkins/apns/type';
import { BUILTIN_PUSHKIN_TYPES } from '../../../../src/pushkins/registry';
import { apnsTestPki, type ApnsTestPki } from '../../../upstreams/apns-pki';

const APP = 'apps."com.example.ios"';

describe('pushkins/apns/config', function () {
  this.timeout(20_000);
  let pki: ApnsTestPki;
  before(() => {
    pki = apnsTestPki();
  });

  function load(app: Record<string, unknown>): LoadedConfig {
    return loadConfigText(`apps: ${JSON.stringify({ 'com.example.ios': { type: 'apns', ...app } })}`, pki.dir, BUILTIN_PUSHKIN_TYPES);
  }

  function settings(app: Record<string, unknown>): { config: ApnsConfig; warnings: readonly string[] } {
    const loaded = load(app);
    return { config: loaded.config.apps[0]?.settings as ApnsConfig, warnings: loaded.warnings };
  }

  function problems(app: Record<string, unknown>): readonly string[] {
    return configProblems(() => load(app));
  }

  function token(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { keyfile: pki.tokenKey.file, key_id: 'ABC123DEFG', team_id: 'TEAM123456', topic: 'com.example.app', ...extra };
  }

  describe('token auth', () => {
    it('reads a complete section with Sygnal defaults', () => {
      const { config, warnings } = settings(token());
      assert.deepEqual(warnings, []);
      assert.equal(config.auth?.kind, 'token');
      assert.equal(config.platform, 'production');
      assert.equal(config.topic, 'com.example.app');
      assert.equal(config.pushType, undefined);
      assert.equal(config.convertDeviceTokenToHex, true);
      assert.equal(config.sendBadgeCounts, true);
      assert.equal(config.requestTimeoutMs, 5_000);
      assert.equal(config.maxConnections, 1);
      assert.equal(config.endpoint, undefined);
    });

    it('reads every key, with relative paths resolved against the config file', () => {
      const { config, warnings } = settings(
        token({
          keyfile: 'AuthKey_ABC123DEFG.p8',
          platform: 'sandbox',
          push_type: 'voip',
          topic: 'com.example.app.voip',
          convert_device_token_to_hex: false,
          send_badge_counts: false,
          inflight_request_limit: 10,
          endpoint: 'https://apns-relay.example.org:8443',
          ca_file: 'ca.pem',
          request_timeout_ms: 2500,
          max_connections: 4,
        }),
      );
      assert.deepEqual(warnings, []);
      assert.equal(config.auth?.kind === 'token' && config.auth.file, pki.tokenKey.file);
      assert.equal(config.platform, 'sandbox');
      assert.equal(config.pushType, 'voip');
      assert.equal(config.convertDeviceTokenToHex, false);
      assert.equal(config.sendBadgeCounts, false);
      assert.deepEqual(config.endpoint, { host: 'apns-relay.example.org', port: 8443, url: 'https://apns-relay.example.org:8443' });
      assert.equal(config.ca, pki.caPem);
      assert.equal(config.requestTimeoutMs, 2500);
      assert.equal(config.maxConnections, 4);
    });

    it('needs key_id, team_id and topic with a keyfile', () => {
      assert.deepEqual(problems({ keyfile: pki.tokenKey.file }), [
        `${APP}.key_id: required when keyfile is set`,
        `${APP}.team_id: required when keyfile is set`,
        `${APP}.topic: required when keyfile is set (the app's bundle id)`,
      ]);
    });

    it('reports a missing key file', () => {
      assert.deepEqual(problems(token({ keyfile: 'AuthKey_MISSING.p8' })), [
        `${APP}.keyfile: cannot read file "AuthKey_MISSING.p8": no such file (looked for ${join(pki.dir, 'AuthKey_MISSING.p8')}, relative to the config file's folder)`,
      ]);
    });

    it('refuses a key that is not EC P-256', () => {
      for (const file of [pki.badKeys.p384, pki.badKeys.rsa]) {
        const [problem, ...rest] = problems(token({ keyfile: file }));
        assert.match(String(problem), /keyfile: not an EC P-256 key \(got (ec secp384r1|rsa)\)/);
        assert.deepEqual(rest, []);
      }
      assert.match(String(problems(token({ keyfile: pki.caFile }))[0]), /keyfile: not a private key in PEM form/);
    });
  });

  describe('certificate auth', () => {
    it('accepts a PEM certificate with its key and the push extension for the platform', () => {
      const { config, warnings } = settings({ certfile: pki.clientCerts.both });
      assert.deepEqual(warnings, []);
      assert.equal(config.auth?.kind, 'certificate');
      const summary = apnsPushkinType.summary(config);
      assert.equal(summary.auth, `certificate ${pki.clientCerts.both}`);
      assert.match(String(summary.certificate_expires), /^\d{4}-\d\d-\d\dT/);
    });

    it('checks the push extension of the chosen platform', () => {
      assert.match(String(problems({ certfile: pki.clientCerts.none })[0]), /certfile: the certificate has no Apple push extension for production \(OID 1\.2\.840\.113635\.100\.6\.3\.2\)/);
      assert.match(String(problems({ certfile: pki.clientCerts.sandbox, platform: 'prod' })[0]), /no Apple push extension for production/);
      assert.match(String(problems({ certfile: pki.clientCerts.production, platform: 'sandbox' })[0]), /no Apple push extension for sandbox/);
      assert.equal(settings({ certfile: pki.clientCerts.sandbox, platform: 'sandbox' }).config.platform, 'sandbox');
    });

    it('says when node-apn will want the sandbox extension (with endpoint)', () => {
      const [problem] = problems({ certfile: pki.clientCerts.production, endpoint: 'https://127.0.0.1:9' });
      assert.match(String(problem), /with `endpoint` set, node-apn requires the sandbox push extension/);
    });

    it('refuses an expired certificate and warns about one expiring within 30 days', () => {
      assert.match(String(problems({ certfile: pki.clientCerts.expired })[0]), /certfile: the certificate expired on \d{4}-/);
      const { warnings } = settings({ certfile: pki.clientCerts.expiringSoon });
      assert.equal(warnings.length, 1);
      assert.match(String(warnings[0]), new RegExp(`^${APP.replace(/[."]/g, '\\$&')}\\.certfile: the certificate expires on .*; renew it soon$`));
    });

    it('reads a .p12 file with its passphrase, and says when the passphrase is wrong or missing', () => {
      assert.equal(settings({ certfile: pki.clientCerts.p12, passphrase: pki.p12Passphrase }).config.auth?.kind, 'certificate');
      assert.deepEqual(problems({ certfile: pki.clientCerts.p12, passphrase: 'wrong' }), [`${APP}.certfile: cannot open the .p12 file: wrong or missing \`passphrase\``]);
      assert.deepEqual(problems({ certfile: pki.clientCerts.p12 }), [`${APP}.certfile: cannot open the .p12 file: wrong or missing \`passphrase\``]);
    });

    it('needs the private key in the PEM file', () => {
      assert.deepEqual(problems({ certfile: pki.caFile }), [`${APP}.certfile: no private key found in the PEM file: it must hold the certificate and its key`]);
    });

    it('warns about token settings it ignores', () => {
      const { warnings } = settings({ certfile: pki.clientCerts.both, key_id: 'X', team_id: 'Y' });
      assert.deepEqual(warnings, [`${APP}.key_id: only used with keyfile (token auth); ignored`, `${APP}.team_id: only used with keyfile (token auth); ignored`]);
    });
  });

  describe('other settings', () => {
    it('needs certfile or keyfile; with both, certfile wins with a warning naming both, as in Sygnal', () => {
      assert.match(String(problems({})[0]), /certfile: required: set certfile \(certificate auth\) or keyfile/);
      const { config, warnings } = settings(token({ certfile: pki.clientCerts.both }));
      assert.equal(config.auth?.kind, 'certificate');
      assert.deepEqual(warnings, [
        `${APP}.keyfile: ignored (with key_id and team_id): certfile is also set, and certfile (certificate auth) takes precedence, as in Sygnal; remove one of them`,
      ]);
      // The ignored keyfile is not even read: a stale path from an old token setup does not stop start-up.
      assert.equal(settings(token({ certfile: pki.clientCerts.both, keyfile: '/nonexistent/AuthKey.p8' })).config.auth?.kind, 'certificate');
    });

    it('checks platform, push_type, endpoint and the numbers', () => {
      assert.deepEqual(problems(token({ platform: 'staging', push_type: 'loud', endpoint: 'http://127.0.0.1:1', request_timeout_ms: 10, max_connections: 0 })), [
        `${APP}.platform: must be one of "production", "prod", "sandbox", got "staging"`,
        `${APP}.push_type: must be one of "alert", "background", "voip", "complication", "fileprovider", "mdm", "location", "liveactivity", "pushtotalk", "widgets", "controls", got "loud"`,
        `${APP}.endpoint: must be an https:// URL (APNs is HTTP/2 over TLS), got http://`,
        `${APP}.request_timeout_ms: must be at least 100, got 10`,
        `${APP}.max_connections: must be at least 1, got 0`,
      ]);
      assert.match(String(problems(token({ endpoint: 'https://relay.example.org/3/device' }))[0]), /endpoint: must be just https:\/\/host\[:port\]/);
      assert.match(String(problems(token({ endpoint: 'not a url' }))[0]), /endpoint: not a URL/);
    });

    it('warns that ca_file is unused without endpoint', () => {
      assert.deepEqual(settings(token({ ca_file: pki.caFile })).warnings, [`${APP}.ca_file: only used with \`endpoint\`; Apple is trusted through the system CAs`]);
    });
  });

  describe('credentials', () => {
    it("reads the environments from the certificate's Apple push extensions", () => {
      const environments = (file: string) => [...pushEnvironments(new X509Certificate(readFileSync(file)))].sort();
      assert.deepEqual(environments(pki.clientCerts.both), ['production', 'sandbox']);
      assert.deepEqual(environments(pki.clientCerts.sandbox), ['sandbox']);
      assert.deepEqual(environments(pki.clientCerts.production), ['production']);
      assert.deepEqual(environments(pki.clientCerts.none), []);
    });

    it('judges expiry against the time it is given', () => {
      const cert = new X509Certificate(readFileSync(pki.clientCerts.both));
      const notAfter = Date.parse(cert.validTo);
      assert.deepEqual(checkCertificate(cert, 'production', notAfter - 31 * 86_400_000), { errors: [], warnings: [] });
      assert.match(String(checkCertificate(cert, 'production', notAfter - 29 * 86_400_000).warnings[0]), /expires on/);
      assert.match(String(checkCertificate(cert, 'production', notAfter + 1).errors[0]), /expired on/);
      assert.match(String(checkCertificate(cert, 'production', Date.parse(cert.validFrom) - 1000).warnings.at(-1)), /not valid before/);
    });
  });

  describe('ids and topics that would fail every push', () => {
    it('refuses key and team ids that are not 10 capital letters and digits', () => {
      const found = problems(token({ key_id: 123456789, team_id: 'team123456' }));
      assert.ok(found.some((p) => /key_id: must be the 10-character id Apple shows .* got "123456789"; quote it/.test(p)), found.join('\n'));
      assert.ok(found.some((p) => /team_id: must be the 10-character id/.test(p)), found.join('\n'));
    });

    it('refuses a number YAML may have changed', () => {
      assert.ok(problems(token({ team_id: 1e21 })).some((p) => /team_id: must be a string, got the number 1e\+21: quote the value/.test(p)));
    });

    it('refuses a push type whose topic lacks the suffix Apple requires', () => {
      const found = problems(token({ push_type: 'voip', topic: 'com.example.app' }));
      assert.ok(found.some((p) => p.endsWith('topic: push_type voip is sent to the topic <bundle id>.voip (e.g. "com.example.app.voip"), got "com.example.app"')), found.join('\n'));
      assert.deepEqual(settings(token({ push_type: 'liveactivity', topic: 'com.example.app.push-type.liveactivity' })).warnings, []);
    });
  });
});
